// SPDX-License-Identifier: GPL-2.0
/*
 * Timed micro-operations for the union benchmark (selftests/bench/run).
 *
 *   bench OP PATH N [K]
 *
 *   stat DIR N K     stat DIR/f<i mod K>, N times (lookup + getattr)
 *   open DIR N K     open + close DIR/f<i mod K> read-only, N times
 *   readdir DIR N    list DIR to the end, N times
 *   readdirs DIR N   list DIR0, DIR1, ... DIR<N-1> to the end, once each
 *   create DIR N     create DIR/new<i> (O_EXCL), N files, then unlink them all
 *   read FILE N      read FILE to the end with 64 KiB reads, N times
 *   mmapread FILE N  map FILE and touch one byte per page, N times
 *   append FILE N    open FILE O_WRONLY|O_APPEND, write one byte, close; N times
 *                    (the first one is the copy-up of a lower file)
 *   links DIR N      create DIR/t, then N hard links DIR/l<i> of it (what a
 *                    directory copy-up writes for N fallthrus: the floor of a
 *                    first readdir that writes them)
 *   lsl-CALL DIR N   one of the calls ls -l makes per entry, on every entry of
 *                    the tree DIR (collected first, untimed), N times: CALL is
 *                    statx (lstat), selinux (lgetxattr security.selinux), acl
 *                    (getxattr system.posix_acl_access, not of symlinks) or
 *                    readlink (of symlinks): where a warm ls -lR spends its time
 *
 * Prints the elapsed seconds of the whole loop.  Timings under TCG are only
 * meaningful as ratios between setups measured in the same VM run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0)
		die("open", path);
	return fd;
}

/* Lists @path to the end; returns the number of entries. */
static unsigned long list_dir(const char *path)
{
	DIR *d = opendir(path);
	unsigned long n = 0;

	if (!d)
		die("opendir", path);
	errno = 0;
	while (readdir(d))
		n++;
	if (errno)
		die("readdir", path);
	closedir(d);
	return n;
}

/* The entries of a tree (lsl-* ops): path and whether it is a symlink. */
static struct entry {
	char *path;
	int symlink;
} *entries;
static size_t n_entries, cap_entries;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (n_entries == cap_entries) {
		cap_entries = cap_entries * 2 + 1024;
		entries = realloc(entries, cap_entries * sizeof(*entries));
		if (!entries)
			die("realloc", path);
	}
	entries[n_entries].path = strdup(path);
	entries[n_entries].symlink = type == FTW_SL;
	if (!entries[n_entries++].path)
		die("strdup", path);
	return 0;
}

/* Runs the ls -l call @call on every entry of the tree @dir, @n times; returns the
 * seconds (the collection of the entries is not timed). */
static double lsl_calls(const char *call, const char *dir, long n)
{
	static char buf[4096];
	struct statx sx;
	size_t j;
	double t0;
	long i;

	if (nftw(dir, collect, 64, FTW_PHYS))
		die("nftw", dir);
	t0 = now();
	for (i = 0; i < n; i++) {
		for (j = 0; j < n_entries; j++) {
			const char *p = entries[j].path;

			if (!strcmp(call, "statx")) {
				if (statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
					  STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID |
					  STATX_MTIME | STATX_SIZE, &sx))
					die("statx", p);
			} else if (!strcmp(call, "selinux")) {
				lgetxattr(p, "security.selinux", buf, 255);
			} else if (!strcmp(call, "acl")) {
				if (!entries[j].symlink)
					getxattr(p, "system.posix_acl_access", NULL, 0);
			} else if (!strcmp(call, "readlink")) {
				if (entries[j].symlink && readlink(p, buf, sizeof(buf)) < 0)
					die("readlink", p);
			} else {
				fprintf(stderr, "bench: unknown call %s\n", call);
				exit(2);
			}
		}
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	volatile unsigned long sum = 0;
	char path[4096];
	const char *op, *p;
	long n, k, i;
	double t0;

	if (argc < 4) {
		fprintf(stderr, "usage: bench OP PATH N [K]\n");
		return 2;
	}
	op = argv[1];
	p = argv[2];
	n = atol(argv[3]);
	k = argc > 4 ? atol(argv[4]) : 1;
	if (n < 1 || k < 1) {
		fprintf(stderr, "bench: N and K must be positive\n");
		return 2;
	}
	if (!strncmp(op, "lsl-", 4)) {
		printf("%.6f\n", lsl_calls(op + 4, p, n));
		return 0;
	}
	t0 = now();
	if (!strcmp(op, "stat")) {
		struct stat st;

		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/f%ld", p, i % k);
			if (stat(path, &st))
				die("stat", path);
		}
	} else if (!strcmp(op, "open")) {
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/f%ld", p, i % k);
			close(open_or_die(path, O_RDONLY));
		}
	} else if (!strcmp(op, "readdir")) {
		for (i = 0; i < n; i++)
			sum += list_dir(p);
	} else if (!strcmp(op, "readdirs")) {
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s%ld", p, i);
			sum += list_dir(path);
		}
	} else if (!strcmp(op, "create")) {
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/new%ld", p, i);
			close(open_or_die(path, O_CREAT | O_WRONLY | O_EXCL));
		}
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/new%ld", p, i);
			if (unlink(path))
				die("unlink", path);
		}
	} else if (!strcmp(op, "read")) {
		for (i = 0; i < n; i++) {
			int fd = open_or_die(p, O_RDONLY);
			ssize_t r;

			while ((r = read(fd, buf, sizeof(buf))) > 0)
				sum += buf[0];
			if (r < 0)
				die("read", p);
			close(fd);
		}
	} else if (!strcmp(op, "mmapread")) {
		for (i = 0; i < n; i++) {
			int fd = open_or_die(p, O_RDONLY);
			struct stat st;
			char *m;
			off_t o;

			if (fstat(fd, &st))
				die("fstat", p);
			m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
			if (m == MAP_FAILED)
				die("mmap", p);
			for (o = 0; o < st.st_size; o += 4096)
				sum += m[o];
			munmap(m, st.st_size);
			close(fd);
		}
	} else if (!strcmp(op, "links")) {
		char target[4096];

		snprintf(target, sizeof(target), "%s/t", p);
		close(open_or_die(target, O_CREAT | O_WRONLY | O_EXCL));
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/l%ld", p, i);
			if (link(target, path))
				die("link", path);
		}
	} else if (!strcmp(op, "append")) {
		for (i = 0; i < n; i++) {
			int fd = open_or_die(p, O_WRONLY | O_APPEND);

			if (write(fd, "x", 1) != 1)
				die("write", p);
			close(fd);
		}
	} else {
		fprintf(stderr, "bench: unknown op %s\n", op);
		return 2;
	}
	printf("%.6f\n", now() - t0);
	return 0;
}
