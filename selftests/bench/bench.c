// SPDX-License-Identifier: GPL-2.0
/*
 * Micro-benchmarks for union vs overlayfs vs the native filesystem.
 *
 *   bench DIR OP N
 *
 * DIR is prepared by selftests/bench/run (the same lower content in each
 * setup).  Prints "OP seconds" for one run.  Timings under TCG are only
 * meaningful as ratios between setups measured in the same VM run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

int main(int argc, char **argv)
{
	char path[4096];
	const char *dir, *op;
	double t0, t;
	long n, i;

	if (argc != 4) {
		fprintf(stderr, "usage: bench DIR OP N\n");
		return 2;
	}
	dir = argv[1];
	op = argv[2];
	n = atol(argv[3]);
	t0 = now();
	if (!strcmp(op, "stat")) {		/* lookup + getattr of lower files */
		struct stat st;

		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/files/f%ld", dir, i % 1000);
			if (stat(path, &st))
				die("stat", path);
		}
	} else if (!strcmp(op, "readdir")) {	/* list a 1000-entry lower dir */
		for (i = 0; i < n; i++) {
			DIR *d;

			snprintf(path, sizeof(path), "%s/files", dir);
			d = opendir(path);
			if (!d)
				die("opendir", path);
			while (readdir(d))
				;
			closedir(d);
		}
	} else if (!strcmp(op, "read")) {	/* stream a lower file */
		static char buf[1 << 16];

		for (i = 0; i < n; i++) {
			int fd;
			ssize_t r;

			snprintf(path, sizeof(path), "%s/big", dir);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				die("open", path);
			while ((r = read(fd, buf, sizeof(buf))) > 0)
				;
			close(fd);
		}
	} else if (!strcmp(op, "open")) {	/* open/close a lower file read-only */
		for (i = 0; i < n; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/files/f%ld", dir, i % 1000);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				die("open", path);
			close(fd);
		}
	} else if (!strcmp(op, "create")) {	/* create + unlink new files */
		for (i = 0; i < n; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/new%ld", dir, i);
			fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
			if (fd < 0)
				die("create", path);
			close(fd);
		}
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/new%ld", dir, i);
			if (unlink(path))
				die("unlink", path);
		}
	} else if (!strcmp(op, "copyup")) {	/* first open for write of lower files */
		for (i = 0; i < n; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/cu/f%ld", dir, i);
			fd = open(path, O_WRONLY | O_APPEND);
			if (fd < 0)
				die("open for write", path);
			if (write(fd, "x", 1) != 1)
				die("write", path);
			close(fd);
		}
	} else {
		fprintf(stderr, "bench: unknown op %s\n", op);
		return 2;
	}
	t = now() - t0;
	printf("%s %.6f\n", op, t);
	return 0;
}
