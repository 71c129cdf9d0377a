// SPDX-License-Identifier: GPL-2.0
/*
 * union-difftest: a differential model tester for the union filesystem.
 *
 * From a seed it generates a lower tree (files with data and holes, hard
 * links, symlinks, fifos, nested and large directories, user.* xattrs, varied
 * modes, owners and times), makes a reference copy of it (what `cp -a lower
 * ref` makes), mounts a union of the lower tree and an empty upper directory,
 * and applies one random sequence of operations to both the union and the
 * reference.  After every operation the results (return value, errno, data)
 * must be equal; every K operations, at the end and after umount + mount, the
 * whole visible trees must be equal (names, types, modes, owners, sizes,
 * nlink, mtimes, contents, symlink targets, user.* xattrs) and the
 * union must be self-consistent (every readdir name stats, d_type matches
 * st_mode, d_ino == st_ino, st_ino stable across the run and remounts).
 *
 * The reference is a plain directory, so it behaves like POSIX.  The union's
 * documented deviations (Documentation/filesystems/union.rst, "Known non-POSIX
 * behaviour") are encoded as rules of the model and checked, not skipped:
 *
 *   - rename(2) of a directory with a lower part returns EXDEV.  The model
 *     knows which directories have one: those of the lower tree, at their
 *     path, never removed (union.rst: "also once all its lower entries were
 *     removed"; a directory made where a lower one was removed is new and
 *     upper-only).  EXDEV for any other directory is a mismatch, and a
 *     successful rename of one is a mismatch too.
 *   - lower hard links of regular files survive copy-up (the hard-link
 *     index): the reference is plain POSIX for them, st_nlink and st_ino
 *     included.  Copy-up breaks the hard links of lower symlinks and special
 *     files: when such an object with several links is copied up through one
 *     name, the reference breaks the link at that moment (copies the object
 *     to a temporary name and renames it over the name); the other names keep
 *     showing the lower object, with the lower st_nlink and inode number; the
 *     copied name gets a new inode number.  (The generator makes hard links
 *     of regular files only; the rule is kept for lowers that have others.)
 *   - st_nlink of directories, directory sizes and mtimes, atime, ctime and
 *     st_dev are not compared; nor the mtime of FIFOs (I/O on a FIFO through
 *     the union uses the union's own inode and does not change the real
 *     FIFO's times, union.rst "Known non-POSIX behaviour").
 *   - st_ino: a lower object reports the lower inode number with bit 63 set,
 *     also after a copy-up, except for the copied name of a multiply-linked
 *     lower symlink or special file; objects made later report upper numbers
 *     (bit 63 clear).
 *
 * The operation sequence is generated up front from the seed (it does not
 * depend on the results), so any subset of it can be replayed: on the first
 * mismatch the tester shrinks the sequence (delta debugging over fresh
 * layers) and prints the minimal reproducer, as an operation list, as a
 * command line that replays exactly it (--only), and as a shell sketch.
 *
 * Usage: union-difftest [--seed N | --seeds A..B] [--ops N] [--check-every K]
 *                       [--workdir DIR] [--no-shrink] [--only I,J,..] [-v]
 *                       [--plain] [--tamper-at N] [--gen-lower DIR]
 *                       [--fsck PATH | --no-fsck]
 * After every umount the upper layer must pass union-fsck (by default the one
 * built next to this program).
 * Exit status: 0 all equal, 1 mismatch, 2 setup error.  Must run as root.
 */
#include "../common.h"

#include <inttypes.h>
#include <limits.h>
#include <time.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/xattr.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LOWER_BIT (1ULL << 63)	/* st_ino bit of objects with a lower part */
#define NSLOTS 4		/* file descriptors kept across operations */
#define MAXIO (256 * 1024)	/* largest single read or write */
#define MAXRES (1 << 20)	/* result data buffer (reads, listings) */
#define REL 64			/* longest relative path we generate */

/* ------------------------------------------------------------------ */
/* Deterministic randomness: splitmix64.                               */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int below(struct rng *r, unsigned int n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int percent)
{
	return below(r, 100) < percent;
}

/* ------------------------------------------------------------------ */
/* Global configuration and state.                                     */

static int verbose;
static bool plain;		/* --plain: "union" is a second plain copy */
static bool quiet;		/* shrink trials: do not print mismatches */
static long tamper_at = -1;	/* --tamper-at: change ref behind our back */
static char fsck_path[PATH_MAX];	/* union-fsck, run after each umount ("" : not) */
static unsigned long metacopies_seen;	/* metadata-only copies on upper at umounts */
static unsigned long indexed_seen;	/* names of indexed copies on upper at umounts */
static char workdir[PATH_MAX];
static char lowerdir[PATH_MAX], trialdir[PATH_MAX], upperdir[PATH_MAX];
static char base[2][PATH_MAX];	/* [0] the union mount, [1] the reference */
enum { U = 0, R = 1 };

static bool failed;		/* a mismatch was seen in this trial */
static char failmsg[8192];	/* its description */
static long cur_op = -1;	/* index of the operation being run, -1 = setup */

static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g",
				     "h", "i", "j", "k", "l" };
#define NNAMES 10		/* names used by the generator: a..j */
#define NBIG 80			/* entries of the large directory "big" */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "union-difftest: setup error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* Record a mismatch; the first one of a trial is kept in failmsg. */
static void mismatch(const char *fmt, ...)
{
	va_list ap;
	char buf[4096];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!failed)
		snprintf(failmsg, sizeof(failmsg), "%s", buf);
	failed = true;
	if (!quiet)
		printf("MISMATCH: %s\n", buf);
}

/* snprintf for paths and names: a truncated one is a setup error. */
#define fmt(buf, n, ...) do {						\
	if (!fmt_fits(buf, n, __VA_ARGS__))				\
		die("name too long: %s...", buf);			\
} while (0)

static void path_of(char *out, int side, const char *rel)
{
	if (*rel)
		fmt(out, PATH_MAX, "%s/%s", base[side], rel);
	else
		snprintf(out, PATH_MAX, "%s", base[side]);
}

/* ------------------------------------------------------------------ */
/* Small helpers: hashing, file copies, tree removal.                  */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	if (!h)
		h = 0xcbf29ce484222325ULL;
	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

/* Content hash of an open file from its start; -1 with errno on error. */
static int fd_hash(int fd, uint64_t *hash, off_t *len)
{
	static char buf[65536];
	ssize_t n;
	uint64_t h = 0;
	off_t total = 0;

	while ((n = pread(fd, buf, sizeof(buf), total)) > 0) {
		h = fnv(h, buf, n);
		total += n;
	}
	if (n < 0)
		return -1;
	*hash = h;
	*len = total;
	return 0;
}

/* Content hash of a regular file; -1 with errno on error. */
static int file_hash(const char *path, uint64_t *hash, off_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int ret, e;

	if (fd < 0)
		return -1;
	ret = fd_hash(fd, hash, len);
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

/* Copy the data of one regular file into another, keeping holes. */
static int copy_data(int in, int out)
{
	static char buf[65536];
	off_t pos = 0, data, hole, end = lseek(in, 0, SEEK_END);

	while (pos < end && (data = lseek(in, pos, SEEK_DATA)) >= 0) {
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		for (pos = data; pos < hole;) {
			size_t want = hole - pos < (off_t)sizeof(buf) ?
				      hole - pos : sizeof(buf);
			ssize_t n = pread(in, buf, want, pos);

			if (n <= 0 || pwrite(out, buf, n, pos) != n)
				return -1;
			pos += n;
		}
	}
	return ftruncate(out, end);
}

/* Copy xattrs (all namespaces we may read and write) of src onto dst. */
static void copy_xattrs(const char *src, const char *dst)
{
	char list[4096], val[4096];
	ssize_t n = llistxattr(src, list, sizeof(list));

	for (char *p = list; n > 0 && p < list + n; p += strlen(p) + 1) {
		ssize_t v = lgetxattr(src, p, val, sizeof(val));

		if (v >= 0)
			lsetxattr(dst, p, val, v, 0);
	}
}

/* Owner, mode, xattrs and times of src onto dst (a copy of it). */
static void copy_attrs(const char *src, const char *dst, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (lchown(dst, st->st_uid, st->st_gid))
		die("lchown %s: %m", dst);
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777))
		die("chmod %s: %m", dst);
	copy_xattrs(src, dst);
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW))
		die("utimensat %s: %m", dst);
}

/* Copy one non-directory object (all attributes, not links). */
static void copy_obj(const char *src, const char *dst, const struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		int in = open(src, O_RDONLY | O_CLOEXEC);
		int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (in < 0 || out < 0 || copy_data(in, out))
			die("copy %s -> %s: %m", src, dst);
		close(in);
		close(out);
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			die("readlink %s: %m", src);
		target[n] = 0;
		if (symlink(target, dst))
			die("symlink %s: %m", dst);
	} else if (mknod(dst, st->st_mode, st->st_rdev)) {
		die("mknod %s: %m", dst);
	}
	copy_attrs(src, dst, st);
}

/* Hard-link map of a tree copy: source inode -> first copied path. */
struct linkmap {
	ino_t ino[4096];
	char path[4096][PATH_MAX / 8];
	int n;
};

/* cp -a: copy the tree src to dst (dst must not exist). */
static void copy_tree_rec(const char *src, const char *dst, struct linkmap *lm)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(src, &st))
		die("lstat %s: %m", src);
	if (!S_ISDIR(st.st_mode)) {
		if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			for (int i = 0; i < lm->n; i++) {
				if (lm->ino[i] == st.st_ino) {
					if (link(lm->path[i], dst))
						die("link %s: %m", dst);
					return;
				}
			}
			if (lm->n < (int)ARRAY_SIZE(lm->ino) &&
			    strlen(dst) < sizeof(lm->path[0])) {
				lm->ino[lm->n] = st.st_ino;
				strcpy(lm->path[lm->n++], dst);
			}
		}
		copy_obj(src, dst, &st);
		return;
	}
	if (mkdir(dst, 0700) && errno != EEXIST)
		die("mkdir %s: %m", dst);
	d = opendir(src);
	if (!d)
		die("opendir %s: %m", src);
	while ((e = readdir(d))) {
		char s[PATH_MAX], t[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, e->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, e->d_name);
		copy_tree_rec(s, t, lm);
	}
	closedir(d);
	copy_attrs(src, dst, &st);
}

static void copy_tree(const char *src, const char *dst)
{
	struct linkmap *lm = calloc(1, sizeof(*lm));

	if (!lm)
		die("out of memory");
	copy_tree_rec(src, dst, lm);
	free(lm);
}

/* ------------------------------------------------------------------ */
/* The lower tree generator.                                           */

/* The generator's picture of the namespace (approximate after ops). */
struct gent {
	char path[REL];
	char type;		/* 'f' file, 'd' dir, 'l' symlink, 'p' fifo */
};

static struct gent *gents;
static int ngents, capgents;

static struct gent *gfind(const char *path)
{
	for (int i = 0; i < ngents; i++)
		if (!strcmp(gents[i].path, path))
			return &gents[i];
	return NULL;
}

static void gadd(const char *path, char type)
{
	if (gfind(path) || strlen(path) >= REL)
		return;
	if (ngents == capgents) {
		capgents = capgents ? 2 * capgents : 256;
		gents = realloc(gents, capgents * sizeof(*gents));
		if (!gents)
			die("out of memory");
	}
	snprintf(gents[ngents].path, REL, "%s", path);
	gents[ngents++].type = type;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

/* Remove path and everything under it from the generator's picture. */
static void gdel(const char *path)
{
	for (int i = 0; i < ngents;) {
		if (under(gents[i].path, path))
			gents[i] = gents[--ngents];
		else
			i++;
	}
}

static const mode_t file_modes[] = { 0644, 0600, 0755, 0444, 0640, 0666,
				     0700, 04755, 02755, 0604, 0000, 0664 };
static const mode_t dir_modes[] = { 0755, 0700, 0775, 0555, 02775, 01777,
				    0750, 0711 };
static const uid_t owners[][2] = { { 0, 0 }, { 1000, 1000 }, { 1001, 1001 },
				   { 1000, 0 }, { 0, 1000 } };

static struct timespec old_time(struct rng *r)
{
	struct timespec t = {
		.tv_sec = 946684800 + below(r, 650000000),
		.tv_nsec = below(r, 1000000000),
	};
	return t;
}

static void set_meta(struct rng *r, const char *path, bool dir, bool link,
		     bool xattrs)
{
	const uid_t *o = owners[below(r, ARRAY_SIZE(owners))];
	struct timespec ts[2] = { old_time(r), old_time(r) };
	mode_t m = dir ? dir_modes[below(r, ARRAY_SIZE(dir_modes))] :
			 file_modes[below(r, ARRAY_SIZE(file_modes))];

	if (xattrs && chance(r, 30)) {
		char v[32];

		snprintf(v, sizeof(v), "val%u", below(r, 1000));
		if (setxattr(path, "user.a", v, strlen(v), 0))
			die("setxattr %s: %m", path);
		if (chance(r, 30) && setxattr(path, "user.b", "", 0, 0))
			die("setxattr %s: %m", path);
	}
	if (lchown(path, o[0], o[1]))
		die("lchown %s: %m", path);
	if (!link && chmod(path, m))
		die("chmod %s: %m", path);
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		die("utimensat %s: %m", path);
}

static void fill_random(struct rng *r, char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '\n' : 'A' + below(r, 58);
}

static void gen_file(struct rng *r, const char *path)
{
	static char buf[70000];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	unsigned int k = below(r, 100);
	size_t n = 0;

	if (fd < 0)
		die("create %s: %m", path);
	if (k < 20) {
		n = 0;
	} else if (k < 70) {
		n = 1 + below(r, 3000);
	} else if (k < 90) {
		n = 4096 + below(r, sizeof(buf) - 4096);
	} else {		/* sparse: data, a hole, data at 1 MiB */
		n = 1 + below(r, 8192);
		fill_random(r, buf, n);
		if (pwrite(fd, buf, n, (off_t)1 << 20) != (ssize_t)n)
			die("write %s: %m", path);
		n = 1 + below(r, 8192);
	}
	fill_random(r, buf, n);
	if (n && pwrite(fd, buf, n, 0) != (ssize_t)n)
		die("write %s: %m", path);
	close(fd);
}

static void gen_dir(struct rng *r, const char *rel, int depth)
{
	char path[PATH_MAX], crel[REL];

	for (int i = 0; i < NNAMES; i++) {
		unsigned int k;

		if (!chance(r, depth == 0 ? 80 : 55))
			continue;
		snprintf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "",
			 names[i]);
		fmt(path, sizeof(path), "%s/%s", lowerdir, crel);
		k = below(r, 100);
		if (depth < 2 && k < (depth ? 20u : 35u)) {
			if (mkdir(path, 0755))
				die("mkdir %s: %m", path);
			gadd(crel, 'd');
			gen_dir(r, crel, depth + 1);
			set_meta(r, path, true, false, true);
		} else if (k < 75 || ngents == 0) {
			gen_file(r, path);
			gadd(crel, 'f');
			set_meta(r, path, false, false, true);
		} else if (k < 85) {
			static const char *const targets[] = {
				"a", "b", "../a", "c/d", "../../b", "e/f/g",
				"/proc/nonexistent-difftest", ".", "..", "d"
			};
			if (symlink(targets[below(r, ARRAY_SIZE(targets))], path))
				die("symlink %s: %m", path);
			gadd(crel, 'l');
			set_meta(r, path, false, true, false);
		} else if (k < 90) {
			if (mkfifo(path, 0644))
				die("mkfifo %s: %m", path);
			gadd(crel, 'p');
			set_meta(r, path, false, false, false);
		} else {	/* a hard link to an earlier regular file */
			struct gent *g = &gents[below(r, ngents)];
			char old[PATH_MAX];

			fmt(old, sizeof(old), "%s/%s", lowerdir, g->path);
			if (g->type == 'f' && !link(old, path)) {
				gadd(crel, 'f');
			} else {
				gen_file(r, path);
				gadd(crel, 'f');
				set_meta(r, path, false, false, true);
			}
		}
	}
}

/* Make the lower tree of a seed in lowerdir (which must be empty). */
static void gen_lower(uint64_t seed)
{
	struct rng r = { seed ^ 0x6c6f776572ULL };
	char path[PATH_MAX];

	ngents = 0;
	umask(0);
	gen_dir(&r, "", 0);
	/* One large directory: many names, a few of them linked elsewhere. */
	fmt(path, sizeof(path), "%s/big", lowerdir);
	if (mkdir(path, 0755))
		die("mkdir %s: %m", path);
	gadd("big", 'd');
	for (int i = 0; i < NBIG; i++) {
		char rel[REL];

		snprintf(rel, sizeof(rel), "big/f%02d", i);
		fmt(path, sizeof(path), "%s/%s", lowerdir, rel);
		if (i % 10 == 0) {
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

			if (fd < 0 || write(fd, rel, strlen(rel)) < 0)
				die("create %s: %m", path);
			close(fd);
		} else if (mknod(path, S_IFREG | 0644, 0)) {
			die("mknod %s: %m", path);
		}
		gadd(rel, 'f');
	}
	set_meta(&r, path, false, false, true);
	fmt(path, sizeof(path), "%s/big", lowerdir);
	set_meta(&r, path, true, false, true);
	if (chmod(lowerdir, 0755) || chown(lowerdir, 0, 0))
		die("chmod %s: %m", lowerdir);
	umask(022);
}

/* A signature of the lower tree (everything, ctimes included). */
static uint64_t tree_sig(const char *path, uint64_t h)
{
	struct stat st;
	char list[4096], val[4096], target[PATH_MAX];
	ssize_t n;

	if (lstat(path, &st))
		return fnv(h, "ENOENT", 6);
	h = fnv(h, path, strlen(path));
	h = fnv(h, &st.st_mode, sizeof(st.st_mode));
	h = fnv(h, &st.st_uid, sizeof(st.st_uid));
	h = fnv(h, &st.st_gid, sizeof(st.st_gid));
	h = fnv(h, &st.st_ino, sizeof(st.st_ino));
	h = fnv(h, &st.st_nlink, sizeof(st.st_nlink));
	h = fnv(h, &st.st_mtim, sizeof(st.st_mtim));
	h = fnv(h, &st.st_ctim, sizeof(st.st_ctim));
	if (!S_ISDIR(st.st_mode))
		h = fnv(h, &st.st_size, sizeof(st.st_size));
	n = llistxattr(path, list, sizeof(list));
	for (char *p = list; n > 0 && p < list + n; p += strlen(p) + 1) {
		ssize_t v = lgetxattr(path, p, val, sizeof(val));

		h = fnv(h, p, strlen(p));
		if (v > 0)
			h = fnv(h, val, v);
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target));
		if (n > 0)
			h = fnv(h, target, n);
	} else if (S_ISREG(st.st_mode)) {
		uint64_t fh = 0;
		off_t len;

		if (!file_hash(path, &fh, &len))
			h = fnv(h, &fh, sizeof(fh));
	} else if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		char (*ents)[256] = NULL;
		int ne = 0;

		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			ents = realloc(ents, (ne + 1) * sizeof(*ents));
			snprintf(ents[ne++], 256, "%s", e->d_name);
		}
		if (d)
			closedir(d);
		qsort(ents, ne, sizeof(*ents),
		      (int (*)(const void *, const void *))strcmp);
		for (int i = 0; i < ne; i++) {
			char c[PATH_MAX];

			snprintf(c, sizeof(c), "%s/%s", path, ents[i]);
			h = tree_sig(c, h);
		}
		free(ents);
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* Operations.                                                         */

enum optype {
	OP_OPEN, OP_CLOSE, OP_WRITE, OP_PWRITE, OP_READ, OP_PREAD,
	OP_FTRUNCATE, OP_FALLOC, OP_LSEEK, OP_FSYNC, OP_FCHMOD, OP_FSETXATTR,
	OP_LINKFD,
	/* path operations from here on (may run as an unprivileged user) */
	OP_CREAT, OP_WRITEAT, OP_READFILE, OP_TRUNCATE, OP_MMAPW, OP_UNLINK,
	OP_MKDIR, OP_RMDIR, OP_RENAME, OP_LINK, OP_SYMLINK, OP_MKFIFO,
	OP_CHMOD, OP_CHOWN, OP_UTIMES, OP_SETXATTR, OP_REMOVEXATTR,
	OP_GETXATTR, OP_LISTXATTR, OP_READDIR, OP_STAT, OP_ACCESS, OP_DIRSYNC,
	OP_SETFLAGS, OP_GETFLAGS,
	OP_REMOUNT, OP_NTYPES
};

static const char *const opnames[OP_NTYPES] = {
	"open", "close", "write", "pwrite", "read", "pread", "ftruncate",
	"fallocate", "lseek", "fsync", "fchmod", "fsetxattr", "linkfd", "creat",
	"writeat", "readfile", "truncate", "mmapwrite", "unlink", "mkdir",
	"rmdir", "rename", "link", "symlink", "mkfifo", "chmod", "chown",
	"utimes", "setxattr", "removexattr", "getxattr", "listxattr",
	"readdir", "stat", "access", "dirsync", "setflags", "getflags",
	"remount",
};

/* How often each operation is generated (relative weights). */
static const unsigned char weights[OP_NTYPES] = {
	[OP_OPEN] = 9, [OP_CLOSE] = 4, [OP_WRITE] = 4, [OP_PWRITE] = 5,
	[OP_READ] = 3, [OP_PREAD] = 5, [OP_FTRUNCATE] = 2, [OP_FALLOC] = 3,
	[OP_LSEEK] = 2, [OP_FSYNC] = 1, [OP_FCHMOD] = 1, [OP_FSETXATTR] = 1,
	[OP_CREAT] = 5, [OP_WRITEAT] = 6, [OP_READFILE] = 4,
	[OP_TRUNCATE] = 3, [OP_MMAPW] = 2, [OP_UNLINK] = 6, [OP_MKDIR] = 4,
	[OP_RMDIR] = 3, [OP_RENAME] = 10, [OP_LINK] = 4, [OP_SYMLINK] = 2,
	[OP_MKFIFO] = 1, [OP_CHMOD] = 3, [OP_CHOWN] = 2, [OP_UTIMES] = 3,
	[OP_SETXATTR] = 4, [OP_REMOVEXATTR] = 2, [OP_GETXATTR] = 2,
	[OP_LISTXATTR] = 1, [OP_READDIR] = 3, [OP_STAT] = 4, [OP_ACCESS] = 1,
	[OP_DIRSYNC] = 1, [OP_LINKFD] = 2, [OP_SETFLAGS] = 2, [OP_GETFLAGS] = 1,
};

struct op {
	unsigned char type;
	unsigned char slot;
	unsigned char fill;	/* data byte of writes, xattr value byte */
	bool follow;		/* follow a final symlink (chown, utimes, ...) */
	int flags;		/* open / rename / xattr / fallocate / lseek */
	mode_t mode;
	mode_t umask;
	uid_t cred;		/* 0: root, else uid = gid of an unprivileged user */
	uid_t uid, gid;		/* chown */
	off_t off, len;
	struct timespec ts[2];	/* utimes */
	char p1[REL], p2[REL];	/* paths (symlink: p2 is the target) */
	char xname[16];
};

static const int open_flags[] = {
	O_RDONLY, O_RDONLY, O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_APPEND,
	O_RDWR | O_APPEND, O_WRONLY | O_TRUNC, O_RDWR | O_TRUNC,
	O_RDWR | O_CREAT, O_WRONLY | O_CREAT | O_EXCL, O_RDONLY | O_CREAT,
	O_RDONLY | O_TRUNC, O_RDONLY | O_DIRECTORY, O_RDWR | O_CREAT | O_TRUNC,
	O_RDONLY | O_NOFOLLOW, O_RDWR | O_TMPFILE, O_WRONLY | O_TMPFILE | O_EXCL,
};

/* chattr flags set by OP_SETFLAGS (immutable and append-only change what
 * later operations may do: both sides must refuse the same). */
static const int attr_flags[] = {
	0, 0, FS_NODUMP_FL, FS_APPEND_FL, FS_NOATIME_FL, FS_APPEND_FL | FS_NODUMP_FL,
	FS_IMMUTABLE_FL,
};

static void flags_str(char *out, size_t n, int fl)
{
	static const struct {
		int f;
		const char *s;
	} tab[] = {
		{ __O_TMPFILE, "|O_TMPFILE" },
		{ O_APPEND, "|O_APPEND" }, { O_TRUNC, "|O_TRUNC" },
		{ O_CREAT, "|O_CREAT" }, { O_EXCL, "|O_EXCL" },
		{ O_DIRECTORY, "|O_DIRECTORY" }, { O_NOFOLLOW, "|O_NOFOLLOW" },
	};
	int acc = fl & O_ACCMODE;

	snprintf(out, n, "%s", acc == O_RDONLY ? "O_RDONLY" :
			       acc == O_WRONLY ? "O_WRONLY" : "O_RDWR");
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
		if (fl & tab[i].f)
			strncat(out, tab[i].s, n - strlen(out) - 1);
}

/* A readable description of an operation. */
static void op_str(const struct op *o, char *out, size_t n)
{
	char fl[128], who[32] = "";

	if (o->cred)
		snprintf(who, sizeof(who), " [as %u:%u]", o->cred, o->cred);
	switch (o->type) {
	case OP_OPEN:
		flags_str(fl, sizeof(fl), o->flags);
		snprintf(out, n, "fd%d = open(%s, %s, 0%o) umask 0%o%s",
			 o->slot, o->p1, fl, o->mode, o->umask, who);
		break;
	case OP_CLOSE:
	case OP_FSYNC:
		snprintf(out, n, "%s(fd%d)", opnames[o->type], o->slot);
		break;
	case OP_WRITE:
		snprintf(out, n, "write(fd%d, 0x%02x * %jd)", o->slot, o->fill,
			 (intmax_t)o->len);
		break;
	case OP_PWRITE:
		snprintf(out, n, "pwrite(fd%d, 0x%02x * %jd, at %jd)", o->slot,
			 o->fill, (intmax_t)o->len, (intmax_t)o->off);
		break;
	case OP_READ:
		snprintf(out, n, "read(fd%d, %jd)", o->slot, (intmax_t)o->len);
		break;
	case OP_PREAD:
		snprintf(out, n, "pread(fd%d, %jd, at %jd)", o->slot,
			 (intmax_t)o->len, (intmax_t)o->off);
		break;
	case OP_FTRUNCATE:
		snprintf(out, n, "ftruncate(fd%d, %jd)", o->slot, (intmax_t)o->len);
		break;
	case OP_FALLOC:
		snprintf(out, n, "fallocate(fd%d, %s, %jd, %jd)", o->slot,
			 o->flags == 0 ? "0" : o->flags == FALLOC_FL_KEEP_SIZE ?
			 "KEEP_SIZE" : "PUNCH_HOLE|KEEP_SIZE",
			 (intmax_t)o->off, (intmax_t)o->len);
		break;
	case OP_LSEEK:
		snprintf(out, n, "lseek(fd%d, %jd, %s)", o->slot, (intmax_t)o->off,
			 o->flags == SEEK_SET ? "SEEK_SET" : o->flags == SEEK_END ?
			 "SEEK_END" : o->flags == SEEK_DATA ? "SEEK_DATA" :
			 "SEEK_HOLE");
		break;
	case OP_FCHMOD:
		snprintf(out, n, "fchmod(fd%d, 0%o)", o->slot, o->mode);
		break;
	case OP_FSETXATTR:
		snprintf(out, n, "fsetxattr(fd%d, user.%s, 0x%02x * %jd, %d)",
			 o->slot, o->xname, o->fill, (intmax_t)o->len, o->flags);
		break;
	case OP_LINKFD:
		snprintf(out, n, "linkat(fd%d, \"\", %s, AT_EMPTY_PATH)", o->slot, o->p1);
		break;
	case OP_SETFLAGS:
		snprintf(out, n, "ioctl(open(%s), FS_IOC_SETFLAGS, 0x%x)%s", o->p1,
			 o->flags, who);
		break;
	case OP_GETFLAGS:
		snprintf(out, n, "ioctl(open(%s), FS_IOC_GETFLAGS)%s", o->p1, who);
		break;
	case OP_CREAT:
		flags_str(fl, sizeof(fl), o->flags);
		snprintf(out, n, "creat(%s, %s, 0%o) umask 0%o%s", o->p1, fl,
			 o->mode, o->umask, who);
		break;
	case OP_WRITEAT:
		snprintf(out, n, "writeat(%s, 0x%02x * %jd, at %jd)%s", o->p1,
			 o->fill, (intmax_t)o->len, (intmax_t)o->off, who);
		break;
	case OP_READFILE:
		snprintf(out, n, "readfile(%s)%s", o->p1, who);
		break;
	case OP_TRUNCATE:
		snprintf(out, n, "truncate(%s, %jd)%s", o->p1, (intmax_t)o->len, who);
		break;
	case OP_MMAPW:
		snprintf(out, n, "mmapwrite(%s, 0x%02x * %jd, at %jd)%s", o->p1,
			 o->fill, (intmax_t)o->len, (intmax_t)o->off, who);
		break;
	case OP_UNLINK:
	case OP_RMDIR:
		snprintf(out, n, "%s(%s)%s", opnames[o->type], o->p1, who);
		break;
	case OP_MKDIR:
	case OP_MKFIFO:
		snprintf(out, n, "%s(%s, 0%o) umask 0%o%s", opnames[o->type],
			 o->p1, o->mode, o->umask, who);
		break;
	case OP_RENAME:
		snprintf(out, n, "renameat2(%s, %s, %s)%s", o->p1, o->p2,
			 o->flags == 0 ? "0" : o->flags == RENAME_NOREPLACE ?
			 "RENAME_NOREPLACE" : "RENAME_EXCHANGE", who);
		break;
	case OP_LINK:
		snprintf(out, n, "link(%s, %s)%s", o->p1, o->p2, who);
		break;
	case OP_SYMLINK:
		snprintf(out, n, "symlink(target %s, %s)%s", o->p2, o->p1, who);
		break;
	case OP_CHMOD:
		snprintf(out, n, "chmod(%s, 0%o)%s", o->p1, o->mode, who);
		break;
	case OP_CHOWN:
		snprintf(out, n, "%s(%s, %d, %d)%s", o->follow ? "chown" : "lchown",
			 o->p1, (int)o->uid, (int)o->gid, who);
		break;
	case OP_UTIMES:
		snprintf(out, n, "utimensat(%s, atime %jd.%09ld, mtime %jd.%09ld%s)%s",
			 o->p1, (intmax_t)o->ts[0].tv_sec, o->ts[0].tv_nsec,
			 (intmax_t)o->ts[1].tv_sec, o->ts[1].tv_nsec,
			 o->follow ? "" : ", AT_SYMLINK_NOFOLLOW", who);
		break;
	case OP_SETXATTR:
		snprintf(out, n, "%ssetxattr(%s, user.%s, 0x%02x * %jd, %s)%s",
			 o->follow ? "" : "l", o->p1, o->xname, o->fill,
			 (intmax_t)o->len, o->flags == 0 ? "0" :
			 o->flags == XATTR_CREATE ? "XATTR_CREATE" :
			 "XATTR_REPLACE", who);
		break;
	case OP_REMOVEXATTR:
	case OP_GETXATTR:
		snprintf(out, n, "%s%s(%s, user.%s)%s", o->follow ? "" : "l",
			 opnames[o->type], o->p1, o->xname, who);
		break;
	case OP_LISTXATTR:
		snprintf(out, n, "llistxattr(%s)%s", o->p1, who);
		break;
	case OP_READDIR:
		snprintf(out, n, "readdir(%s, telldir after %jd)%s", o->p1,
			 (intmax_t)o->len, who);
		break;
	case OP_STAT:
		snprintf(out, n, "%s(%s)%s", o->follow ? "stat" : "lstat", o->p1, who);
		break;
	case OP_ACCESS:
		snprintf(out, n, "access(%s, %s%s%s)%s", o->p1,
			 o->mode & R_OK ? "R" : "", o->mode & W_OK ? "W" : "",
			 o->mode & X_OK ? "X" : "", who);
		break;
	case OP_DIRSYNC:
		snprintf(out, n, "fsync(opendir(%s))", o->p1);
		break;
	case OP_REMOUNT:
		snprintf(out, n, "close all; umount; mount");
		break;
	default:
		snprintf(out, n, "?");
	}
}

/* Pick a path: a random walk over the generator's picture of the tree,
 * usually ending at an existing object, sometimes at a new name. */
static void pick_path(struct rng *r, char *out, bool want_dir)
{
	char cur[REL] = "";

	for (int depth = 0; depth < 3; depth++) {
		struct gent *kids[256];
		int nk = 0;
		size_t cl = strlen(cur);

		for (int i = 0; i < ngents && nk < (int)ARRAY_SIZE(kids); i++) {
			const char *p = gents[i].path;

			if (cl ? (!strncmp(p, cur, cl) && p[cl] == '/' &&
				  !strchr(p + cl + 1, '/')) : !strchr(p, '/'))
				kids[nk++] = &gents[i];
		}
		if (nk == 0 || chance(r, 15)) {
			char name[8];

			if (!strcmp(cur, "big"))
				snprintf(name, sizeof(name), "f%02u", below(r, NBIG + 5));
			else
				snprintf(name, sizeof(name), "%s",
					 names[below(r, ARRAY_SIZE(names))]);
			snprintf(out, REL, "%s%s%s", cur, cl ? "/" : "", name);
			return;
		}
		struct gent *g = kids[below(r, nk)];

		if (g->type == 'd' && depth < 2 && chance(r, want_dir ? 40 : 55)) {
			snprintf(cur, sizeof(cur), "%s", g->path);
			continue;
		}
		snprintf(out, REL, "%s", g->path);
		return;
	}
	snprintf(out, REL, "%s", cur);
}

static bool gparent_is_dir(const char *path)
{
	char par[REL];
	char *s;

	snprintf(par, sizeof(par), "%s", path);
	s = strrchr(par, '/');
	if (!s)
		return true;
	*s = 0;
	struct gent *g = gfind(par);

	return g && g->type == 'd';
}

/* Update the generator's picture as if the operation succeeded. */
static void gapply(const struct op *o)
{
	struct gent *g = gfind(o->p1), *t;

	switch (o->type) {
	case OP_OPEN:
	case OP_CREAT:
		if (!(o->flags & O_CREAT))
			break;
		/* fall through */
	case OP_MKFIFO:
	case OP_SYMLINK:
	case OP_MKDIR:
		if (!g && gparent_is_dir(o->p1))
			gadd(o->p1, o->type == OP_MKDIR ? 'd' :
				    o->type == OP_SYMLINK ? 'l' :
				    o->type == OP_MKFIFO ? 'p' : 'f');
		break;
	case OP_LINK:
		if (g && g->type != 'd' && !gfind(o->p2) && gparent_is_dir(o->p2))
			gadd(o->p2, g->type);
		break;
	case OP_LINKFD:
		if (!g && gparent_is_dir(o->p1))
			gadd(o->p1, 'f');
		break;
	case OP_UNLINK:
		if (g && g->type != 'd')
			gdel(o->p1);
		break;
	case OP_RMDIR:
		if (g && g->type == 'd') {
			bool empty = true;

			for (int i = 0; i < ngents; i++)
				if (under(gents[i].path, o->p1) &&
				    strcmp(gents[i].path, o->p1))
					empty = false;
			if (empty)
				gdel(o->p1);
		}
		break;
	case OP_RENAME:
		t = gfind(o->p2);
		if (!g || under(o->p2, o->p1) || under(o->p1, o->p2) ||
		    !gparent_is_dir(o->p2) ||
		    (o->flags == RENAME_EXCHANGE && !t) ||
		    (o->flags == RENAME_NOREPLACE && t))
			break;
		/* Move (or swap) the subtrees by renaming the paths. */
		{
			size_t l1 = strlen(o->p1), l2 = strlen(o->p2);

			if (o->flags != RENAME_EXCHANGE)
				gdel(o->p2);
			for (int i = 0; i < ngents; i++) {
				char np[REL * 2];
				char *p = gents[i].path;

				if (under(p, o->p1))
					snprintf(np, sizeof(np), "%s%s", o->p2, p + l1);
				else if (o->flags == RENAME_EXCHANGE && under(p, o->p2))
					snprintf(np, sizeof(np), "%s%s", o->p1, p + l2);
				else
					continue;
				if (strlen(np) < REL)
					snprintf(p, REL, "%s", np);
			}
		}
		break;
	}
}

static const mode_t chmod_modes[] = { 0644, 0600, 0755, 0444, 0000, 0777,
				      04755, 02755, 01777, 0640, 0700, 02775 };
static const mode_t umasks[] = { 022, 022, 0, 077, 002 };
static const uid_t ids[] = { 0, 1000, 1001, (uid_t)-1 };

/* Generate the whole operation sequence of a seed (it never depends on
 * results, so that any subset of it can be replayed). */
static struct op *gen_ops(uint64_t seed, long nops)
{
	struct rng r = { seed ^ 0x6f7073ULL };
	struct op *ops = calloc(nops ? nops : 1, sizeof(*ops));
	unsigned int total = 0;
	bool slot_open[NSLOTS] = { false };

	if (!ops)
		die("out of memory");
	for (int t = 0; t < OP_NTYPES; t++)
		total += weights[t];
	for (long i = 0; i < nops; i++) {
		struct op *o = &ops[i];
		unsigned int w = below(&r, total);
		int t = 0;

		while (w >= weights[t])
			w -= weights[t++];
		if (nops > 1000 && below(&r, 600) == 0)
			t = OP_REMOUNT;
		o->type = t;
		o->slot = below(&r, NSLOTS);
		if (t < OP_CREAT && t != OP_OPEN && !slot_open[o->slot] &&
		    chance(&r, 80)) {
			/* prefer a slot that is open */
			for (int s = 0; s < NSLOTS; s++)
				if (slot_open[(o->slot + s) % NSLOTS]) {
					o->slot = (o->slot + s) % NSLOTS;
					break;
				}
		}
		o->fill = 1 + below(&r, 255);
		o->follow = chance(&r, 50);
		o->umask = umasks[below(&r, ARRAY_SIZE(umasks))];
		o->mode = chmod_modes[below(&r, ARRAY_SIZE(chmod_modes))];
		o->uid = ids[below(&r, ARRAY_SIZE(ids))];
		o->gid = ids[below(&r, ARRAY_SIZE(ids))];
		o->len = chance(&r, 70) ? below(&r, 5000) : below(&r, MAXIO);
		o->off = chance(&r, 60) ? below(&r, 8192) :
			 chance(&r, 80) ? below(&r, 1 << 21) : below(&r, 1 << 26);
		snprintf(o->xname, sizeof(o->xname), "%c", 'a' + below(&r, 4));
		pick_path(&r, o->p1, t == OP_MKDIR || t == OP_READDIR ||
				     t == OP_RMDIR);
		pick_path(&r, o->p2, false);
		if (t >= OP_CREAT && t != OP_REMOUNT && t != OP_DIRSYNC &&
		    chance(&r, 10))
			o->cred = chance(&r, 70) ? 1000 : 1001;
		switch (t) {
		case OP_OPEN:
			o->flags = open_flags[below(&r, ARRAY_SIZE(open_flags))];
			o->mode = chmod_modes[below(&r, 4)];
			if (!o->cred)
				slot_open[o->slot] = true;
			break;
		case OP_CLOSE:
			slot_open[o->slot] = false;
			break;
		case OP_SETFLAGS:
			o->flags = attr_flags[below(&r, ARRAY_SIZE(attr_flags))];
			break;
		case OP_CREAT:
			o->flags = O_WRONLY | O_CREAT |
				   (chance(&r, 30) ? O_EXCL : 0) |
				   (chance(&r, 30) ? O_TRUNC : 0);
			o->mode = chmod_modes[below(&r, 4)];
			break;
		case OP_MKDIR:
			o->mode = dir_modes[below(&r, ARRAY_SIZE(dir_modes))];
			break;
		case OP_MKFIFO:
			o->mode = 0644;
			break;
		case OP_FALLOC: {
			static const int m[] = { 0, FALLOC_FL_KEEP_SIZE,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE };
			o->flags = m[below(&r, ARRAY_SIZE(m))];
			o->len = 1 + below(&r, 3 * 4096 * 4);
			break;
		}
		case OP_LSEEK: {
			static const int wh[] = { SEEK_SET, SEEK_END, SEEK_DATA,
						  SEEK_HOLE };
			o->flags = wh[below(&r, ARRAY_SIZE(wh))];
			o->off = below(&r, 4) == 0 ? 0 : below(&r, 1 << 21);
			break;
		}
		case OP_RENAME: {
			static const int rf[] = { 0, 0, RENAME_NOREPLACE,
						  RENAME_EXCHANGE };
			o->flags = rf[below(&r, ARRAY_SIZE(rf))];
			break;
		}
		case OP_SYMLINK: {
			static const char *const tg[] = { "a", "../b", "c/d",
				"/proc/nonexistent-difftest", ".", "..", "e", "big/f01" };
			snprintf(o->p2, REL, "%s", tg[below(&r, ARRAY_SIZE(tg))]);
			break;
		}
		case OP_SETXATTR:
		case OP_FSETXATTR: {
			static const int xf[] = { 0, 0, XATTR_CREATE, XATTR_REPLACE };
			o->flags = xf[below(&r, ARRAY_SIZE(xf))];
			o->len = below(&r, 40);
			break;
		}
		case OP_UTIMES:
			for (int k = 0; k < 2; k++) {
				o->ts[k] = old_time(&r);
				if (chance(&r, 10))
					o->ts[k].tv_nsec = UTIME_NOW;
				else if (chance(&r, 10))
					o->ts[k].tv_nsec = UTIME_OMIT;
			}
			break;
		case OP_ACCESS:
			o->mode = 1 + below(&r, 7);
			break;
		case OP_READDIR:
			o->len = below(&r, 12);
			break;
		case OP_TRUNCATE:
		case OP_FTRUNCATE:
			o->len = chance(&r, 30) ? 0 : chance(&r, 70) ?
				 below(&r, 10000) : below(&r, 1 << 21);
			break;
		case OP_REMOUNT:
			memset(slot_open, 0, sizeof(slot_open));
			break;
		}
		gapply(o);
	}
	return ops;
}

/* ------------------------------------------------------------------ */
/* The model: what the reference needs to know to follow the union.    */

/* Identity of objects: reference inode -> union inode. */
struct ident {
	uint64_t rino;		/* key: reference st_ino (0 = empty) */
	uint64_t uino;		/* union st_ino seen for it */
	nlink_t lower_nlink;	/* links on lower; 0 if not a lower object */
	bool is_dir;
};

#define IDENTS 65536
static struct ident idents[IDENTS];

static struct ident *ident_get(uint64_t rino, bool create)
{
	unsigned int h = (rino * 0x9e3779b97f4a7c15ULL) >> 48;

	for (unsigned int i = 0; i < IDENTS; i++) {
		struct ident *e = &idents[(h + i) % IDENTS];

		if (e->rino == rino)
			return e;
		if (!e->rino) {
			if (!create)
				return NULL;
			e->rino = rino;
			return e;
		}
	}
	die("identity table full");
	return NULL;
}

/* Directories with a lower part (their renames may return EXDEV). */
static char (*lowerdirs)[REL];
static int nlowerdirs;

static bool has_lower(const char *rel)
{
	for (int i = 0; i < nlowerdirs; i++)
		if (!strcmp(lowerdirs[i], rel))
			return true;
	return false;
}

static void drop_lower(const char *rel)
{
	for (int i = 0; i < nlowerdirs; i++)
		if (!strcmp(lowerdirs[i], rel))
			memcpy(lowerdirs[i], lowerdirs[--nlowerdirs], REL);
}

static void collect_lowerdirs(const char *rel)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;

	fmt(path, sizeof(path), "%s%s%s", lowerdir, *rel ? "/" : "", rel);
	lowerdirs = realloc(lowerdirs, (nlowerdirs + 1) * sizeof(*lowerdirs));
	snprintf(lowerdirs[nlowerdirs++], REL, "%s", rel);
	d = opendir(path);
	if (!d)
		die("opendir %s: %m", path);
	while ((e = readdir(d))) {
		char c[REL + 8];

		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") ||
		    !strcmp(e->d_name, ".."))
			continue;
		fmt(c, sizeof(c), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		collect_lowerdirs(c);
	}
	closedir(d);
}

/* File descriptors kept across operations, one per side. */
struct slot {
	int fd[2];
	char path[REL];		/* canonical path it was opened by */
	uint64_t rino;		/* reference inode */
	bool hl;		/* read-only fd on a multiply-linked lower file */
};

static struct slot slots[NSLOTS];

static void close_slot(int s)
{
	for (int side = 0; side < 2; side++) {
		if (slots[s].fd[side] >= 0)
			close(slots[s].fd[side]);
		slots[s].fd[side] = -1;
	}
	slots[s].hl = false;
}

/*
 * Canonical relative path of what rel names in the reference (the parent
 * directories resolved, and the final symlink too if follow), or "" + false
 * if it resolves outside the tree or not at all.
 */
static bool canon(const char *rel, bool follow, char *out)
{
	char p[PATH_MAX], res[PATH_MAX], parent[PATH_MAX];
	size_t bl = strlen(base[R]);
	const char *last;

	out[0] = 0;
	path_of(p, R, rel);
	if (follow) {
		if (!realpath(p, res))
			return false;
	} else {
		snprintf(parent, sizeof(parent), "%s", p);
		char *s = strrchr(parent, '/');

		if (!s)
			return false;
		*s = 0;
		last = s + 1;
		if (!realpath(parent, res))
			return false;
		if (strlen(res) + strlen(last) + 2 > sizeof(res))
			return false;
		strcat(res, "/");
		strcat(res, last);
	}
	if (strncmp(res, base[R], bl) || (res[bl] != '/' && res[bl] != 0))
		return false;
	snprintf(out, REL, "%s", res[bl] ? res + bl + 1 : "");
	return true;
}

/* Does a copy-up break the links of a lower object with @nlink links and
 * mode @mode?  Those of symlinks and special files (regular files keep theirs:
 * the hard-link index). */
static bool copy_up_breaks_links(mode_t mode, nlink_t nlink)
{
	return !plain && nlink > 1 && !S_ISREG(mode) && !S_ISDIR(mode);
}

/* Is the reference object at canonical path rel a multiply-linked lower
 * object that is still on lower, whose links a copy-up would break? */
static bool lower_hardlinked(const char *rel, struct stat *st)
{
	char p[PATH_MAX];
	struct ident *id;

	path_of(p, R, rel);
	if (plain || lstat(p, st) || S_ISDIR(st->st_mode))
		return false;
	id = ident_get(st->st_ino, false);
	return id && copy_up_breaks_links(st->st_mode, id->lower_nlink);
}

/*
 * The union copied up the multiply-linked lower file at rel: make it a
 * separate file in the reference too (copy it to a temporary name and
 * rename that over the name).  Read-only descriptors on the old file are
 * closed on both sides: which file they show after the copy-up is not
 * specified for hard links.  keep_slot's reference fd is reopened on the copy.
 */
/* FS_IOC_GETFLAGS of a file or directory (a final symlink followed if @follow),
 * or -errno. */
static int get_flags(const char *path, bool follow)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	int fl = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &fl))
		fl = -errno;
	close(fd);
	return fl;
}

static void set_attr_flags(const char *path, int fl)
{
	int fd;

	if (fl < 0)
		return;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, FS_IOC_SETFLAGS, &fl))
		die("chattr %s: %m", path);
	close(fd);
}

static void break_link(const char *rel, int keep_slot)
{
	char p[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	char *s;

	path_of(p, R, rel);
	if (lstat(p, &st))
		die("break_link: lstat %s: %m", p);
	snprintf(tmp, sizeof(tmp), "%s", p);
	s = strrchr(tmp, '/');
	snprintf(s + 1, tmp + sizeof(tmp) - s - 1, ".difftest-tmp");
	/* chattr flags: the copy keeps the file's; a protected (+i/+a) parent
	 * directory, which the union keeps off its upper directory, and the
	 * file's own +a (the old inode keeps it, under its other names) are
	 * lifted around the copy and the rename. */
	const int prot = FS_IMMUTABLE_FL | FS_APPEND_FL;
	int fl = get_flags(p, true), pfl, ofd = -1;

	*s = 0;
	pfl = get_flags(tmp, true);
	if (pfl > 0 && (pfl & prot))
		set_attr_flags(tmp, pfl & ~prot);
	*s = '/';
	if (fl > 0 && (fl & prot)) {
		int clear = fl & ~prot;

		ofd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (ofd < 0 || ioctl(ofd, FS_IOC_SETFLAGS, &clear))
			die("chattr %s: %m", p);
	}
	copy_obj(p, tmp, &st);
	if (rename(tmp, p))
		die("rename %s: %m", tmp);
	set_attr_flags(p, fl);
	if (ofd >= 0) {
		if (ioctl(ofd, FS_IOC_SETFLAGS, &fl))
			die("chattr %s: %m", p);
		close(ofd);
	}
	if (pfl > 0 && (pfl & prot)) {
		*s = 0;
		set_attr_flags(tmp, pfl);
		*s = '/';
	}
	if (verbose > 1)
		printf("  model: copy-up of %s breaks its lower hard links\n", rel);
	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i].rino != st.st_ino || slots[i].fd[R] < 0)
			continue;
		if (i == keep_slot) {
			close(slots[i].fd[R]);
			slots[i].fd[R] = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			slots[i].hl = false;
		} else if (slots[i].hl) {
			close_slot(i);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Executing one operation on one side.                                */

struct res {
	long ret;
	int err;		/* errno of the failing step, 0 if none */
	bool trig;		/* the step that copies up succeeded */
	size_t dlen;		/* result data (reads, listings) */
	char *data;
};

static char resbuf[2][MAXRES];
static char iobuf[MAXIO];

#define TRY(call) do { long _v = (long)(call); \
	if (_v < 0) { r->ret = -1; r->err = errno; goto out; } \
	r->ret = _v; } while (0)

static void add_data(struct res *r, const void *p, size_t n)
{
	if (r->dlen + n > MAXRES)
		n = MAXRES - r->dlen;
	memcpy(r->data + r->dlen, p, n);
	r->dlen += n;
}

static void add_text(struct res *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add_data(r, buf, n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the rest of a directory stream as "name type" strings. */
static int read_names(DIR *d, char ***out)
{
	struct dirent *e;
	char **v = NULL;
	int n = 0;

	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		if (asprintf(&v[n++], "%s %d", e->d_name, e->d_type) < 0)
			die("out of memory");
	}
	*out = v;
	return n;
}

static void free_names(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool same_names(char **a, int na, char **b, int nb)
{
	if (na != nb)
		return false;
	qsort(a, na, sizeof(*a), cmp_str);
	qsort(b, nb, sizeof(*b), cmp_str);
	for (int i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* readdir with telldir/seekdir: the listing (sorted) is the result; a
 * seekdir to a telldir position must continue where the stream was. */
static void do_readdir(const char *p, long k, struct res *r)
{
	DIR *d = opendir(p);
	struct dirent *e;
	char **first = NULL, **rest1, **rest2, **all;
	int nf = 0, n1, n2, na;
	long pos;

	if (!d) {
		r->ret = -1;
		r->err = errno;
		return;
	}
	for (long i = 0; i < k && (e = readdir(d)); i++) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		first = realloc(first, (nf + 1) * sizeof(*first));
		if (asprintf(&first[nf++], "%s %d", e->d_name, e->d_type) < 0)
			die("out of memory");
	}
	pos = telldir(d);
	n1 = read_names(d, &rest1);
	seekdir(d, pos);
	n2 = read_names(d, &rest2);
	rewinddir(d);
	na = read_names(d, &all);
	closedir(d);
	r->ret = nf + n1;
	if (!same_names(rest1, n1, rest2, n2))
		add_text(r, "!! seekdir(telldir()) after %d entries lists %d entries, the first read listed %d\n",
			 nf, n2, n1);
	first = realloc(first, (nf + n1 + 1) * sizeof(*first));
	for (int i = 0; i < n1; i++)
		first[nf + i] = rest1[i];
	free(rest1);
	if (!same_names(first, nf + n1, all, na))
		add_text(r, "!! rewinddir lists %d entries, the first pass %d\n",
			 na, nf + n1);
	for (int i = 0; i < nf + n1; i++)
		add_text(r, "%s\n", first[i]);
	free_names(first, nf + n1);
	free_names(rest2, n2);
	free_names(all, na);
}

static void xattr_value(const struct op *o, char *v)
{
	memset(v, o->fill, o->len);
}

/* Run operation o on one side (U or R), in this process. */
static void exec_op(const struct op *o, int side, struct res *r)
{
	char p1[PATH_MAX], p2[PATH_MAX], xn[32], v[64];
	struct slot *sl = &slots[o->slot];
	int fd = sl->fd[side];
	mode_t old_umask = umask(o->umask);
	void *map;
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->data = resbuf[side];
	path_of(p1, side, o->p1);
	path_of(p2, side, o->p2);
	snprintf(xn, sizeof(xn), "user.%s", o->xname);
	if (o->type < OP_CREAT && o->type != OP_OPEN && fd < 0) {
		r->ret = -1;
		r->err = EBADF;
		goto out;
	}
	switch (o->type) {
	case OP_OPEN:
		if (!o->cred && fd >= 0) {
			close(fd);
			sl->fd[side] = -1;
		}
		TRY(fd = open(p1, o->flags | O_NONBLOCK | O_CLOEXEC, o->mode));
		r->trig = true;
		r->ret = 0;
		if (o->cred)
			close(fd);
		else
			sl->fd[side] = fd;
		break;
	case OP_CLOSE:
		TRY(close(fd));
		sl->fd[side] = -1;
		break;
	case OP_WRITE:
		memset(iobuf, o->fill, o->len);
		TRY(write(fd, iobuf, o->len));
		break;
	case OP_PWRITE:
		memset(iobuf, o->fill, o->len);
		TRY(pwrite(fd, iobuf, o->len, o->off));
		break;
	case OP_READ:
		TRY(read(fd, iobuf, o->len));
		add_data(r, iobuf, r->ret);
		break;
	case OP_PREAD:
		TRY(pread(fd, iobuf, o->len, o->off));
		add_data(r, iobuf, r->ret);
		break;
	case OP_FTRUNCATE:
		TRY(ftruncate(fd, o->len));
		break;
	case OP_FALLOC:
		TRY(fallocate(fd, o->flags, o->off, o->len));
		break;
	case OP_LSEEK:
		TRY(lseek(fd, o->off, o->flags));
		break;
	case OP_FSYNC:
		TRY(fsync(fd));
		break;
	case OP_FCHMOD:
		TRY(fchmod(fd, o->mode));
		r->trig = true;
		break;
	case OP_FSETXATTR:
		xattr_value(o, v);
		TRY(fsetxattr(fd, xn, v, o->len, o->flags));
		r->trig = true;
		break;
	case OP_LINKFD:
		TRY(linkat(fd, "", AT_FDCWD, p1, AT_EMPTY_PATH));
		r->trig = true;
		break;
	case OP_SETFLAGS:
	case OP_GETFLAGS: {
		int fl = o->flags;

		TRY(fd = open(p1, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
		r->ret = ioctl(fd, o->type == OP_SETFLAGS ? FS_IOC_SETFLAGS :
						 FS_IOC_GETFLAGS, &fl);
		if (r->ret < 0)
			r->err = errno;
		else if (o->type == OP_GETFLAGS)
			r->ret = fl;
		r->trig = o->type == OP_SETFLAGS && r->ret == 0;
		close(fd);
		break;
	}
	case OP_CREAT:
		TRY(fd = open(p1, o->flags | O_NONBLOCK | O_CLOEXEC, o->mode));
		r->trig = true;
		close(fd);
		r->ret = 0;
		break;
	case OP_WRITEAT:
		TRY(fd = open(p1, O_WRONLY | O_NONBLOCK | O_CLOEXEC));
		r->trig = true;
		memset(iobuf, o->fill, o->len);
		r->ret = pwrite(fd, iobuf, o->len, o->off);
		if (r->ret < 0)
			r->err = errno;
		close(fd);
		break;
	case OP_READFILE: {
		uint64_t h;
		off_t len;

		TRY(fd = open(p1, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
		if (!fstat(fd, &st) && S_ISREG(st.st_mode)) {
			if (fd_hash(fd, &h, &len)) {
				r->ret = -1;
				r->err = errno;
			} else {
				add_text(r, "%jd bytes, hash %016" PRIx64 "\n",
					 (intmax_t)len, h);
			}
		}
		close(fd);
		if (!r->err)
			r->ret = 0;
		break;
	}
	case OP_TRUNCATE:
		TRY(truncate(p1, o->len));
		r->trig = true;
		break;
	case OP_MMAPW: {
		off_t off, len;

		TRY(fd = open(p1, O_RDWR | O_NONBLOCK | O_CLOEXEC));
		r->trig = true;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
			close(fd);
			r->ret = 0;
			break;
		}
		off = o->off % st.st_size;
		len = o->len < st.st_size - off ? o->len : st.st_size - off;
		map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		if (map == MAP_FAILED) {
			r->ret = -1;
			r->err = errno;
			close(fd);
			break;
		}
		memset((char *)map + off, o->fill, len);
		r->ret = msync(map, st.st_size, MS_SYNC) ? -1 : len;
		if (r->ret < 0)
			r->err = errno;
		add_data(r, (char *)map, st.st_size < 65536 ? st.st_size : 65536);
		munmap(map, st.st_size);
		/* A write fault updates mtime only where it dirties a clean
		 * page, and which tmpfs pages are clean is not the same in two
		 * copies: set it to now on both sides to keep it comparable. */
		futimens(fd, NULL);
		close(fd);
		break;
	}
	case OP_UNLINK:
		TRY(unlink(p1));
		break;
	case OP_MKDIR:
		TRY(mkdir(p1, o->mode));
		break;
	case OP_RMDIR:
		TRY(rmdir(p1));
		break;
	case OP_RENAME:
		TRY(syscall(SYS_renameat2, AT_FDCWD, p1, AT_FDCWD, p2, o->flags));
		r->trig = true;
		break;
	case OP_LINK:
		TRY(link(p1, p2));
		r->trig = true;
		break;
	case OP_SYMLINK:
		TRY(symlink(o->p2, p1));
		break;
	case OP_MKFIFO:
		TRY(mkfifo(p1, o->mode));
		break;
	case OP_CHMOD:
		TRY(chmod(p1, o->mode));
		r->trig = true;
		break;
	case OP_CHOWN:
		TRY(o->follow ? chown(p1, o->uid, o->gid) :
				lchown(p1, o->uid, o->gid));
		r->trig = true;
		break;
	case OP_UTIMES:
		TRY(utimensat(AT_FDCWD, p1, o->ts,
			      o->follow ? 0 : AT_SYMLINK_NOFOLLOW));
		r->trig = true;
		break;
	case OP_SETXATTR:
		xattr_value(o, v);
		TRY(o->follow ? setxattr(p1, xn, v, o->len, o->flags) :
				lsetxattr(p1, xn, v, o->len, o->flags));
		r->trig = true;
		break;
	case OP_REMOVEXATTR:
		TRY(o->follow ? removexattr(p1, xn) : lremovexattr(p1, xn));
		r->trig = true;
		break;
	case OP_GETXATTR:
		TRY(o->follow ? getxattr(p1, xn, iobuf, 4096) :
				lgetxattr(p1, xn, iobuf, 4096));
		add_data(r, iobuf, r->ret);
		break;
	case OP_LISTXATTR: {
		char list[4096];
		char *names[64];
		int n = 0;

		TRY(llistxattr(p1, list, sizeof(list)));
		for (char *p = list; p < list + r->ret && n < 64; p += strlen(p) + 1)
			if (!strncmp(p, "user.", 5) || !strncmp(p, "trusted.union", 13))
				names[n++] = p;
		qsort(names, n, sizeof(*names), cmp_str);
		for (int i = 0; i < n; i++)
			add_text(r, "%s\n", names[i]);
		r->ret = n;
		break;
	}
	case OP_READDIR:
		do_readdir(p1, o->len, r);
		break;
	case OP_STAT:
		TRY(o->follow ? stat(p1, &st) : lstat(p1, &st));
		break;
	case OP_ACCESS:
		TRY(access(p1, o->mode));
		break;
	case OP_DIRSYNC:
		TRY(fd = open(p1, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		r->ret = fsync(fd);
		if (r->ret < 0)
			r->err = errno;
		close(fd);
		break;
	}
out:
	umask(old_umask);
}

/* Run o on one side as an unprivileged user, in a child process. */
static void exec_op_as(const struct op *o, int side, struct res *r)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe(pfd))
		die("pipe: %m");
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		close(pfd[0]);
		if (setgroups(0, NULL) || setresgid(o->cred, o->cred, o->cred) ||
		    setresuid(o->cred, o->cred, o->cred))
			_exit(3);
		exec_op(o, side, r);
		if (write(pfd[1], r, sizeof(*r)) != sizeof(*r))
			_exit(4);
		for (size_t off = 0; off < r->dlen;) {
			n = write(pfd[1], r->data + off, r->dlen - off);
			if (n <= 0)
				_exit(4);
			off += n;
		}
		_exit(0);
	}
	close(pfd[1]);
	memset(r, 0, sizeof(*r));
	n = read(pfd[0], r, sizeof(*r));
	r->data = resbuf[side];
	if (n != sizeof(*r))
		r->dlen = 0;
	for (size_t off = 0; off < r->dlen;) {
		n = read(pfd[0], r->data + off, r->dlen - off);
		if (n <= 0)
			die("short result from child");
		off += n;
	}
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("child for %s exited with %d", opnames[o->type], status);
}

static void run_side(const struct op *o, int side, struct res *r)
{
	if (o->cred)
		exec_op_as(o, side, r);
	else
		exec_op(o, side, r);
}

static void res_str(const struct res *r, char *out, size_t n)
{
	if (r->err)
		snprintf(out, n, "ret %ld errno %d (%s)", r->ret, r->err,
			 strerror(r->err));
	else
		snprintf(out, n, "ret %ld", r->ret);
}

/* Describe where two data results differ. */
static void data_diff(const struct res *a, const struct res *b, char *out,
		      size_t n)
{
	size_t i = 0, len = a->dlen < b->dlen ? a->dlen : b->dlen;
	bool text = true;

	while (i < len && a->data[i] == b->data[i])
		i++;
	for (size_t k = 0; k < a->dlen && text; k++)
		text = a->data[k] == '\n' || (a->data[k] >= ' ' && a->data[k] < 127);
	if (text && a->dlen < 1500 && b->dlen < 1500) {
		snprintf(out, n, "\n--- union data:\n%.*s\n--- reference data:\n%.*s",
			 (int)a->dlen, a->data, (int)b->dlen, b->data);
		return;
	}
	snprintf(out, n, "data differ at byte %zu (union %zu bytes, ref %zu bytes): union 0x%02x, ref 0x%02x",
		 i, a->dlen, b->dlen, i < a->dlen ? (unsigned char)a->data[i] : 0,
		 i < b->dlen ? (unsigned char)b->data[i] : 0);
}

/* ------------------------------------------------------------------ */
/* Comparing objects and whole trees.                                  */

static bool check_st_ino(const char *rel, const struct stat *us,
			 const struct stat *rs, bool initial)
{
	struct ident *id = ident_get(rs->st_ino, false);

	if (initial && !plain) {
		char lp[PATH_MAX];
		struct stat ls;

		fmt(lp, sizeof(lp), "%s%s%s", lowerdir, *rel ? "/" : "", rel);
		if (lstat(lp, &ls))
			die("lstat %s: %m", lp);
		if (us->st_ino != (ls.st_ino | LOWER_BIT)) {
			mismatch("/%s: st_ino %#" PRIx64 " is not the lower inode %#" PRIx64 " with bit 63",
				 rel, (uint64_t)us->st_ino, (uint64_t)ls.st_ino);
			return false;
		}
		if (!id) {
			id = ident_get(rs->st_ino, true);
			id->uino = us->st_ino;
			id->lower_nlink = S_ISDIR(rs->st_mode) ? 0 : ls.st_nlink;
			id->is_dir = S_ISDIR(rs->st_mode);
		}
		return true;
	}
	if (!id) {
		if (!plain && (us->st_ino & LOWER_BIT)) {
			mismatch("/%s: a new object (not from lower, or a copied-up hard link) has st_ino %#" PRIx64 " with bit 63 set",
				 rel, (uint64_t)us->st_ino);
			return false;
		}
		id = ident_get(rs->st_ino, true);
		id->uino = us->st_ino;
		id->is_dir = S_ISDIR(rs->st_mode);
		return true;
	}
	if (id->uino != us->st_ino) {
		mismatch("/%s: st_ino changed from %#" PRIx64 " to %#" PRIx64 " (the object is the same)",
			 rel, (uint64_t)id->uino, (uint64_t)us->st_ino);
		return false;
	}
	return true;
}

static void xattr_text(const char *path, char *out, size_t n, bool *private)
{
	char list[4096], *names[64], val[512];
	ssize_t len = llistxattr(path, list, sizeof(list));
	int k = 0;
	size_t used = 0;

	out[0] = 0;
	if (len < 0) {
		snprintf(out, n, "llistxattr: %s", strerror(errno));
		return;
	}
	for (char *p = list; p < list + len && k < 64; p += strlen(p) + 1) {
		if (!strncmp(p, "trusted.union.", 14))
			*private = true;
		if (!strncmp(p, "user.", 5))
			names[k++] = p;
	}
	qsort(names, k, sizeof(*names), cmp_str);
	for (int i = 0; i < k && used < n; i++) {
		ssize_t v = lgetxattr(path, names[i], val, sizeof(val));

		used += snprintf(out + used, n - used, "%s=%.*s(%zd) ", names[i],
				 v > 0 ? (int)v : 0, val, v);
	}
}

/* Compare one object of both trees (us/rs: their lstat results). */
static void compare_obj(const char *rel, const struct stat *us,
			const struct stat *rs, bool initial)
{
	char up[PATH_MAX], rp[PATH_MAX];
	char a[2048], b[2048];
	bool priv = false;

	path_of(up, U, rel);
	path_of(rp, R, rel);
	if ((us->st_mode & S_IFMT) != (rs->st_mode & S_IFMT)) {
		mismatch("/%s: type %o in the union, %o in the reference", rel,
			 us->st_mode & S_IFMT, rs->st_mode & S_IFMT);
		return;
	}
	if ((us->st_mode & 07777) != (rs->st_mode & 07777))
		mismatch("/%s: mode %04o in the union, %04o in the reference", rel,
			 us->st_mode & 07777, rs->st_mode & 07777);
	if (us->st_uid != rs->st_uid || us->st_gid != rs->st_gid)
		mismatch("/%s: owner %u:%u in the union, %u:%u in the reference",
			 rel, us->st_uid, us->st_gid, rs->st_uid, rs->st_gid);
	check_st_ino(rel, us, rs, initial);
	xattr_text(up, a, sizeof(a), &priv);
	xattr_text(rp, b, sizeof(b), &priv);
	if (strcmp(a, b))
		mismatch("/%s: user xattrs differ: union {%s}, reference {%s}",
			 rel, a, b);
	if (priv)
		mismatch("/%s: llistxattr shows trusted.union.* names", rel);
	if (S_ISDIR(us->st_mode) || S_ISREG(us->st_mode)) {
		int uf = get_flags(up, false), rf = get_flags(rp, false);

		if (uf != rf)
			mismatch("/%s: FS_IOC_GETFLAGS 0x%x in the union, 0x%x in the reference",
				 rel, uf, rf);
	}
	if (S_ISDIR(us->st_mode))
		return;		/* no nlink, size or mtime for directories */

	/* A lower name of a multiply-linked symlink or special file shows the
	 * lower st_nlink (regular files: POSIX). */
	struct ident *id = ident_get(rs->st_ino, false);
	nlink_t want = id && copy_up_breaks_links(rs->st_mode, id->lower_nlink) ?
			id->lower_nlink : rs->st_nlink;

	if (us->st_nlink != want)
		mismatch("/%s: st_nlink %ju in the union, expected %ju (reference %ju)",
			 rel, (uintmax_t)us->st_nlink, (uintmax_t)want,
			 (uintmax_t)rs->st_nlink);
	if (us->st_size != rs->st_size)
		mismatch("/%s: size %jd in the union, %jd in the reference", rel,
			 (intmax_t)us->st_size, (intmax_t)rs->st_size);
	/* mtime: exact for times set explicitly or kept from lower; the two
	 * sides of one write differ by the time between the calls. */
	double dt = (us->st_mtim.tv_sec - rs->st_mtim.tv_sec) +
		    (us->st_mtim.tv_nsec - rs->st_mtim.tv_nsec) / 1e9;
	if ((dt > 5 || dt < -5) && !S_ISFIFO(us->st_mode))
		mismatch("/%s: mtime %jd.%09ld in the union, %jd.%09ld in the reference",
			 rel, (intmax_t)us->st_mtim.tv_sec, us->st_mtim.tv_nsec,
			 (intmax_t)rs->st_mtim.tv_sec, rs->st_mtim.tv_nsec);
	if (S_ISLNK(us->st_mode)) {
		ssize_t n1 = readlink(up, a, sizeof(a) - 1);
		ssize_t n2 = readlink(rp, b, sizeof(b) - 1);

		a[n1 < 0 ? 0 : n1] = 0;
		b[n2 < 0 ? 0 : n2] = 0;
		if (n1 < 0 || strcmp(a, b))
			mismatch("/%s: symlink target '%s' (%zd) in the union, '%s' in the reference",
				 rel, a, n1, b);
	} else if (S_ISREG(us->st_mode)) {
		uint64_t h1 = 0, h2 = 0;
		off_t l1 = 0, l2 = 0;

		if (file_hash(up, &h1, &l1))
			mismatch("/%s: cannot read the union file: %s", rel,
				 strerror(errno));
		else if (file_hash(rp, &h2, &l2))
			die("read %s: %m", rp);
		else if (h1 != h2 || l1 != l2)
			mismatch("/%s: contents differ (union %jd bytes, reference %jd bytes)",
				 rel, (intmax_t)l1, (intmax_t)l2);
		/* Not compared: the data/hole map (SEEK_DATA/SEEK_HOLE).  Even
		 * two tmpfs copies given the same operations differ in it (the
		 * folio sizes tmpfs allocates vary), so only contents count. */
	} else if (us->st_rdev != rs->st_rdev) {
		mismatch("/%s: rdev differs", rel);
	}
}

/* Directory listing with d_ino/d_type, sorted by name. */
struct dent {
	char name[256];
	uint64_t ino;
	unsigned char type;
};

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

static int list_dir(const char *path, struct dent **out, uint64_t *dot_ino)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct dent *v = NULL;
	int n = 0;

	*dot_ino = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".")) {
			*dot_ino = e->d_ino;
			continue;
		}
		if (!strcmp(e->d_name, ".."))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		v[n].ino = e->d_ino;
		v[n++].type = e->d_type;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_dent);
	*out = v;
	return n;
}

static unsigned long objects_checked;

static void compare_dir(const char *rel, bool initial, const struct stat *ust)
{
	char up[PATH_MAX], rp[PATH_MAX];
	struct dent *ul = NULL, *rl = NULL;
	uint64_t udot, rdot;
	int nu, nr, i = 0, j = 0;

	path_of(up, U, rel);
	path_of(rp, R, rel);
	nu = list_dir(up, &ul, &udot);
	nr = list_dir(rp, &rl, &rdot);
	if (nr < 0)
		die("opendir %s: %m", rp);
	if (nu < 0) {
		mismatch("/%s: opendir on the union fails: %s", rel, strerror(errno));
		free(rl);
		return;
	}
	if (!plain && udot && udot != ust->st_ino)
		mismatch("/%s: readdir '.' has d_ino %#" PRIx64 ", stat says %#" PRIx64,
			 rel, udot, (uint64_t)ust->st_ino);
	while (i < nu || j < nr) {
		int c = i >= nu ? 1 : j >= nr ? -1 : strcmp(ul[i].name, rl[j].name);
		char crel[PATH_MAX];
		struct stat us, rs;

		if (c < 0) {
			mismatch("/%s%s%s: listed in the union, not in the reference",
				 rel, *rel ? "/" : "", ul[i].name);
			i++;
			continue;
		}
		if (c > 0) {
			mismatch("/%s%s%s: in the reference, not listed in the union",
				 rel, *rel ? "/" : "", rl[j].name);
			j++;
			continue;
		}
		snprintf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "",
			 ul[i].name);
		path_of(up, U, crel);
		path_of(rp, R, crel);
		if (lstat(rp, &rs))
			die("lstat %s: %m", rp);
		objects_checked++;
		if (lstat(up, &us)) {
			mismatch("/%s: readdir lists it but lstat on the union fails: %s",
				 crel, strerror(errno));
		} else {
			if (ul[i].type != DT_UNKNOWN &&
			    ul[i].type != IFTODT(us.st_mode))
				mismatch("/%s: d_type %d but st_mode %o", crel,
					 ul[i].type, us.st_mode & S_IFMT);
			if (ul[i].ino != us.st_ino)
				mismatch("/%s: d_ino %#" PRIx64 " but st_ino %#" PRIx64,
					 crel, ul[i].ino, (uint64_t)us.st_ino);
			compare_obj(crel, &us, &rs, initial);
			if (S_ISDIR(us.st_mode) && S_ISDIR(rs.st_mode))
				compare_dir(crel, initial, &us);
		}
		i++;
		j++;
	}
	free(ul);
	free(rl);
}

/* Union inode numbers must be unique per object: collect them. */
static void unique_inos(const char *rel, uint64_t **seen, int *n)
{
	char rp[PATH_MAX];
	struct dent *rl = NULL;
	uint64_t dot;
	int nr;

	path_of(rp, R, rel);
	nr = list_dir(rp, &rl, &dot);
	for (int i = 0; i < nr; i++) {
		char crel[PATH_MAX];
		struct stat rs;
		struct ident *id;

		snprintf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "",
			 rl[i].name);
		path_of(rp, R, crel);
		if (lstat(rp, &rs))
			continue;
		id = ident_get(rs.st_ino, false);
		if (id) {
			*seen = realloc(*seen, (*n + 1) * 2 * sizeof(uint64_t));
			(*seen)[2 * *n] = id->uino;
			(*seen)[2 * *n + 1] = rs.st_ino;
			(*n)++;
		}
		if (S_ISDIR(rs.st_mode))
			unique_inos(crel, seen, n);
	}
	free(rl);
}

static int cmp_u64pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 :
	       x[1] < y[1] ? -1 : x[1] > y[1];
}

/* The whole visible tree of the union against the reference. */
static void check_tree(const char *when, bool initial)
{
	struct stat us, rs;
	char p[PATH_MAX];
	uint64_t *seen = NULL;
	int n = 0;
	bool was = failed;

	if (verbose)
		printf("  check tree (%s)\n", when);
	if (lstat(base[U], &us) || lstat(base[R], &rs))
		die("lstat of the roots: %m");
	compare_obj("", &us, &rs, initial);
	compare_dir("", initial, &us);
	fmt(p, sizeof(p), "%s/.union-work", base[U]);
	if (!plain && (lstat(p, &us) == 0 || errno != ENOENT))
		mismatch(".union-work is visible at the union root");
	/* Two different reference objects must not share a union st_ino. */
	unique_inos("", &seen, &n);
	qsort(seen, n, 2 * sizeof(uint64_t), cmp_u64pair);
	for (int i = 1; i < n; i++)
		if (seen[2 * i] == seen[2 * i - 2] &&
		    seen[2 * i + 1] != seen[2 * i - 1]) {
			mismatch("st_ino %#" PRIx64 " is shared by two different objects",
				 seen[2 * i]);
			break;
		}
	free(seen);
	if (failed && !was && !quiet)
		printf("  (found by the tree check %s)\n", when);
}

/* ------------------------------------------------------------------ */
/* Trials: fresh layers, mount, a subsequence of operations, checks.   */

static void rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		chmod(path, 0700);
		while (d && (e = readdir(d))) {
			char c[PATH_MAX];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(c, sizeof(c), "%s/%s", path, e->d_name);
			rm_tree(c);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void do_mount(void)
{
	char data[PATH_MAX * 3];

	if (plain)
		return;
	snprintf(data, sizeof(data), "lower=%s,upper=%s", lowerdir, upperdir);
	if (mount("none", base[U], "union", 0, data))
		die("mount -t union -o %s none %s: %m", data, base[U]);
}

static bool do_umount(void)
{
	if (plain)
		return true;
	if (umount2(base[U], 0)) {
		mismatch("umount of the union fails: %s", strerror(errno));
		umount2(base[U], MNT_DETACH);
		return false;
	}
	return true;
}

/* Counts the metadata-only copies and the names of indexed copies (copies of
 * multiply-linked lower files) on the upper layer: coverage of the metacopy and
 * hard-link transitions, which the model does not see (the data must not differ). */
static void count_metacopies(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d || depth > 64) {
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		char p[PATH_MAX], v[2];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= (int)sizeof(p))
			continue;
		if (e->d_type == DT_DIR) {
			if (depth > 0 || strcmp(e->d_name, ".union-work"))
				count_metacopies(p, depth + 1);
		} else if (e->d_type == DT_REG &&
			   lgetxattr(p, "trusted.union.metacopy", v, sizeof(v)) == 1) {
			metacopies_seen++;
		} else if (e->d_type == DT_REG &&
			   lgetxattr(p, "trusted.union.lowerlinks", NULL, 0) == 4) {
			indexed_seen++;
		}
	}
	closedir(d);
}

/* union-fsck on the unmounted layers: the upper layer must be clean. */
static void run_fsck(const char *when)
{
	char out[2048];
	size_t len = 0;
	int pfd[2], status;
	ssize_t r;
	pid_t pid;

	if (plain || !*fsck_path)
		return;
	if (pipe(pfd))
		die("pipe: %m");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execl(fsck_path, fsck_path, lowerdir, upperdir, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += r;
	close(pfd[0]);
	out[len] = '\0';
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		mismatch("union-fsck %s %s %s: exit %d: %s", lowerdir, upperdir, when,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
}

static void remount(const char *when)
{
	for (int s = 0; s < NSLOTS; s++)
		close_slot(s);
	if (!do_umount())
		return;
	run_fsck(when);
	if (!plain)
		count_metacopies(upperdir, 0);
	do_mount();
	check_tree(when, false);
}

/* Set up fresh layers for a trial of a seed.  Lower is made once per
 * seed by main, in the outer work directory (even seeds: lower and upper on
 * different filesystems), or for every trial in its tmpfs (odd seeds: lower
 * and upper on the same filesystem). */
static void setup_trial(uint64_t seed)
{
	bool same_fs = seed & 1;

	fmt(trialdir, sizeof(trialdir), "%s/t", workdir);
	if (mkdir(trialdir, 0755) && errno != EEXIST)
		die("mkdir %s: %m", trialdir);
	if (mount("tmpfs", trialdir, "tmpfs", 0, "mode=0755"))
		die("mount tmpfs on %s: %m", trialdir);
	if (same_fs) {
		fmt(lowerdir, sizeof(lowerdir), "%s/lower", trialdir);
		if (mkdir(lowerdir, 0755))
			die("mkdir %s: %m", lowerdir);
		gen_lower(seed);
	} else {
		fmt(lowerdir, sizeof(lowerdir), "%s/lower", workdir);
	}
	fmt(upperdir, sizeof(upperdir), "%s/upper", trialdir);
	/* Symlinks like ../../x may lead out of the trees: the two trees are
	 * deep in separate directories so that they never lead to one object. */
	fmt(base[U], sizeof(base[U]), "%s/u/1/2/3/tree", trialdir);
	fmt(base[R], sizeof(base[R]), "%s/r/1/2/3/tree", trialdir);
	for (int side = 0; side < 2; side++) {
		char p[PATH_MAX];

		fmt(p, sizeof(p), "%s/%c", trialdir, side ? 'r' : 'u');
		for (int k = 0; k < 4; k++) {
			if (mkdir(p, 0755))
				die("mkdir %s: %m", p);
			if (k < 3)
				strcat(p, k == 0 ? "/1" : k == 1 ? "/2" : "/3");
		}
	}
	if (mkdir(upperdir, 0755) || mkdir(base[U], 0755) || mkdir(base[R], 0755))
		die("mkdir in %s: %m", trialdir);
	/* The reference is a mount of its own, as the union is: a rename or
	 * link through a symlink out of the tree gives EXDEV on both sides. */
	if (mount("tmpfs", base[R], "tmpfs", 0, "mode=0755"))
		die("mount tmpfs on %s: %m", base[R]);
	copy_tree(lowerdir, base[R]);
	if (plain) {
		/* --plain: the "union" is just another copy of lower. */
		if (mount("tmpfs", base[U], "tmpfs", 0, "mode=0755"))
			die("mount tmpfs on %s: %m", base[U]);
		copy_tree(lowerdir, base[U]);
	}
	memset(idents, 0, sizeof(idents));
	nlowerdirs = 0;
	collect_lowerdirs("");
	for (int s = 0; s < NSLOTS; s++) {
		slots[s].fd[U] = slots[s].fd[R] = -1;
		slots[s].hl = false;
	}
	do_mount();
}

static void teardown_trial(void)
{
	if (failed && getenv("DIFFTEST_KEEP")) {
		printf("kept the trial in %s\n", trialdir);
		exit(1);
	}
	for (int s = 0; s < NSLOTS; s++)
		close_slot(s);
	umount2(base[U], MNT_DETACH);
	umount2(base[R], MNT_DETACH);
	if (umount2(trialdir, MNT_DETACH))
		die("umount %s: %m", trialdir);
}

/* Copy-up triggers of operation o: canonical paths (up to 2) of objects
 * the union copies up before the operation, if it succeeds. */
static int triggers(const struct op *o, char trig[2][REL])
{
	struct stat st;
	int n = 0;
	char c[REL];

	switch (o->type) {
	case OP_OPEN:
	case OP_CREAT:
		if ((o->flags & O_ACCMODE) == O_RDONLY && !(o->flags & O_TRUNC))
			return 0;
		if (o->type == OP_OPEN && (o->flags & O_NOFOLLOW))
			break;
		/* fall through */
	case OP_WRITEAT:
	case OP_MMAPW:
	case OP_TRUNCATE:
	case OP_CHMOD:
	case OP_SETFLAGS:
		if (canon(o->p1, true, c) && lower_hardlinked(c, &st) &&
		    S_ISREG(st.st_mode))
			snprintf(trig[n++], REL, "%s", c);
		return n;
	case OP_CHOWN:
	case OP_UTIMES:
	case OP_SETXATTR:
	case OP_REMOVEXATTR:
		if (canon(o->p1, o->follow, c) && lower_hardlinked(c, &st))
			snprintf(trig[n++], REL, "%s", c);
		return n;
	case OP_LINK:
		if (canon(o->p1, false, c) && lower_hardlinked(c, &st))
			snprintf(trig[n++], REL, "%s", c);
		return n;
	case OP_RENAME: {
		char c2[REL];
		struct stat st2;
		bool h1 = canon(o->p1, false, c) && lower_hardlinked(c, &st);
		bool h2 = o->flags == RENAME_EXCHANGE &&
			  canon(o->p2, false, c2) && lower_hardlinked(c2, &st2);
		struct stat t;
		char p2[PATH_MAX];

		/* Two names of one inode: rename does nothing. */
		path_of(p2, R, o->p2);
		if (h1 && !lstat(p2, &t) && t.st_ino == st.st_ino)
			return 0;
		if (h1)
			snprintf(trig[n++], REL, "%s", c);
		if (h2 && (!h1 || st2.st_ino != st.st_ino))
			snprintf(trig[n++], REL, "%s", c2);
		return n;
	}
	default:
		break;
	}
	return 0;
}

/*
 * Has the directory at canonical path rel a lower part, in the words of
 * union.rst ("merged, lower-only, or opaque but holding fallthrus")?  The
 * model knows whether a lower directory is at that path and was never
 * removed (has_lower); which of those still have a lower part depends on
 * the directory copy-ups readdir did, so that is read from the upper layer
 * in its documented format: no upper directory (lower-only), an upper
 * directory without trusted.union.opaque (merged), or an opaque one holding
 * a fallthru (0/1..0/15) or a subdirectory with a lower part.
 */
static bool lower_part(const char *rel)
{
	return has_lower(rel);
}

/* Does o rename a directory with a lower part (documented EXDEV)? */
static bool exdev_allowed(const struct op *o)
{
	char c[REL], p[PATH_MAX];
	struct stat st;

	if (o->type != OP_RENAME || plain)
		return false;
	path_of(p, R, o->p1);
	if (!lstat(p, &st) && S_ISDIR(st.st_mode) && canon(o->p1, false, c) &&
	    lower_part(c))
		return true;
	path_of(p, R, o->p2);
	return o->flags == RENAME_EXCHANGE && !lstat(p, &st) &&
	       S_ISDIR(st.st_mode) && canon(o->p2, false, c) && lower_part(c);
}

/* Run one operation on both sides and compare. */
static void run_op(const struct op *o, long idx)
{
	struct res ur, rr;
	char trig[2][REL], desc[512], a[128], b[128], diff[4096];
	int ntrig = triggers(o, trig);
	bool exdev_ok = exdev_allowed(o);
	char rdir[REL] = "", p1c[REL] = "", p2c[REL] = "";
	struct stat rst1, rst2;
	char rp[PATH_MAX];
	bool had1, had2;
	int keep_slot = -1;

	/* Model bookkeeping needs the reference before the op. */
	canon(o->p1, false, p1c);
	canon(o->p2, false, p2c);
	path_of(rp, R, o->p2);
	had2 = !lstat(rp, &rst2) && S_ISDIR(rst2.st_mode);
	path_of(rp, R, o->p1);
	had1 = !lstat(rp, &rst1);

	/* fchmod/fsetxattr on a read-only fd of a multiply-linked lower
	 * file copy up the name the fd was opened by. */
	if ((o->type == OP_FCHMOD || o->type == OP_FSETXATTR ||
	     o->type == OP_LINKFD) && slots[o->slot].hl) {
		struct slot *sl = &slots[o->slot];
		char sp[PATH_MAX];
		struct stat st;

		path_of(sp, R, sl->path);
		if (lstat(sp, &st) || st.st_ino != sl->rino) {
			/* The name is gone: not specified, drop the fd. */
			close_slot(o->slot);
		} else {
			snprintf(trig[ntrig++], REL, "%s", sl->path);
			keep_slot = o->slot;
		}
	}

	run_side(o, U, &ur);
	if (exdev_ok && ur.ret < 0 && ur.err == EXDEV) {
		if (verbose > 1)
			printf("  model: EXDEV for a directory with a lower part\n");
		return;		/* documented: the reference is not renamed */
	}
	if (ur.trig)
		for (int i = 0; i < ntrig; i++)
			break_link(trig[i], keep_slot);
	run_side(o, R, &rr);

	op_str(o, desc, sizeof(desc));
	res_str(&ur, a, sizeof(a));
	res_str(&rr, b, sizeof(b));
	if (o->type == OP_LSEEK && o->flags != SEEK_SET && slots[o->slot].fd[R] >= 0 &&
	    !fstat(slots[o->slot].fd[R], &rst1) && S_ISDIR(rst1.st_mode)) {
		/* lseek SEEK_END/SEEK_DATA/SEEK_HOLE on a directory is up to
		 * each filesystem (tmpfs: EINVAL; the union: that of a file,
		 * e.g. ENXIO past the end): not compared. */
	} else if (ur.ret != rr.ret || ur.err != rr.err) {
		char info[512] = "";

		if (o->type == OP_RENAME) {
			/* What the model and the upper layer say about p1. */
			char up[PATH_MAX], x[8] = "";
			struct stat ust;
			ssize_t k;

			fmt(up, sizeof(up), "%s/%s", upperdir, p1c);
			k = lgetxattr(up, "trusted.union.opaque", x, sizeof(x) - 1);
			x[k > 0 ? k : 0] = 0;
			snprintf(info, sizeof(info),
				 " [model: /%s was %s, lower part %s; upper: %s%s]",
				 p1c, !had1 ? "absent" : S_ISDIR(rst1.st_mode) ?
				 "a directory" : "a non-directory",
				 lower_part(p1c) ? "yes" : "no",
				 lstat(up, &ust) ? "absent" : S_ISDIR(ust.st_mode) ?
				 "directory" : "non-directory",
				 k > 0 ? ", opaque" : "");
		}
		mismatch("op #%ld %s: union %s, reference %s%s", idx, desc, a, b,
			 info);
	} else if (ur.dlen != rr.dlen || memcmp(ur.data, rr.data, ur.dlen)) {
		data_diff(&ur, &rr, diff, sizeof(diff));
		mismatch("op #%ld %s: %s; %s", idx, desc, a, diff);
	} else if (exdev_ok && ur.ret >= 0 && had1 &&
		   !(had2 && rst1.st_ino == rst2.st_ino)) {
		mismatch("op #%ld %s: renamed a directory with a lower part (union.rst: EXDEV)",
			 idx, desc);
	}
	if (keep_slot >= 0)
		close_slot(keep_slot);
	if (!(rr.ret >= 0 && !rr.err))
		return;

	/* Track the model state of successful operations. */
	switch (o->type) {
	case OP_OPEN:
		if (!o->cred) {
			struct slot *sl = &slots[o->slot];
			struct stat st;
			struct ident *id;

			canon(o->p1, !(o->flags & O_NOFOLLOW), sl->path);
			if (sl->fd[R] >= 0 && !fstat(sl->fd[R], &st)) {
				sl->rino = st.st_ino;
				id = ident_get(st.st_ino, false);
				sl->hl = id && copy_up_breaks_links(st.st_mode, id->lower_nlink);
			}
		}
		break;
	case OP_RMDIR:
		drop_lower(p1c);
		break;
	case OP_RENAME:
		snprintf(rdir, sizeof(rdir), "%s", p2c);
		/* A directory replaced the (empty) directory p2; renaming a
		 * name onto itself (or another name of it) does nothing. */
		if (had2 && o->flags != RENAME_EXCHANGE && had1 &&
		    rst1.st_ino != rst2.st_ino)
			drop_lower(rdir);
		break;
	case OP_REMOUNT:
		break;
	}
}

/*
 * One trial: fresh layers, run the operations ops[idx[0..n-1]], check the
 * tree every check_every operations, at the end and after a remount.
 * Returns true if a mismatch was seen (failmsg, *fail_at = its position).
 */
static bool trial(uint64_t seed, const struct op *ops, const long *idx,
		  long n, long check_every, long *fail_at)
{
	uint64_t sig;

	failed = false;
	failmsg[0] = 0;
	setup_trial(seed);
	sig = tree_sig(lowerdir, 0);
	cur_op = -1;
	check_tree("after mount", true);
	for (long i = 0; i < n && !failed; i++) {
		const struct op *o = &ops[idx[i]];

		cur_op = idx[i];
		if (verbose) {
			char d[512];

			op_str(o, d, sizeof(d));
			printf("#%ld %s\n", idx[i], d);
		}
		if (o->type == OP_REMOUNT)
			remount("after the remount op");
		else
			run_op(o, idx[i]);
		if (idx[i] == tamper_at) {
			/* Debug: change the reference behind our back. */
			char p[PATH_MAX];

			fmt(p, sizeof(p), "%s/tampered", base[R]);
			close(open(p, O_CREAT | O_WRONLY, 0644));
		}
		if (!failed && check_every && (i + 1) % check_every == 0) {
			char when[64];

			snprintf(when, sizeof(when), "after op #%ld", idx[i]);
			check_tree(when, false);
		}
		if (failed)
			*fail_at = i;
	}
	if (!failed) {
		*fail_at = n;
		check_tree("at the end", false);
	}
	if (!failed)
		remount("after umount + mount");
	if (!failed && tree_sig(lowerdir, 0) != sig)
		mismatch("the lower layer changed");
	teardown_trial();
	return failed;
}

/* ------------------------------------------------------------------ */
/* Shrinking and reporting.                                            */

static long shrink_trials, max_shrink_trials = 500;
static time_t shrink_deadline;

static bool test_subset(uint64_t seed, const struct op *ops, const long *idx,
			long n, long check_every)
{
	long at;
	bool f;

	if (shrink_trials >= max_shrink_trials || time(NULL) > shrink_deadline)
		return false;
	shrink_trials++;
	quiet = true;
	f = trial(seed, ops, idx, n, n <= 40 ? 1 : check_every, &at);
	quiet = false;
	return f;
}

/* Delta debugging (ddmin): the smallest subsequence that still fails. */
static long shrink(uint64_t seed, const struct op *ops, long *idx, long n,
		   long check_every)
{
	long *tmp = malloc((n + 1) * sizeof(*tmp));
	long chunks = 2;

	while (n >= 2) {
		long size = (n + chunks - 1) / chunks;
		bool reduced = false;

		for (long start = 0; start < n; start += size) {
			long k = 0;

			for (long i = 0; i < n; i++)
				if (i < start || i >= start + size)
					tmp[k++] = idx[i];
			if (k < n && test_subset(seed, ops, tmp, k, check_every)) {
				memcpy(idx, tmp, k * sizeof(*idx));
				n = k;
				chunks = chunks > 2 ? chunks - 1 : 2;
				reduced = true;
				break;
			}
		}
		if (!reduced) {
			if (chunks >= n)
				break;
			chunks = chunks * 2 < n ? chunks * 2 : n;
		}
		if (shrink_trials >= max_shrink_trials ||
		    time(NULL) > shrink_deadline)
			break;
	}
	free(tmp);
	return n;
}

static void shquote(char *out, size_t n, const char *s)
{
	snprintf(out, n, "\"$M/%s\"", s);
}

/* A shell rendering of an operation (exact for most, a sketch for
 * the fd operations). */
static void op_shell(const struct op *o, char *out, size_t n)
{
	char a[REL + 16], b[REL + 16], pre[64] = "";

	shquote(a, sizeof(a), o->p1);
	shquote(b, sizeof(b), o->p2);
	if (o->cred)
		snprintf(pre, sizeof(pre), "setpriv --reuid=%u --regid=%u --clear-groups ",
			 o->cred, o->cred);
	switch (o->type) {
	case OP_CREAT:
		snprintf(out, n, "(umask %03o; %sbash -c '%s>\"$0\"' %s)", o->umask,
			 pre, o->flags & O_EXCL ? "set -C; " : "", a);
		break;
	case OP_WRITEAT:
		snprintf(out, n, "head -c %jd /dev/zero | tr '\\0' '\\%03o' | %sdd of=%s bs=64k oflag=seek_bytes seek=%jd conv=notrunc status=none",
			 (intmax_t)o->len, o->fill, pre, a, (intmax_t)o->off);
		break;
	case OP_READFILE:
		snprintf(out, n, "%scat %s | sha1sum", pre, a);
		break;
	case OP_TRUNCATE:
		snprintf(out, n, "%struncate -s %jd %s", pre, (intmax_t)o->len, a);
		break;
	case OP_UNLINK:
		snprintf(out, n, "%sunlink %s", pre, a);
		break;
	case OP_MKDIR:
		snprintf(out, n, "(umask %03o; %smkdir -m %o %s)", o->umask, pre,
			 o->mode & ~o->umask, a);
		break;
	case OP_RMDIR:
		snprintf(out, n, "%srmdir %s", pre, a);
		break;
	case OP_RENAME:
		if (o->flags == RENAME_EXCHANGE)
			snprintf(out, n, "%sperl -e 'syscall(316, -100, $ARGV[0], -100, $ARGV[1], 2) == 0 or die \"$!\\n\"' %s %s",
				 pre, a, b);
		else
			snprintf(out, n, "%smv -T %s%s %s", pre,
				 o->flags ? "--no-clobber " : "", a, b);
		break;
	case OP_LINK:
		snprintf(out, n, "%sln -T %s %s", pre, a, b);
		break;
	case OP_SYMLINK:
		snprintf(out, n, "%sln -s -T '%s' %s", pre, o->p2, a);
		break;
	case OP_MKFIFO:
		snprintf(out, n, "(umask %03o; %smkfifo -m %o %s)", o->umask, pre,
			 o->mode & ~o->umask, a);
		break;
	case OP_CHMOD:
		snprintf(out, n, "%schmod %o %s", pre, o->mode, a);
		break;
	case OP_CHOWN:
		snprintf(out, n, "%schown %s%d:%d %s", pre, o->follow ? "" : "-h ",
			 (int)o->uid, (int)o->gid, a);
		break;
	case OP_UTIMES:
		snprintf(out, n, "%stouch %s-m -d @%jd.%09ld %s  # and atime %jd",
			 pre, o->follow ? "" : "-h ", (intmax_t)o->ts[1].tv_sec,
			 o->ts[1].tv_nsec, a, (intmax_t)o->ts[0].tv_sec);
		break;
	case OP_SETXATTR:
		snprintf(out, n, "%ssetfattr %s-n user.%s -v \"$(head -c %jd /dev/zero | tr '\\0' '\\%03o')\" %s",
			 pre, o->follow ? "" : "-h ", o->xname, (intmax_t)o->len,
			 o->fill, a);
		break;
	case OP_REMOVEXATTR:
		snprintf(out, n, "%ssetfattr %s-x user.%s %s", pre,
			 o->follow ? "" : "-h ", o->xname, a);
		break;
	case OP_GETXATTR:
	case OP_LISTXATTR:
		snprintf(out, n, "%sgetfattr -h -d %s", pre, a);
		break;
	case OP_READDIR:
		snprintf(out, n, "%sls -a %s", pre, a);
		break;
	case OP_STAT:
		snprintf(out, n, "%sstat %s%s", pre, o->follow ? "-L " : "", a);
		break;
	case OP_SETFLAGS:
		snprintf(out, n, "%schattr =%s%s%s%s %s", pre,
			 o->flags & FS_APPEND_FL ? "a" : "",
			 o->flags & FS_NODUMP_FL ? "d" : "",
			 o->flags & FS_NOATIME_FL ? "A" : "",
			 o->flags & FS_IMMUTABLE_FL ? "i" : "", a);
		break;
	case OP_GETFLAGS:
		snprintf(out, n, "%slsattr -d %s", pre, a);
		break;
	case OP_REMOUNT:
		snprintf(out, n, "umount \"$M\" && mount -t union -o lower=\"$L\",upper=\"$U\" none \"$M\"");
		break;
	default:
		op_str(o, out, n);
		memmove(out + 2, out, strlen(out) + 1 < n - 2 ? strlen(out) + 1 : n - 2);
		out[0] = '#';
		out[1] = ' ';
	}
}

static void report(uint64_t seed, long nops, const struct op *ops,
		   const long *idx, long n)
{
	char d[512];

	printf("minimal reproducer for seed %" PRIu64 ": %ld operation%s\n", seed,
	       n, n == 1 ? "" : "s");
	for (long i = 0; i < n; i++) {
		op_str(&ops[idx[i]], d, sizeof(d));
		printf("  #%ld %s\n", idx[i], d);
	}
	printf("replay: union-difftest --seed %" PRIu64 " --ops %ld --only ", seed,
	       nops);
	for (long i = 0; i < n; i++)
		printf("%s%ld", i ? "," : "", idx[i]);
	printf(" --check-every 1 -v\n");
	printf("shell sketch (lower: union-difftest --seed %" PRIu64 " --gen-lower \"$L\"):\n",
	       seed);
	printf("  mount -t union -o lower=\"$L\",upper=\"$U\" none \"$M\"\n");
	for (long i = 0; i < n; i++) {
		char sh[1024];

		op_shell(&ops[idx[i]], sh, sizeof(sh));
		printf("  %s\n", sh);
	}
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: union-difftest [--seed N | --seeds A..B] [--ops N] [--check-every K]\n"
		"                      [--workdir DIR] [--no-shrink] [--only I,J,...] [-v]\n"
		"                      [--plain] [--tamper-at N] [--gen-lower DIR]\n"
		"                      [--fsck PATH | --no-fsck]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed_lo = 1, seed_hi = 1;
	long nops = 1000, check_every = 100;
	bool do_shrink = true, own_workdir = false;
	const char *only = NULL, *gen_to = NULL;
	int status = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A write to a fifo whose reader slot was closed: EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--seed") && v) {
			seed_lo = seed_hi = strtoull(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--seeds") && v) {
			if (sscanf(v, "%" SCNu64 "..%" SCNu64, &seed_lo, &seed_hi) != 2)
				usage();
			i++;
		} else if (!strcmp(a, "--ops") && v) {
			nops = atol(v);
			i++;
		} else if (!strcmp(a, "--check-every") && v) {
			check_every = atol(v);
			i++;
		} else if (!strcmp(a, "--workdir") && v) {
			snprintf(workdir, sizeof(workdir), "%s", v);
			i++;
		} else if (!strcmp(a, "--only") && v) {
			only = v;
			i++;
		} else if (!strcmp(a, "--tamper-at") && v) {
			tamper_at = atol(v);
			i++;
		} else if (!strcmp(a, "--gen-lower") && v) {
			gen_to = v;
			i++;
		} else if (!strcmp(a, "--shrink-trials") && v) {
			max_shrink_trials = atol(v);
			i++;
		} else if (!strcmp(a, "--no-shrink")) {
			do_shrink = false;
		} else if (!strcmp(a, "--plain")) {
			plain = true;
		} else if (!strcmp(a, "--fsck") && v) {
			snprintf(fsck_path, sizeof(fsck_path), "%s", v);
			i++;
		} else if (!strcmp(a, "--no-fsck")) {
			strcpy(fsck_path, "-");
		} else if (!strcmp(a, "-v") || !strcmp(a, "-vv")) {
			verbose += a[2] ? 1 : 0;
			verbose++;
		} else {
			usage();
		}
	}
	if (gen_to) {
		snprintf(lowerdir, sizeof(lowerdir), "%s", gen_to);
		if (mkdir(lowerdir, 0755) && errno != EEXIST)
			die("mkdir %s: %m", lowerdir);
		gen_lower(seed_lo);
		return 0;
	}
	if (geteuid())
		die("must run as root");
	if (!strcmp(fsck_path, "-")) {
		fsck_path[0] = '\0';
	} else if (!*fsck_path) {
		/* By default the union-fsck built next to this program. */
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (n > 0) {
			self[n] = '\0';
			slash = strrchr(self, '/');
			if (slash) {
				*slash = '\0';
				if (strlen(self) + sizeof("/union-fsck") > sizeof(fsck_path))
					die("path too long: %s", self);
				strcpy(fsck_path, self);
				strcat(fsck_path, "/union-fsck");
				if (access(fsck_path, X_OK))
					fsck_path[0] = '\0';
			}
		}
	}
	if (!*workdir) {
		snprintf(workdir, sizeof(workdir), "/tmp/union-difftest.%d", getpid());
		own_workdir = true;
	}
	if (mkdir(workdir, 0755) && errno != EEXIST)
		die("mkdir %s: %m", workdir);
	if (mount("tmpfs", workdir, "tmpfs", 0, "mode=0755"))
		die("mount tmpfs on %s: %m", workdir);

	for (uint64_t seed = seed_lo; seed <= seed_hi; seed++) {
		struct op *ops;
		long *idx = malloc((nops + 1) * sizeof(*idx));
		long n = 0, at;
		struct timespec t0, t1;

		/* The lower tree of the seed; its picture seeds gen_ops. */
		fmt(lowerdir, sizeof(lowerdir), "%s/lower", workdir);
		rm_tree(lowerdir);
		if (mkdir(lowerdir, 0755))
			die("mkdir %s: %m", lowerdir);
		gen_lower(seed);
		ops = gen_ops(seed, nops);

		if (only) {
			for (const char *p = only; *p;) {
				char *end;
				long k = strtol(p, &end, 10);

				if (end == p || k < 0 || k >= nops)
					usage();
				idx[n++] = k;
				p = *end == ',' ? end + 1 : end;
			}
		} else {
			for (n = 0; n < nops; n++)
				idx[n] = n;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		objects_checked = 0;
		metacopies_seen = 0;
		indexed_seen = 0;
		bool f = trial(seed, ops, idx, n, check_every, &at);

		clock_gettime(CLOCK_MONOTONIC, &t1);
		double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

		if (!f) {
			printf("seed %" PRIu64 ": ok, %ld ops, %lu objects compared, %lu metadata-only copies and %lu names of indexed copies at umounts%s, %.1f s\n",
			       seed, n, objects_checked, metacopies_seen, indexed_seen,
			       *fsck_path ? " (union-fsck clean)" : "", secs);
		} else {
			long k;

			status = 1;
			if (at < n)
				printf("seed %" PRIu64 ": FAILED after %.1f s at op #%ld (%ld ops): %s\n",
				       seed, secs, idx[at], n, failmsg);
			else
				printf("seed %" PRIu64 ": FAILED after %.1f s in the end-of-run checks (%ld ops): %s\n",
				       seed, secs, n, failmsg);
			k = at < n ? at + 1 : n;
			if (do_shrink) {
				quiet = true;
				if (!trial(seed, ops, idx, k, check_every, &at)) {
					quiet = false;
					printf("seed %" PRIu64 ": the failure does not reproduce (not deterministic): not shrinking\n",
					       seed);
					goto next;
				}
				quiet = false;
			}
			if (do_shrink) {
				char first[sizeof(failmsg)];

				snprintf(first, sizeof(first), "%s", failmsg);
				shrink_trials = 0;
				shrink_deadline = time(NULL) + 600;
				k = shrink(seed, ops, idx, k, check_every);
				/* Re-run the result to show its mismatch. */
				quiet = true;
				trial(seed, ops, idx, k, 1, &at);
				quiet = false;
				printf("shrunk in %ld trials; the minimal sequence fails with: %s\n",
				       shrink_trials, failed ? failmsg : "(nothing: not reproducible)");
				if (strcmp(first, failmsg))
					printf("(the first failure was: %s)\n", first);
				report(seed, nops, ops, idx, k);
			}
		}
next:
		free(ops);
		free(idx);
	}
	umount2(workdir, MNT_DETACH);
	if (own_workdir)
		rmdir(workdir);
	return status;
}
