// SPDX-License-Identifier: GPL-2.0
/*
 * union-fsck [-v] [--strict] [--mounted] LOWER UPPER
 *
 * Checks an upper layer of a union mount against its lower layer for what the
 * on-disk format (Documentation/filesystems/union.rst, "On-disk format") does
 * not allow.  Read-only: it never changes either layer, so it may run while the
 * union is mounted (work-directory entries then are not reported: they may be
 * operations in flight).
 *
 * One line per finding, "CLASS PATH: message", PATH being the upper path:
 *
 *   ERROR    the format does not allow it; the union would misread it or it
 *            breaks an invariant (inode numbers, impure marking, markers);
 *   WARNING  suspicious but readable (a character device 0/N with N > 15,
 *            which is neither a marker nor a real device; an unknown
 *            trusted.union.* xattr; a work directory not mode 0700);
 *   NOTE     harmless redundancy the module can leave behind (a whiteout
 *            with nothing to hide, a fallthru whose lower entry is gone, a
 *            directory fallthru xattr with no lower directory, fallthrus in
 *            a non-opaque directory after an interrupted directory copy-up);
 *            printed with -v only, counted as problems with --strict only.
 *
 * The default is --expect-clean: exit 0 if there are no errors or warnings,
 * 1 if there are (the count is printed last), 2 on a usage or I/O error.
 */
#include "../common.h"

#include <getopt.h>
#include <limits.h>
#include <sys/xattr.h>

#define PFX "trusted.union."
#define X_OPAQUE PFX "opaque"
#define X_FALLTHRU PFX "fallthru"
#define X_IMPURE PFX "impure"
#define X_ORIGIN PFX "origin"
#define X_METACOPY PFX "metacopy"
#define X_PROTATTR PFX "protattr"
#define X_LOWER PFX "lower"
#define X_LOWERLINKS PFX "lowerlinks"
#define WORK_DIR ".union-work"
#define INDEX_DIR "index"

static int verbose, strict, mounted;
static int index_fd = -1;	/* the hard-link index directory, if any */
static unsigned long n_err, n_warn, n_note, n_io;
static unsigned long n_dirs, n_files, n_whiteouts, n_fallthrus, n_origins, n_metacopies;
static unsigned long n_indexed;
static const char *lower_root, *upper_root;

/* ---- output ---- */

/* Prints a path with control characters and backslashes escaped (\ooo). */
static void put_path(FILE *f, const char *p)
{
	for (; *p; p++) {
		unsigned char c = *p;

		if (c < 0x20 || c == 0x7f || c == '\\')
			fprintf(f, "\\%03o", c);
		else
			fputc(c, f);
	}
}

static void __attribute__((format(printf, 3, 4)))
report(int cls, const char *path, const char *fmt, ...)
{
	static const char *const names[] = { "ERROR", "WARNING", "NOTE" };
	va_list ap;

	if (cls == 0)
		n_err++;
	else if (cls == 1)
		n_warn++;
	else
		n_note++;
	if (cls == 2 && !verbose && !strict)
		return;
	printf("%s ", names[cls]);
	put_path(stdout, path);
	printf(": ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}
#define ERR(p, ...) report(0, p, __VA_ARGS__)
#define WARN(p, ...) report(1, p, __VA_ARGS__)
#define NOTE(p, ...) report(2, p, __VA_ARGS__)

static void io_error(const char *path, const char *what)
{
	int e = errno;

	n_io++;
	fprintf(stderr, "union-fsck: %s ", what);
	put_path(stderr, path);
	fprintf(stderr, ": %s\n", strerror(e));
}

/* ---- a set of inode numbers (open addressing) ---- */

struct inoset {
	uint64_t *slot;	/* 0 = empty; inode 0 is kept in has_zero */
	size_t cap, len;
	int has_zero;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int inoset_has(const struct inoset *s, uint64_t ino)
{
	size_t i;

	if (ino == 0)
		return s->has_zero;
	if (!s->cap)
		return 0;
	for (i = mix(ino) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == ino)
			return 1;
	return 0;
}

/* Adds ino; returns 1 if it was there already. */
static int inoset_add(struct inoset *s, uint64_t ino)
{
	size_t i;

	if (ino == 0) {
		int had = s->has_zero;

		s->has_zero = 1;
		return had;
	}
	if ((s->len + 1) * 2 > s->cap) {
		struct inoset n = { .cap = s->cap ? s->cap * 2 : 1024 };
		size_t j;

		n.slot = calloc(n.cap, sizeof(*n.slot));
		if (!n.slot) {
			perror("union-fsck: calloc");
			exit(2);
		}
		for (j = 0; j < s->cap; j++)
			if (s->slot[j])
				inoset_add(&n, s->slot[j]);
		free(s->slot);
		n.has_zero = s->has_zero;
		*s = n;
	}
	for (i = mix(ino) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == ino)
			return 1;
	s->slot[i] = ino;
	s->len++;
	return 0;
}

static struct inoset lower_inos;	/* every inode number on lower */
static struct inoset origins_seen;	/* origins of upper inodes seen so far */
static struct inoset upper_seen;	/* upper inodes (hard links: checked once) */

/* ---- helpers ---- */

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* A character device 0/N, 1 <= N <= 15: a fallthru; returns N or 0. */
static unsigned int fallthru_type(const struct stat *st)
{
	if (!S_ISCHR(st->st_mode) || major(st->st_rdev) != 0)
		return 0;
	if (minor(st->st_rdev) >= 1 && minor(st->st_rdev) <= 15)
		return minor(st->st_rdev);
	return 0;
}

static const char *dtype_name(unsigned int t)
{
	switch (t) {
	case DT_FIFO: return "DT_FIFO";
	case DT_CHR: return "DT_CHR";
	case DT_DIR: return "DT_DIR";
	case DT_BLK: return "DT_BLK";
	case DT_REG: return "DT_REG";
	case DT_LNK: return "DT_LNK";
	case DT_SOCK: return "DT_SOCK";
	}
	return "no DT_* value";
}

static int valid_dtype(unsigned int t)
{
	return t == DT_FIFO || t == DT_CHR || t == DT_DIR || t == DT_BLK ||
	       t == DT_REG || t == DT_LNK || t == DT_SOCK;
}

static char *join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		perror("union-fsck: asprintf");
		exit(2);
	}
	return p;
}

/*
 * The entry NAME of the lower directory LFD (-1: none): 0 and its stat in *st
 * if it exists and is not a whiteout; -1 otherwise.
 */
static int lower_entry(int lfd, const char *name, struct stat *st)
{
	if (lfd < 0)
		return -1;
	if (fstatat(lfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	return is_whiteout(st) ? -1 : 0;
}

/* ---- the lower walk: every inode number ---- */

static void walk_lower(int dfd, const char *path, dev_t dev)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		io_error(path, "cannot read lower directory");
		close(dfd);
		return;
	}
	while ((errno = 0, e = readdir(d))) {
		struct stat st;
		char *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = join(path, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			io_error(p, "cannot stat lower");
		} else {
			inoset_add(&lower_inos, st.st_ino);
			/* The union holds a clone of the lower mount alone. */
			if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
				int fd = openat(dirfd(d), e->d_name,
						O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

				if (fd < 0)
					io_error(p, "cannot open lower directory");
				else
					walk_lower(fd, p, dev);
			}
		}
		free(p);
	}
	if (errno)
		io_error(path, "cannot read lower directory");
	closedir(d);
}

/* ---- xattrs of an upper object ---- */

static const char *upper_root_path;	/* the UPPER argument */

struct uxattrs {
	int opaque, fallthru, impure;	/* present with value "y" */
	int metacopy;			/* present with value "y" (regular files) */
	int protattr;			/* valid protection flags */
	int is_root;			/* the upper root */
	int has_origin;			/* a valid 8-byte origin */
	uint64_t origin;
	int has_lower_links;		/* a valid 4-byte lowerlinks count */
	uint32_t lower_links;
};

/* Value of a flag xattr: must be exactly "y". */
static int check_flag(const char *path, const char *name, int is_dir,
		      int is_marker)
{
	char buf[64];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));

	if (n < 0 && errno == ERANGE)
		n = snprintf(buf, sizeof(buf), "(over 64 bytes)");
	if (n < 0) {
		io_error(path, "cannot read xattr of");
		return 0;
	}
	if (is_marker) {
		ERR(path, "%s on a whiteout or fallthru marker", name);
		return 0;
	}
	if (!is_dir) {
		ERR(path, "%s on a non-directory (only directories carry it)", name);
		return 0;
	}
	if (n != 1 || buf[0] != 'y') {
		ERR(path, "%s has value \"%.*s\"%s, not \"y\" (the union reads it as unset)",
		    name, (int)(n > 16 ? 16 : n), buf, n > 16 ? "..." : "");
		return 0;
	}
	return 1;
}

static void read_uxattrs(const char *path, const struct stat *st, int is_marker,
			 struct uxattrs *x)
{
	char *list = NULL, *name;
	ssize_t len;
	int is_dir = S_ISDIR(st->st_mode);

	memset(x, 0, sizeof(*x));
	x->is_root = upper_root_path && !strcmp(path, upper_root_path);
	len = llistxattr(path, NULL, 0);
	if (len < 0) {
		if (errno != ENOTSUP)
			io_error(path, "cannot list xattrs of");
		return;
	}
	if (len == 0)
		return;
	list = malloc(len + 1);
	if (!list) {
		perror("union-fsck: malloc");
		exit(2);
	}
	len = llistxattr(path, list, len);
	if (len < 0) {
		io_error(path, "cannot list xattrs of");
		free(list);
		return;
	}
	for (name = list; name < list + len; name += strlen(name) + 1) {
		if (strncmp(name, PFX, strlen(PFX)))
			continue;
		if (!strcmp(name, X_OPAQUE)) {
			x->opaque = check_flag(path, name, is_dir, is_marker);
		} else if (!strcmp(name, X_FALLTHRU)) {
			x->fallthru = check_flag(path, name, is_dir, is_marker);
		} else if (!strcmp(name, X_IMPURE)) {
			x->impure = check_flag(path, name, is_dir, is_marker);
		} else if (!strcmp(name, X_METACOPY)) {
			char v[64];
			ssize_t n = lgetxattr(path, name, v, sizeof(v));

			if (n < 0 && errno == ERANGE)
				n = sizeof(v);
			if (n < 0)
				io_error(path, "cannot read xattr of");
			else if (is_marker)
				ERR(path, "%s on a whiteout or fallthru marker", name);
			else if (!S_ISREG(st->st_mode))
				ERR(path, "%s on a non-regular file (only regular files carry it)",
				    name);
			else if (n != 1 || v[0] != 'y')
				ERR(path, "%s has value \"%.*s\", not \"y\" (the union reads it as unset: the file would read as zeros)",
				    name, (int)(n > 16 ? 16 : n), v);
			else
				x->metacopy = 1;
		} else if (!strcmp(name, X_PROTATTR)) {
			/*
			 * Protection flags (fileattr.rs): "a" (append-only)
			 * and/or "i" (immutable), on a regular file or a
			 * directory, kept here instead of on the upper inode.
			 */
			char v[64];
			ssize_t n = lgetxattr(path, name, v, sizeof(v)), i;

			if (n < 0 && errno == ERANGE)
				n = sizeof(v);
			if (n < 0) {
				io_error(path, "cannot read xattr of");
			} else if (is_marker) {
				ERR(path, "%s on a whiteout or fallthru marker", name);
			} else if (!S_ISREG(st->st_mode) && !is_dir) {
				ERR(path, "%s on a %s (only regular files and directories carry it)",
				    name, dtype_name(IFTODT(st->st_mode)));
			} else {
				for (i = 0; i < n && (v[i] == 'a' || v[i] == 'i'); i++)
					;
				if (n == 0 || i < n)
					ERR(path, "%s has value \"%.*s\", not a set of \"a\" and \"i\" (the union ignores it: the object is not protected)",
					    name, (int)(n > 16 ? 16 : n), v);
				else
					x->protattr = 1;
			}
		} else if (!strcmp(name, X_LOWER)) {
			/* persist.rs: the lower layer's identity, on the root only. */
			char v[256];
			ssize_t n = lgetxattr(path, name, v, sizeof(v));

			if (n < 0 && errno != ERANGE)
				io_error(path, "cannot read xattr of");
			else if (!x->is_root)
				WARN(path, "%s below the upper root (only the root carries it; ignored)", name);
			else if (n < 3 || strncmp(v, "v1 ", 3))
				WARN(path, "%s is not a \"v1 ...\" identity (every mount over any lower layer fails with ESTALE until -o remerge)", name);
		} else if (!strcmp(name, X_ORIGIN)) {
			unsigned char v[16];
			ssize_t n = lgetxattr(path, name, v, sizeof(v));

			if (n < 0 && errno == ERANGE)
				n = sizeof(v);	/* reported as 16 bytes: "not 8" is what matters */
			if (n < 0) {
				io_error(path, "cannot read xattr of");
			} else if (is_marker) {
				ERR(path, "%s on a whiteout or fallthru marker", name);
			} else if (is_dir) {
				ERR(path, "%s on a directory (only non-directories carry it)",
				    name);
			} else if (n != 8) {
				ERR(path, "%s is %zd bytes, not 8 (the union ignores it)",
				    name, n);
			} else {
				int i;

				x->has_origin = 1;
				for (i = 7; i >= 0; i--)
					x->origin = x->origin << 8 | v[i];
			}
		} else if (!strcmp(name, X_LOWERLINKS)) {
			/* An indexed copy: how many lower names still show it. */
			unsigned char v[8];
			ssize_t n = lgetxattr(path, name, v, sizeof(v));

			if (n < 0 && errno == ERANGE)
				n = sizeof(v);
			if (n < 0)
				io_error(path, "cannot read xattr of");
			else if (is_marker || !S_ISREG(st->st_mode))
				ERR(path, "%s on a %s (only regular files carry it)", name,
				    is_marker ? "marker" : dtype_name(IFTODT(st->st_mode)));
			else if (n != 4)
				ERR(path, "%s is %zd bytes, not 4 (the union counts 0 lower names)",
				    name, n);
			else {
				x->has_lower_links = 1;
				x->lower_links = v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24;
			}
		} else {
			WARN(path, "unknown private xattr %s", name);
		}
	}
	free(list);
}

/* ---- the upper walk ---- */

/*
 * Checks the upper directory UFD (its path UPATH) whose union directory is
 * merged with the lower directory LFD (-1: not merged), OPAQUE if its upper
 * part is opaque.  HAS_LOWER_AT_PATH says whether lower has a directory at the
 * same path at all (for the messages).  Takes ownership of UFD and LFD.
 */
static void walk_upper(int ufd, const char *upath, int lfd, int opaque,
		       int lower_dir_at_path, int impure, int is_root, dev_t dev)
{
	DIR *d = fdopendir(ufd);
	struct dirent *e;
	unsigned long fallthrus = 0;

	if (!d) {
		io_error(upath, "cannot read upper directory");
		close(ufd);
		if (lfd >= 0)
			close(lfd);
		return;
	}
	n_dirs++;
	while ((errno = 0, e = readdir(d))) {
		struct stat st, lst;
		struct uxattrs x;
		unsigned int t;
		char *p;
		int marker, has_lower;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (is_root && !strcmp(e->d_name, WORK_DIR))
			continue;	/* checked by check_work_dir() */
		p = join(upath, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			io_error(p, "cannot stat upper");
			free(p);
			continue;
		}
		t = fallthru_type(&st);
		marker = is_whiteout(&st) || t;
		read_uxattrs(p, &st, marker, &x);
		has_lower = lower_entry(lfd, e->d_name, &lst) == 0;

		if (is_whiteout(&st)) {
			n_whiteouts++;
			if (lfd < 0)
				NOTE(p, "whiteout in a directory not merged with lower%s (hides nothing)",
				     lower_dir_at_path ? "" : ", no lower directory here");
			else if (!has_lower)
				NOTE(p, "whiteout with no lower entry to hide");
		} else if (t) {
			n_fallthrus++;
			fallthrus++;
			if (!valid_dtype(t))
				ERR(p, "fallthru 0/%u: %u is not a DT_* value", t, t);
			if (lfd < 0)
				ERR(p, "fallthru in a directory %s",
				    lower_dir_at_path ?
				    "not merged with the lower directory at this path (opaque parent, no directory fallthru xattr)" :
				    "with no lower directory counterpart");
			else if (!has_lower)
				NOTE(p, "fallthru whose lower entry is gone (the name does not exist)");
			else if (valid_dtype(t) && IFTODT(lst.st_mode) != t)
				ERR(p, "fallthru 0/%u (%s) but the lower entry is %s",
				    t, dtype_name(t), dtype_name(IFTODT(lst.st_mode)));
		} else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0) {
			WARN(p, "character device 0/%u: neither a marker (0/0..0/15) nor a real device",
			     minor(st.st_rdev));
		}

		if (!S_ISDIR(st.st_mode)) {
			if (!marker)
				n_files++;
			if (x.has_origin) {
				n_origins++;
				if (!impure)
					ERR(p, "has an origin but its parent directory is not marked %s",
					    X_IMPURE);
				if (!inoset_has(&lower_inos, x.origin))
					ERR(p, "origin %llu: no such inode number on lower",
					    (unsigned long long)x.origin);
				if (!inoset_add(&upper_seen, st.st_ino) &&
				    inoset_add(&origins_seen, x.origin))
					ERR(p, "origin %llu is also the origin of another upper file (same st_ino for two files)",
					    (unsigned long long)x.origin);
			}
			if (x.has_lower_links) {
				/*
				 * An indexed copy (copy_up.rs, copy_up_linked): the copy of
				 * a lower regular file with several links, linked in the
				 * hard-link index under its origin.
				 */
				char iname[32];
				struct stat ist;

				snprintf(iname, sizeof(iname), "%016llx",
					 (unsigned long long)x.origin);
				if (!x.has_origin)
					ERR(p, "%s without an origin (the union cannot find its index entry)",
					    X_LOWERLINKS);
				else if (index_fd < 0 ||
					 fstatat(index_fd, iname, &ist, AT_SYMLINK_NOFOLLOW) ||
					 ist.st_ino != st.st_ino)
					ERR(p, "an indexed copy that is not in the hard-link index as %s/%s/%s (a file of its own: its other lower names show the lower file, the links are broken)",
					     WORK_DIR, INDEX_DIR, iname);
			}
			if (x.metacopy) {
				/*
				 * A metadata-only copy: its data is the lower regular
				 * file of the same name, which must be its origin and
				 * have its size (namei.rs, metacopy_data).  An indexed
				 * one is linked in the index (and, after a crash during
				 * an unlink, at the removed name: a lower name too).
				 */
				n_metacopies++;
				if (!x.has_origin)
					ERR(p, "%s without an origin (the union reads it as a full copy: zeros)",
					    X_METACOPY);
				else if (lfd < 0 || !has_lower)
					ERR(p, "%s but no lower file at this path%s (its data is lost: reads fail with EIO)",
					    X_METACOPY, lfd < 0 ? " (parent not merged)" : "");
				else if (!S_ISREG(lst.st_mode))
					ERR(p, "%s but the lower entry is %s, not a regular file",
					    X_METACOPY, dtype_name(IFTODT(lst.st_mode)));
				else if ((uint64_t)lst.st_ino != x.origin)
					ERR(p, "%s with origin %llu but the lower file here is inode %llu (data lost: reads fail with EIO)",
					    X_METACOPY, (unsigned long long)x.origin,
					    (unsigned long long)lst.st_ino);
				else if (lst.st_size != st.st_size)
					ERR(p, "%s of size %lld but its lower data has %lld bytes",
					    X_METACOPY, (long long)st.st_size,
					    (long long)lst.st_size);
				else if (st.st_nlink != 1 && !x.has_lower_links)
					ERR(p, "%s with %lu links (a metadata-only copy is never linked, except an indexed one)",
					    X_METACOPY, (unsigned long)st.st_nlink);
			}
			free(p);
			continue;
		}

		/* A directory: is it merged with lower (namei.rs lookup rules)? */
		{
			int sub_lfd = -1, sub_lower_dir = has_lower && S_ISDIR(lst.st_mode);
			int fd;

			if (x.fallthru && !sub_lower_dir)
				NOTE(p, "directory fallthru xattr but no lower directory %s",
				     lfd < 0 ? "(parent not merged)" : "at this path");
			if (sub_lower_dir && (!opaque || x.fallthru)) {
				sub_lfd = openat(lfd, e->d_name,
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
				if (sub_lfd < 0)
					io_error(p, "cannot open the lower directory of");
			}
			if (st.st_dev != dev) {
				NOTE(p, "a mount point; not checked below");
				if (sub_lfd >= 0)
					close(sub_lfd);
				free(p);
				continue;
			}
			fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			if (fd < 0) {
				io_error(p, "cannot open upper directory");
				if (sub_lfd >= 0)
					close(sub_lfd);
			} else {
				walk_upper(fd, p, sub_lfd, x.opaque, sub_lower_dir,
					   x.impure, 0, dev);
			}
		}
		free(p);
	}
	if (errno)
		io_error(upath, "cannot read upper directory");
	if (fallthrus && lfd >= 0 && !opaque)
		NOTE(upath, "%lu fallthrus in a directory that is not opaque (an interrupted directory copy-up; the next readdir completes it)",
		     fallthrus);
	closedir(d);
	if (lfd >= 0)
		close(lfd);
}

/*
 * .union-work/index, the hard-link index: an entry per lower regular file with
 * several links that was copied up, named by the lower inode number (16 hex
 * digits), a link of the copy, which has that origin and a lowerlinks count.
 * Kept open (index_fd) for the upper walk, which checks that every indexed copy
 * is in it.
 */
static void check_index_dir(int wfd, const char *p)
{
	DIR *d;
	struct dirent *e;
	int fd = openat(wfd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

	if (fd < 0 || (index_fd = dup(fd)) < 0 || !(d = fdopendir(fd))) {
		io_error(p, "cannot read");
		return;
	}
	while ((errno = 0, e = readdir(d))) {
		unsigned long long ino;
		struct uxattrs x;
		struct stat st;
		char *q, c;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		q = join(p, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			io_error(q, "cannot stat");
		} else if (strlen(e->d_name) != 16 ||
			   sscanf(e->d_name, "%16llx%c", &ino, &c) != 1) {
			ERR(q, "in the hard-link index but not named by an inode number (ignored)");
		} else if (!S_ISREG(st.st_mode)) {
			ERR(q, "a %s in the hard-link index (only regular files; copy-up of that lower file fails with EIO until it is removed)",
			    dtype_name(IFTODT(st.st_mode)));
		} else {
			read_uxattrs(q, &st, 0, &x);
			if (!x.has_origin || x.origin != ino)
				ERR(q, "index entry without the origin %llu its name says (not the union's: copy-up of that lower file fails with EIO until it is removed)",
				    ino);
			else if (!inoset_has(&lower_inos, ino))
				WARN(q, "index entry of inode %llu, which lower does not have (a new lower layer? it is ignored)",
				     ino);
			if (!x.has_lower_links)
				ERR(q, "index entry without %s", X_LOWERLINKS);
			else if (st.st_nlink == 1 && x.lower_links == 0)
				WARN(q, "index entry that no name shows (left by an interrupted unlink; harmless)");
			n_indexed++;
		}
		free(q);
	}
	if (errno)
		io_error(p, "cannot read");
	closedir(d);
}

/*
 * .union-work: a directory, mode 0700, empty when the union is not mounted but for
 * the shared fallthru markers fallthru.1 .. fallthru.15, the shared whiteout and the
 * hard-link index.
 */
static void check_work_dir(int urfd)
{
	struct stat st;
	char *p = join(upper_root, WORK_DIR);
	DIR *d;
	struct dirent *e;
	int fd;

	if (fstatat(urfd, WORK_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			NOTE(p, "no work directory (the union was never mounted here)");
		else
			io_error(p, "cannot stat");
		free(p);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		ERR(p, "the work directory is not a directory (mount fails)");
		free(p);
		return;
	}
	if ((st.st_mode & 07777) != 0700)
		WARN(p, "the work directory has mode %04o, not 0700 (the next read-write mount resets it)",
		     st.st_mode & 07777);
	fd = openat(urfd, WORK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		io_error(p, "cannot read");
		if (fd >= 0)
			close(fd);
		free(p);
		return;
	}
	while ((errno = 0, e = readdir(d))) {
		char *q;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		q = join(p, e->d_name);
		if (!strcmp(e->d_name, INDEX_DIR) && e->d_type == DT_DIR) {
			check_index_dir(dirfd(d), q);
		} else if (mounted) {
			NOTE(q, "in the work directory (the union is mounted: may be in use)");
		} else {
			struct stat est;
			const char *what = " (an interrupted operation; removed at the next mount)";

			/*
			 * The mount removes the non-directories in a leftover
			 * directory, then the directory: one holding a
			 * directory makes the mount fail (ENOTEMPTY).
			 */
			unsigned int t;
			char c;

			/*
			 * fallthru.<t>: the shared fallthru marker of type t that
			 * directory copy-up links its fallthrus to; it stays after
			 * unmount and the next mount removes it.
			 */
			if (sscanf(e->d_name, "fallthru.%u%c", &t, &c) == 1 && t >= 1 && t <= 15 &&
			    fstatat(dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISCHR(est.st_mode) && major(est.st_rdev) == 0 &&
			    minor(est.st_rdev) == t) {
				free(q);
				continue;
			}
			/*
			 * whiteout: the shared whiteout (0/0) that whiteouts are
			 * hard links of; kept and removed like the markers.
			 */
			if (!strcmp(e->d_name, "whiteout") &&
			    fstatat(dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISCHR(est.st_mode) && est.st_rdev == makedev(0, 0)) {
				free(q);
				continue;
			}
			if (fstatat(dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(est.st_mode)) {
				int sfd = openat(dirfd(d), e->d_name,
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
				DIR *sd = sfd < 0 ? NULL : fdopendir(sfd);
				struct dirent *se;

				what = ", a directory (an interrupted operation; removed at the next mount)";
				while (sd && (se = readdir(sd))) {
					if (se->d_type == DT_DIR && strcmp(se->d_name, ".") &&
					    strcmp(se->d_name, "..")) {
						what = ", a directory holding a directory: the mount fails to clean it (ENOTEMPTY)";
						break;
					}
				}
				if (sd)
					closedir(sd);
				else if (sfd >= 0)
					close(sfd);
			}
			ERR(q, "leftover in the work directory%s", what);
		}
		free(q);
	}
	if (errno)
		io_error(p, "cannot read");
	closedir(d);
	free(p);
}

/* Is a union mounted with upper= this directory?  (/proc/self/mounts escapes) */
static int union_mounted_on(const char *upper_real)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (!found && getline(&line, &cap, f) > 0) {
		char src[16], dir[16], type[16];
		char *opts, *o, *q;
		int n = 0;

		if (sscanf(line, "%15s %15s %15s %n", src, dir, type, &n) < 3 ||
		    strcmp(type, "union"))
			continue;
		(void)src; (void)dir;
		/* The options are the 4th field. */
		opts = line;
		for (int i = 0; i < 3 && opts; i++) {
			opts = strchr(opts, ' ');
			if (opts)
				opts++;
		}
		if (!opts)
			continue;
		q = strchr(opts, ' ');
		if (q)
			*q = 0;
		for (o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
			char val[PATH_MAX], *v = val;
			const char *s;

			if (strncmp(o, "upper=", 6))
				continue;
			for (s = o + 6; *s && v < val + sizeof(val) - 1; ) {
				if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' &&
				    s[2] && s[3]) {
					*v++ = (char)strtol((char[]){ s[1], s[2], s[3], 0 }, NULL, 8);
					s += 4;
				} else {
					*v++ = *s++;
				}
			}
			*v = 0;
			if (!strcmp(val, upper_real))
				found = 1;
		}
	}
	free(line);
	fclose(f);
	return found;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: union-fsck [-v] [--strict] [--mounted] [--expect-clean] LOWER UPPER\n"
		"  Checks the upper layer UPPER of a union against its lower layer LOWER.\n"
		"  -v          also print notes (harmless redundancy) and a summary\n"
		"  --strict    notes count as problems too\n"
		"  --mounted   the union may be mounted: work-directory entries are notes\n"
		"              (detected from /proc/self/mounts anyway)\n"
		"  --expect-clean  the default: exit 1 on any error or warning\n"
		"  exit: 0 clean, 1 problems found, 2 usage or I/O error\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "strict", no_argument, NULL, 's' },
		{ "mounted", no_argument, NULL, 'm' },
		{ "expect-clean", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct stat lst, ust;
	struct uxattrs x;
	char real[PATH_MAX];
	unsigned long problems;
	int c, lfd, ufd;

	while ((c = getopt_long(argc, argv, "vsmh", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verbose = 1; break;
		case 's': strict = 1; break;
		case 'm': mounted = 1; break;
		case 'c': break;
		default: usage();
		}
	}
	if (argc - optind != 2)
		usage();
	lower_root = argv[optind];
	upper_root = argv[optind + 1];
	setvbuf(stdout, NULL, _IOLBF, 0);

	lfd = open(lower_root, O_RDONLY | O_DIRECTORY);
	if (lfd < 0 || fstat(lfd, &lst) < 0) {
		fprintf(stderr, "union-fsck: %s: %s\n", lower_root, strerror(errno));
		return 2;
	}
	ufd = open(upper_root, O_RDONLY | O_DIRECTORY);
	if (ufd < 0 || fstat(ufd, &ust) < 0) {
		fprintf(stderr, "union-fsck: %s: %s\n", upper_root, strerror(errno));
		return 2;
	}
	if (realpath(upper_root, real) && union_mounted_on(real)) {
		mounted = 1;
		if (verbose)
			printf("union-fsck: a union is mounted on this upper layer\n");
	}

	walk_lower(dup(lfd), lower_root, lst.st_dev);
	inoset_add(&lower_inos, lst.st_ino);

	upper_root_path = upper_root;
	read_uxattrs(upper_root, &ust, 0, &x);
	if (x.fallthru)
		NOTE(upper_root, "directory fallthru xattr on the upper root (meaningless)");
	check_work_dir(ufd);
	walk_upper(ufd, upper_root, lfd, x.opaque, 1, x.impure, 1, ust.st_dev);

	problems = n_err + n_warn + (strict ? n_note : 0);
	if (verbose)
		printf("union-fsck: %lu directories, %lu other objects, %lu whiteouts, %lu fallthrus, %lu origins, %lu metadata-only copies on upper; %zu lower inodes\n",
		       n_dirs, n_files, n_whiteouts, n_fallthrus, n_origins, n_metacopies,
		       lower_inos.len + lower_inos.has_zero);
	if (problems || verbose || n_io)
		printf("union-fsck: %lu problem%s (%lu errors, %lu warnings), %lu notes%s\n",
		       problems, problems == 1 ? "" : "s", n_err, n_warn, n_note,
		       n_io ? ", I/O errors" : "");
	if (n_io)
		return 2;
	return problems ? 1 : 0;
}
