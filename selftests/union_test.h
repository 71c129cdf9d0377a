/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the union selftests: paths, small file contents, what
 * is at a path on the upper layer (marker kinds), filesystem usage and task
 * states (for synchronising on observable progress, never on sleeps).
 * Include it instead of kselftest_harness.h.
 */
#ifndef UNION_TEST_H
#define UNION_TEST_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

/* Paths here are short; truncation would only make a test fail. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE	(1 << 1)
#endif

#define PATH_LEN	512
#define MiB		(1024L * 1024)

static inline char *pbuf(void)
{
	static char bufs[32][PATH_LEN];
	static unsigned int i;

	return bufs[i++ % 32];
}

static inline const char *jp(const char *a, const char *b)
{
	char *p = pbuf();

	snprintf(p, PATH_LEN, "%s/%s", a, b);
	return p;
}

#define M(rel)	jp(self->mnt, rel)
#define U(rel)	jp(self->upper, rel)
#define L(rel)	jp(self->lower, rel)

static inline int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static inline int append_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

/* Contents of a small file, or "<ENOENT>"-style error text. */
static inline const char *read_str(const char *path)
{
	char *b = pbuf();
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		snprintf(b, PATH_LEN, "<%s>", strerror(errno));
		return b;
	}
	n = read(fd, b, PATH_LEN - 1);
	close(fd);
	b[n < 0 ? 0 : n] = '\0';
	return b;
}

/* "none", "reg", "dir", "wh" (char 0/0), "ftN" (char 0/N), "other". */
static inline const char *kind(const char *path)
{
	struct stat st;
	char *k;

	if (lstat(path, &st))
		return errno == ENOENT ? "none" : "error";
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFCHR:
		if (major(st.st_rdev))
			return "other";
		if (!minor(st.st_rdev))
			return "wh";
		if (minor(st.st_rdev) > 15)
			return "other";
		k = pbuf();
		snprintf(k, PATH_LEN, "ft%u", minor(st.st_rdev));
		return k;
	}
	return "other";
}

static inline int make_big(const char *path, long size)
{
	static char chunk[MiB];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long off;

	if (fd < 0)
		return -1;
	for (off = 0; off < size; off += MiB) {
		memset(chunk, 'a' + (off / MiB) % 26, sizeof(chunk));
		if (write(fd, chunk, MiB) != MiB) {
			close(fd);
			return -1;
		}
	}
	return close(fd);
}

static inline long used_bytes(const char *fs)
{
	struct statfs s;

	if (statfs(fs, &s))
		return -1;
	return (long)(s.f_blocks - s.f_bfree) * s.f_bsize;
}

/* The scheduler state letter of a task ('R', 'S', 'D', 'Z', ...). */
static inline char task_state(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Where a task sleeps (/proc/PID/wchan), or "" if it runs or is gone. */
static inline const char *task_wchan(pid_t pid)
{
	char path[64], *b = pbuf();
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return "";
	n = read(fd, b, PATH_LEN - 1);
	close(fd);
	b[n < 0 ? 0 : n] = '\0';
	return b;
}

#endif /* UNION_TEST_H */
