// SPDX-License-Identifier: GPL-2.0
/*
 * The merged view of the "union" filesystem.
 *
 * Each test builds a lower and an upper layer by hand in the on-disk format
 * of Documentation/filesystems/union.rst (whiteouts are 0/0 character
 * devices, fallthrus 0/d_type character devices, opaque directories and
 * directory fallthrus carry trusted.union.{opaque,fallthru} = "y"), mounts a
 * union over them and checks what the union shows: lookup precedence,
 * whiteouts, merged and opaque directories, fallthrus, exact readdir
 * listings, d_type, st_dev/st_ino/d_ino, stat fields, file data through
 * read/pread/readv/mmap/sendfile/splice/lseek, symlinks, special files,
 * xattrs, statfs and the reserved work directory name.
 *
 * The union is read-write, but these tests only read through it (changes are
 * tested in namespace.c and copy_up.c).  The one write a reader causes is the
 * directory copy-up of the first readdir of a directory with a lower part
 * (fallthrus, directory fallthru markers and the opaque flag on upper); the
 * last tests check that it changes nothing in the view, that it is the only
 * change on upper, that lower is never written, and that other reads change
 * nothing on either layer.
 *
 * The lower and upper layers live on two separate tmpfs instances (so that
 * st_dev and statfs can tell them apart), inside a private tmpfs work
 * directory. Must run as root with union.ko loaded. Each test works in its
 * own mount namespace and unmounts everything it mounted.
 */
#include "union_test.h"

#include <limits.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/xattr.h>

#define UNION_MAGIC	0x554e494fL
#define LOWER_INO_BIT	(1ULL << 63)
#define PRIVATE_PREFIX	"trusted.union."
#define OPAQUE_XATTR	"trusted.union.opaque"
#define FALLTHRU_XATTR	"trusted.union.fallthru"

#define MAX_LOGGED	20	/* problems logged in detail per check */

/* ---- paths ---- */

/* snprintf() that aborts the test process on truncation. */
#define fmt(buf, size, ...) do {					\
	if (!fmt_fits(buf, size, __VA_ARGS__))				\
		abort();						\
} while (0)

/* ---- building layers (each asserts success) ---- */

static void mk_dir(struct __test_metadata *_metadata, const char *path)
{
	int r = mkdir(path, 0755) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("mkdir %s: %s", path, strerror(-r));
}

static void mk_file(struct __test_metadata *_metadata, const char *path,
		    const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;
	int fd;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0) TH_LOG("create %s: %s", path, strerror(errno));
	while (len) {
		n = write(fd, p, len);
		ASSERT_GT(n, 0) TH_LOG("write %s: %s", path, strerror(errno));
		p += n;
		len -= n;
	}
	ASSERT_EQ(0, close(fd));
}

static void mk_str(struct __test_metadata *_metadata, const char *path,
		   const char *s)
{
	mk_file(_metadata, path, s, strlen(s));
}

static void mk_node(struct __test_metadata *_metadata, const char *path,
		    mode_t mode, dev_t dev)
{
	int r = mknod(path, mode, dev) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("mknod %s: %s", path, strerror(-r));
}

static void mk_symlink(struct __test_metadata *_metadata, const char *target,
		       const char *path)
{
	int r = symlink(target, path) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("symlink %s: %s", path, strerror(-r));
}

static void mk_xattr(struct __test_metadata *_metadata, const char *path,
		     const char *name, const char *value)
{
	int r = lsetxattr(path, name, value, strlen(value), 0) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("setxattr %s %s: %s", path, name, strerror(-r));
}

static void mk_sock(struct __test_metadata *_metadata, const char *path)
{
	int r = new_sock(path) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("bind %s: %s", path, strerror(-r));
}

#define MKDIR(p)		mk_dir(_metadata, p)
#define MKFILE(p, s)		mk_str(_metadata, p, s)
#define MKSYM(target, p)	mk_symlink(_metadata, target, p)
#define MKFIFO(p)		mk_node(_metadata, p, S_IFIFO | 0644, 0)
#define MKCHR(p, ma, mi)	mk_node(_metadata, p, S_IFCHR | 0644, makedev(ma, mi))
#define MKBLK(p, ma, mi)	mk_node(_metadata, p, S_IFBLK | 0644, makedev(ma, mi))
#define MKSOCK(p)		mk_sock(_metadata, p)
/* Upper-layer format. */
#define WHITEOUT(p)		mk_node(_metadata, p, S_IFCHR, makedev(0, 0))
#define FALLTHRU(p, dtype)	mk_node(_metadata, p, S_IFCHR, makedev(0, dtype))
#define OPAQUE(p)		mk_xattr(_metadata, p, OPAQUE_XATTR, "y")
#define DIR_FALLTHRU(p)		mk_xattr(_metadata, p, FALLTHRU_XATTR, "y")
#define XATTR(p, n, v)		mk_xattr(_metadata, p, n, v)

/* Deterministic pseudo-random bytes. */
static void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = x >> 24;
	}
}

/* ---- fixture ---- */

FIXTURE(view) {
	struct union_layers l;	/* lower and upper on tmpfs instances of their own */
	char scratch[PATH_LEN];	/* a file outside the union */
};

FIXTURE_SETUP(view)
{
	/* Different sizes, so that statfs tells the layers apart. */
	union_layers_setup(_metadata, &self->l, &(struct union_layers_cfg){
		.name = "view", .propagation = MS_SLAVE, .base_fs = "mode=0755",
		.lower_fs = "mode=0755,size=384m,nr_inodes=40000",
		.upper_fs = "mode=0755,size=192m,nr_inodes=20000" });
	fmt(self->scratch, PATH_LEN, "%s/scratch", self->l.base);
}

FIXTURE_TEARDOWN(view)
{
	union_layers_teardown(&self->l);
}

#define MOUNT()		union_mount_ok(_metadata, &self->l)
#define UMOUNT()	union_umount_ok(_metadata, &self->l)

/* ---- stat helpers ---- */

static struct stat lstat_ok(struct __test_metadata *_metadata,
			    const char *path)
{
	struct stat st;
	int r = lstat(path, &st) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("lstat %s: %s", path, strerror(-r));
	return st;
}

#define LSTAT(p)	lstat_ok(_metadata, p)
/* Union inode number of an object with a lower part, from its lower path. */
#define LINO(p)		((uint64_t)LSTAT(p).st_ino | LOWER_INO_BIT)
/* Inode number of a path as is (upper-only objects, union paths). */
#define INO(p)		((uint64_t)LSTAT(p).st_ino)

/* errno of lstat(@path), 0 if it exists. */
static int lstat_errno(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? errno : 0;
}

/* errno of open(@path, O_RDONLY), 0 if it opens. */
static int open_errno(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Neither lstat() nor open() finds @p. */
static void expect_enoent(struct __test_metadata *_metadata, const char *p)
{
	int e = lstat_errno(p);

	EXPECT_EQ(ENOENT, e)
		TH_LOG("lstat %s: %s, want ENOENT", p, e ? strerror(e) : "exists");
	e = open_errno(p);
	EXPECT_EQ(ENOENT, e)
		TH_LOG("open %s: %s, want ENOENT", p, e ? strerror(e) : "opened");
}

#define EXPECT_ENOENT(p)	expect_enoent(_metadata, p)

/* expect_enoent() of each of the NULL-terminated @names below @root. */
static void expect_all_enoent(struct __test_metadata *_metadata,
			      const char *dir, const char *const *names)
{
	char root[PATH_LEN];

	snprintf(root, sizeof(root), "%s", dir);
	for (; *names; names++)
		expect_enoent(_metadata, jp(root, *names));
}

#define EXPECT_ABSENT(root, ...) expect_all_enoent(_metadata, root,	\
		(const char *const []){ __VA_ARGS__, NULL })

#define EXPECT_INO(want, p) do {					\
	const char *__p = (p);						\
	uint64_t __want = (want), __got = INO(__p);			\
	EXPECT_EQ(__want, __got)					\
		TH_LOG("st_ino of %s: %#llx, want %#llx", __p,		\
		       (unsigned long long)__got,			\
		       (unsigned long long)__want);			\
} while (0)

#define EXPECT_TYPE(fmt, p) do {					\
	const char *__p = (p);						\
	mode_t __m = LSTAT(__p).st_mode;				\
	EXPECT_EQ((mode_t)(fmt), __m & S_IFMT)				\
		TH_LOG("%s: mode %o", __p, __m);			\
} while (0)

/* ---- file data ---- */

/* Whole file read with read(2) in @chunk sized pieces; NULL + errno on error. */
static unsigned char *read_file(const char *path, size_t chunk, size_t *len)
{
	unsigned char *buf = NULL, *nbuf;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - n < chunk + 1) {
			cap = (cap + chunk + 1) * 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = ENOMEM;
				goto fail;
			}
			buf = nbuf;
		}
		r = read(fd, buf + n, chunk);
		if (r < 0) {
			err = errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	errno = err;
	return NULL;
}

static void expect_bytes(struct __test_metadata *_metadata, const char *what,
			 const void *want, size_t want_len,
			 const void *got, size_t got_len)
{
	const unsigned char *w = want, *g = got;
	size_t i, n = want_len < got_len ? want_len : got_len;

	EXPECT_EQ(want_len, got_len) TH_LOG("%s: length", what);
	for (i = 0; i < n; i++)
		if (w[i] != g[i])
			break;
	EXPECT_EQ(n, i)
		TH_LOG("%s: first difference at byte %zu: %#x, want %#x",
		       what, i, g[i], w[i]);
}

static void expect_content(struct __test_metadata *_metadata,
			   const char *path, const char *want)
{
	size_t len;
	unsigned char *got = read_file(path, 4096, &len);
	int err = errno;

	EXPECT_NE(NULL, got) TH_LOG("read %s: %s", path, strerror(err));
	if (!got)
		return;
	EXPECT_TRUE(len == strlen(want) && !memcmp(want, got, len))
		TH_LOG("%s: read '%.*s', want '%s'", path, (int)len, got, want);
	free(got);
}

#define EXPECT_CONTENT(p, s)	expect_content(_metadata, p, s)

/* ---- directory listings ---- */

struct dent {
	char name[256];
	uint64_t ino;
	unsigned char type;
};

struct listing {
	struct dent *e;
	size_t n;
};

struct ldirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

/*
 * All entries of the open directory @fd from its current position, with
 * getdents64 and a small buffer (many calls for big directories), sorted by
 * name (duplicates kept). 0 or -errno.
 */
static int list_fd(int fd, struct listing *ls)
{
	char buf[4096] __attribute__((aligned(8)));
	size_t cap = 0;
	long n, off;

	ls->e = NULL;
	ls->n = 0;
	for (;;) {
		n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n < 0) {
			int err = errno;

			free(ls->e);
			ls->e = NULL;
			return -err;
		}
		if (n == 0)
			break;
		for (off = 0; off < n;) {
			struct ldirent64 *d = (void *)(buf + off);
			struct dent *e;

			if (ls->n == cap) {
				cap = cap ? 2 * cap : 64;
				e = realloc(ls->e, cap * sizeof(*e));
				if (!e) {
					free(ls->e);
					ls->e = NULL;
					return -ENOMEM;
				}
				ls->e = e;
			}
			e = &ls->e[ls->n++];
			fmt(e->name, sizeof(e->name), "%s", d->d_name);
			e->ino = d->d_ino;
			e->type = d->d_type;
			off += d->d_reclen;
		}
	}
	if (ls->n)
		qsort(ls->e, ls->n, sizeof(*ls->e), dent_cmp);
	return 0;
}

static void list_ok(struct __test_metadata *_metadata, const char *path,
		    struct listing *ls)
{
	int r = WITH_FD(fd, path, O_RDONLY | O_DIRECTORY, list_fd(fd, ls));

	ASSERT_EQ(0, r) TH_LOG("readdir %s: %s", path, strerror(-r));
}

/* The (first) entry @name of a sorted listing, or NULL. */
static const struct dent *find_dent(const struct listing *ls, const char *name)
{
	struct dent key;

	fmt(key.name, sizeof(key.name), "%s", name);
	return ls->n ? bsearch(&key, ls->e, ls->n, sizeof(*ls->e), dent_cmp)
		     : NULL;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The listing of the sorted names @ls must be exactly @want (any order, no
 * "." and ".."), plus "." and "..", each exactly once.
 */
static void expect_names(struct __test_metadata *_metadata, const char *path,
			 const struct listing *ls,
			 const char *const *want, size_t nwant)
{
	const char **w = malloc((nwant + 2) * sizeof(*w));
	size_t nw = nwant + 2, i = 0, j = 0;
	int problems = 0;

	ASSERT_NE(NULL, w);
	w[0] = ".";
	w[1] = "..";
	if (nwant)
		memcpy(w + 2, want, nwant * sizeof(*w));
	qsort(w, nw, sizeof(*w), str_cmp);
	while (i < ls->n || j < nw) {
		int c = i == ls->n ? 1 : j == nw ? -1 :
			strcmp(ls->e[i].name, w[j]);

		if (c == 0) {
			i++;
			j++;
			while (i < ls->n && !strcmp(ls->e[i].name, w[j - 1])) {
				if (problems++ < MAX_LOGGED)
					TH_LOG("%s: '%s' listed more than once",
					       path, w[j - 1]);
				i++;
			}
		} else if (c < 0) {
			if (problems++ < MAX_LOGGED)
				TH_LOG("%s: unexpected entry '%s' (d_type %u)",
				       path, ls->e[i].name, ls->e[i].type);
			i++;
		} else {
			if (problems++ < MAX_LOGGED)
				TH_LOG("%s: missing entry '%s'", path, w[j]);
			j++;
		}
	}
	EXPECT_EQ(0, problems)
		TH_LOG("%s: %zu entries listed, %zu expected", path, ls->n, nw);
	free(w);
}

static void check_names(struct __test_metadata *_metadata, const char *path,
			const char *const *want, size_t nwant)
{
	struct listing ls;

	list_ok(_metadata, path, &ls);
	expect_names(_metadata, path, &ls, want, nwant);
	free(ls.e);
}

#define NAMES(...) ((const char *const []){ __VA_ARGS__ }),		\
	(sizeof((const char *const []){ __VA_ARGS__ }) / sizeof(const char *))
#define CHECK_LIST(path, ...)	check_names(_metadata, path, NAMES(__VA_ARGS__))
#define CHECK_EMPTY(path)	check_names(_metadata, path, NULL, 0)

/* The entry @name of directory @dir must be listed once with d_type @type. */
static void expect_dtype(struct __test_metadata *_metadata, const char *dir,
			 const char *name, unsigned char type)
{
	const struct dent *d;
	struct listing ls;

	list_ok(_metadata, dir, &ls);
	d = find_dent(&ls, name);
	EXPECT_NE(NULL, d) TH_LOG("%s: '%s' not listed", dir, name);
	if (d)
		EXPECT_EQ(type, d->type)
			TH_LOG("%s/%s: d_type %u, want %u", dir, name,
			       d->type, type);
	free(ls.e);
}

#define EXPECT_DTYPE(dir, name, type)	expect_dtype(_metadata, dir, name, type)

/*
 * Walk the union from @path: every directory lists "." and ".." and every
 * other name once; for every entry st_dev is @dev, d_ino == st_ino,
 * d_type == the type from lstat, no 0/x character device (whiteout or
 * fallthru marker) is visible; "." has the directory's st_ino and ".." the
 * parent's (unknown for the root). With @out, prints "relpath ino type" for
 * every object, in a stable order.
 */
struct walk {
	struct __test_metadata *md;
	dev_t dev;
	int problems;
	size_t objects;
	FILE *out;
};

static void walk_problem(struct walk *w, const char *fmt, ...)
{
	struct __test_metadata *_metadata = w->md;
	char msg[PATH_LEN * 2];
	va_list ap;

	if (w->problems++ >= MAX_LOGGED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	TH_LOG("%s", msg);
}

static void walk_dir(struct walk *w, const char *path, const char *rel,
		     uint64_t dir_ino, uint64_t parent_ino)
{
	int dots = 0, dotdots = 0, r;
	struct listing ls;
	size_t i;

	r = WITH_FD(fd, path, O_RDONLY | O_DIRECTORY, list_fd(fd, &ls));
	if (r) {
		walk_problem(w, "readdir %s: %s", path, strerror(-r));
		return;
	}
	for (i = 0; i < ls.n; i++) {
		const struct dent *d = &ls.e[i];
		char cpath[PATH_LEN], crel[PATH_LEN];
		struct stat st;

		if (i && !strcmp(d->name, ls.e[i - 1].name))
			walk_problem(w, "%s: '%s' listed twice", path, d->name);
		if (!strcmp(d->name, ".")) {
			dots++;
			if (d->ino != dir_ino)
				walk_problem(w, "%s/.: d_ino %#llx, st_ino %#llx",
					     path, (unsigned long long)d->ino,
					     (unsigned long long)dir_ino);
			continue;
		}
		if (!strcmp(d->name, "..")) {
			dotdots++;
			if (parent_ino && d->ino != parent_ino)
				walk_problem(w, "%s/..: d_ino %#llx, parent st_ino %#llx",
					     path, (unsigned long long)d->ino,
					     (unsigned long long)parent_ino);
			continue;
		}
		fmt(cpath, sizeof(cpath), "%s/%s", path, d->name);
		fmt(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "",
			 d->name);
		if (lstat(cpath, &st)) {
			walk_problem(w, "%s is listed but lstat fails: %s",
				     cpath, strerror(errno));
			continue;
		}
		w->objects++;
		if (w->out)
			fprintf(w->out, "%s ino=%#llx type=%u\n", crel,
				(unsigned long long)st.st_ino, d->type);
		if (st.st_dev != w->dev)
			walk_problem(w, "%s: st_dev %u:%u, union root has %u:%u",
				     cpath, major(st.st_dev), minor(st.st_dev),
				     major(w->dev), minor(w->dev));
		if (d->ino != (uint64_t)st.st_ino)
			walk_problem(w, "%s: d_ino %#llx, st_ino %#llx", cpath,
				     (unsigned long long)d->ino,
				     (unsigned long long)st.st_ino);
		if (d->type != IFTODT(st.st_mode))
			walk_problem(w, "%s: d_type %u, lstat mode %o", cpath,
				     d->type, st.st_mode);
		if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0)
			walk_problem(w, "%s: union shows a 0/%u char device",
				     cpath, minor(st.st_rdev));
		if (S_ISDIR(st.st_mode))
			walk_dir(w, cpath, crel, st.st_ino, dir_ino);
	}
	if (dots != 1 || dotdots != 1)
		walk_problem(w, "%s: '.' listed %d times, '..' %d times", path,
			     dots, dotdots);
	free(ls.e);
}

/* Walk the union at @mnt (see walk_dir()); returns the number of objects. */
static size_t check_tree(struct __test_metadata *_metadata, const char *mnt,
			 FILE *out)
{
	struct walk w = { .md = _metadata, .out = out };
	struct stat root = lstat_ok(_metadata, mnt);

	w.dev = root.st_dev;
	walk_dir(&w, mnt, "", root.st_ino, 0);
	EXPECT_EQ(0, w.problems) TH_LOG("%d problems in the union", w.problems);
	return w.objects;
}

/* check_tree() of the union, its report as a string (to free()). */
static char *tree_snapshot(struct __test_metadata *_metadata,
			   FIXTURE_DATA(view) *self)
{
	char *snap = NULL;
	size_t len;
	FILE *f = open_memstream(&snap, &len);

	ASSERT_NE(NULL, f);
	check_tree(_metadata, self->l.mnt, f);
	fclose(f);
	return snap;
}

/* ---- snapshots of a directory tree, to detect any change ---- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void snap_xattrs(FILE *f, const char *path)
{
	char list[4096], value[4096], *names[64], *p;
	ssize_t len, vlen;
	int n = 0, i, j;

	len = llistxattr(path, list, sizeof(list));
	if (len < 0) {
		fprintf(f, " listxattr-error=%d", errno);
		return;
	}
	for (p = list; p < list + len && n < 64; p += strlen(p) + 1)
		names[n++] = p;
	qsort(names, n, sizeof(*names), str_cmp);
	for (i = 0; i < n; i++) {
		vlen = lgetxattr(path, names[i], value, sizeof(value));
		fprintf(f, " %s=", names[i]);
		if (vlen < 0)
			fprintf(f, "<error %d>", errno);
		for (j = 0; j < vlen; j++)
			fprintf(f, "%02x", (unsigned char)value[j]);
	}
}

/*
 * Whether @rel (relative to the upper root) is a shared fallthru marker (the
 * character device 0/t named fallthru.<t> in the work directory that directory
 * copy-up links its fallthrus to) or the shared whiteout (0/0 named whiteout,
 * which whiteouts are links of).
 */
static bool is_shared_marker(const char *rel, const struct stat *st)
{
	unsigned int t;
	char c;

	if (!strcmp(rel, ".union-work/whiteout"))
		t = 0;
	else if (sscanf(rel, ".union-work/fallthru.%u%c", &t, &c) != 1)
		return false;
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, t);
}

/*
 * One line per object under @root: type, mode, owner, size, device, link
 * count, inode, mtime, ctime, symlink target, data checksum, xattrs.  For the
 * format's markers (character devices 0/0..0/15) the link count and ctime are
 * left out: fallthrus are hard links of a shared marker, so both change when
 * another directory is copied up or the mount cleans the work directory.
 */
static void snap_tree(FILE *f, const char *root, const char *rel)
{
	char path[PATH_LEN], target[PATH_LEN];
	struct dirent **names;
	struct stat st;
	int n, i;

	fmt(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	if (lstat(path, &st)) {
		fprintf(f, "/%s lstat-error=%d\n", rel, errno);
		return;
	}
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) <= 15)
		fprintf(f, "/%s mode=%o uid=%u gid=%u size=%lld rdev=%u:%u ino=%llu mtime=%lld.%09ld",
			rel, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
			major(st.st_rdev), minor(st.st_rdev), (unsigned long long)st.st_ino,
			(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	else
		fprintf(f, "/%s mode=%o uid=%u gid=%u size=%lld rdev=%u:%u nlink=%lu ino=%llu mtime=%lld.%09ld ctime=%lld.%09ld",
			rel, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
			major(st.st_rdev), minor(st.st_rdev),
			(unsigned long)st.st_nlink, (unsigned long long)st.st_ino,
			(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			(long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	if (S_ISLNK(st.st_mode)) {
		ssize_t len = readlink(path, target, sizeof(target) - 1);

		fprintf(f, " -> %.*s", (int)(len < 0 ? 0 : len), target);
	}
	if (S_ISREG(st.st_mode)) {
		uint64_t h = 0xcbf29ce484222325ULL;
		char buf[65536];
		ssize_t len;
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		while (fd >= 0 && (len = read(fd, buf, sizeof(buf))) > 0)
			h = fnv1a(h, buf, len);
		if (fd >= 0)
			close(fd);
		fprintf(f, " data=%016llx%s", (unsigned long long)h,
			fd < 0 ? "(open failed)" : "");
	}
	snap_xattrs(f, path);
	fputc('\n', f);
	if (!S_ISDIR(st.st_mode))
		return;
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(f, "/%s scandir-error=%d\n", rel, errno);
		return;
	}
	for (i = 0; i < n; i++) {
		char crel[PATH_LEN];

		if (strcmp(names[i]->d_name, ".") &&
		    strcmp(names[i]->d_name, "..")) {
			fmt(crel, sizeof(crel), "%s%s%s", rel,
				 *rel ? "/" : "", names[i]->d_name);
			snap_tree(f, root, crel);
		}
		free(names[i]);
	}
	free(names);
}

static char *snapshot(struct __test_metadata *_metadata, const char *root)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_NE(NULL, f);
	snap_tree(f, root, "");
	ASSERT_EQ(0, fclose(f));
	return buf;
}

/* Report the first line that differs between two snapshots. */
static void expect_same_snapshot(struct __test_metadata *_metadata,
				 const char *what, const char *before,
				 const char *after)
{
	const char *a = before, *b = after;

	if (!strcmp(before, after))
		return;
	for (;;) {
		const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');

		if (ea - a != eb - b || memcmp(a, b, ea - a)) {
			TH_LOG("%s changed; first difference:\n#   before: %.*s\n#   after:  %.*s",
			       what, (int)(ea - a), a, (int)(eb - b), b);
			break;
		}
		if (!*ea || !*eb)
			break;
		a = ea + 1;
		b = eb + 1;
	}
	EXPECT_STREQ("", "<snapshot differs>") TH_LOG("%s changed", what);
}

/* ---- precedence ---- */

TEST_F(view, upper_file_covers_lower_file)
{
	TREE(L(""), "f=lower version\n", "other=o");
	TREE(U(""), "f=upper\n");
	MOUNT();

	EXPECT_CONTENT(M("f"), "upper\n");
	EXPECT_EQ(6, LSTAT(M("f")).st_size);
	EXPECT_INO(INO(U("f")), M("f"));
	CHECK_LIST(M(""), "f", "other");
	EXPECT_DTYPE(M(""), "f", DT_REG);
}

/*
 * File @f (holding @fdata), directory @d and file @d/@x (holding @xdata) of
 * one layer (the lower one if @lower) show through the union: contents,
 * inode numbers (with the lower bit for lower objects), @d's listing.
 */
static void expect_shown_from(struct __test_metadata *_metadata,
			      FIXTURE_DATA(view) *self, bool lower,
			      const char *f, const char *fdata, const char *d,
			      const char *x, const char *xdata)
{
	const char *layer = lower ? self->l.lower : self->l.upper;
	const char *paths[] = { f, d, jp(d, x) };
	unsigned int i;

	EXPECT_CONTENT(M(f), fdata);
	EXPECT_CONTENT(M(paths[2]), xdata);
	for (i = 0; i < 3; i++)
		EXPECT_INO(INO(jp(layer, paths[i])) | (lower ? LOWER_INO_BIT : 0),
			   M(paths[i]));
	CHECK_LIST(M(d), x);
}

TEST_F(view, lower_only_visible)
{
	TREE(L(""), "lo=lower only\n", "ld/", "ld/x=deep lower\n");
	MOUNT();

	expect_shown_from(_metadata, self, true, "lo", "lower only\n", "ld", "x",
			  "deep lower\n");
	CHECK_LIST(M(""), "lo", "ld");
}

TEST_F(view, upper_only_visible)
{
	TREE(U(""), "uo=upper only\n", "ud/", "ud/y=deep upper\n");
	TREE(L(""), "lo=l");
	MOUNT();

	expect_shown_from(_metadata, self, false, "uo", "upper only\n", "ud", "y",
			  "deep upper\n");
	CHECK_LIST(M(""), "uo", "ud", "lo");
}

/* ---- whiteouts ---- */

TEST_F(view, whiteout_hides_lower_file)
{
	TREE(L(""), "gone=hidden", "kept=kept");
	TREE(U(""), "gone:wh");
	MOUNT();

	EXPECT_ENOENT(M("gone"));
	CHECK_LIST(M(""), "kept");
	/* A cached negative dentry must not change the listing. */
	EXPECT_ENOENT(M("gone"));
	CHECK_LIST(M(""), "kept");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, whiteout_hides_lower_dir)
{
	TREE(L(""), "d/", "d/x=x", "d/sub/", "d/sub/y=y", "e/");
	TREE(U(""), "d:wh");
	MOUNT();

	EXPECT_ABSENT(M(""), "d", "d/x", "d/sub/y");
	CHECK_LIST(M(""), "e");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, whiteout_itself_invisible)
{
	/* Whiteouts with no lower entry, in merged and upper-only dirs. */
	TREE(L(""), "m/");
	TREE(U(""), "m/", "ud/", "ghost:wh", "m/ghost:wh", "ud/ghost:wh",
	     "ud/real=r");
	MOUNT();

	EXPECT_ABSENT(M(""), "ghost", "m/ghost", "ud/ghost");
	CHECK_LIST(M(""), "m", "ud");
	CHECK_EMPTY(M("m"));
	CHECK_LIST(M("ud"), "real");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, lower_whiteout_hidden)
{
	TREE(L(""), "ld/", "md/", "w:wh", "ld/w:wh", "md/w:wh", "ld/f=f");
	TREE(U(""), "md/", "md/g=g");
	MOUNT();

	EXPECT_ABSENT(M(""), "w", "ld/w", "md/w");
	CHECK_LIST(M(""), "ld", "md");
	CHECK_LIST(M("ld"), "f");
	CHECK_LIST(M("md"), "g");
	check_tree(_metadata, self->l.mnt, NULL);
}

/* ---- merged directories ---- */

TEST_F(view, merged_dir_union_of_entries)
{
	TREE(L(""), "d/", "d/a=lower a", "d/b=lower b", "d/both=lower both",
	     "rl=");
	TREE(U(""), "d/", "d/c=upper c", "d/both=upper both", "ru=");
	MOUNT();

	CHECK_LIST(M(""), "d", "rl", "ru");
	CHECK_LIST(M("d"), "a", "b", "c", "both");
	EXPECT_CONTENTS(M(""), "d/a=lower a", "d/b=lower b", "d/c=upper c",
	                "d/both=upper both");
	EXPECT_INO(LINO(L("d")), M("d"));
	EXPECT_INO(LINO(L("")), M(""));
	check_tree(_metadata, self->l.mnt, NULL);
}

static const char *const deep_dirs[] = { "a", "a/b", "a/b/c", "a/b/c/d" };

/* a/b/c/d on both layers, each level with a file from each layer. */
static void build_deep(struct __test_metadata *_metadata,
		       FIXTURE_DATA(view) *self)
{
	char name[PATH_LEN];
	int i;

	for (i = 0; i < 4; i++) {
		MKDIR(L(deep_dirs[i]));
		MKDIR(U(deep_dirs[i]));
		fmt(name, sizeof(name), "%s/lower%d", deep_dirs[i], i);
		MKFILE(L(name), "lower");
		fmt(name, sizeof(name), "%s/upper%d", deep_dirs[i], i);
		MKFILE(U(name), "upper");
	}
}

TEST_F(view, merged_deep_path)
{
	char l[32], u[32];
	int i;

	build_deep(_metadata, self);
	MOUNT();

	for (i = 0; i < 4; i++) {
		fmt(l, sizeof(l), "lower%d", i);
		fmt(u, sizeof(u), "upper%d", i);
		if (i < 3)
			CHECK_LIST(M(deep_dirs[i]), l, u, &deep_dirs[i + 1][2 * i + 2]);
		else
			CHECK_LIST(M(deep_dirs[i]), l, u);
		EXPECT_INO(LINO(L(deep_dirs[i])), M(deep_dirs[i]));
		EXPECT_EQ(1, LSTAT(M(deep_dirs[i])).st_nlink);
	}
	EXPECT_CONTENTS(M(""), "a/b/c/d/lower3=lower", "a/b/c/d/upper3=upper",
	                "a/b/lower1=lower");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, dotdot_of_subdirs)
{
	const struct dent *d;
	struct listing ls;

	build_deep(_metadata, self);
	TREE(L(""), "lo/", "lo/sub/");
	TREE(U(""), "uo/", "uo/sub/");
	MOUNT();

	EXPECT_INO(INO(M("")), M("a/.."));
	EXPECT_EQ(LSTAT(M("")).st_dev, LSTAT(M("a/..")).st_dev);
	EXPECT_INO(INO(M("a")), M("a/b/.."));
	EXPECT_INO(INO(M("a/b/c")), M("a/b/c/d/.."));
	EXPECT_INO(INO(M("a")), M("a/b/c/d/../../.."));
	EXPECT_INO(INO(M("lo")), M("lo/sub/.."));
	EXPECT_INO(INO(M("uo")), M("uo/sub/.."));
	EXPECT_CONTENT(M("a/b/../b/c/d/../../lower1"), "lower");
	EXPECT_CONTENT(M("a/b/c/d/../../../upper0"), "upper");

	/* ".." as listed by readdir. */
	list_ok(_metadata, M("a/b"), &ls);
	d = find_dent(&ls, "..");
	ASSERT_NE(NULL, d);
	EXPECT_EQ(INO(M("a")), d->ino);
	free(ls.e);

	/* From an fd of the subdirectory, as a shell's "cd .." does. */
	{
		int fd = open(M("a/b/c"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat st;

		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, fstatat(fd, "..", &st, AT_SYMLINK_NOFOLLOW));
		EXPECT_EQ(INO(M("a/b")), (uint64_t)st.st_ino);
		close(fd);
	}
}

/* ---- opaque directories and fallthrus ---- */

TEST_F(view, opaque_dir_hides_lower)
{
	TREE(L(""), "d/", "d/a=a", "d/b=b", "d/sub/", "d/sub/x=x");
	TREE(U(""), "d/", "d@opaque", "d/c=c");
	MOUNT();

	CHECK_LIST(M("d"), "c");
	EXPECT_ABSENT(M(""), "d/a", "d/b", "d/sub", "d/sub/x");
	EXPECT_CONTENT(M("d/c"), "c");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, opaque_root)
{
	TREE(L(""), "hidden=h", "shown=s");
	OPAQUE(self->l.upper);
	TREE(U(""), "shown:ft8", "mine=m");
	MOUNT();

	CHECK_LIST(M(""), "shown", "mine");
	EXPECT_ENOENT(M("hidden"));
	EXPECT_CONTENT(M("shown"), "s");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, fallthru_in_opaque_dir)
{
	struct listing ls;

	TREE(L(""), "d/", "d/f=lower data", "d/sd/", "d/sd/x=x", "d/ln->f",
	     "d/fifo:fifo", "d/hidden=h");
	TREE(U(""), "d/", "d@opaque", "d/f:ft8", "d/sd:ft4", "d/ln:ft10",
	     "d/fifo:ft1", "d/own=own");
	MOUNT();

	list_ok(_metadata, M("d"), &ls);
	expect_names(_metadata, M("d"), &ls,
		     NAMES("f", "sd", "ln", "fifo", "own"));
	free(ls.e);
	EXPECT_DTYPE(M("d"), "f", DT_REG);
	EXPECT_DTYPE(M("d"), "sd", DT_DIR);
	EXPECT_DTYPE(M("d"), "ln", DT_LNK);
	EXPECT_DTYPE(M("d"), "fifo", DT_FIFO);
	EXPECT_TYPE(S_IFREG, M("d/f"));
	EXPECT_TYPE(S_IFDIR, M("d/sd"));
	EXPECT_TYPE(S_IFLNK, M("d/ln"));
	EXPECT_TYPE(S_IFIFO, M("d/fifo"));
	EXPECT_CONTENTS(M(""), "d/f=lower data", "d/sd/x=x", "d/ln=lower data");
	EXPECT_ENOENT(M("d/hidden"));
	EXPECT_INO(LINO(L("d/f")), M("d/f"));
	EXPECT_INO(LINO(L("d/sd")), M("d/sd"));
	EXPECT_INO(LINO(L("d/ln")), M("d/ln"));
	check_tree(_metadata, self->l.mnt, NULL);
}

/* A fallthru in a non-opaque directory: the lower entry, listed once. */
TEST_F(view, fallthru_in_merged_dir)
{
	TREE(L(""), "d/", "d/f=lower f", "d/g=lower g", "f2=root f2");
	TREE(U(""), "d/", "d/f:ft8", "f2:ft8");
	MOUNT();

	CHECK_LIST(M("d"), "f", "g");
	CHECK_LIST(M(""), "d", "f2");
	EXPECT_CONTENT(M("d/f"), "lower f");
	EXPECT_CONTENT(M("f2"), "root f2");
	EXPECT_INO(LINO(L("d/f")), M("d/f"));
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, dangling_fallthru_enoent)
{
	TREE(L(""), "d/", "d/real=r");
	TREE(U(""), "d/", "d@opaque", "d/real:ft8", "d/gone:ft8",
	     "d/gonedir:ft4", "gone2:ft8", "ud/", "ud/gone3:ft8");
	MOUNT();

	EXPECT_ABSENT(M(""), "d/gone", "d/gonedir", "gone2", "ud/gone3");
	CHECK_LIST(M("d"), "real");
	CHECK_LIST(M(""), "d", "ud");
	CHECK_EMPTY(M("ud"));
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, dir_fallthru_marker_merges)
{
	TREE(L(""), "op/", "op/sub/", "op/sub/l1=l1", "op/hidden=h");
	TREE(U(""), "op/", "op@opaque", "op/sub/", "op/sub@fallthru",
	     "op/sub/u1=u1");
	MOUNT();

	CHECK_LIST(M("op"), "sub");
	CHECK_LIST(M("op/sub"), "l1", "u1");
	EXPECT_CONTENT(M("op/sub/l1"), "l1");
	EXPECT_CONTENT(M("op/sub/u1"), "u1");
	EXPECT_INO(LINO(L("op/sub")), M("op/sub"));
	EXPECT_EQ(1, LSTAT(M("op/sub")).st_nlink);
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, unmarked_dir_in_opaque_not_merged)
{
	TREE(L(""), "op/", "op/sub/", "op/sub/l1=l1");
	TREE(U(""), "op/", "op@opaque", "op/sub/", "op/sub/u1=u1");
	MOUNT();

	CHECK_LIST(M("op/sub"), "u1");
	EXPECT_ENOENT(M("op/sub/l1"));
	EXPECT_INO(INO(U("op/sub")), M("op/sub"));
	EXPECT_EQ(LSTAT(U("op/sub")).st_nlink, LSTAT(M("op/sub")).st_nlink);
	check_tree(_metadata, self->l.mnt, NULL);
}

/* ---- non-directory over directory and vice versa ---- */

TEST_F(view, upper_file_over_lower_dir)
{
	TREE(L(""), "x/", "x/y=y");
	TREE(U(""), "x=upper file");
	MOUNT();

	EXPECT_TYPE(S_IFREG, M("x"));
	EXPECT_CONTENT(M("x"), "upper file");
	EXPECT_EQ(ENOTDIR, lstat_errno(M("x/y")));
	EXPECT_INO(INO(U("x")), M("x"));
	EXPECT_DTYPE(M(""), "x", DT_REG);
	CHECK_LIST(M(""), "x");
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, upper_dir_over_lower_file)
{
	TREE(L(""), "x=lower file");
	TREE(U(""), "x/", "x/y=y");
	MOUNT();

	EXPECT_TYPE(S_IFDIR, M("x"));
	CHECK_LIST(M("x"), "y");
	EXPECT_INO(INO(U("x")), M("x"));
	EXPECT_EQ(LSTAT(U("x")).st_nlink, LSTAT(M("x")).st_nlink);
	EXPECT_DTYPE(M(""), "x", DT_DIR);
	CHECK_LIST(M(""), "x");
	check_tree(_metadata, self->l.mnt, NULL);
}

/* ---- exact listings ---- */

TEST_F(view, readdir_empty_dirs)
{
	MKDIR(L("e1"));		/* merged, both empty */
	TREE(U(""), "e1/");
	MKDIR(U("e2"));		/* upper only */
	MKDIR(L("e3"));		/* lower only */
	MKDIR(L("e4"));		/* every lower entry whited out */
	TREE(L(""), "e4/a=a", "e4/b/");
	TREE(U(""), "e4/", "e4/a:wh", "e4/b:wh");
	MKDIR(L("e5"));		/* opaque over a non-empty lower dir */
	TREE(L(""), "e5/a=a");
	TREE(U(""), "e5/", "e5@opaque");
	MKDIR(U("e6"));		/* only markers on upper */
	TREE(U(""), "e6/w:wh", "e6/f:ft8");
	MOUNT();

	CHECK_LIST(M(""), "e1", "e2", "e3", "e4", "e5", "e6");
	CHECK_EMPTY(M("e1"));
	CHECK_EMPTY(M("e2"));
	CHECK_EMPTY(M("e3"));
	CHECK_EMPTY(M("e4"));
	CHECK_EMPTY(M("e5"));
	CHECK_EMPTY(M("e6"));
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, readdir_one_entry)
{
	static const char *const dirs[] = {
		"o1", "o2", "o3", "o4", "o5", "o6", "o7",
	};
	unsigned int i;

	MKDIR(L("o1"));		/* merged, entry from lower */
	TREE(U(""), "o1/");
	TREE(L(""), "o1/a=a");
	MKDIR(L("o2"));		/* merged, entry from upper */
	TREE(U(""), "o2/", "o2/a=a");
	MKDIR(L("o3"));		/* merged, same name on both */
	TREE(U(""), "o3/", "o3/a=u");
	TREE(L(""), "o3/a=l");
	MKDIR(L("o4"));		/* lower only */
	TREE(L(""), "o4/a=a");
	MKDIR(U("o5"));		/* upper only */
	TREE(U(""), "o5/a=a");
	MKDIR(L("o6"));		/* opaque with one fallthru */
	TREE(L(""), "o6/a=a", "o6/b=b");
	TREE(U(""), "o6/", "o6@opaque", "o6/a:ft8");
	MKDIR(L("o7"));		/* one of two lower entries whited out */
	TREE(L(""), "o7/a=a", "o7/b=b");
	TREE(U(""), "o7/", "o7/b:wh");
	MOUNT();

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		CHECK_LIST(M(dirs[i]), "a");
	EXPECT_CONTENT(M("o3/a"), "u");
	check_tree(_metadata, self->l.mnt, NULL);
}

/*
 * big/ on lower: 7,000 files l00000..l06999. big/ on upper: 1,000
 * directories l00000..l00999 (covering the lower files), 500 whiteouts
 * l01000..l01499 and 3,500 files u00000..u03499. The union shows exactly
 * 10,000 names: l00000..l06999 without l01000..l01499, and u00000..u03499.
 */
#define BIG_LOWER	7000
#define BIG_SHADOW	1000
#define BIG_WHITEOUT	500
#define BIG_UPPER	3500
#define BIG_VISIBLE	(BIG_LOWER - BIG_WHITEOUT + BIG_UPPER)

TEST_F_TIMEOUT(view, readdir_10000_entries, 600)
{
	static char names[BIG_VISIBLE][8];
	const char *want[BIG_VISIBLE];
	char rel[32];
	struct listing ls, ls2;
	size_t nwant = 0, i;
	int fd, r, types_bad = 0, ino_bad = 0;

	TREE(L(""), "big/");
	TREE(U(""), "big/");
	for (i = 0; i < BIG_LOWER; i++) {
		fmt(rel, sizeof(rel), "big/l%05zu", i);
		mk_node(_metadata, L(rel), S_IFREG | 0644, 0);
		if (i < BIG_SHADOW)
			MKDIR(U(rel));
		else if (i < BIG_SHADOW + BIG_WHITEOUT)
			WHITEOUT(U(rel));
		if (i >= BIG_SHADOW && i < BIG_SHADOW + BIG_WHITEOUT)
			continue;
		fmt(names[nwant], sizeof(names[0]), "l%05zu", i);
		want[nwant] = names[nwant];
		nwant++;
	}
	for (i = 0; i < BIG_UPPER; i++) {
		fmt(rel, sizeof(rel), "big/u%05zu", i);
		mk_node(_metadata, U(rel), S_IFREG | 0644, 0);
		fmt(names[nwant], sizeof(names[0]), "u%05zu", i);
		want[nwant] = names[nwant];
		nwant++;
	}
	ASSERT_EQ(BIG_VISIBLE, nwant);
	MOUNT();

	fd = open_ok(_metadata, M("big"), O_RDONLY | O_DIRECTORY);
	r = list_fd(fd, &ls);
	ASSERT_EQ(0, r) TH_LOG("readdir: %s", strerror(-r));
	expect_names(_metadata, M("big"), &ls, want, nwant);

	/* Types and inode numbers of every entry. */
	for (i = 0; i < ls.n; i++) {
		const struct dent *d = &ls.e[i];
		unsigned char type = DT_REG;
		uint64_t ino;

		if (d->name[0] == '.')
			continue;
		fmt(rel, sizeof(rel), "big/%s", d->name);
		if (d->name[0] == 'l' && atoi(d->name + 1) < BIG_SHADOW)
			type = DT_DIR;
		if (d->type != type && types_bad++ < MAX_LOGGED)
			TH_LOG("%s: d_type %u, want %u", rel, d->type, type);
		if (d->name[0] == 'u' || type == DT_DIR)
			ino = INO(U(rel));
		else
			ino = LINO(L(rel));
		if (d->ino != ino && ino_bad++ < MAX_LOGGED)
			TH_LOG("%s: d_ino %#llx, want %#llx", rel,
			       (unsigned long long)d->ino,
			       (unsigned long long)ino);
		if ((d->name[0] == 'u' || d->name[0] == 'l') &&
		    (i % 97) == 0)	/* st_ino of a sample */
			EXPECT_INO(ino, M(rel));
	}
	EXPECT_EQ(0, types_bad);
	EXPECT_EQ(0, ino_bad);

	/* Reading again from offset 0 gives the same listing. */
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	r = list_fd(fd, &ls2);
	ASSERT_EQ(0, r) TH_LOG("readdir again: %s", strerror(-r));
	expect_names(_metadata, M("big"), &ls2, want, nwant);
	free(ls.e);
	free(ls2.e);
	close(fd);
}

/*
 * A lower directory of 70,000 entries, listed through a read-only union (merged in
 * memory), then through a read-write one (copied up: 70,000 fallthrus), again from the
 * cached listing, after a remount, and, with a whiteout over each entry, removed.
 * Arrays of per-entry records for a directory of this size are more than kmalloc()
 * gives (4 MiB): union's listings, its directory copy-up and rmdir's check of the
 * upper directory grew such arrays (doubling from 65,536 entries to 131,072 of 32-48
 * bytes) and failed with ENOMEM past 65,536 entries.  The whiteouts are made on the
 * upper layer directly (as a union would leave them): 70,000 unlinks through the
 * union take longer than the test's time on the debug kernel.
 */
#define HUGE_N	70000

UNION_LAYERS_FIXTURE(huge, .name = "huge", .propagation = MS_SLAVE,
		     .base_fs = "mode=0755",
		     .lower_fs = "mode=0755,size=1g,nr_inodes=0",
		     .upper_fs = "mode=0755,size=1g,nr_inodes=0");

/* @path lists ".", ".." and f000000.. f<@n - 1>, each once, regular files. */
static void expect_huge_listing(struct __test_metadata *_metadata,
				const char *path, size_t n)
{
	struct listing ls;
	char want[16];
	size_t i, bad = 0;

	list_ok(_metadata, path, &ls);
	ASSERT_EQ(n + 2, ls.n) TH_LOG("%s: %zu entries", path, ls.n);
	EXPECT_STREQ(".", ls.e[0].name);
	EXPECT_STREQ("..", ls.e[1].name);
	for (i = 0; i < n; i++) {
		const struct dent *d = &ls.e[i + 2];

		fmt(want, sizeof(want), "f%06zu", i);
		if ((strcmp(d->name, want) || d->type != DT_REG) &&
		    bad++ < MAX_LOGGED)
			TH_LOG("%s: entry %zu is %s (d_type %u), want %s",
			       path, i, d->name, d->type, want);
	}
	EXPECT_EQ(0, bad);
	free(ls.e);
}

TEST_F_TIMEOUT(huge, readdir_70000_entries, 900)
{
	struct listing up;
	struct stat st;
	char rel[32];
	size_t i, fallthrus = 0;

	MKDIR(L("big"));
	for (i = 0; i < HUGE_N; i++) {
		fmt(rel, sizeof(rel), "big/f%06zu", i);
		mk_node(_metadata, L(rel), S_IFREG | 0644, 0);
	}
	union_mount_ro_ok(_metadata, &self->l);
	expect_huge_listing(_metadata, M("big"), HUGE_N);
	UMOUNT();
	EXPECT_ERRNO(ENOENT, access(U("big"), F_OK));

	MOUNT();
	expect_huge_listing(_metadata, M("big"), HUGE_N);
	expect_huge_listing(_metadata, M("big"), HUGE_N);
	list_ok(_metadata, U("big"), &up);
	for (i = 0; i < up.n; i++)
		fallthrus += up.e[i].type == DT_CHR;
	EXPECT_EQ(HUGE_N + 2, up.n);
	EXPECT_EQ(HUGE_N, fallthrus);
	free(up.e);
	EXPECT_ERRNO(ENOTEMPTY, rmdir(M("big")));

	union_remount_ok(_metadata, &self->l);
	expect_huge_listing(_metadata, M("big"), HUGE_N);

	/* Emptied (a whiteout over each fallthru), it is removed with them. */
	UMOUNT();
	for (i = 0; i < HUGE_N; i++) {
		fmt(rel, sizeof(rel), "big/f%06zu", i);
		ASSERT_EQ(0, unlink(U(rel))) TH_LOG("unlink %s: %m", U(rel));
		WHITEOUT(U(rel));
	}
	MOUNT();
	expect_huge_listing(_metadata, M("big"), 0);
	ASSERT_EQ(0, rmdir(M("big"))) TH_LOG("rmdir: %m");
	EXPECT_ERRNO(ENOENT, access(M("big"), F_OK));
	/* What is left on upper is the whiteout over the lower directory. */
	st = LSTAT(U("big"));
	EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
}

/* ---- /proc/fs/union/stats ---- */

enum { ST_COPY_UPS, ST_DATA_COPIES, ST_DATA_BYTES, ST_DIR_COPY_UPS, ST_FALLTHRUS,
       ST_LISTINGS, ST_LISTING_BYTES, ST_N };

/* The counters of /proc/fs/union/stats, each line "name value" in this order. */
static void read_stats(struct __test_metadata *_metadata, long long *v)
{
	static const char *const names[ST_N] = {
		"copy_ups", "data_copies", "data_bytes", "dir_copy_ups",
		"fallthrus", "listings", "listing_bytes",
	};
	char name[64];
	FILE *f = fopen("/proc/fs/union/stats", "re");
	int i;

	ASSERT_NE(NULL, f) TH_LOG("/proc/fs/union/stats: %m");
	for (i = 0; i < ST_N; i++) {
		ASSERT_EQ(2, fscanf(f, "%63s %lld", name, &v[i]));
		ASSERT_STREQ(names[i], name);
	}
	EXPECT_EQ(EOF, fscanf(f, "%63s", name));
	fclose(f);
}

/*
 * The counters move with what the union does: a directory copy-up of readdir (its
 * copy-up, the fallthrus), a file's copy-up with its data, and a listing held while
 * the directory's inode lives and given back at umount.
 */
TEST_F(view, proc_stats_count_copy_ups_and_listings)
{
	long long s0[ST_N], s1[ST_N], s2[ST_N], s3[ST_N];
	struct listing ls;

	TREE(L(""), "d/", "d/a=12345", "d/b=b", "d/c=c", "d/sub/");
	read_stats(_metadata, s0);
	MOUNT();
	list_ok(_metadata, M("d"), &ls);
	free(ls.e);
	read_stats(_metadata, s1);
	EXPECT_EQ(s0[ST_COPY_UPS] + 1, s1[ST_COPY_UPS]);	/* d */
	EXPECT_EQ(s0[ST_DATA_COPIES], s1[ST_DATA_COPIES]);
	EXPECT_EQ(s0[ST_DIR_COPY_UPS] + 1, s1[ST_DIR_COPY_UPS]);
	EXPECT_EQ(s0[ST_FALLTHRUS] + 4, s1[ST_FALLTHRUS]);
	EXPECT_EQ(s0[ST_LISTINGS] + 1, s1[ST_LISTINGS]);
	/* Six names and their records. */
	EXPECT_LT(s0[ST_LISTING_BYTES] + 6 * 16, s1[ST_LISTING_BYTES]);

	ASSERT_EQ(6, WITH_FD(fd, M("d/a"), O_WRONLY | O_APPEND, write(fd, "678901", 6)));
	read_stats(_metadata, s2);
	EXPECT_EQ(s1[ST_COPY_UPS] + 1, s2[ST_COPY_UPS]);
	EXPECT_EQ(s1[ST_DATA_COPIES] + 1, s2[ST_DATA_COPIES]);
	EXPECT_EQ(s1[ST_DATA_BYTES] + 5, s2[ST_DATA_BYTES]);
	/* The copy-up changed d: its listing is dropped. */
	EXPECT_EQ(s0[ST_LISTINGS], s2[ST_LISTINGS]);
	list_ok(_metadata, M("d"), &ls);
	free(ls.e);

	UMOUNT();
	read_stats(_metadata, s3);
	EXPECT_EQ(s0[ST_LISTINGS], s3[ST_LISTINGS]);
	EXPECT_EQ(s0[ST_LISTING_BYTES], s3[ST_LISTING_BYTES]);
	EXPECT_EQ(s2[ST_DIR_COPY_UPS], s3[ST_DIR_COPY_UPS]);
}

/* ---- types ---- */

TEST_F(view, d_type_every_type)
{
	static const struct {
		const char *name;
		unsigned char dtype;
		mode_t fmt;
	} t[] = {
		{ "reg", DT_REG, S_IFREG }, { "dir", DT_DIR, S_IFDIR },
		{ "lnk", DT_LNK, S_IFLNK }, { "fifo", DT_FIFO, S_IFIFO },
		{ "chr", DT_CHR, S_IFCHR }, { "blk", DT_BLK, S_IFBLK },
		{ "sock", DT_SOCK, S_IFSOCK },
	};
	const char *dirs[] = { "lo", "up", "op" };
	char rel[64];
	size_t i, d;

	TREE(L(""), "lo/", "op/");
	TREE(U(""), "up/", "op/", "op@opaque");
	for (d = 0; d < 2; d++) {
		const char *layer = d == 0 ? self->l.lower : self->l.upper;

		fmt(rel, sizeof(rel), "%s/reg", dirs[d]);
		MKFILE(jp(layer, rel), "r");
		fmt(rel, sizeof(rel), "%s/dir", dirs[d]);
		MKDIR(jp(layer, rel));
		fmt(rel, sizeof(rel), "%s/lnk", dirs[d]);
		MKSYM("reg", jp(layer, rel));
		fmt(rel, sizeof(rel), "%s/fifo", dirs[d]);
		MKFIFO(jp(layer, rel));
		fmt(rel, sizeof(rel), "%s/chr", dirs[d]);
		MKCHR(jp(layer, rel), 1, 3);
		fmt(rel, sizeof(rel), "%s/blk", dirs[d]);
		MKBLK(jp(layer, rel), 7, 0);
		fmt(rel, sizeof(rel), "%s/sock", dirs[d]);
		MKSOCK(jp(layer, rel));
	}
	/* op/: every type on lower, shown through fallthrus. */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fmt(rel, sizeof(rel), "op/%s", t[i].name);
		switch (t[i].fmt) {
		case S_IFREG:
			MKFILE(L(rel), "r");
			break;
		case S_IFDIR:
			MKDIR(L(rel));
			break;
		case S_IFLNK:
			MKSYM("reg", L(rel));
			break;
		case S_IFSOCK:
			MKSOCK(L(rel));
			break;
		default:
			mk_node(_metadata, L(rel), t[i].fmt | 0644,
				t[i].fmt == S_IFIFO ? 0 : makedev(1, 3));
		}
		FALLTHRU(U(rel), t[i].dtype);
	}
	MOUNT();

	for (d = 0; d < 3; d++) {
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			fmt(rel, sizeof(rel), "%s/%s", dirs[d], t[i].name);
			EXPECT_DTYPE(M(dirs[d]), t[i].name, t[i].dtype);
			EXPECT_TYPE(t[i].fmt, M(rel));
		}
		CHECK_LIST(M(dirs[d]), "reg", "dir", "lnk", "fifo", "chr",
			   "blk", "sock");
	}
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, special_files)
{
	char buf[16];
	int fd;

	TREE(L(""), "lfifo:fifo", "lnull:chr1:3", "lblk:blk7:0", "lsock:sock");
	TREE(U(""), "ufifo:fifo", "uzero:chr1:5", "ublk:blk7:1", "usock:sock");
	MOUNT();

	/* Types, and device numbers (kind() shows them). */
	EXPECT_KINDS(M(""), "lfifo:fifo", "ufifo:fifo", "lsock:sock", "usock:sock",
		     "lnull:chr1:3", "uzero:chr1:5", "lblk:blk7:0", "ublk:blk7:1");
	EXPECT_INO(LINO(L("lfifo")), M("lfifo"));
	EXPECT_INO(LINO(L("lsock")), M("lsock"));
	EXPECT_INO(INO(U("ufifo")), M("ufifo"));
	EXPECT_INO(INO(U("usock")), M("usock"));
	EXPECT_DTYPE(M(""), "lsock", DT_SOCK);
	EXPECT_DTYPE(M(""), "usock", DT_SOCK);
	EXPECT_DTYPE(M(""), "lfifo", DT_FIFO);
	EXPECT_DTYPE(M(""), "lnull", DT_CHR);
	EXPECT_DTYPE(M(""), "ublk", DT_BLK);

	/* The device node opens the device: /dev/zero gives zeros. */
	fd = open(M("uzero"), O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0) TH_LOG("open zero device: %s", strerror(errno));
	memset(buf, 0x55, sizeof(buf));
	EXPECT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, buf[0] | buf[15]);
	close(fd);
	/* A FIFO opens as a FIFO (no writer: non-blocking open, EOF). */
	fd = open(M("lfifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_GE(fd, 0) TH_LOG("open fifo: %s", strerror(errno));
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	close(fd);
	check_tree(_metadata, self->l.mnt, NULL);
}

/* ---- st_dev, st_ino, d_ino ---- */

/*
 * A tree with every kind of object: lower-only, upper-only, covered,
 * merged, non-dir over dir and back, whiteout, opaque dir with fallthrus,
 * marked and unmarked dirs in it, symlinks, FIFOs, hard links.
 */
static void build_mixed(struct __test_metadata *_metadata,
			FIXTURE_DATA(view) *self)
{
	TREE(L(""), "lfile=L");
	ASSERT_EQ(0, link(L("lfile"), L("lhard")));
	TREE(L(""), "cover=Lc", "ldir/", "ldir/x=x", "mdir/", "mdir/lx=lx",
	     "mdir/both=lb", "mdir/sub/", "mdir/sub/deep=d", "file_over_dir/",
	     "file_over_dir/y=y", "dir_over_file=f", "wh=w", "op/", "op/fa=fa",
	     "op/fd/", "op/fd/z=z", "op/fl->fa", "op/hidden=h", "op/mk/",
	     "op/mk/lm=lm", "op/nomk/", "op/nomk/ln=ln", "lsym->lfile",
	     "lfifo:fifo");

	TREE(U(""), "ufile=U", "cover=Uc", "udir/", "udir/y=y", "mdir/",
	     "mdir/ux=ux", "mdir/both=ub", "mdir/sub/", "mdir/sub/udeep=ud",
	     "file_over_dir=fod", "dir_over_file/", "dir_over_file/z=z",
	     "wh:wh", "op/", "op@opaque", "op/fa:ft8", "op/fd:ft4",
	     "op/fl:ft10", "op/mk/", "op/mk@fallthru", "op/mk/um=um",
	     "op/nomk/", "op/nomk/un=un", "usym->ufile", "ufifo:fifo");
}

TEST_F(view, st_dev_uniform)
{
	struct stat root, lo, up;
	size_t n;

	build_mixed(_metadata, self);
	MOUNT();

	root = LSTAT(M(""));
	lo = LSTAT(L(""));
	up = LSTAT(U(""));
	EXPECT_NE(lo.st_dev, root.st_dev);
	EXPECT_NE(up.st_dev, root.st_dev);
	EXPECT_NE(lo.st_dev, up.st_dev);
	/* check_tree() compares every object's st_dev with the root's. */
	n = check_tree(_metadata, self->l.mnt, NULL);
	EXPECT_EQ(32, n) TH_LOG("objects in the union");
}

/*
 * st_ino of each object of build_mixed(): 'L' = the lower inode of @real
 * with bit 63 set, 'U' = the upper inode of @real.
 */
static const struct {
	const char *rel;
	char layer;
	const char *real;
} mixed_inos[] = {
	{ "", 'L', "" },
	{ "lfile", 'L', "lfile" },
	{ "lhard", 'L', "lfile" },	/* hard link: same lower inode */
	{ "ldir", 'L', "ldir" },
	{ "ldir/x", 'L', "ldir/x" },
	{ "ufile", 'U', "ufile" },
	{ "udir", 'U', "udir" },
	{ "udir/y", 'U', "udir/y" },
	{ "cover", 'U', "cover" },
	{ "mdir", 'L', "mdir" },
	{ "mdir/lx", 'L', "mdir/lx" },
	{ "mdir/ux", 'U', "mdir/ux" },
	{ "mdir/both", 'U', "mdir/both" },
	{ "mdir/sub", 'L', "mdir/sub" },
	{ "mdir/sub/deep", 'L', "mdir/sub/deep" },
	{ "mdir/sub/udeep", 'U', "mdir/sub/udeep" },
	{ "file_over_dir", 'U', "file_over_dir" },
	{ "dir_over_file", 'U', "dir_over_file" },
	{ "dir_over_file/z", 'U', "dir_over_file/z" },
	{ "op/fa", 'L', "op/fa" },
	{ "op/fd", 'L', "op/fd" },
	{ "op/fd/z", 'L', "op/fd/z" },
	{ "op/fl", 'L', "op/fl" },
	{ "op/mk", 'L', "op/mk" },
	{ "op/mk/lm", 'L', "op/mk/lm" },
	{ "op/mk/um", 'U', "op/mk/um" },
	{ "op/nomk", 'U', "op/nomk" },
	{ "op/nomk/un", 'U', "op/nomk/un" },
	{ "lsym", 'L', "lsym" },
	{ "usym", 'U', "usym" },
	{ "lfifo", 'L', "lfifo" },
	{ "ufifo", 'U', "ufifo" },
};
#define N_MIXED_INOS	(sizeof(mixed_inos) / sizeof(mixed_inos[0]))

static void __attribute__((noinline))
expect_distinct_ino(struct __test_metadata *_metadata, size_t i, size_t j,
		    const uint64_t *got)
{
	EXPECT_NE(got[i], got[j])
		TH_LOG("'%s' and '%s' share st_ino", mixed_inos[i].rel,
		       mixed_inos[j].rel);
}

TEST_F(view, st_ino_rule)
{
	uint64_t want[N_MIXED_INOS], got[N_MIXED_INOS];
	size_t i, j;

	build_mixed(_metadata, self);
	for (i = 0; i < N_MIXED_INOS; i++)
		want[i] = mixed_inos[i].layer == 'L' ?
			  LINO(L(mixed_inos[i].real)) :
			  INO(U(mixed_inos[i].real));
	MOUNT();

	for (i = 0; i < N_MIXED_INOS; i++) {
		got[i] = INO(M(mixed_inos[i].rel));
		EXPECT_EQ(want[i], got[i])
			TH_LOG("st_ino of '%s': %#llx, want %#llx",
			       mixed_inos[i].rel, (unsigned long long)got[i],
			       (unsigned long long)want[i]);
	}
	/* Distinct objects have distinct numbers (lfile/lhard are one). */
	for (i = 0; i < N_MIXED_INOS; i++)
		for (j = i + 1; j < N_MIXED_INOS; j++)
			if (strcmp(mixed_inos[j].rel, "lhard"))
				expect_distinct_ino(_metadata, i, j, got);
	check_tree(_metadata, self->l.mnt, NULL);
}

TEST_F(view, d_ino_equals_st_ino)
{
	struct listing ls;
	size_t i;

	build_mixed(_metadata, self);
	MOUNT();

	/* readdir before any lookup ... */
	check_tree(_metadata, self->l.mnt, NULL);
	/* ... and after, with everything in the dcache. */
	check_tree(_metadata, self->l.mnt, NULL);

	/* The opaque dir, entry by entry against the layer inodes. */
	list_ok(_metadata, M("op"), &ls);
	expect_names(_metadata, M("op"), &ls,
		     NAMES("fa", "fd", "fl", "mk", "nomk"));
	for (i = 0; i < ls.n; i++) {
		const struct dent *d = &ls.e[i];
		char rel[64];
		uint64_t want;

		if (!strcmp(d->name, ".."))
			want = INO(M(""));
		else if (!strcmp(d->name, "."))
			want = INO(M("op"));
		else if (!strcmp(d->name, "nomk"))
			want = INO(U("op/nomk"));
		else {
			fmt(rel, sizeof(rel), "op/%s", d->name);
			want = LINO(L(rel));
		}
		EXPECT_EQ(want, d->ino)
			TH_LOG("op/%s: d_ino %#llx, want %#llx", d->name,
			       (unsigned long long)d->ino,
			       (unsigned long long)want);
	}
	free(ls.e);
}

TEST_F(view, st_ino_stable_across_remount)
{
	char *before = NULL, *after = NULL;
	int r;

	build_mixed(_metadata, self);
	union_mount2_ok(_metadata, &self->l, 0);
	before = tree_snapshot(_metadata, self);
	UMOUNT();

	/* Again through the new mount API ... */
	r = union_mount(&self->l);
	ASSERT_EQ(0, r) TH_LOG("fsmount union: %s", strerror(-r));
	after = tree_snapshot(_metadata, self);
	expect_same_snapshot(_metadata, "inode numbers after remount",
			     before, after);
	free(after);
	UMOUNT();

	/* ... and with mount(2), looking names up before readdir. */
	union_mount2_ok(_metadata, &self->l, 0);
	EXPECT_INO(LINO(L("lfile")), M("lfile"));
	EXPECT_INO(LINO(L("op/fa")), M("op/fa"));
	EXPECT_INO(LINO(L("mdir/sub")), M("mdir/sub"));
	after = tree_snapshot(_metadata, self);
	expect_same_snapshot(_metadata, "inode numbers after 2nd remount",
			     before, after);
	free(after);
	free(before);
}

TEST_F(view, merged_dir_nlink_one)
{
	TREE(L(""), "m/", "m/s1/", "m/s3/", "ld/", "ld/a/", "ld/b/");
	TREE(U(""), "m/", "m/s2/", "m/s3/", "ud/", "ud/a/");
	MOUNT();

	EXPECT_EQ(1, LSTAT(M("")).st_nlink);
	EXPECT_EQ(1, LSTAT(M("m")).st_nlink);
	EXPECT_EQ(1, LSTAT(M("m/s3")).st_nlink);
	EXPECT_EQ(LSTAT(L("m/s1")).st_nlink, LSTAT(M("m/s1")).st_nlink);
	EXPECT_EQ(LSTAT(U("m/s2")).st_nlink, LSTAT(M("m/s2")).st_nlink);
	EXPECT_EQ(4, LSTAT(L("ld")).st_nlink);
	EXPECT_EQ(LSTAT(L("ld")).st_nlink, LSTAT(M("ld")).st_nlink);
	EXPECT_EQ(3, LSTAT(U("ud")).st_nlink);
	EXPECT_EQ(LSTAT(U("ud")).st_nlink, LSTAT(M("ud")).st_nlink);
}

/* ---- attributes ---- */

static void set_attrs(struct __test_metadata *_metadata, const char *path,
		      mode_t mode, uid_t uid, gid_t gid, long nsec)
{
	struct timespec ts[2] = {
		{ 1500000000, 111111111 }, { 1600000000 + nsec, nsec },
	};

	if (mode != (mode_t)-1)
		ASSERT_EQ(0, chmod(path, mode)) TH_LOG("chmod %s", path);
	ASSERT_EQ(0, lchown(path, uid, gid)) TH_LOG("chown %s", path);
	ASSERT_EQ(0, utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		TH_LOG("utimensat %s: %s", path, strerror(errno));
}

static void expect_same_attrs(struct __test_metadata *_metadata,
			      const char *upath, const char *real,
			      bool merged_dir)
{
	struct stat u = lstat_ok(_metadata, upath);
	struct stat r = lstat_ok(_metadata, real);

	EXPECT_EQ(r.st_mode, u.st_mode) TH_LOG("%s: st_mode", upath);
	EXPECT_EQ(r.st_uid, u.st_uid) TH_LOG("%s: st_uid", upath);
	EXPECT_EQ(r.st_gid, u.st_gid) TH_LOG("%s: st_gid", upath);
	EXPECT_EQ(r.st_size, u.st_size) TH_LOG("%s: st_size", upath);
	EXPECT_EQ(r.st_rdev, u.st_rdev) TH_LOG("%s: st_rdev", upath);
	EXPECT_EQ(r.st_mtim.tv_sec, u.st_mtim.tv_sec)
		TH_LOG("%s: mtime", upath);
	EXPECT_EQ(r.st_mtim.tv_nsec, u.st_mtim.tv_nsec)
		TH_LOG("%s: mtime ns", upath);
	if (S_ISREG(r.st_mode))
		EXPECT_EQ(r.st_blocks, u.st_blocks) TH_LOG("%s: st_blocks", upath);
	if (!merged_dir)
		EXPECT_EQ(r.st_nlink, u.st_nlink) TH_LOG("%s: st_nlink", upath);
}

TEST_F(view, stat_fields_match_real)
{
	char big[70000];

	memset(big, 'b', sizeof(big));
	TREE(L(""), "lfile=lower!");
	set_attrs(_metadata, L("lfile"), 0640, 1234, 5678, 1);
	TREE(L(""), "cover=short");
	set_attrs(_metadata, L("cover"), 0777, 1, 1, 2);
	mk_file(_metadata, U("cover"), big, sizeof(big));
	set_attrs(_metadata, U("cover"), 0600, 42, 43, 3);
	TREE(U(""), "ufile=u");
	set_attrs(_metadata, U("ufile"), 04755, 7, 8, 4);
	TREE(L(""), "mdir/");
	set_attrs(_metadata, L("mdir"), 0700, 11, 12, 5);
	TREE(U(""), "mdir/");
	set_attrs(_metadata, U("mdir"), 0751, 13, 14, 6);
	TREE(L(""), "ldir/");
	set_attrs(_metadata, L("ldir"), 01777, 15, 16, 7);
	TREE(L(""), "lsym->lfile");
	set_attrs(_metadata, L("lsym"), (mode_t)-1, 17, 18, 8);
	TREE(L(""), "lfifo:fifo");
	set_attrs(_metadata, L("lfifo"), 0620, 19, 20, 9);
	TREE(U(""), "uchr:chr1:3");
	set_attrs(_metadata, U("uchr"), 0666, 21, 22, 10);
	ASSERT_EQ(0, link(L("lfile"), L("lhard")));
	MOUNT();

	expect_same_attrs(_metadata, M("lfile"), L("lfile"), false);
	expect_same_attrs(_metadata, M("lhard"), L("lhard"), false);
	expect_same_attrs(_metadata, M("cover"), U("cover"), false);
	expect_same_attrs(_metadata, M("ufile"), U("ufile"), false);
	expect_same_attrs(_metadata, M("mdir"), U("mdir"), true);
	expect_same_attrs(_metadata, M("ldir"), L("ldir"), false);
	expect_same_attrs(_metadata, M("lsym"), L("lsym"), false);
	expect_same_attrs(_metadata, M("lfifo"), L("lfifo"), false);
	expect_same_attrs(_metadata, M("uchr"), U("uchr"), false);
	/* stat() follows the symlink to the lower file. */
	{
		struct stat st;

		ASSERT_EQ(0, stat(M("lsym"), &st));
		EXPECT_EQ(0100640, st.st_mode);
		EXPECT_EQ(1234, st.st_uid);
		EXPECT_EQ(INO(M("lfile")), (uint64_t)st.st_ino);
	}
}

/* ---- file data ---- */

#define BIG_LEN		(4 * MiB + 4321)
#define COVER_LEN	(3 * MiB + 17)

struct bigfiles {
	unsigned char *lower;	/* data of lower-only "big" */
	unsigned char *upper;	/* data of upper "cover" (over a 1 byte file) */
};

/* Makes lower "big" and upper "cover" (over a lower one) and mounts the union. */
static void build_big(struct __test_metadata *_metadata,
		      FIXTURE_DATA(view) *self, struct bigfiles *b)
{
	b->lower = malloc(BIG_LEN);
	b->upper = malloc(COVER_LEN);
	ASSERT_NE(NULL, b->lower);
	ASSERT_NE(NULL, b->upper);
	fill_pattern(b->lower, BIG_LEN, 1);
	fill_pattern(b->upper, COVER_LEN, 2);
	mk_file(_metadata, L("big"), b->lower, BIG_LEN);
	TREE(L(""), "cover=x");
	mk_file(_metadata, U("cover"), b->upper, COVER_LEN);
	MOUNT();
}

static void expect_read(struct __test_metadata *_metadata, const char *path,
			size_t chunk, const unsigned char *want, size_t len)
{
	size_t got_len;
	unsigned char *got = read_file(path, chunk, &got_len);
	int err = errno;
	char what[PATH_LEN];

	ASSERT_NE(NULL, got) TH_LOG("read %s: %s", path, strerror(err));
	fmt(what, sizeof(what), "read(%s) in %zu byte chunks", path,
		 chunk);
	expect_bytes(_metadata, what, want, len, got, got_len);
	free(got);
}

TEST_F(view, read_contents)
{
	struct bigfiles b;

	build_big(_metadata, self, &b);

	EXPECT_EQ(BIG_LEN, LSTAT(M("big")).st_size);
	EXPECT_EQ(COVER_LEN, LSTAT(M("cover")).st_size);
	expect_read(_metadata, M("big"), 65537, b.lower, BIG_LEN);
	expect_read(_metadata, M("big"), 1 * MiB, b.lower, BIG_LEN);
	expect_read(_metadata, M("cover"), 4093, b.upper, COVER_LEN);
	free(b.lower);
	free(b.upper);
}

TEST_F(view, pread_readv)
{
	static const size_t offs[] = {
		0, 1, 4095, 4096, MiB - 3, 2 * MiB + 5, BIG_LEN - 100,
		BIG_LEN - 1,
	};
	unsigned char buf[8192], a[7], c[100000], *bb = malloc(4096);
	struct iovec iov[3] = {
		{ a, sizeof(a) }, { bb, 4096 }, { c, sizeof(c) },
	};
	struct bigfiles b;
	size_t i, want;
	ssize_t n;
	int fd;

	ASSERT_NE(NULL, bb);
	build_big(_metadata, self, &b);
	fd = open_ok(_metadata, M("big"), O_RDONLY);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		want = BIG_LEN - offs[i] < sizeof(buf) ? BIG_LEN - offs[i]
						       : sizeof(buf);
		n = pread(fd, buf, sizeof(buf), offs[i]);
		EXPECT_EQ((ssize_t)want, n) TH_LOG("pread at %zu", offs[i]);
		if (n > 0)
			EXPECT_EQ(0, memcmp(buf, b.lower + offs[i], n))
				TH_LOG("pread at %zu: wrong data", offs[i]);
	}
	EXPECT_EQ(0, pread(fd, buf, sizeof(buf), BIG_LEN));
	EXPECT_EQ(0, pread(fd, buf, sizeof(buf), BIG_LEN + 100));
	/* pread does not move the file position. */
	EXPECT_EQ(0, lseek(fd, 0, SEEK_CUR));

	ASSERT_EQ(12345, lseek(fd, 12345, SEEK_SET));
	n = readv(fd, iov, 3);
	EXPECT_EQ((ssize_t)(sizeof(a) + 4096 + sizeof(c)), n);
	EXPECT_EQ(0, memcmp(a, b.lower + 12345, sizeof(a)));
	EXPECT_EQ(0, memcmp(bb, b.lower + 12345 + sizeof(a), 4096));
	EXPECT_EQ(0, memcmp(c, b.lower + 12345 + sizeof(a) + 4096,
			    sizeof(c)));
	EXPECT_EQ(12345 + n, lseek(fd, 0, SEEK_CUR));

	n = preadv(fd, iov, 3, BIG_LEN - 5000);
	EXPECT_EQ(5000, n);
	EXPECT_EQ(0, memcmp(a, b.lower + BIG_LEN - 5000, sizeof(a)));
	EXPECT_EQ(0, memcmp(bb, b.lower + BIG_LEN - 5000 + sizeof(a), 4096));
	EXPECT_EQ(0, memcmp(c, b.lower + BIG_LEN - 5000 + sizeof(a) + 4096,
			    5000 - sizeof(a) - 4096));
	close(fd);

	/* The covering upper file, not the lower one. */
	fd = open_ok(_metadata, M("cover"), O_RDONLY);
	EXPECT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 2 * MiB));
	EXPECT_EQ(0, memcmp(buf, b.upper + 2 * MiB, sizeof(buf)));
	EXPECT_EQ(COVER_LEN, lseek(fd, 0, SEEK_END));
	close(fd);
	free(bb);
	free(b.lower);
	free(b.upper);
}

TEST_F(view, mmap_contents)
{
	struct bigfiles b;
	unsigned char *p;
	int fd;

	build_big(_metadata, self, &b);
	fd = open_ok(_metadata, M("big"), O_RDONLY);
	p = mmap(NULL, BIG_LEN, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap shared: %s", strerror(errno));
	expect_bytes(_metadata, "mmap(MAP_SHARED) of big", b.lower, BIG_LEN,
		     p, BIG_LEN);
	munmap(p, BIG_LEN);
	p = mmap(NULL, BIG_LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap private: %s", strerror(errno));
	expect_bytes(_metadata, "mmap(MAP_PRIVATE) of big", b.lower, BIG_LEN,
		     p, BIG_LEN);
	munmap(p, BIG_LEN);
	p = mmap(NULL, MiB, PROT_READ, MAP_SHARED, fd, 2 * MiB);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap at 2M: %s", strerror(errno));
	expect_bytes(_metadata, "mmap of big at 2 MiB", b.lower + 2 * MiB,
		     MiB, p, MiB);
	munmap(p, MiB);
	close(fd);

	fd = open_ok(_metadata, M("cover"), O_RDONLY);
	p = mmap(NULL, COVER_LEN, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap cover: %s", strerror(errno));
	close(fd);	/* the mapping outlives the fd */
	expect_bytes(_metadata, "mmap of cover", b.upper, COVER_LEN, p,
		     COVER_LEN);
	munmap(p, COVER_LEN);
	free(b.lower);
	free(b.upper);
}

TEST_F(view, sendfile_splice)
{
	unsigned char *got = malloc(BIG_LEN);
	struct bigfiles b;
	int in, out, p[2];
	loff_t loff = 0;
	off_t off = 0;
	size_t done;
	ssize_t n;

	ASSERT_NE(NULL, got);
	build_big(_metadata, self, &b);

	/* sendfile to a file outside the union. */
	in = open_ok(_metadata, M("big"), O_RDONLY);
	out = open(self->scratch, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
	ASSERT_GE(out, 0);
	while ((n = sendfile(out, in, &off, BIG_LEN)) > 0)
		;
	EXPECT_EQ(0, n) TH_LOG("sendfile: %s", strerror(errno));
	EXPECT_EQ(BIG_LEN, off);
	ASSERT_EQ(BIG_LEN, pread(out, got, BIG_LEN, 0));
	expect_bytes(_metadata, "sendfile of big", b.lower, BIG_LEN, got,
		     BIG_LEN);
	close(out);

	/* splice to a pipe, from an offset. */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	loff = 1000;
	for (done = 0; done < BIG_LEN - 1000;) {
		size_t r = 0;

		n = splice(in, &loff, p[1], NULL, 65536, 0);
		ASSERT_GT(n, 0) TH_LOG("splice: %s", strerror(errno));
		while (r < (size_t)n) {
			ssize_t m = read(p[0], got + done + r, n - r);

			ASSERT_GT(m, 0);
			r += m;
		}
		done += n;
	}
	EXPECT_EQ(0, splice(in, &loff, p[1], NULL, 65536, 0));
	expect_bytes(_metadata, "splice of big from 1000", b.lower + 1000,
		     BIG_LEN - 1000, got, done);
	close(in);
	close(p[0]);
	close(p[1]);

	/* sendfile of the covering upper file, from an offset. */
	in = open_ok(_metadata, M("cover"), O_RDONLY);
	out = open_ok(_metadata, self->scratch, O_TRUNC | O_RDWR);
	off = 4097;
	while ((n = sendfile(out, in, &off, COVER_LEN)) > 0)
		;
	EXPECT_EQ(0, n);
	ASSERT_EQ(COVER_LEN - 4097, pread(out, got, BIG_LEN, 0));
	expect_bytes(_metadata, "sendfile of cover", b.upper + 4097,
		     COVER_LEN - 4097, got, COVER_LEN - 4097);
	close(out);
	close(in);
	free(got);
	free(b.lower);
	free(b.upper);
}

/* @path: 1 MiB data at @first, 1 MiB data at @second, size @size. */
static void mk_sparse(struct __test_metadata *_metadata, const char *path,
		      off_t first, off_t second, off_t size)
{
	unsigned char *data = malloc(MiB);
	int fd;

	ASSERT_NE(NULL, data);
	fill_pattern(data, MiB, 3);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, size));
	ASSERT_EQ(MiB, pwrite(fd, data, MiB, first));
	ASSERT_EQ(MiB, pwrite(fd, data, MiB, second));
	close(fd);
	free(data);
}

static void expect_same_seeks(struct __test_metadata *_metadata,
			      const char *upath, const char *real, off_t size)
{
	static const int whences[] = { SEEK_DATA, SEEK_HOLE };
	off_t offs[] = {
		0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB, 2 * MiB + 1, 5 * MiB,
		9 * MiB - 1, 9 * MiB, 9 * MiB + 1, 10 * MiB - 1, 10 * MiB,
		size - 1, size, size + 1, 64 * MiB,
	};
	int ufd = open(upath, O_RDONLY | O_CLOEXEC);
	int rfd = open(real, O_RDONLY | O_CLOEXEC);
	size_t i, w;

	ASSERT_GE(ufd, 0);
	ASSERT_GE(rfd, 0);
	for (w = 0; w < 2; w++) {
		for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			off_t ur, rr;
			int ue, re;

			errno = 0;
			rr = lseek(rfd, offs[i], whences[w]);
			re = rr < 0 ? errno : 0;
			errno = 0;
			ur = lseek(ufd, offs[i], whences[w]);
			ue = ur < 0 ? errno : 0;
			EXPECT_TRUE(ur == rr && ue == re)
				TH_LOG("%s: lseek(%lld, %s) = %lld (%s), real file: %lld (%s)",
				       upath, (long long)offs[i],
				       whences[w] == SEEK_DATA ? "SEEK_DATA"
							       : "SEEK_HOLE",
				       (long long)ur, ue ? strerror(ue) : "ok",
				       (long long)rr, re ? strerror(re) : "ok");
		}
	}
	EXPECT_EQ(size, lseek(ufd, 0, SEEK_END));
	EXPECT_EQ(size - 10, lseek(ufd, -10, SEEK_END));
	EXPECT_EQ(size - 5, lseek(ufd, 5, SEEK_CUR));
	close(ufd);
	close(rfd);
}

TEST_F(view, seek_data_hole)
{
	unsigned char buf[4096], zero[4096] = { 0 };
	int fd;

	/* lower: 1 MiB data, 8 MiB hole, 1 MiB data; upper: hole first. */
	mk_sparse(_metadata, L("sparse"), 0, 9 * MiB, 10 * MiB);
	mk_sparse(_metadata, U("usparse"), 2 * MiB, 4 * MiB, 6 * MiB);
	MOUNT();

	/* The real file is sparse as intended. */
	fd = open_ok(_metadata, L("sparse"), O_RDONLY);
	ASSERT_EQ(MiB, lseek(fd, 0, SEEK_HOLE));
	ASSERT_EQ(9 * MiB, lseek(fd, MiB, SEEK_DATA));
	close(fd);

	expect_same_seeks(_metadata, M("sparse"), L("sparse"), 10 * MiB);
	expect_same_seeks(_metadata, M("usparse"), U("usparse"), 6 * MiB);

	/* The hole reads as zeros. */
	fd = open_ok(_metadata, M("sparse"), O_RDONLY);
	memset(buf, 1, sizeof(buf));
	EXPECT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 5 * MiB));
	EXPECT_EQ(0, memcmp(buf, zero, sizeof(buf)));
	close(fd);
}

/* ---- symlinks ---- */

/* readlink(@path) into a buffer of @bufsize (at most PATH_MAX) must give @want. */
static void expect_readlink(struct __test_metadata *_metadata,
			    const char *path, size_t bufsize, const char *want)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, bufsize < sizeof(buf) ? bufsize : sizeof(buf));
	int err = errno;

	EXPECT_EQ((ssize_t)strlen(want), n)
		TH_LOG("readlink %s: %s", path,
		       n < 0 ? strerror(err) : "wrong length");
	if (n >= 0)
		EXPECT_TRUE((size_t)n == strlen(want) && !memcmp(buf, want, n))
			TH_LOG("readlink %s = '%.*s', want '%s'", path,
			       (int)n, buf, want);
}

TEST_F(view, symlinks)
{
	struct stat st;
	char buf[16];
	int r;

	TREE(U(""), "target=upper target");
	MKSYM("target", L("ln"));		/* lower link, upper target */
	TREE(L(""), "sub/", "sub/file=lower file in merged dir");
	TREE(U(""), "sub/");
	MKSYM("sub/file", U("uln"));		/* upper link, lower target */
	TREE(L(""), "dangling->nowhere");
	MKSYM("sub", L("dl"));			/* link to a merged dir */
	TREE(U(""), "chain->ln", "wh:wh");
	TREE(L(""), "sub/up->../target", "to_whiteout->wh", "wh=hidden");
	MOUNT();

	expect_readlink(_metadata, M("ln"), PATH_LEN, "target");
	expect_readlink(_metadata, M("uln"), PATH_LEN, "sub/file");
	expect_readlink(_metadata, M("uln"), 3, "sub");	/* truncated */
	expect_readlink(_metadata, M("sub/up"), PATH_LEN, "../target");
	expect_readlink(_metadata, M("dangling"), PATH_LEN, "nowhere");
	EXPECT_EQ(6, LSTAT(M("ln")).st_size);
	EXPECT_TYPE(S_IFLNK, M("ln"));
	EXPECT_TYPE(S_IFLNK, M("uln"));
	EXPECT_TYPE(S_IFLNK, M("dangling"));
	EXPECT_ERRNO(EINVAL, readlink(M("target"), buf, sizeof(buf)));

	/* Following them. */
	r = stat(M("ln"), &st) ? -errno : 0;
	EXPECT_EQ(0, r) TH_LOG("stat %s: %s", M("ln"), strerror(-r));
	EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("stat(ln): mode %o", st.st_mode);
	EXPECT_EQ(INO(M("target")), (uint64_t)st.st_ino);
	EXPECT_CONTENTS(M(""), "ln=upper target",
	                "uln=lower file in merged dir", "chain=upper target",
	                "sub/up=upper target",
	                "dl/file=lower file in merged dir");
	EXPECT_EQ(ENOENT, stat(M("dangling"), &st) ? errno : 0);
	/* A link to a whited-out name does not reach the lower file. */
	EXPECT_EQ(ENOENT, stat(M("to_whiteout"), &st) ? errno : 0);
	EXPECT_EQ(ENOENT, open_errno(M("to_whiteout")));
	CHECK_LIST(M("dl"), "file", "up");
}

/*
 * A symlink target of @len bytes (1, or more than 2) that names "f" in the
 * link's directory: (@len - 1) / 2 times "./", then "f" (odd @len) or "/f".
 */
static void walking_target(char *buf, size_t len)
{
	size_t i = 0;

	while (i < (len - 1) / 2 * 2) {
		buf[i++] = '.';
		buf[i++] = '/';
	}
	if (len % 2 == 0)
		buf[i++] = '/';
	buf[i++] = 'f';
	buf[i] = '\0';
}

/*
 * Targets of every length tmpfs keeps either in the inode (up to 127 bytes) or
 * in a page (128 to PATH_MAX - 1): readlink and a walk through the link give
 * the target on either layer, and after the link's copy-up (lchown) the upper
 * layer holds the same target.
 */
TEST_F(view, symlink_targets_of_every_size)
{
	static const size_t lens[] = { 1, 126, 127, 128, 129, 1000, 4095 };
	char target[4096], buf[4096], name[64];
	struct stat st;
	size_t i;

	TREE(L(""), "f=lower f", "d/", "d/f=lower d/f");
	TREE(U(""), "u/", "u/f=upper u/f");
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		walking_target(target, lens[i]);
		ASSERT_EQ(lens[i], strlen(target));
		snprintf(name, sizeof(name), "l%zu", lens[i]);
		MKSYM(target, L(name));
		snprintf(name, sizeof(name), "d/l%zu", lens[i]);
		MKSYM(target, L(name));
		snprintf(name, sizeof(name), "u/l%zu", lens[i]);
		MKSYM(target, U(name));
	}
	MOUNT();

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		static const char *const dirs[] = { "", "d/", "u/" };
		static const char *const want[] = {
			"lower f", "lower d/f", "upper u/f"
		};
		size_t j;

		walking_target(target, lens[i]);
		for (j = 0; j < ARRAY_SIZE(dirs); j++) {
			snprintf(name, sizeof(name), "%sl%zu", dirs[j], lens[i]);
			expect_readlink(_metadata, M(name), sizeof(buf), target);
			EXPECT_EQ(0, stat(M(name), &st)) TH_LOG("stat %s: %s", name, strerror(errno));
			EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("%s: mode %o", name, st.st_mode);
			EXPECT_CONTENT(M(name), want[j]);
			/* Copy-up of the link itself, then the same again. */
			ASSERT_EQ(0, lchown(M(name), 0, 1)) TH_LOG("lchown %s: %s", name, strerror(errno));
			expect_readlink(_metadata, M(name), sizeof(buf), target);
			expect_readlink(_metadata, U(name), sizeof(buf), target);
			EXPECT_EQ(1, LSTAT(U(name)).st_gid);
			EXPECT_CONTENT(M(name), want[j]);
		}
	}
}

/* ---- xattrs ---- */

/*
 * The xattr names of @path as one sorted, space separated string (without
 * trusted.union.* names if @drop_private); NULL and errno on error.
 */
static char *xattr_names(const char *path, bool drop_private)
{
	char list[8192], *names[128], *p, *out;
	size_t outlen = 1;
	ssize_t len;
	int n = 0, i;

	len = llistxattr(path, list, sizeof(list));
	if (len < 0)
		return NULL;
	for (p = list; p < list + len && n < 128; p += strlen(p) + 1) {
		if (drop_private &&
		    !strncmp(p, PRIVATE_PREFIX, strlen(PRIVATE_PREFIX)))
			continue;
		names[n++] = p;
		outlen += strlen(p) + 1;
	}
	qsort(names, n, sizeof(*names), str_cmp);
	out = malloc(outlen);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(out, names[i]);
		if (i + 1 < n)
			strcat(out, " ");
	}
	return out;
}

static void expect_xattr_list(struct __test_metadata *_metadata,
			      const char *upath, const char *real,
			      const char *must_have)
{
	char *want = xattr_names(real, true);
	char *got = xattr_names(upath, false);
	char buf[8192];
	ssize_t size;
	int err = errno;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got) TH_LOG("listxattr %s: %s", upath, strerror(err));
	EXPECT_STREQ(want, got) TH_LOG("listxattr %s", upath);
	EXPECT_EQ(NULL, strstr(got, PRIVATE_PREFIX))
		TH_LOG("%s lists a private xattr: %s", upath, got);
	EXPECT_NE(NULL, strstr(got, must_have))
		TH_LOG("%s: no %s in '%s'", upath, must_have, got);
	/* Size query and ERANGE agree with the list. */
	size = llistxattr(upath, NULL, 0);
	EXPECT_EQ(size, llistxattr(upath, buf, sizeof(buf)));
	EXPECT_EQ(*got ? (ssize_t)strlen(got) + 1 : 0, size)
		TH_LOG("%s: listxattr size", upath);
	if (size > 0) {
		EXPECT_ERRNO(ERANGE, llistxattr(upath, buf, size - 1));
	}
	free(want);
	free(got);
}

/* Layers with private xattrs everywhere the format puts them, and more. */
static void build_xattrs(struct __test_metadata *_metadata,
			 FIXTURE_DATA(view) *self)
{
	TREE(L(""), "op/", "op/mk/");
	TREE(U(""), "op/", "op@opaque", "op@user.color=blue",
	     "op@trusted.foo=bar", "op/mk/", "op/mk@fallthru", "op/mk@user.a=1",
	     "uf=uf", "uf@trusted.union.custom=zzz", "uf@user.k=v");
	TREE(L(""), "lf=lf");
	XATTR(L("lf"), OPAQUE_XATTR, "y");
	TREE(L(""), "lf@user.l=1", "lf@trusted.bar=baz", "cover=l",
	     "cover@user.who=lower", "cover@user.lonly=x");
	TREE(U(""), "cover=u", "cover@user.who=upper", "mdir/",
	     "mdir@user.m=up", "empty=e", "empty@user.e=");
	TREE(L(""), "mdir/", "mdir@user.m=low", "mdir@user.lo=1");
}

TEST_F(view, xattr_list_hides_private)
{
	build_xattrs(_metadata, self);
	MOUNT();

	expect_xattr_list(_metadata, M("op"), U("op"), "user.color");
	expect_xattr_list(_metadata, M("op"), U("op"), "trusted.foo");
	expect_xattr_list(_metadata, M("op/mk"), U("op/mk"), "user.a");
	expect_xattr_list(_metadata, M("uf"), U("uf"), "user.k");
	expect_xattr_list(_metadata, M("lf"), L("lf"), "trusted.bar");
	expect_xattr_list(_metadata, M("cover"), U("cover"), "user.who");
	expect_xattr_list(_metadata, M("mdir"), U("mdir"), "user.m");
	{
		char *got = xattr_names(M("cover"), false);

		ASSERT_NE(NULL, got);
		EXPECT_EQ(NULL, strstr(got, "user.lonly"))
			TH_LOG("covered lower file's xattrs shown: %s", got);
		free(got);
	}
}

static void expect_xattr(struct __test_metadata *_metadata, const char *path,
			 const char *name, const char *want)
{
	char buf[4096];
	ssize_t size, n = lgetxattr(path, name, buf, sizeof(buf));
	int err = errno;

	ASSERT_GE(n, 0) TH_LOG("getxattr %s %s: %s", path, name,
			       strerror(err));
	EXPECT_TRUE((size_t)n == strlen(want) && !memcmp(buf, want, n))
		TH_LOG("%s %s = '%.*s', want '%s'", path, name, (int)n, buf,
		       want);
	/* The size query (size 0) gives the value's length. */
	errno = 0;
	size = lgetxattr(path, name, NULL, 0);
	err = errno;
	EXPECT_EQ(n, size)
		TH_LOG("getxattr(%s, %s, NULL, 0): %s", path, name,
		       size < 0 ? strerror(err) : "wrong size");
}

static void expect_no_xattr(struct __test_metadata *_metadata,
			    const char *path, const char *name)
{
	char buf[64];
	ssize_t n;

	errno = 0;
	n = lgetxattr(path, name, buf, sizeof(buf));
	EXPECT_EQ(-1, n) TH_LOG("%s %s readable ('%.*s')", path, name,
				(int)(n > 0 ? n : 0), buf);
	EXPECT_EQ(ENODATA, errno)
		TH_LOG("getxattr %s %s: %s, want ENODATA", path, name,
		       strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, lgetxattr(path, name, NULL, 0));
	EXPECT_EQ(ENODATA, errno) TH_LOG("size query of %s %s", path, name);
}

TEST_F(view, xattr_values)
{
	char big[300], buf[512];
	int fd;

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	build_xattrs(_metadata, self);
	XATTR(L("lf"), "user.big", big);
	MOUNT();

	expect_xattr(_metadata, M("op"), "user.color", "blue");
	expect_xattr(_metadata, M("op"), "trusted.foo", "bar");
	expect_xattr(_metadata, M("op/mk"), "user.a", "1");
	expect_xattr(_metadata, M("uf"), "user.k", "v");
	expect_xattr(_metadata, M("lf"), "user.l", "1");
	expect_xattr(_metadata, M("lf"), "trusted.bar", "baz");
	expect_xattr(_metadata, M("lf"), "user.big", big);
	expect_xattr(_metadata, M("cover"), "user.who", "upper");
	expect_no_xattr(_metadata, M("cover"), "user.lonly");
	expect_xattr(_metadata, M("mdir"), "user.m", "up");
	expect_no_xattr(_metadata, M("mdir"), "user.lo");
	expect_xattr(_metadata, M("empty"), "user.e", "");
	expect_no_xattr(_metadata, M("lf"), "user.none");
	EXPECT_ERRNO(ERANGE, lgetxattr(M("lf"), "user.big", buf, 10));

	fd = open_ok(_metadata, M("lf"), O_RDONLY);
	EXPECT_EQ(1, fgetxattr(fd, "user.l", buf, sizeof(buf)));
	EXPECT_EQ('1', buf[0]);
	close(fd);
}

TEST_F(view, xattr_private_enodata)
{
	char buf[64];
	int fd;

	build_xattrs(_metadata, self);
	MOUNT();

	/* The opaque flag still works ... */
	CHECK_LIST(M("op"), "mk");
	/* ... but is not visible through the union. */
	expect_no_xattr(_metadata, M("op"), OPAQUE_XATTR);
	expect_no_xattr(_metadata, M("op/mk"), FALLTHRU_XATTR);
	expect_no_xattr(_metadata, M("uf"), "trusted.union.custom");
	expect_no_xattr(_metadata, M("lf"), OPAQUE_XATTR);
	expect_no_xattr(_metadata, M(""), OPAQUE_XATTR);

	fd = open_ok(_metadata, M("op"), O_RDONLY | O_DIRECTORY);
	errno = 0;
	EXPECT_ERRNO(ENODATA, fgetxattr(fd, OPAQUE_XATTR, buf, sizeof(buf)));
	close(fd);
}

/* ---- statfs ---- */

TEST_F(view, statfs_matches_upper)
{
	struct statfs m, u, l, s;
	char *data = calloc(1, 3 * MiB);
	int fd;

	ASSERT_NE(NULL, data);
	mk_file(_metadata, U("fill"), data, 3 * MiB);	/* upper not empty */
	TREE(L(""), "d/");
	TREE(U(""), "d/");
	free(data);
	MOUNT();

	ASSERT_EQ(0, statfs(U(""), &u));
	ASSERT_EQ(0, statfs(L(""), &l));
	ASSERT_EQ(0, statfs(M(""), &m));
	/* The fixture made the layers' filesystems different. */
	ASSERT_NE(l.f_blocks, u.f_blocks);
	ASSERT_NE(l.f_files, u.f_files);

	EXPECT_EQ(UNION_MAGIC, (long)m.f_type)
		TH_LOG("f_type %#lx", (unsigned long)m.f_type);
	EXPECT_EQ(u.f_bsize, m.f_bsize);
	EXPECT_EQ(u.f_blocks, m.f_blocks);
	EXPECT_EQ(u.f_bfree, m.f_bfree);
	EXPECT_EQ(u.f_bavail, m.f_bavail);
	EXPECT_EQ(u.f_files, m.f_files);
	EXPECT_EQ(u.f_ffree, m.f_ffree);

	ASSERT_EQ(0, statfs(M("d"), &s));
	EXPECT_EQ(UNION_MAGIC, (long)s.f_type);
	EXPECT_EQ(u.f_blocks, s.f_blocks);
	EXPECT_EQ(u.f_bfree, s.f_bfree);
	EXPECT_EQ(u.f_files, s.f_files);

	fd = open_ok(_metadata, M(""), O_RDONLY | O_DIRECTORY);
	ASSERT_EQ(0, fstatfs(fd, &s));
	close(fd);
	EXPECT_EQ(UNION_MAGIC, (long)s.f_type);
	EXPECT_EQ(u.f_blocks, s.f_blocks);
	EXPECT_EQ(u.f_bfree, s.f_bfree);
	EXPECT_EQ(u.f_files, s.f_files);
}

/* ---- the reserved work directory ---- */

TEST_F(view, work_dir_name_reserved_at_root)
{
	struct stat st;
	char *lower_before, *lower_after;

	/* The name on lower: hidden at the root, an ordinary name below. */
	TREE(L(""), ".union-work/", ".union-work/secret=s", "lf=lf", "d/",
	     "d/.union-work=visible");
	TREE(U(""), "ud/", "ud/.union-work/");
	lower_before = snapshot(_metadata, self->l.lower);
	MOUNT();

	/* The module made its work directory on upper. */
	st = LSTAT(U(".union-work"));
	EXPECT_TRUE(S_ISDIR(st.st_mode)) TH_LOG("upper .union-work: mode %o",
						st.st_mode);
	EXPECT_EQ(0700, st.st_mode & 07777);

	EXPECT_ENOENT(M(".union-work"));
	EXPECT_EQ(ENOENT, lstat_errno(M(".union-work/secret")));
	CHECK_LIST(M(""), "lf", "d", "ud");
	EXPECT_ENOENT(M(".union-work"));
	CHECK_LIST(M("d"), ".union-work");
	EXPECT_CONTENT(M("d/.union-work"), "visible");
	EXPECT_INO(LINO(L("d/.union-work")), M("d/.union-work"));
	CHECK_LIST(M("ud"), ".union-work");
	EXPECT_TYPE(S_IFDIR, M("ud/.union-work"));
	check_tree(_metadata, self->l.mnt, NULL);

	/* The root's readdir copy-up left the work directory alone. */
	st = LSTAT(U(".union-work"));
	EXPECT_TRUE(S_ISDIR(st.st_mode)) TH_LOG("upper .union-work: mode %o",
						st.st_mode);
	EXPECT_EQ(0700, st.st_mode & 07777);

	UMOUNT();
	MOUNT();
	EXPECT_ENOENT(M(".union-work"));
	CHECK_LIST(M(""), "lf", "d", "ud");
	CHECK_LIST(M("d"), ".union-work");
	lower_after = snapshot(_metadata, self->l.lower);
	expect_same_snapshot(_metadata, "lower layer", lower_before,
			     lower_after);
	free(lower_before);
	free(lower_after);
}

/* ---- readdir copy-up: the only write a reader causes ---- */

/* Names of build_mixed() that the union does not show, and why. */
static const struct {
	const char *rel;
	int err;
} mixed_absent[] = {
	{ "wh", ENOENT },
	{ "op/hidden", ENOENT },
	{ "op/nomk/ln", ENOENT },
	{ "file_over_dir/y", ENOTDIR },
	{ "ldir/none", ENOENT },
	{ ".union-work", ENOENT },
};
#define N_MIXED_ABSENT	(sizeof(mixed_absent) / sizeof(mixed_absent[0]))

/*
 * What the union shows for every name of build_mixed(), found by lookup
 * alone (no readdir): type, mode, owner, inode, device number; for
 * non-directories also size, link count, mtime, data, symlink target and
 * what stat() follows to; xattrs; the errno of the absent names.  Directory
 * times, sizes and link counts are left out (see readdir_keeps_dir_mtime).
 */
static char *view_lookup(struct __test_metadata *_metadata,
			 FIXTURE_DATA(view) *self)
{
	char *buf = NULL, target[PATH_LEN];
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_NE(NULL, f);
	for (i = 0; i < N_MIXED_INOS; i++) {
		const char *rel = mixed_inos[i].rel, *path = M(rel);
		struct stat st, fst;

		if (lstat(path, &st)) {
			fprintf(f, "/%s lstat-error=%d\n", rel, errno);
			continue;
		}
		fprintf(f, "/%s mode=%o uid=%u gid=%u ino=%#llx rdev=%u:%u",
			rel, st.st_mode, st.st_uid, st.st_gid,
			(unsigned long long)st.st_ino, major(st.st_rdev),
			minor(st.st_rdev));
		if (!S_ISDIR(st.st_mode))
			fprintf(f, " size=%lld nlink=%lu mtime=%lld.%09ld",
				(long long)st.st_size,
				(unsigned long)st.st_nlink,
				(long long)st.st_mtim.tv_sec,
				st.st_mtim.tv_nsec);
		if (S_ISREG(st.st_mode)) {
			size_t n;
			unsigned char *data = read_file(path, 4096, &n);

			fprintf(f, " data=%016llx", data ?
				(unsigned long long)fnv1a(0xcbf29ce484222325ULL,
							  data, n) : 0ULL);
			free(data);
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(path, target, sizeof(target) - 1);

			fprintf(f, " -> %.*s", (int)(n < 0 ? 0 : n), target);
			if (stat(path, &fst))
				fprintf(f, " follows-error=%d", errno);
			else
				fprintf(f, " follows-ino=%#llx",
					(unsigned long long)fst.st_ino);
		}
		snap_xattrs(f, path);
		fputc('\n', f);
	}
	for (i = 0; i < N_MIXED_ABSENT; i++)
		fprintf(f, "/%s errno=%d\n", mixed_absent[i].rel,
			lstat_errno(M(mixed_absent[i].rel)));
	ASSERT_EQ(0, fclose(f));
	return buf;
}

static void __attribute__((noinline))
expect_absent(struct __test_metadata *_metadata, FIXTURE_DATA(view) *self,
	      size_t i)
{
	int err = lstat_errno(M(mixed_absent[i].rel));

	EXPECT_EQ(mixed_absent[i].err, err)
		TH_LOG("lstat %s: %s, want %s", mixed_absent[i].rel,
		       err ? strerror(err) : "exists",
		       strerror(mixed_absent[i].err));
}

TEST_F(view, readdir_copy_up_keeps_view)
{
	char *before, *after, *list1 = NULL, *list2 = NULL;
	size_t len, i;
	FILE *f;

	build_mixed(_metadata, self);
	MOUNT();

	/* Lookups before any readdir: the names as the layers give them. */
	for (i = 0; i < N_MIXED_ABSENT; i++)
		expect_absent(_metadata, self, i);
	before = view_lookup(_metadata, self);

	/* The first readdir of every directory copies it up ... */
	f = open_memstream(&list1, &len);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(32, check_tree(_metadata, self->l.mnt, f));
	fclose(f);
	/* ... which changes nothing in the view, looked up ... */
	after = view_lookup(_metadata, self);
	expect_same_snapshot(_metadata, "view after the first readdirs",
			     before, after);
	free(after);
	/* ... or listed: a second walk lists from upper alone. */
	list2 = tree_snapshot(_metadata, self);
	expect_same_snapshot(_metadata, "listing after the first readdirs",
			     list1, list2);
	free(list2);

	/* The same after a remount, from the copied-up upper layer. */
	UMOUNT();
	MOUNT();
	after = view_lookup(_metadata, self);
	expect_same_snapshot(_metadata, "view after remount", before, after);
	free(after);
	list2 = tree_snapshot(_metadata, self);
	expect_same_snapshot(_metadata, "listing after remount", list1, list2);
	free(list2);
	free(list1);
	free(before);
}

/* The first pass walks the union (copying directories up), the second remounts it. */
static void walk_or_remount(struct __test_metadata *_metadata,
			    FIXTURE_DATA(view) *self, size_t pass)
{
	if (pass == 0) {
		check_tree(_metadata, self->l.mnt, NULL);
	} else {
		UMOUNT();
		MOUNT();
	}
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

TEST_F(view, readdir_keeps_dir_mtime)
{
	static const char *const dirs[] = {
		"", "ld", "ld/sub", "md", "le", "op", "op/fd",
	};
	const struct timespec ts[2] = {
		{ 1400000000, 987654321 }, { 1500000000, 123456789 },
	};
	struct timespec before[7];
	struct stat st;
	size_t i, pass;

	MKDIR(L("ld"));			/* lower only, with entries */
	TREE(L(""), "ld/a=a", "ld/sub/", "ld/sub/b=b");
	MKDIR(L("md"));			/* merged */
	TREE(L(""), "md/l=l");
	TREE(U(""), "md/", "md/u=u");
	MKDIR(L("le"));			/* lower only, empty */
	MKDIR(L("op"));			/* opaque, with a fallthru dir */
	TREE(L(""), "op/fd/", "op/fd/c=c", "lf=lf");
	TREE(U(""), "op/", "op@opaque", "op/fd:ft4");
	for (i = 1; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		ASSERT_EQ(0, utimensat(AT_FDCWD, L(dirs[i]), ts, 0));
		if (!lstat_errno(U(dirs[i])))
			ASSERT_EQ(0, utimensat(AT_FDCWD, U(dirs[i]), ts, 0));
	}
	MOUNT();

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		before[i] = LSTAT(M(dirs[i])).st_mtim;
		if (i)
			EXPECT_TRUE(ts_eq(before[i], ts[1]))
				TH_LOG("/%s: mtime %lld.%09ld, want the layer's",
				       dirs[i], (long long)before[i].tv_sec,
				       before[i].tv_nsec);
	}
	for (pass = 0; pass < 2; pass++) {
		walk_or_remount(_metadata, self, pass);
		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			st = LSTAT(M(dirs[i]));
			EXPECT_TRUE(ts_eq(st.st_mtim, before[i]))
				TH_LOG("/%s: mtime %lld.%09ld before the readdirs, %lld.%09ld after%s",
				       dirs[i], (long long)before[i].tv_sec,
				       before[i].tv_nsec,
				       (long long)st.st_mtim.tv_sec,
				       st.st_mtim.tv_nsec,
				       pass ? " and a remount" : "");
		}
	}
}

/*
 * The first readdir of a lower directory (its copy-up) does not change the ctime
 * users see either: GNU tar checks that a directory's ctime did not change while it
 * read it ("file changed as we read it", exit status 1).  A change to its entries
 * afterwards changes it.
 */
TEST_F(view, readdir_keeps_lower_dir_ctime)
{
	static const char *const dirs[] = { "ld", "ld/sub", "le" };
	struct timespec before[3];
	struct stat st, lst;
	size_t i, pass;

	TREE(L(""), "ld/", "ld/a=a", "ld/sub/", "ld/sub/b=b", "le/");
	MOUNT();
	for (i = 0; i < 3; i++) {
		before[i] = LSTAT(M(dirs[i])).st_ctim;
		lst = LSTAT(L(dirs[i]));
		EXPECT_TRUE(ts_eq(before[i], lst.st_ctim))
			TH_LOG("/%s: ctime is not the lower directory's", dirs[i]);
	}
	for (pass = 0; pass < 2; pass++) {
		walk_or_remount(_metadata, self, pass);
		for (i = 0; i < 3; i++) {
			ASSERT_EQ(0, lstat_errno(U(dirs[i])))
				TH_LOG("/%s was not copied up by readdir", dirs[i]);
			st = LSTAT(M(dirs[i]));
			EXPECT_TRUE(ts_eq(st.st_ctim, before[i]))
				TH_LOG("/%s: ctime %lld.%09ld before the readdirs, %lld.%09ld after%s",
				       dirs[i], (long long)before[i].tv_sec, before[i].tv_nsec,
				       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
				       pass ? " and a remount" : "");
		}
		if (pass == 0) {
			/* A change of the inode alone moves it too (in this mount). */
			ASSERT_EQ(0, chmod(M("le"), 0700));
			st = LSTAT(M("le"));
			EXPECT_FALSE(ts_eq(st.st_ctim, before[2]))
				TH_LOG("/le: chmod did not change the ctime");
		}
	}
	/* A new entry is a change: the ctime moves (to the upper directory's). */
	MKFILE(M("ld/new"), "n");
	st = LSTAT(M("ld"));
	lst = LSTAT(U("ld"));
	EXPECT_FALSE(ts_eq(st.st_ctim, before[0]));
	EXPECT_TRUE(ts_eq(st.st_ctim, lst.st_ctim));
}

/*
 * After that readdir, the copy-up of an entry (a chmod of a file, of a file with
 * two links, of a FIFO; a chown of a symlink) changes neither the directory's
 * ctime nor its mtime: the copy-up marks the directory as holding entries with an
 * origin (an xattr, which moves the upper ctime) before it is placed, and the times
 * users saw must be read before that.  (A review found the marking done after the
 * read once the read moved to right before the placing.)
 */
TEST_F(view, readdir_then_copy_up_keeps_dir_times)
{
	static const char *const dirs[] = { "pf", "ph", "pl", "pp" };
	static const char *const objs[] = { "pf/f", "ph/h", "pl/l", "pp/p" };
	struct timespec c0, m0;
	struct stat st;
	size_t i;

	TREE(L(""), "pf/", "pf/f=f", "ph/", "ph/h=h", "pl/", "pp/");
	ASSERT_EQ(0, link(L("ph/h"), L("ph/h2")));
	MKSYM("target", L("pl/l"));
	MKFIFO(L("pp/p"));
	MOUNT();
	for (i = 0; i < 4; i++) {
		check_tree(_metadata, M(dirs[i]), NULL);
		ASSERT_EQ(0, lstat_errno(U(dirs[i])))
			TH_LOG("/%s was not copied up by readdir", dirs[i]);
		c0 = LSTAT(M(dirs[i])).st_ctim;
		m0 = LSTAT(M(dirs[i])).st_mtim;
		switch (i) {
		case 0: ASSERT_EQ(0, chmod(M("pf/f"), 0600)); break;
		case 1: ASSERT_EQ(0, chmod(M("ph/h"), 0600)); break;
		case 2: ASSERT_EQ(0, lchown(M("pl/l"), 1234, 1234)); break;
		case 3: ASSERT_EQ(0, chmod(M("pp/p"), 0600)); break;
		}
		ASSERT_EQ(0, lstat_errno(U(objs[i]))) TH_LOG("%s: no copy-up", objs[i]);
		st = LSTAT(M(dirs[i]));
		EXPECT_TRUE(ts_eq(st.st_ctim, c0))
			TH_LOG("/%s: ctime %lld.%09ld before the copy-up, %lld.%09ld after",
			       dirs[i], (long long)c0.tv_sec, c0.tv_nsec,
			       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		EXPECT_TRUE(ts_eq(st.st_mtim, m0)) TH_LOG("/%s: mtime moved", dirs[i]);
	}
}

/*
 * The same for the root, a merged directory with an mtime of its own: the copy-up
 * of its entries keeps the ctime it showed, while nothing else changes it.
 */
TEST_F(view, readdir_keeps_root_ctime)
{
	struct timespec before;
	struct stat st;

	TREE(L(""), "d/", "d/l=l", "f=f");
	TREE(U(""), "u=u");
	MOUNT();
	before = LSTAT(M("")).st_ctim;
	check_tree(_metadata, self->l.mnt, NULL);
	ASSERT_EQ(0, lstat_errno(U("f"))) TH_LOG("the root was not copied up by readdir");
	st = LSTAT(M(""));
	EXPECT_TRUE(ts_eq(st.st_ctim, before))
		TH_LOG("/: ctime %lld.%09ld before the readdirs, %lld.%09ld after",
		       (long long)before.tv_sec, before.tv_nsec,
		       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	/* A change: the upper directory's ctime. */
	ASSERT_EQ(0, chmod(M(""), 0711));
	st = LSTAT(M(""));
	EXPECT_FALSE(ts_eq(st.st_ctim, before))
		TH_LOG("/: ctime %lld.%09ld after chmod, upper %lld.%09ld",
		       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
		       (long long)LSTAT(U("")).st_ctim.tv_sec, LSTAT(U("")).st_ctim.tv_nsec);
}

/* One object of a layer, for comparing a layer before and after. */
struct rec {
	char rel[PATH_LEN];
	struct stat st;
	char *xattrs;		/* as snap_xattrs() prints them */
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

static void collect(struct __test_metadata *_metadata, struct recs *rs,
		    const char *root, const char *rel)
{
	struct dirent **names;
	struct rec *r;
	size_t len;
	FILE *f;
	int n, i;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		ASSERT_NE(NULL, rs->r);
	}
	r = &rs->r[rs->n++];
	fmt(r->rel, sizeof(r->rel), "%s", rel);
	r->st = lstat_ok(_metadata, jp(root, rel));
	r->xattrs = NULL;
	f = open_memstream(&r->xattrs, &len);
	ASSERT_NE(NULL, f);
	snap_xattrs(f, jp(root, rel));
	ASSERT_EQ(0, fclose(f));
	if (!S_ISDIR(r->st.st_mode))
		return;
	n = scandir(jp(root, rel), &names, NULL, alphasort);
	ASSERT_GE(n, 0) TH_LOG("scandir %s/%s: %s", root, rel, strerror(errno));
	for (i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") &&
		    strcmp(names[i]->d_name, ".."))
			collect(_metadata, rs, root,
				*rel ? jp(rel, names[i]->d_name)
				     : names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static void free_recs(struct recs *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		free(rs->r[i].xattrs);
	free(rs->r);
}

static const struct rec *find_rec(const struct recs *rs, const char *rel)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (!strcmp(rs->r[i].rel, rel))
			return &rs->r[i];
	return NULL;
}

/*
 * @xattrs without the union's directory markers (opaque and fallthru "y");
 * *@markers gets 1 for the opaque flag and 2 for the fallthru flag.
 */
static char *without_markers(const char *xattrs, int *markers)
{
	static const char opaque[] = " " OPAQUE_XATTR "=79";
	static const char fallthru[] = " " FALLTHRU_XATTR "=79";
	char *out = malloc(strlen(xattrs) + 1), *o = out;
	const char *p = xattrs;

	*markers = 0;
	if (!out)
		abort();
	while (*p) {
		const char *e = strchr(p + 1, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == strlen(opaque) && !memcmp(p, opaque, n)) {
			*markers |= 1;
		} else if (n == strlen(fallthru) && !memcmp(p, fallthru, n)) {
			*markers |= 2;
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	return out;
}

static bool same_xattrs_but_markers(const char *a, const char *b)
{
	int ma, mb;
	char *sa = without_markers(a, &ma), *sb = without_markers(b, &mb);
	bool same = !strcmp(sa, sb);

	free(sa);
	free(sb);
	return same;
}

/*
 * The upper layer before (@b) and after (@a) readdirs through the union
 * differ only by readdir copy-up: new fallthrus (0/d_type of the lower entry),
 * new directories copied from lower (its mode, owner and xattrs, plus the
 * fallthru and opaque flags), a directory fallthru replaced by such a
 * directory, and flags and entries added to existing directories.
 */
static void expect_only_readdir_copy_up(struct __test_metadata *_metadata,
					FIXTURE_DATA(view) *self,
					const struct recs *b,
					const struct recs *a)
{
	int problems = 0;
	size_t i;

#define PROBLEM(...) do {						\
	if (problems++ < MAX_LOGGED)					\
		TH_LOG(__VA_ARGS__);					\
} while (0)
	for (i = 0; i < b->n; i++)
		if (!find_rec(a, b->r[i].rel))
			PROBLEM("upper /%s was removed", b->r[i].rel);
	for (i = 0; i < a->n; i++) {
		const struct rec *ar = &a->r[i], *br = find_rec(b, ar->rel);
		const struct stat *as = &ar->st;
		struct stat ls;
		char *lx;
		int m;

		if (is_shared_marker(ar->rel, as))
			continue;	/* fallthru.<t> in the work directory */
		if (br && S_ISDIR(br->st.st_mode)) {
			/* An existing directory: entries and flags added. */
			if (!S_ISDIR(as->st_mode) ||
			    as->st_mode != br->st.st_mode ||
			    as->st_uid != br->st.st_uid ||
			    as->st_gid != br->st.st_gid ||
			    as->st_ino != br->st.st_ino)
				PROBLEM("upper dir /%s: mode %o uid %u ino %llu, was %o %u %llu",
					ar->rel, as->st_mode, as->st_uid,
					(unsigned long long)as->st_ino,
					br->st.st_mode, br->st.st_uid,
					(unsigned long long)br->st.st_ino);
			if (!same_xattrs_but_markers(br->xattrs, ar->xattrs))
				PROBLEM("upper dir /%s: xattrs '%s', were '%s'",
					ar->rel, ar->xattrs, br->xattrs);
			continue;
		}
		if (br && !(S_ISCHR(br->st.st_mode) &&
			    br->st.st_rdev == makedev(0, DT_DIR) &&
			    S_ISDIR(as->st_mode))) {
			/* Anything else that was there: untouched. */
			const struct stat *bs = &br->st;

			if (as->st_mode != bs->st_mode ||
			    as->st_uid != bs->st_uid ||
			    as->st_gid != bs->st_gid ||
			    as->st_size != bs->st_size ||
			    as->st_rdev != bs->st_rdev ||
			    as->st_nlink != bs->st_nlink ||
			    as->st_ino != bs->st_ino ||
			    as->st_mtim.tv_sec != bs->st_mtim.tv_sec ||
			    as->st_mtim.tv_nsec != bs->st_mtim.tv_nsec ||
			    as->st_ctim.tv_sec != bs->st_ctim.tv_sec ||
			    as->st_ctim.tv_nsec != bs->st_ctim.tv_nsec ||
			    strcmp(ar->xattrs, br->xattrs))
				PROBLEM("upper /%s changed (mode %o, was %o)",
					ar->rel, as->st_mode, bs->st_mode);
			continue;
		}
		/* New (or a directory fallthru made a directory). */
		if (lstat(L(ar->rel), &ls)) {
			PROBLEM("new upper /%s (mode %o) has no lower entry",
				ar->rel, as->st_mode);
			continue;
		}
		if (S_ISCHR(as->st_mode) && major(as->st_rdev) == 0) {
			if (minor(as->st_rdev) != IFTODT(ls.st_mode) ||
			    (S_ISCHR(ls.st_mode) && ls.st_rdev == 0))
				PROBLEM("new fallthru /%s: 0/%u, lower mode %o rdev %u:%u",
					ar->rel, minor(as->st_rdev),
					ls.st_mode, major(ls.st_rdev),
					minor(ls.st_rdev));
			continue;
		}
		if (!S_ISDIR(as->st_mode) || !S_ISDIR(ls.st_mode)) {
			PROBLEM("new upper /%s: mode %o, lower mode %o",
				ar->rel, as->st_mode, ls.st_mode);
			continue;
		}
		if (as->st_mode != ls.st_mode || as->st_uid != ls.st_uid ||
		    as->st_gid != ls.st_gid)
			PROBLEM("copied-up dir /%s: mode %o owner %u:%u, lower %o %u:%u",
				ar->rel, as->st_mode, as->st_uid, as->st_gid,
				ls.st_mode, ls.st_uid, ls.st_gid);
		lx = NULL;
		{
			size_t len;
			FILE *f = open_memstream(&lx, &len);

			ASSERT_NE(NULL, f);
			snap_xattrs(f, L(ar->rel));
			ASSERT_EQ(0, fclose(f));
		}
		free(without_markers(ar->xattrs, &m));
		if (!same_xattrs_but_markers(lx, ar->xattrs) || !(m & 2))
			PROBLEM("copied-up dir /%s: xattrs '%s', lower '%s'",
				ar->rel, ar->xattrs, lx);
		free(lx);
	}
#undef PROBLEM
	EXPECT_EQ(0, problems) TH_LOG("%d unexpected changes on upper",
				      problems);
}

TEST_F(view, readdir_copy_up_is_the_only_change)
{
	struct recs before = { 0 }, after = { 0 };
	char *lower_before, *lower_after;

	build_mixed(_metadata, self);
	TREE(L(""), "ldir@user.dir=copied", "mdir/sub@user.sub=lower");
	WHITEOUT(L("ldir/lwh"));		/* gets no fallthru */
	ASSERT_EQ(0, chmod(L("ldir"), 0750));
	ASSERT_EQ(0, chown(L("ldir"), 12, 34));
	lower_before = snapshot(_metadata, self->l.lower);
	MOUNT();
	collect(_metadata, &before, self->l.upper, "");

	check_tree(_metadata, self->l.mnt, NULL);
	collect(_metadata, &after, self->l.upper, "");
	expect_only_readdir_copy_up(_metadata, self, &before, &after);
	/* The directories that were read have their lower part on upper. */
	{
		static const char *const merged[] = {
			"", "ldir", "mdir", "mdir/sub", "op/fd", "op/mk",
		};
		size_t i;

		for (i = 0; i < sizeof(merged) / sizeof(merged[0]); i++) {
			const struct rec *r = find_rec(&after, merged[i]);
			int m = 0;

			EXPECT_TRUE(r && S_ISDIR(r->st.st_mode))
				TH_LOG("upper /%s is not a directory", merged[i]);
			if (r)
				free(without_markers(r->xattrs, &m));
			EXPECT_TRUE(m & 1)
				TH_LOG("upper /%s is not opaque after readdir",
				       merged[i]);
		}
	}
	free_recs(&before);

	free_recs(&after);

	lower_after = snapshot(_metadata, self->l.lower);
	expect_same_snapshot(_metadata, "lower layer", lower_before,
			     lower_after);
	free(lower_before);
	free(lower_after);
}

/*
 * Every read-only access to every object of the union at @mnt, from its
 * root: lstat/stat/access, open O_RDONLY with read, pread, mmap and sendfile
 * (to @scratch), readlink, getxattr/listxattr, statfs, opening FIFOs and
 * readdir.  Returns the number of objects read.
 */
static size_t read_everything(struct __test_metadata *_metadata,
			      const char *path, const char *scratch)
{
	struct listing ls;
	size_t i, objects = 0;
	struct statfs sfs;

	list_ok(_metadata, path, &ls);
	EXPECT_EQ(0, statfs(path, &sfs));
	for (i = 0; i < ls.n; i++) {
		char cpath[PATH_LEN], buf[PATH_LEN], *names;
		struct stat st, fst;
		int fd;

		if (!strcmp(ls.e[i].name, ".") || !strcmp(ls.e[i].name, ".."))
			continue;
		fmt(cpath, sizeof(cpath), "%s/%s", path, ls.e[i].name);
		st = lstat_ok(_metadata, cpath);
		objects++;
		stat(cpath, &fst);
		access(cpath, R_OK);
		faccessat(AT_FDCWD, cpath, W_OK, AT_EACCESS);
		names = xattr_names(cpath, false);
		if (names) {
			char *p, *save = NULL;

			for (p = strtok_r(names, " ", &save); p;
			     p = strtok_r(NULL, " ", &save))
				lgetxattr(cpath, p, buf, sizeof(buf));
			free(names);
		}
		if (S_ISLNK(st.st_mode)) {
			EXPECT_LT(0, readlink(cpath, buf, sizeof(buf)));
			fd = open(cpath, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0) {
				read(fd, buf, sizeof(buf));
				close(fd);
			}
		} else if (S_ISREG(st.st_mode)) {
			size_t n;
			unsigned char *data = read_file(cpath, 4096, &n);
			off_t off = 0;
			int out;

			EXPECT_NE(NULL, data) TH_LOG("read %s", cpath);
			free(data);
			fd = open(cpath, O_RDONLY | O_CLOEXEC);
			ASSERT_GE(fd, 0) TH_LOG("open %s", cpath);
			EXPECT_LE(0, pread(fd, buf, sizeof(buf), 1));
			EXPECT_EQ(0, posix_fadvise(fd, 0, 0,
						   POSIX_FADV_WILLNEED));
			if (st.st_size) {
				volatile unsigned char *m;

				m = mmap(NULL, st.st_size, PROT_READ,
					 MAP_SHARED, fd, 0);
				EXPECT_NE(MAP_FAILED, m) TH_LOG("mmap %s", cpath);
				if (m != MAP_FAILED) {
					(void)m[st.st_size - 1];
					munmap((void *)m, st.st_size);
				}
			}
			out = open(scratch, O_CREAT | O_TRUNC | O_WRONLY |
				   O_CLOEXEC, 0644);
			ASSERT_GE(out, 0);
			while (sendfile(out, fd, &off, MiB) > 0)
				;
			EXPECT_EQ(st.st_size, off) TH_LOG("sendfile %s", cpath);
			close(out);
			close(fd);
		} else if (S_ISFIFO(st.st_mode)) {
			fd = open(cpath, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			EXPECT_GE(fd, 0) TH_LOG("open fifo %s", cpath);
			if (fd >= 0)
				close(fd);
		} else if (S_ISDIR(st.st_mode)) {
			objects += read_everything(_metadata, cpath, scratch);
		}
	}
	free(ls.e);
	return objects;
}

/* build_mixed() plus multi-block files and a sparse one, with xattrs. */
static void build_read_tree(struct __test_metadata *_metadata,
			    FIXTURE_DATA(view) *self)
{
	unsigned char *data = malloc(MiB + 123);

	ASSERT_NE(NULL, data);
	build_mixed(_metadata, self);
	fill_pattern(data, MiB + 123, 7);
	mk_file(_metadata, L("ldir/big"), data, MiB + 123);
	mk_file(_metadata, U("udir/big"), data, MiB + 123);
	free(data);
	mk_sparse(_metadata, L("mdir/sparse"), 0, 3 * MiB, 5 * MiB);
	TREE(L(""), "lfile@user.l=1", "ldir@user.d=3");
	TREE(U(""), "ufile@user.u=2");
}

/* Removes the lines starting with @prefix from the snapshot @snap. */
static void drop_lines(char *snap, const char *prefix)
{
	char *in = snap, *out = snap;

	while (*in) {
		char *e = strchrnul(in, '\n');
		size_t n = *e ? e - in + 1 : (size_t)(e - in);

		if (strncmp(in, prefix, strlen(prefix))) {
			memmove(out, in, n);
			out += n;
		}
		in += n;
	}
	*out = '\0';
}

TEST_F(view, reads_leave_layers_unchanged)
{
	char *lower0, *upper1, *view1, *s;

	build_read_tree(_metadata, self);
	lower0 = snapshot(_metadata, self->l.lower);
	MOUNT();

	/* The first pass makes the readdir copy-ups ... */
	EXPECT_EQ(35, read_everything(_metadata, self->l.mnt, self->scratch));
	s = snapshot(_metadata, self->l.lower);
	expect_same_snapshot(_metadata, "lower layer after reading", lower0, s);
	free(s);
	upper1 = snapshot(_metadata, self->l.upper);
	view1 = snapshot(_metadata, self->l.mnt);

	/* ... after that, reads change nothing on either layer. */
	EXPECT_EQ(35, read_everything(_metadata, self->l.mnt, self->scratch));
	s = snapshot(_metadata, self->l.upper);
	expect_same_snapshot(_metadata, "upper layer after reading again",
			     upper1, s);
	free(s);
	s = snapshot(_metadata, self->l.mnt);
	expect_same_snapshot(_metadata, "union view after reading again",
			     view1, s);
	free(s);
	s = snapshot(_metadata, self->l.lower);
	expect_same_snapshot(_metadata, "lower layer after reading again",
			     lower0, s);
	free(s);

	/*
	 * Nor does a remount, except that the mount itself prepares the work
	 * directory (empties it and probes whiteout support in it).
	 */
	UMOUNT();
	MOUNT();
	s = snapshot(_metadata, self->l.mnt);
	expect_same_snapshot(_metadata, "union view after remount", view1, s);
	free(s);
	s = snapshot(_metadata, self->l.upper);
	drop_lines(upper1, "/.union-work ");
	drop_lines(s, "/.union-work ");
	drop_lines(upper1, "/.union-work/fallthru.");
	expect_same_snapshot(_metadata, "upper layer after remount", upper1, s);
	free(s);
	free(lower0);
	free(upper1);
	free(view1);
}

/* Sets the atime of @path (not followed) to @t, keeping its mtime. */
static void set_atime(struct __test_metadata *_metadata, const char *path,
		      time_t t)
{
	const struct timespec ts[2] = { { t, 0 }, { 0, UTIME_OMIT } };
	int r = utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;

	ASSERT_EQ(0, r) TH_LOG("set atime of %s: %s", path, strerror(-r));
}

static void __attribute__((noinline))
expect_atime(struct __test_metadata *_metadata, const char *layer,
	     const char *root, const char *rel, time_t want)
{
	struct stat st = lstat_ok(_metadata, jp(root, rel));

	EXPECT_EQ(want, st.st_atime)
		TH_LOG("%s %s: atime %lld, was %lld: updated by reading it through the union",
		       layer, rel, (long long)st.st_atime, (long long)want);
}

TEST_F(view, reads_do_not_update_layer_atime)
{
	static const char *const lower_objs[] = {
		"lf", "ld", "ld/lx", "lsym", "md", "md/lm", "sparse",
	};
	static const char *const upper_objs[] = {
		"uf", "ud", "ud/ux", "usym", "md", "md/um",
	};
	const time_t old = 1000000000;	/* older than a day: relatime updates */
	unsigned char *map;
	char buf[4096];
	size_t i;
	int fd;

	TREE(L(""), "lf=lower file", "ld/", "ld/lx=lx", "lsym->lf", "md/",
	     "md/lm=lm");
	mk_sparse(_metadata, L("sparse"), 0, 2 * MiB, 4 * MiB);
	TREE(U(""), "uf=upper file", "ud/", "ud/ux=ux", "usym->uf", "md/",
	     "md/um=um");
	for (i = 0; i < sizeof(lower_objs) / sizeof(lower_objs[0]); i++)
		set_atime(_metadata, L(lower_objs[i]), old);
	for (i = 0; i < sizeof(upper_objs) / sizeof(upper_objs[0]); i++)
		set_atime(_metadata, U(upper_objs[i]), old);
	MOUNT();

	/* Reads of files and symlinks, no readdir. */
	EXPECT_CONTENTS(M(""), "lf=lower file", "ld/lx=lx", "md/lm=lm",
	                "uf=upper file", "ud/ux=ux", "md/um=um",
	                "lsym=lower file", "usym=upper file");
	EXPECT_LT(0, readlink(M("lsym"), buf, sizeof(buf)));
	EXPECT_LT(0, readlink(M("usym"), buf, sizeof(buf)));
	fd = open_ok(_metadata, M("sparse"), O_RDONLY);
	map = mmap(NULL, 4 * MiB, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, map[MiB + 5]);
	munmap(map, 4 * MiB);
	close(fd);
	/* Listings of an upper-only directory (read as it is on upper). */
	CHECK_LIST(M("ud"), "ux");

	for (i = 0; i < sizeof(lower_objs) / sizeof(lower_objs[0]); i++)
		expect_atime(_metadata, "lower", self->l.lower, lower_objs[i],
			     old);
	for (i = 0; i < sizeof(upper_objs) / sizeof(upper_objs[0]); i++)
		expect_atime(_metadata, "upper", self->l.upper, upper_objs[i],
			     old);
	/* And the union shows the layers' atimes. */
	EXPECT_EQ(old, LSTAT(M("lf")).st_atime);
	EXPECT_EQ(old, LSTAT(M("uf")).st_atime);
}

TEST_HARNESS_MAIN
