// SPDX-License-Identifier: GPL-2.0
/*
 * union-stress: concurrent random load on a union mount, then consistency checks.
 *
 *   union-stress [--procs N] [--seconds S] [--seed X] [--big-files K] [--big-mb M]
 *                [--fsck PATH] [--dir DIR] [--same-fs] [-v]
 *
 * In a private mount namespace: a tmpfs lower layer populated from the seed (a
 * few directories of small files, symlinks, fifos, hard links, K big files of M
 * MiB), a tmpfs upper layer (on the lower's tmpfs with --same-fs), the union on
 * DIR/mnt.  N processes then do random namespace and data operations on a small,
 * shared set of names for S seconds: create, write, append, truncate, unlink,
 * rename (plain, RENAME_NOREPLACE, RENAME_EXCHANGE), link, mkdir, rmdir, symlink,
 * chmod, setxattr, readdir, read, the copy-up of a big lower file (open
 * O_WRONLY|O_APPEND) while others remove, rename, link or re-create the name,
 * "rm -rf d; mkdir d" of lower directories while other processes have their cwd
 * in them, and creation relative to such a cwd.  Errors that racing operations
 * explain (ENOENT, EEXIST, ENOTEMPTY, EXDEV, ...; per operation) are counted as
 * expected; anything else (EIO, ESTALE, EINVAL where it cannot happen, ...) is
 * counted and reported with the operation and path.
 *
 * Afterwards:
 *   1. readdir and lookup agree: every listed name stats, with the listed
 *      d_type and d_ino = st_ino; no name is listed twice; every name of the
 *      name set that stats is listed;
 *   2. every object (type, mode, size, contents or link target, user.k xattr,
 *      st_ino) is the same after umount + mount of the same layers;
 *   3. the upper layer passes union-fsck (after each umount);
 *   4. rm -rf of everything in the union root leaves it empty.
 * Exit 0 if every check passed and no unexpected errno was seen, 1 otherwise,
 * 2 on a setup error.  The kernel log is not read here (the callers do).
 */
#include "../common.h"

#include <getopt.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>

#define MAXPROCS 64
#define MAXERRNO 140

static int nprocs = 4, seconds = 60, big_files = 4, big_mb = 64, verbose, same_fs, overlay;
static unsigned long long seed;
static int race_rounds = 1;
static const char *fsck_path;
static char base[PATH_MAX], lower[PATH_MAX], upper[PATH_MAX], mnt[PATH_MAX];
static unsigned int problems;

/* ---- random numbers (xorshift64*) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned int pick(unsigned int n)
{
	return rnd() % n;
}

static void seed_rng(uint64_t s)
{
	rng_state = s * 0x9e3779b97f4a7c15ULL + 1;
	if (!rng_state)
		rng_state = 1;
	rnd();
}

/* ---- reporting ---- */

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	problems++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "union-stress: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the name set ---- */

/* Directories the operations work in ("." is the union root); lower has all but the last. */
static const char *const dirs[] = { ".", "d0", "d1", "d2", "d0/s", "d1/s", "n" };
#define NDIRS (sizeof(dirs) / sizeof(dirs[0]))
/* --dirs N: operations use the first N directories only. */
static unsigned int ndirs = NDIRS;
/* Names in them; f* l0 p0 h0 h1 s are on lower in most directories. */
static const char *const names[] = { "f0", "f1", "f2", "l0", "p0", "h0", "s", "a", "b", "c" };
#define NNAMES (sizeof(names) / sizeof(names[0]))
/* Lower directories that "rm -rf d; mkdir d" targets. */
static const char *const rmdirs[] = { "d0", "d1", "d2", "d0/s", "d1/s" };

static void rand_path(char *buf, size_t len)
{
	/* Now and then a big file or a directory name itself. */
	unsigned int r = pick(100);

	if (r < 6 && big_files) {
		snprintf(buf, len, "%s/big%u", mnt, pick(big_files));
	} else if (r < 12 && ndirs > 1) {
		snprintf(buf, len, "%s/%s", mnt, dirs[1 + pick(ndirs - 1)]);
	} else {
		snprintf(buf, len, "%s/%s/%s", mnt, dirs[pick(ndirs)], names[pick(NNAMES)]);
	}
}

/* ---- shared counters ---- */

enum op {
	OP_CREATE, OP_WRITE, OP_APPEND, OP_TRUNCATE, OP_UNLINK, OP_RENAME, OP_NOREPLACE,
	OP_EXCHANGE, OP_LINK, OP_MKDIR, OP_RMDIR, OP_SYMLINK, OP_CHMOD, OP_SETXATTR,
	OP_READDIR, OP_READ, OP_BIGAPPEND, OP_RMRF, OP_CHDIR, OP_CWDCREATE, OP_STAT,
	NOPS
};

static const char *const op_names[NOPS] = {
	"create", "write", "append", "truncate", "unlink", "rename", "rename_noreplace",
	"rename_exchange", "link", "mkdir", "rmdir", "symlink", "chmod", "setxattr",
	"readdir", "read", "big_append", "rm_rf_mkdir", "chdir", "cwd_create", "stat",
};

/* Relative weights. */
static unsigned int op_weight[NOPS] = {
	10, 6, 6, 4, 8, 6, 3, 4, 4, 5, 4, 3, 3, 2, 5, 5, 3, 1, 2, 3, 4,
};

#define E(x) (1ULL << (x))
/* Errors a racing operation explains. */
static const unsigned long long common_ok = E(ENOENT) | E(ENOTDIR) | E(ELOOP);
static const unsigned long long op_ok[NOPS] = {
	[OP_CREATE] = E(EISDIR) | E(ENXIO) | E(EEXIST),
	/* pwrite(2) on a fifo renamed onto the name, opened while another worker holds it
	 * open for reading. */
	[OP_WRITE] = E(EISDIR) | E(ENXIO) | E(ESPIPE),
	[OP_APPEND] = E(EISDIR) | E(ENXIO),
	[OP_TRUNCATE] = E(EISDIR) | E(EINVAL),	/* EINVAL: not a regular file */
	[OP_UNLINK] = E(EISDIR),
	[OP_RENAME] = E(EEXIST) | E(ENOTEMPTY) | E(EXDEV) | E(EISDIR) | E(EINVAL) | E(EBUSY),
	[OP_NOREPLACE] = E(EEXIST) | E(ENOTEMPTY) | E(EXDEV) | E(EISDIR) | E(EINVAL) | E(EBUSY),
	[OP_EXCHANGE] = E(EXDEV) | E(EINVAL) | E(EBUSY),	/* EINVAL: into own subtree */
	[OP_LINK] = E(EEXIST) | E(EPERM),	/* EPERM: a directory */
	[OP_MKDIR] = E(EEXIST),
	[OP_RMDIR] = E(ENOTEMPTY) | E(EEXIST) | E(EBUSY),
	[OP_SYMLINK] = E(EEXIST),
	[OP_CHMOD] = 0,
	[OP_SETXATTR] = E(EPERM),	/* user.* on a symlink or special file */
	[OP_READDIR] = 0,
	[OP_READ] = E(EISDIR),
	[OP_BIGAPPEND] = E(EISDIR) | E(ENXIO),
	[OP_RMRF] = E(ENOTEMPTY) | E(EEXIST) | E(EISDIR) | E(EBUSY),
	[OP_CHDIR] = 0,
	[OP_CWDCREATE] = E(EISDIR) | E(EEXIST) | E(ENXIO),
	[OP_STAT] = 0,
};

struct stats {
	unsigned long ops[NOPS], ok[NOPS], expected[NOPS], unexpected[NOPS];
	unsigned long err[NOPS][MAXERRNO];
	unsigned long estale;
	unsigned int nlogged;
	char log[32][200];	/* the first unexpected errors */
	double max_op_time[NOPS];
	int done;
};
static struct stats *shared;	/* nprocs entries, MAP_SHARED */
static struct stats *me;

/* Records the outcome of one operation (rc < 0: errno e). */
static void outcome(enum op op, int rc, int e, const char *path)
{
	me->ops[op]++;
	if (rc >= 0) {
		me->ok[op]++;
		return;
	}
	if (e < MAXERRNO)
		me->err[op][e]++;
	if (e < 64 && ((common_ok | op_ok[op]) & E(e))) {
		me->expected[op]++;
		return;
	}
	if (e == ESTALE) {
		/* Counted and shown, not a failure (a copy-up lost a race). */
		me->estale++;
		if (me->nlogged < 32)
			snprintf(me->log[me->nlogged++], sizeof(me->log[0]), "%s %s: %s (ESTALE: counted, not a failure)",
				 op_names[op], path, strerror(e));
		return;
	}
	me->unexpected[op]++;
	if (me->nlogged < 32)
		snprintf(me->log[me->nlogged++], sizeof(me->log[0]), "%s %s: %s",
			 op_names[op], path, strerror(e));
}

/* outcome() of an operation on @fd (with the errno it left), which is closed. */
static void close_outcome(enum op op, int rc, int fd, const char *path)
{
	int e = errno;

	close(fd);
	outcome(op, rc, e, path);
}

/* ---- helpers ---- */

static void fill(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t r = rnd();

		memcpy(buf + i, &r, 8);
	}
	for (; i < n; i++)
		buf[i] = 'a' + (rnd() % 26);
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0)
			return -1;
		buf += w;
		n -= w;
	}
	return 0;
}

/* rm -rf at dirfd/name; returns 0 or -1 with errno of the first failure. */
static int rm_rf_at(int dfd, const char *name, int depth)
{
	struct stat st;
	int fd, err = 0;
	DIR *d;
	struct dirent *e;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0);
	if (depth > 32) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (rm_rf_at(dirfd(d), e->d_name, depth + 1) < 0 && errno != ENOENT && !err)
			err = errno;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* ---- one random operation ---- */

static char bigbuf[1 << 16];

static void one_op(enum op op)
{
	char p[PATH_MAX], q[PATH_MAX];
	int fd, rc = 0, e = 0;
	struct stat st;

	rand_path(p, sizeof(p));
	switch (op) {
	case OP_CREATE:
		fd = open(p, O_WRONLY | O_CREAT | (pick(2) ? O_TRUNC : 0) | O_NONBLOCK |
			  (pick(8) ? 0 : O_EXCL), 0644);
		if (fd >= 0) {
			size_t n = pick(3) ? pick(4096) : pick(sizeof(bigbuf));

			fill(bigbuf, n);
			rc = write_all(fd, bigbuf, n);
			e = errno;
			close(fd);
			if (rc < 0) {
				outcome(op, rc, e, p);
				return;
			}
		}
		rc = fd < 0 ? -1 : 0;
		break;
	case OP_WRITE:
	case OP_APPEND:
	case OP_BIGAPPEND:
		if (op == OP_BIGAPPEND && big_files)
			snprintf(p, sizeof(p), "%s/big%u", mnt, pick(big_files));
		fd = open(p, O_WRONLY | O_NONBLOCK | (op == OP_WRITE ? 0 : O_APPEND));
		if (fd >= 0) {
			size_t n = 1 + pick(512);

			fill(bigbuf, n);
			if (op == OP_WRITE)
				rc = pwrite(fd, bigbuf, n, pick(8192)) < 0 ? -1 : 0;
			else
				rc = write_all(fd, bigbuf, n);
			close_outcome(op, rc, fd, p);
			return;
		}
		rc = -1;
		break;
	case OP_TRUNCATE:
		rc = truncate(p, pick(3) ? pick(8192) : pick(200000));
		break;
	case OP_UNLINK:
		rc = unlink(p);
		break;
	case OP_RENAME:
	case OP_NOREPLACE:
	case OP_EXCHANGE:
		rand_path(q, sizeof(q));
		rc = syscall(SYS_renameat2, AT_FDCWD, p, AT_FDCWD, q,
			     op == OP_RENAME ? 0 : op == OP_NOREPLACE ? RENAME_NOREPLACE :
			     RENAME_EXCHANGE);
		break;
	case OP_LINK:
		rand_path(q, sizeof(q));
		rc = link(p, q);
		break;
	case OP_MKDIR:
		rc = mkdir(p, 0755);
		break;
	case OP_RMDIR:
		rc = rmdir(p);
		break;
	case OP_SYMLINK:
		rc = symlink(names[pick(NNAMES)], p);
		break;
	case OP_CHMOD:
		rc = fchmodat(AT_FDCWD, p, pick(2) ? 0644 : 0600, 0);
		break;
	case OP_SETXATTR:
		snprintf(q, sizeof(q), "v%llu", (unsigned long long)pick(100000));
		rc = lsetxattr(p, "user.k", q, strlen(q), 0);
		break;
	case OP_READDIR: {
		DIR *d;
		struct dirent *de;

		snprintf(p, sizeof(p), "%s/%s", mnt, dirs[pick(ndirs)]);
		d = opendir(p);
		if (!d) {
			rc = -1;
			break;
		}
		fd = dirfd(d);
		while ((errno = 0, de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
		rc = errno ? -1 : 0;
		e = errno;
		closedir(d);
		errno = e;
		break;
	}
	case OP_READ:
		fd = open(p, O_RDONLY | O_NONBLOCK);
		if (fd >= 0) {
			ssize_t n;

			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
				int limit = 64;	/* at most 4 MiB of a big file */

				while ((n = read(fd, bigbuf, sizeof(bigbuf))) > 0 && --limit)
					;
				rc = n < 0 ? -1 : 0;
			}
			close_outcome(op, rc, fd, p);
			return;
		}
		rc = -1;
		break;
	case OP_RMRF: {
		const char *d = rmdirs[pick(sizeof(rmdirs) / sizeof(rmdirs[0]))];
		int mfd = open(mnt, O_RDONLY | O_DIRECTORY);

		snprintf(p, sizeof(p), "%s/%s", mnt, d);
		rc = rm_rf_at(mfd, d, 0);
		if (rc < 0 && errno != ENOENT) {
			close_outcome(op, rc, mfd, p);
			return;
		}
		rc = mkdirat(mfd, d, 0755);
		e = errno;
		close(mfd);
		errno = e;
		break;
	}
	case OP_CHDIR:
		snprintf(p, sizeof(p), "%s/%s", mnt, dirs[ndirs > 1 ? 1 + pick(ndirs - 1) : 0]);
		rc = chdir(p);
		break;
	case OP_CWDCREATE: {
		char cwd[PATH_MAX];

		snprintf(p, sizeof(p), "cwd:%s", names[pick(NNAMES)]);
		if (!getcwd(cwd, sizeof(cwd)))
			snprintf(cwd, sizeof(cwd), "(deleted)");
		fd = open(p + 4, O_WRONLY | O_CREAT | O_NONBLOCK, 0644);
		rc = fd < 0 ? -1 : 0;
		e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(q, sizeof(q), "%s/%s", cwd, p + 4);
		errno = e;
		outcome(op, rc, e, q);
		return;
	}
	case OP_STAT:
		rc = fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW);
		break;
	default:
		return;
	}
	e = errno;
	outcome(op, rc, e, p);
}

static void worker(int id, double deadline)
{
	unsigned int total = 0, i;

	me = &shared[id];
	seed_rng(seed * 1000 + id + 1);
	for (i = 0; i < NOPS; i++)
		total += op_weight[i];
	if (chdir(mnt) < 0)
		_exit(3);
	while (now() < deadline) {
		unsigned int r = pick(total);
		enum op op = 0;
		double t0;

		while (r >= op_weight[op])
			r -= op_weight[op++];
		t0 = now();
		one_op(op);
		if (now() - t0 > me->max_op_time[op])
			me->max_op_time[op] = now() - t0;
	}
	me->done = 1;
	_exit(0);
}

/* ---- populating lower ---- */

static void put_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create %s", path);
	while (size) {
		size_t n = size < sizeof(bigbuf) ? size : sizeof(bigbuf);

		fill(bigbuf, n);
		if (write_all(fd, bigbuf, n) < 0)
			die("write %s", path);
		size -= n;
	}
	close(fd);
}

static void populate(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	unsigned int i, j;

	for (i = 1; i < NDIRS - 1; i++) {
		snprintf(p, sizeof(p), "%s/%s", lower, dirs[i]);
		if (mkdir(p, 0755) < 0)
			die("mkdir %s", p);
	}
	for (i = 0; i < NDIRS - 1; i++) {
		for (j = 0; j < 3; j++) {
			snprintf(p, sizeof(p), "%s/%s/f%u", lower, dirs[i], j);
			put_file(p, pick(4) ? pick(4096) : pick(300000));
		}
		snprintf(p, sizeof(p), "%s/%s/l0", lower, dirs[i]);
		if (symlink(pick(2) ? "f0" : "nowhere", p) < 0)
			die("symlink %s", p);
		snprintf(p, sizeof(p), "%s/%s/p0", lower, dirs[i]);
		if (mkfifo(p, 0644) < 0)
			die("mkfifo %s", p);
		snprintf(q, sizeof(q), "%s/%s/f1", lower, dirs[i]);
		snprintf(p, sizeof(p), "%s/%s/h0", lower, dirs[i]);
		if (link(q, p) < 0)
			die("link %s", p);
		if (pick(2)) {
			snprintf(p, sizeof(p), "%s/%s/c", lower, dirs[i]);
			if (mkdir(p, 0700) < 0)
				die("mkdir %s", p);
			snprintf(p, sizeof(p), "%s/%s/c/inner", lower, dirs[i]);
			put_file(p, 100);
		}
		snprintf(p, sizeof(p), "%s/%s/f0", lower, dirs[i]);
		setxattr(p, "user.k", "lower", 5, 0);
	}
	for (i = 0; i < (unsigned int)big_files; i++) {
		snprintf(p, sizeof(p), "%s/big%u", lower, i);
		put_file(p, (size_t)big_mb << 20);
	}
	/* For race_checks(). */
	snprintf(p, sizeof(p), "%s/r", lower);
	if (mkdir(p, 0755) < 0)
		die("mkdir %s", p);
	for (i = 0; i < (unsigned int)race_rounds && big_mb; i++) {
		snprintf(p, sizeof(p), "%s/r/u%u", lower, i);
		put_file(p, (size_t)big_mb << 20);
		snprintf(p, sizeof(p), "%s/r/v%u", lower, i);
		put_file(p, (size_t)big_mb << 20);
		snprintf(p, sizeof(p), "%s/r/w%u", lower, i);
		put_file(p, (size_t)big_mb << 20);
	}
	snprintf(p, sizeof(p), "%s/r/cw", lower);
	if (mkdir(p, 0755) < 0)
		die("mkdir %s", p);
	snprintf(p, sizeof(p), "%s/r/cw/a", lower);
	put_file(p, 10);
	for (i = 0; i < 2; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/r/%c", lower, "xy"[i]);
		fd = open(p, O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || write(fd, i ? "y\n" : "x\n", 2) != 2)
			die("%s", p);
		close(fd);
	}
}


/* ---- targeted races, before the random load ---- */



static long upper_used_kb(void)
{
	struct statfs sf;

	if (statfs(upper, &sf) < 0)
		return -1;
	return (long)((sf.f_blocks - sf.f_bfree) * (sf.f_bsize / 1024));
}

/* Waits until the upper filesystem grew by 1 MiB (a copy-up is under way), at most 10 s. */
static int wait_copy_progress(long base_kb)
{
	double t = now() + 10;

	if (same_fs) {
		usleep(1000 * (1 + pick(200)));
		return 1;
	}
	while (now() < t) {
		if (upper_used_kb() > base_kb + 1024)
			return 1;
		usleep(500);
	}
	return 0;
}

static int read_small(const char *path, char *buf, size_t len, off_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	fstat(fd, &st);
	*size = st.st_size;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	return 0;
}

/* Child: open O_WRONLY|O_APPEND (the copy-up), append "A". */
static pid_t start_appender(const char *path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_APPEND);

		if (fd < 0)
			_exit(errno == ENOENT ? 10 : 11);
		if (write(fd, "A", 1) != 1)
			_exit(12);
		close(fd);
		_exit(0);
	}
	return pid;
}

/*
 * start_appender() on @path once the upper usage is known, then wait until
 * its copy-up has made progress (if it shows none, count it in @noprog).
 */
static pid_t start_copy_up(const char *path, unsigned int *noprog)
{
	long base_kb = upper_used_kb();
	pid_t pid = start_appender(path);

	*noprog += !wait_copy_progress(base_kb);
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void race_checks(void)
{
	char p[PATH_MAX], q[PATH_MAX], buf[64];
	unsigned int ok = 0, noprog = 0;
	off_t size;
	int k, a, rc, e;
	pid_t pid;

	for (k = 0; k < race_rounds && big_mb; k++) {
		/* copy-up vs unlink: once unlink succeeded, the name is gone. */
		snprintf(p, sizeof(p), "%s/r/u%d", mnt, k);
		pid = start_copy_up(p, &noprog);
		rc = unlink(p);
		e = errno;
		a = wait_status(pid);
		if (rc < 0)
			fail("race copy-up vs unlink: unlink %s: %s (appender exit %d)", p,
			     strerror(e), a);
		else if (read_small(p, buf, sizeof(buf), &size) == 0 || errno != ENOENT)
			fail("race copy-up vs unlink: %s exists after unlink succeeded (size %lld, appender exit %d): the copy-up resurrected it",
			     p, (long long)size, a);
		else
			ok++;

		/* copy-up vs rename over: the name holds the renamed file. */
		snprintf(p, sizeof(p), "%s/r/v%d", mnt, k);
		snprintf(q, sizeof(q), "%s/r/src%d", mnt, k);
		{
			int fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0 || write(fd, "SRC", 3) != 3)
				fail("race setup: %s: %s", q, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		pid = start_copy_up(p, &noprog);
		rc = rename(q, p);
		e = errno;
		a = wait_status(pid);
		if (rc < 0)
			fail("race copy-up vs rename over: rename %s %s: %s", q, p, strerror(e));
		else if (read_small(p, buf, sizeof(buf), &size) < 0)
			fail("race copy-up vs rename over: %s: %s after rename", p, strerror(errno));
		else if (strcmp(buf, "SRC") && strcmp(buf, "SRCA"))
			fail("race copy-up vs rename over: %s has size %lld, not the renamed file (\"SRC\"): the copy-up was installed over it (appender exit %d)",
			     p, (long long)size, a);
		else
			ok++;

		/* copy-up vs unlink + create: the name holds the new file. */
		snprintf(p, sizeof(p), "%s/r/w%d", mnt, k);
		pid = start_copy_up(p, &noprog);
		rc = unlink(p);
		e = errno;
		if (rc == 0) {
			int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);

			if (fd < 0) {
				rc = -1;
				e = errno;
			} else {
				if (write(fd, "NEW", 3) != 3)
					rc = -1;
				close(fd);
			}
		}
		a = wait_status(pid);
		if (rc < 0)
			fail("race copy-up vs unlink + create: %s: %s", p, strerror(e));
		else if (read_small(p, buf, sizeof(buf), &size) < 0)
			fail("race copy-up vs unlink + create: %s: %s after create", p,
			     strerror(errno));
		else if (strcmp(buf, "NEW") && strcmp(buf, "NEWA"))
			fail("race copy-up vs unlink + create: %s has size %lld, not the new file: the copy-up was installed over it (appender exit %d)",
			     p, (long long)size, a);
		else
			ok++;
	}

	/* rm -rf d; mkdir d while another process has the old d as its cwd. */
	{
		int pfd[2], cfd[2];
		char c;

		snprintf(p, sizeof(p), "%s/r/cw", mnt);
		if (pipe(pfd) < 0 || pipe(cfd) < 0)
			die("pipe");
		pid = fork();
		if (pid == 0) {
			int fd;

			if (chdir(p) < 0)
				_exit(20);
			if (write(pfd[1], "r", 1) != 1 || read(cfd[0], &c, 1) != 1)
				_exit(21);
			/* The old directory is dead: creating in it must fail. */
			fd = open("x", O_WRONLY | O_CREAT, 0644);
			_exit(fd >= 0 ? 22 : errno == ENOENT ? 0 : 23);
		}
		if (read(pfd[0], &c, 1) != 1)
			fail("race rmdir with cwd: the child did not start");
		rc = rm_rf_at(AT_FDCWD, p, 0);
		if (rc < 0)
			fail("race rmdir with cwd: rm -rf %s: %s", p, strerror(errno));
		if (mkdir(p, 0755) < 0)
			fail("race rmdir with cwd: mkdir %s after rm -rf: %s", p, strerror(errno));
		snprintf(q, sizeof(q), "%s/new", p);
		{
			int fd = open(q, O_WRONLY | O_CREAT, 0644);

			if (fd < 0)
				fail("race rmdir with cwd: touch %s after rm -rf + mkdir while another process has the old directory as cwd: %s",
				     q, strerror(errno));
			else
				close(fd), ok++;
		}
		if (write(cfd[1], "g", 1) != 1)
			die("pipe write");
		a = wait_status(pid);
		if (a == 22)
			fail("race rmdir with cwd: creating in the removed old cwd succeeded");
		else if (a != 0)
			fail("race rmdir with cwd: child exit %d", a);
		else
			ok++;
		{
			DIR *d = opendir(p);
			struct dirent *de;
			unsigned int others = 0, found = 0;

			while (d && (de = readdir(d))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				if (!strcmp(de->d_name, "new"))
					found++;
				else
					others++;
			}
			if (d)
				closedir(d);
			if (!d || found != 1 || others)
				fail("race rmdir with cwd: %s lists %u x new and %u other names, wanted only new",
				     p, found, others);
		}
		close(pfd[0]), close(pfd[1]), close(cfd[0]), close(cfd[1]);
	}

	/*
	 * link(lower x, la); rename(la, lb); exchange(y, x): exactly x and y swap (the
	 * upper object of x is the one at x).
	 */
	{
		char q2[PATH_MAX], y[PATH_MAX];

		snprintf(p, sizeof(p), "%s/r/x", mnt);
		snprintf(q, sizeof(q), "%s/r/la", mnt);
		snprintf(q2, sizeof(q2), "%s/r/lb", mnt);
		snprintf(y, sizeof(y), "%s/r/y", mnt);
		rc = link(p, q);
		if (rc == 0)
			rc = rename(q, q2);
		if (rc == 0)
			rc = syscall(SYS_renameat2, AT_FDCWD, y, AT_FDCWD, p, RENAME_EXCHANGE);
		if (rc < 0) {
			fail("race link + rename + exchange: %s", strerror(errno));
		} else {
			char bx[64] = "", by[64] = "", bb[64] = "";
			off_t sz;
			int ea = access(q, F_OK) == 0 ? 0 : errno;

			read_small(p, bx, sizeof(bx), &sz);
			read_small(y, by, sizeof(by), &sz);
			read_small(q2, bb, sizeof(bb), &sz);
			if (strcmp(bx, "y\n") || strcmp(by, "x\n") || strcmp(bb, "x\n") ||
			    ea != ENOENT)
				fail("race link(x, la) + rename(la, lb) + exchange(y, x): x reads \"%s\" (want y), y \"%s\" (want x), lb \"%s\" (want x), la %s (want ENOENT)",
				     bx, by, bb, ea ? strerror(ea) : "exists");
			else
				ok++;
		}
	}
	printf("# targeted races: %u checks passed%s\n", ok,
	       noprog ? " (some copy-ups showed no progress before the race)" : "");
}

struct entry {
	char *path;
	mode_t mode;
	off_t size;
	ino_t ino;
	uint64_t hash;
	char xattr[32];
	int err;	/* errno of a failed read, 0 */
};

struct manifest {
	struct entry *e;
	size_t n, cap;
};

static uint64_t fnv(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *b = buf;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static void add_entry(struct manifest *m, const char *rel, const struct stat *st, int dfd,
		      const char *name, const char *full)
{
	struct entry *x;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		if (!m->e)
			die("realloc");
	}
	x = &m->e[m->n++];
	memset(x, 0, sizeof(*x));
	x->path = strdup(rel);
	x->mode = st->st_mode;
	x->size = S_ISDIR(st->st_mode) ? 0 : st->st_size;
	x->ino = st->st_ino;
	x->hash = 0xcbf29ce484222325ULL;
	if (S_ISREG(st->st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW);
		ssize_t n;
		off_t total = 0;

		if (fd < 0) {
			x->err = errno;
		} else {
			while ((n = read(fd, bigbuf, sizeof(bigbuf))) > 0) {
				x->hash = fnv(x->hash, bigbuf, n);
				total += n;
			}
			if (n < 0)
				x->err = errno;
			else if (total != st->st_size)
				fail("%s: read %lld bytes, st_size is %lld", rel,
				     (long long)total, (long long)st->st_size);
			close(fd);
		}
	} else if (S_ISLNK(st->st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, t, sizeof(t));

		if (n < 0)
			x->err = errno;
		else
			x->hash = fnv(x->hash, t, n);
	}
	{
		ssize_t n = lgetxattr(full, "user.k", x->xattr, sizeof(x->xattr) - 1);

		if (n >= 0)
			x->xattr[n] = 0;
		else
			x->xattr[0] = 0;
	}
}

/*
 * Walks the union directory dfd (relative path rel): readdir vs lookup checks and,
 * if m, the manifest.
 */
static void walk(int dfd, const char *rel, struct manifest *m, unsigned long *nlisted)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	char **seen = NULL;
	size_t nseen = 0, i;

	if (!d) {
		fail("%s: fdopendir: %s", rel, strerror(errno));
		close(dfd);
		return;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		char r[PATH_MAX], full[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (i = 0; i < nseen; i++)
			if (!strcmp(seen[i], de->d_name))
				fail("%s/%s: listed twice by readdir", rel, de->d_name);
		seen = realloc(seen, (nseen + 1) * sizeof(*seen));
		seen[nseen++] = strdup(de->d_name);
		(*nlisted)++;
		snprintf(r, sizeof(r), "%s/%s", rel, de->d_name);
		snprintf(full, sizeof(full), "%s/%s", mnt, r);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			fail("%s: listed by readdir (d_type %u) but lookup fails: %s", r,
			     de->d_type, strerror(errno));
			continue;
		}
		if (de->d_type != DT_UNKNOWN && de->d_type != IFTODT(st.st_mode))
			fail("%s: readdir d_type %u, stat says %u (mode %o)", r, de->d_type,
			     IFTODT(st.st_mode), st.st_mode);
		if (de->d_ino != st.st_ino)
			fail("%s: readdir d_ino %llu, st_ino %llu", r,
			     (unsigned long long)de->d_ino, (unsigned long long)st.st_ino);
		if (m)
			add_entry(m, r, &st, dirfd(d), de->d_name, full);
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			if (fd < 0)
				fail("%s: open directory: %s", r, strerror(errno));
			else
				walk(fd, r, m, nlisted);
		}
	}
	if (errno)
		fail("%s: readdir: %s", rel, strerror(errno));
	/* Names of the name set that lookup finds must be listed. */
	for (i = 0; i < NNAMES + 8; i++) {
		char nm[32];
		struct stat st;
		size_t j;

		if (i < NNAMES)
			snprintf(nm, sizeof(nm), "%s", names[i]);
		else if (i - NNAMES < (size_t)big_files)
			snprintf(nm, sizeof(nm), "big%zu", i - NNAMES);
		else
			continue;
		for (j = 0; j < nseen; j++)
			if (!strcmp(seen[j], nm))
				break;
		if (j == nseen && fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) == 0)
			fail("%s/%s: lookup finds it (mode %o) but readdir does not list it",
			     rel, nm, st.st_mode);
	}
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	closedir(d);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static void take_manifest(struct manifest *m, const char *when)
{
	unsigned long nlisted = 0;
	int fd = open(mnt, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		die("open %s", mnt);
	m->n = 0;
	walk(fd, ".", m, &nlisted);
	qsort(m->e, m->n, sizeof(*m->e), cmp_entry);
	printf("# %s: %zu objects in the union\n", when, m->n);
}

static void compare(const struct manifest *a, const struct manifest *b)
{
	size_t i = 0, j = 0;
	unsigned int diffs = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->e[i].path, b->e[j].path);

		if (c < 0) {
			fail("%s: gone after umount + mount", a->e[i].path);
			i++, diffs++;
		} else if (c > 0) {
			fail("%s: appeared after umount + mount", b->e[j].path);
			j++, diffs++;
		} else {
			const struct entry *x = &a->e[i], *y = &b->e[j];

			if (x->mode != y->mode || x->size != y->size || x->hash != y->hash ||
			    x->err != y->err || strcmp(x->xattr, y->xattr)) {
				fail("%s: changed across umount + mount: mode %o -> %o, size %lld -> %lld, %s, xattr '%s' -> '%s'%s%s",
				     x->path, x->mode, y->mode, (long long)x->size,
				     (long long)y->size,
				     x->hash == y->hash ? "same contents" : "CONTENTS DIFFER",
				     x->xattr, y->xattr, x->err ? ", read error before" : "",
				     y->err ? ", read error after" : "");
				diffs++;
			} else if (x->ino != y->ino) {
				fail("%s: st_ino %llu -> %llu across umount + mount", x->path,
				     (unsigned long long)x->ino, (unsigned long long)y->ino);
				diffs++;
			}
			if (x->err)
				fail("%s: read error %s", x->path, strerror(x->err));
			i++, j++;
		}
	}
	printf("# umount + mount: %u differences\n", diffs);
}

/* ---- mounts ---- */

static void do_mount(void)
{
	char opts[3 * PATH_MAX];

	snprintf(opts, sizeof(opts), "lower=%s,upper=%s", lower, upper);
	if (overlay) {
		/* For comparison (and testing this tool where union.ko is not loaded). */
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s.work",
			 lower, upper, upper);
		mkdir(strcat(strcpy((char[PATH_MAX + 8]){ 0 }, upper), ".work"), 0700);
	}
	if (mount("none", mnt, overlay ? "overlay" : "union", 0, opts) < 0) {
		int e = errno;
		char cmd[PATH_MAX + 128];

		/* What the mount could not clean up. */
		snprintf(cmd, sizeof(cmd),
			 "find '%s/.union-work' -printf '# work dir: %%P %%y %%m %%s %%i\\n' 2>&1 | head -50",
			 upper);
		fflush(stdout);
		if (system(cmd) < 0)
			perror("system");
		errno = e;
		die("mount -t union -o %s %s", opts, mnt);
	}
}

static int do_umount(void)
{
	for (int i = 0; i < 50; i++) {
		if (umount(mnt) == 0)
			return 0;
		if (errno != EBUSY)
			break;
		usleep(100000);
	}
	fail("umount %s: %s", mnt, strerror(errno));
	return -1;
}

static void run_fsck(const char *when)
{
	pid_t pid;
	int status;

	if (!fsck_path)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(fsck_path, fsck_path, lower, upper, (char *)NULL);
		perror(fsck_path);
		_exit(2);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("union-fsck of the upper layer %s: exit %d", when,
		     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else
		printf("# union-fsck %s: clean\n", when);
}

/* ---- main ---- */

static void usage(void);

/* --weights create=10,link=0,...: only the named operations change. */
static void set_weights(const char *spec)
{
	char *copy = strdup(spec), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int op;

		if (!eq)
			usage();
		*eq = 0;
		for (op = 0; op < NOPS && strcmp(op_names[op], tok); op++)
			;
		if (op == NOPS) {
			fprintf(stderr, "union-stress: unknown operation %s\n", tok);
			usage();
		}
		op_weight[op] = atoi(eq + 1);
	}
	free(copy);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: union-stress [--procs N] [--seconds S] [--seed X] [--big-files K]\n"
		"                    [--big-mb M] [--fsck PATH|--no-fsck] [--dir DIR] [--same-fs]\n"
		"                    [--race-rounds R] [--overlay] [-v]\n"
		"  --race-rounds: targeted copy-up races before the load (default 1; 0: none)\n"
		"  --dirs N: operate in the first N of . d0 d1 d2 d0/s d1/s n (default all)\n"
		"  --weights op=W,...: operation weights (op names as in the table; 0 disables)\n"
		"  --overlay: overlayfs instead of union (a comparison; no union-fsck)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "procs", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "big-files", required_argument, NULL, 'b' },
		{ "big-mb", required_argument, NULL, 'm' },
		{ "fsck", required_argument, NULL, 'f' },
		{ "no-fsck", no_argument, NULL, 'F' },
		{ "dir", required_argument, NULL, 'd' },
		{ "same-fs", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "overlay", no_argument, NULL, 'O' },
		{ "race-rounds", required_argument, NULL, 'r' },
		{ "dirs", required_argument, NULL, 'D' },
		{ "weights", required_argument, NULL, 'w' },
		{ 0 }
	};
	const char *dir = NULL;
	char self[PATH_MAX], buf[PATH_MAX];
	pid_t pids[MAXPROCS];
	struct manifest before = { 0 }, after = { 0 };
	double t0, deadline, t_load;
	int c, i, no_fsck = 0, hung = 0;
	unsigned long total_ops = 0, total_unexpected = 0, estale = 0;
	ssize_t n;

	seed = (unsigned long long)time(NULL) ^ getpid();
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'p': nprocs = atoi(optarg); break;
		case 't': seconds = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'b': big_files = atoi(optarg); break;
		case 'm': big_mb = atoi(optarg); break;
		case 'f': fsck_path = optarg; break;
		case 'F': no_fsck = 1; break;
		case 'd': dir = optarg; break;
		case 'S': same_fs = 1; break;
		case 'v': verbose = 1; break;
		case 'O': overlay = 1; break;
		case 'r': race_rounds = atoi(optarg); break;
		case 'D':
			ndirs = atoi(optarg);
			if (ndirs < 1 || ndirs > NDIRS)
				usage();
			break;
		case 'w':
			set_weights(optarg);
			break;
		default: usage();
		}
	}
	if (optind != argc || nprocs < 1 || nprocs > MAXPROCS || seconds < 0 ||
	    big_files < 0 || big_files > 8 || big_mb < 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fsck_path && !no_fsck) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			snprintf(buf, sizeof(buf), "%.*s/union-fsck",
				 (int)(strrchr(self, '/') - self), self);
			if (access(buf, X_OK) == 0)
				fsck_path = strdup(buf);
		}
		if (!fsck_path)
			printf("# union-fsck not found next to union-stress: not run\n");
	}
	if (no_fsck || overlay)
		fsck_path = NULL;
	printf("# union-stress --seed %llu --procs %d --seconds %d --big-files %d --big-mb %d --dirs %u%s\n",
	       seed, nprocs, seconds, big_files, big_mb, ndirs, same_fs ? " --same-fs" : "");
	{
		unsigned int total = 0;

		for (i = 0; i < NOPS; i++)
			total += op_weight[i];
		if (!total)
			usage();
	}

	/* A private mount namespace: everything goes away with us. */
	if (unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("mount --make-rprivate /");
	if (dir)
		snprintf(base, sizeof(base), "%s", dir);
	else
		snprintf(base, sizeof(base), "/tmp/union-stress.XXXXXX");
	if (!dir && !mkdtemp(base))
		die("mkdtemp");
	if (mount("tmpfs", base, "tmpfs", 0, "mode=0755") < 0)
		die("mount tmpfs on %s", base);
	snprintf(lower, sizeof(lower), "%s/lower", base);
	snprintf(upper, sizeof(upper), "%s/%s", base, same_fs ? "upper" : "u/upper");
	snprintf(mnt, sizeof(mnt), "%s/mnt", base);
	if (mkdir(lower, 0755) < 0 || mkdir(mnt, 0755) < 0)
		die("mkdir");
	if (!same_fs) {
		snprintf(buf, sizeof(buf), "%s/u", base);
		if (mkdir(buf, 0755) < 0 || mount("tmpfs", buf, "tmpfs", 0, "mode=0755") < 0)
			die("tmpfs for upper");
	}
	if (mkdir(upper, 0755) < 0)
		die("mkdir %s", upper);

	t0 = now();
	seed_rng(seed);
	populate();
	printf("# lower populated in %.1f s\n", now() - t0);
	do_mount();
	if (race_rounds) {
		t0 = now();
		race_checks();
		printf("# targeted races took %.1f s\n", now() - t0);
	}

	shared = mmap(NULL, nprocs * sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die("mmap");
	t0 = now();
	deadline = t0 + seconds;
	for (i = 0; i < nprocs; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0)
			worker(i, deadline);
	}
	/* Wait; an operation still running 5 minutes after the deadline is a hang. */
	for (int left = nprocs; left > 0;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p > 0) {
			left--;
			continue;
		}
		if (now() > deadline + 300) {
			for (i = 0; i < nprocs; i++) {
				if (shared[i].done)
					continue;
				snprintf(buf, sizeof(buf), "/proc/%d/wchan", pids[i]);
				FILE *f = fopen(buf, "r");
				char w[128] = "?";

				if (f) {
					if (!fgets(w, sizeof(w), f))
						w[0] = 0;
					fclose(f);
				}
				fail("worker %d (pid %d) still running 300 s after the deadline (wchan %s)",
				     i, pids[i], w);
				kill(pids[i], SIGKILL);
			}
			hung = 1;
			break;
		}
		usleep(100000);
	}
	t_load = now() - t0;

	printf("# %-18s %9s %9s %9s %9s %8s  errnos\n", "op", "count", "ok", "expected",
	       "UNEXPECTED", "max_s");
	for (int op = 0; op < NOPS; op++) {
		unsigned long cnt = 0, ok = 0, ex = 0, un = 0;
		double mx = 0;
		char errs[512] = "";
		size_t len = 0;

		for (i = 0; i < nprocs; i++) {
			cnt += shared[i].ops[op];
			ok += shared[i].ok[op];
			ex += shared[i].expected[op];
			un += shared[i].unexpected[op];
			if (shared[i].max_op_time[op] > mx)
				mx = shared[i].max_op_time[op];
		}
		for (int e = 1; e < MAXERRNO; e++) {
			unsigned long k = 0;

			for (i = 0; i < nprocs; i++)
				k += shared[i].err[op][e];
			if (k && len < sizeof(errs) - 40)
				len += snprintf(errs + len, sizeof(errs) - len, " %s:%lu",
						strerrorname_np(e) ?: "?", k);
		}
		total_ops += cnt;
		total_unexpected += un;
		printf("# %-18s %9lu %9lu %9lu %9lu %8.2f %s\n", op_names[op], cnt, ok, ex, un,
		       mx, errs);
	}
	for (i = 0; i < nprocs; i++) {
		estale += shared[i].estale;
		for (unsigned int k = 0; k < shared[i].nlogged; k++)
			printf("# %s (worker %d): %s\n",
			       strstr(shared[i].log[k], "(ESTALE") ? "estale" : "unexpected", i,
			       shared[i].log[k]);
	}
	printf("# load: %lu operations by %d processes in %.1f s (%.0f/s)\n", total_ops,
	       nprocs, t_load, total_ops / (t_load > 0 ? t_load : 1));
	if (estale)
		printf("# %lu operations failed with ESTALE (counted, not a failure)\n", estale);
	if (total_unexpected)
		fail("%lu operations failed with an unexpected errno", total_unexpected);
	if (hung) {
		printf("union-stress: FAIL (hung; layers left mounted in a dying namespace)\n");
		return 1;
	}

	/* 1 + 2: readdir vs lookup, manifest, umount, fsck, mount, manifest. */
	if (chdir("/") < 0)
		die("chdir /");
	t0 = now();
	take_manifest(&before, "before umount");
	if (do_umount() == 0) {
		run_fsck("after the load");
		do_mount();
		take_manifest(&after, "after mount");
		compare(&before, &after);
	}

	/* 4: rm -rf of everything empties the root. */
	{
		int fd = open(mnt, O_RDONLY | O_DIRECTORY);
		DIR *d;
		struct dirent *de;
		char **list = NULL;
		size_t nl = 0, left = 0;

		if (fd < 0)
			die("open %s", mnt);
		d = fdopendir(fd);
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			list = realloc(list, (nl + 1) * sizeof(*list));
			list[nl++] = strdup(de->d_name);
		}
		for (size_t k = 0; k < nl; k++) {
			if (rm_rf_at(dirfd(d), list[k], 0) < 0)
				fail("rm -rf %s: %s", list[k], strerror(errno));
			free(list[k]);
		}
		free(list);
		rewinddir(d);
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			fail("%s: still listed after rm -rf of everything", de->d_name);
			left++;
		}
		closedir(d);
		printf("# rm -rf of everything: %zu names left\n", left);
	}
	if (do_umount() == 0) {
		run_fsck("after rm -rf");
		do_mount();
		{
			DIR *d = opendir(mnt);
			struct dirent *de;

			while (d && (de = readdir(d)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
					fail("%s: listed after rm -rf + umount + mount", de->d_name);
			if (d)
				closedir(d);
		}
		do_umount();
	}
	printf("# checks took %.1f s\n", now() - t0);
	umount2(base, MNT_DETACH);
	if (!dir)
		rmdir(base);
	if (problems) {
		printf("union-stress: FAIL (%u problems; --seed %llu)\n", problems, seed);
		return 1;
	}
	printf("union-stress: PASS\n");
	return 0;
}
