// SPDX-License-Identifier: GPL-2.0
/*
 * Namespace write path of the "union" filesystem: create, mkdir, mknod,
 * symlink, unlink, rmdir, rename, link and the directory copy-up that the
 * first readdir performs.
 *
 * Every test builds a lower tree on a private tmpfs, mounts a union over it
 * and checks each operation twice: through the union (return value, errno,
 * what lstat/readdir show) and on the upper layer (whiteouts, fallthrus,
 * opaque/origin/impure xattrs, owners, modes, inode identity), using the
 * on-disk format of Documentation/filesystems/union.rst.  Every test ends
 * with FINISH(): the whole union view is walked, the union is unmounted and
 * mounted again, the view must be identical (names, types, modes, owners,
 * inode numbers, contents, xattrs; readdir d_type/d_ino agreeing with lstat,
 * no duplicates), and the lower tree must be bit-for-bit what it was before
 * the first mount (including mtime/ctime and xattrs).
 *
 * Must run as root with union.ko loaded. Each test works in its own mount
 * namespace on a private tmpfs and unmounts everything it mounted.
 */
#include "union_test.h"

#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>



#define TEST_UID	1000
#define TEST_GID	1000
#define SGID_GROUP	500

/* ---- growable strings ---- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += n;
			return;
		}
		b->cap = b->cap ? 2 * b->cap + n : 4096 + n;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
}

static const char *sb_str(struct sbuf *b)
{
	if (!b->s)
		sb_add(b, "%s", "");
	return b->s;
}

/* ---- what is at a path ---- */

/* Value of xattr @name of @path (not following symlinks), or "<ERRNO-NAME>". */
static const char *xattr_str(const char *path, const char *name)
{
	char *v = ring();
	ssize_t n = lgetxattr(path, name, v, STR_LEN - 1);

	if (n < 0) {
		snprintf(v, STR_LEN, "<%s>", errno == ENODATA ? "ENODATA" :
			 strerror(errno));
		return v;
	}
	v[n] = '\0';
	return v;
}

/* The lower inode number stored in trusted.union.origin, or 0. */
static uint64_t origin_of(const char *path)
{
	unsigned char b[16];
	uint64_t ino = 0;
	ssize_t n = lgetxattr(path, X_ORIGIN, b, sizeof(b));
	int i;

	if (n != 8)
		return 0;
	for (i = 7; i >= 0; i--)
		ino = ino << 8 | b[i];
	return ino;
}

static struct stat st_of(struct __test_metadata *_metadata, const char *path)
{
	struct stat st;

	ASSERT_EQ(0, lstat(path, &st)) TH_LOG("lstat %s: %s", path,
					       strerror(errno));
	return st;
}

#define ST(path) st_of(_metadata, path)

/* ---- raw directory reading ---- */

struct ent {
	char name[NAME_MAX + 1];
	uint64_t ino;
	int64_t off;
	unsigned char type;
};

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * One getdents64() call on @fd with a @bufsize buffer; appends up to @max
 * entries to @e. Returns the number added, or -errno.
 */
static int getdents_once(int fd, struct ent *e, int max, size_t bufsize)
{
	char buf[65536] __attribute__((aligned(8)));
	long n, pos;
	int cnt = 0;

	if (bufsize > sizeof(buf))
		bufsize = sizeof(buf);
	n = syscall(SYS_getdents64, fd, buf, bufsize);
	if (n < 0)
		return -errno;
	for (pos = 0; pos < n && cnt < max;) {
		struct dirent64_raw *d = (struct dirent64_raw *)(buf + pos);

		snprintf(e[cnt].name, sizeof(e[cnt].name), "%s", d->d_name);
		e[cnt].ino = d->d_ino;
		e[cnt].off = d->d_off;
		e[cnt].type = d->d_type;
		cnt++;
		pos += d->d_reclen;
	}
	return cnt;
}

/* All entries of the directory @fd from its current position. */
static int getdents_all(int fd, struct ent *e, int max, size_t bufsize)
{
	int total = 0, n;

	while (total < max) {
		n = getdents_once(fd, e + total, max - total, bufsize);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		total += n;
	}
	return total;
}

/* ---- tree snapshots ---- */

static uint64_t fnv1a(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned char buf[8192];
	ssize_t n, i;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	close(fd);
	return n < 0 ? 1 : h;
}

static void snap_xattrs(struct sbuf *b, const char *path, bool is_union)
{
	char list[8192], val[4096], *names[256], *p;
	ssize_t n, v;
	int cnt = 0, i;

	n = llistxattr(path, list, sizeof(list));
	if (n < 0) {
		sb_add(b, " xattrs:<%s>", strerror(errno));
		return;
	}
	for (p = list; p < list + n && cnt < 256; p += strlen(p) + 1)
		names[cnt++] = p;
	qsort(names, cnt, sizeof(names[0]), cmp_str);
	for (i = 0; i < cnt; i++) {
		if (is_union && !strncmp(names[i], "trusted.union.", 14))
			sb_add(b, "\n!! %s: private xattr %s listed", path,
			       names[i]);
		v = lgetxattr(path, names[i], val, sizeof(val) - 1);
		if (v < 0) {
			sb_add(b, " %s=<%s>", names[i], strerror(errno));
			continue;
		}
		val[v] = '\0';
		sb_add(b, " %s=%s", names[i], val);
	}
}

/*
 * One line per object under @root/@rel (sorted, recursive): path, type,
 * mode, owner, inode number, size/hash/nlink of files, link targets, device
 * numbers, xattrs. @lower adds mtime/ctime of everything. Through the union
 * (!@lower), each readdir entry's d_type/d_ino is checked against lstat and
 * duplicates are reported; problems are lines starting with "!!".
 */
static void snap_tree(struct sbuf *b, const char *root, const char *rel,
		      bool lower)
{
	char path[PATH_LEN], child_rel[PATH_LEN];
	static struct ent e[20000];
	struct ent *mine;
	char **names;
	int fd, n, i;

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		sb_add(b, "!! open %s: %s\n", path, strerror(errno));
		return;
	}
	n = getdents_all(fd, e, 20000, 32768);
	close(fd);
	if (n < 0) {
		sb_add(b, "!! getdents %s: %s\n", path, strerror(-n));
		return;
	}
	mine = malloc(sizeof(*mine) * (n + 1));
	names = malloc(sizeof(*names) * (n + 1));
	memcpy(mine, e, sizeof(*mine) * n);
	for (i = 0; i < n; i++)
		names[i] = mine[i].name;
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		const char *nm = names[i];
		struct ent *d = (struct ent *)(nm - offsetof(struct ent, name));
		struct stat st;
		char cpath[PATH_LEN];

		if (i && !strcmp(names[i - 1], nm))
			sb_add(b, "!! %s/%s listed twice\n", rel, nm);
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		snprintf(child_rel, sizeof(child_rel), "%s%s%s", rel,
			 *rel ? "/" : "", nm);
		snprintf(cpath, sizeof(cpath), "%s/%s", root, child_rel);
		if (lstat(cpath, &st)) {
			sb_add(b, "!! %s listed but lstat: %s\n", child_rel,
			       strerror(errno));
			continue;
		}
		if (!lower && d->type != IFTODT(st.st_mode))
			sb_add(b, "!! %s: d_type %u, lstat type %u\n",
			       child_rel, d->type, IFTODT(st.st_mode));
		if (!lower && d->ino != st.st_ino)
			sb_add(b, "!! %s: d_ino %llu != st_ino %llu\n",
			       child_rel, (unsigned long long)d->ino,
			       (unsigned long long)st.st_ino);
		sb_add(b, "%s %06o %u:%u ino=%llu", child_rel, st.st_mode,
		       st.st_uid, st.st_gid, (unsigned long long)st.st_ino);
		if (!S_ISDIR(st.st_mode))
			sb_add(b, " nlink=%lu", (unsigned long)st.st_nlink);
		if (S_ISREG(st.st_mode))
			sb_add(b, " size=%lld h=%016llx", (long long)st.st_size,
			       (unsigned long long)fnv1a(cpath));
		if (S_ISLNK(st.st_mode))
			sb_add(b, " -> %s", link_target(cpath));
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			sb_add(b, " rdev=%u:%u", major(st.st_rdev),
			       minor(st.st_rdev));
		if (lower)
			sb_add(b, " size=%lld mtime=%lld.%09ld ctime=%lld.%09ld",
			       (long long)st.st_size,
			       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		snap_xattrs(b, cpath, !lower);
		sb_add(b, "\n");
		if (S_ISDIR(st.st_mode))
			snap_tree(b, root, child_rel, lower);
	}
	free(names);
	free(mine);
}

static char *snapshot(const char *root, bool lower)
{
	struct sbuf b = { 0 };
	struct stat st;

	if (!lstat(root, &st))
		sb_add(&b, ". %06o %u:%u ino=%llu\n", st.st_mode, st.st_uid,
		       st.st_gid, (unsigned long long)st.st_ino);
	snap_tree(&b, root, "", lower);
	return (char *)sb_str(&b);
}

/* The first line where @a and @b differ, for the log. */
static const char *first_diff(const char *a, const char *b)
{
	char *out = ring();
	const char *la = a, *lb = b;
	int line = 1;

	while (*a && *a == *b) {
		if (*a == '\n') {
			line++;
			la = a + 1;
			lb = b + 1;
		}
		a++;
		b++;
	}
	snprintf(out, STR_LEN, "line %d:\n#   was: %.*s\n#   now: %.*s", line,
		 (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
	return out;
}

static bool has_problem(const char *snap)
{
	return !strncmp(snap, "!! ", 3) || strstr(snap, "\n!! ");
}

/* ---- fixture ---- */

FIXTURE(ns) {
	struct union_layers l;
	char *lower_snap;	/* lower tree before the first mount */
};

FIXTURE_SETUP(ns)
{
	umask(022);
	union_layers_setup(_metadata, &self->l, &(struct union_layers_cfg){
		.name = "ns", .propagation = MS_SLAVE, .base_fs = "mode=0755" });
}

FIXTURE_TEARDOWN(ns)
{
	union_layers_teardown(&self->l);
}

/* Snapshot the lower tree, then mount the union. */
static void start(struct __test_metadata *_metadata, FIXTURE_DATA(ns) *self)
{
	self->lower_snap = snapshot(self->l.lower, true);
	union_mount_ok(_metadata, &self->l);
}

static void remount(struct __test_metadata *_metadata, FIXTURE_DATA(ns) *self)
{
	union_umount_ok(_metadata, &self->l);
	union_mount_ok(_metadata, &self->l);
}

#define START()		start(_metadata, self)
#define REMOUNT()	remount(_metadata, self)

/*
 * End of every scenario: the view (walked completely, which also copies up
 * every directory) must be free of readdir anomalies and survive umount +
 * mount unchanged; the lower tree must be unchanged; unmount.
 */
static void finish(struct __test_metadata *_metadata, FIXTURE_DATA(ns) *self)
{
	char *before, *after, *low;

	before = snapshot(self->l.mnt, false);
	EXPECT_FALSE(has_problem(before))
		TH_LOG("union view:\n%s", before);
	remount(_metadata, self);
	after = snapshot(self->l.mnt, false);
	EXPECT_STREQ(before, after)
		TH_LOG("view changed across remount at %s",
		       first_diff(before, after));
	union_umount_ok(_metadata, &self->l);
	low = snapshot(self->l.lower, true);
	EXPECT_STREQ(self->lower_snap, low)
		TH_LOG("lower layer modified at %s",
		       first_diff(self->lower_snap, low));
	free(before);
	free(after);
	free(low);
}

#define FINISH()	finish(_metadata, self)

/* ---- building layers (directly, before mounting) ---- */

static void mk_file(struct __test_metadata *_metadata, const char *path,
		    mode_t mode, const char *data)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

	ASSERT_LE(0, fd) TH_LOG("create %s: %s", path, strerror(errno));
	ASSERT_EQ((ssize_t)strlen(data), write(fd, data, strlen(data)));
	ASSERT_EQ(0, fchmod(fd, mode));
	close(fd);
}

static void mk_dir(struct __test_metadata *_metadata, const char *path,
		   mode_t mode)
{
	ASSERT_EQ(0, mkdir(path, 0700)) TH_LOG("mkdir %s: %s", path,
					       strerror(errno));
	ASSERT_EQ(0, chmod(path, mode));
}

#define FILE_(path, data)	mk_file(_metadata, path, 0644, data)
#define DIR_(path)		mk_dir(_metadata, path, 0755)

/* ---- operations through the union, returning 0 or errno ---- */

static int create_file(const char *path, mode_t mode, const char *data)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
	int err = 0;

	if (fd < 0)
		return errno;
	if (data && write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		err = errno ?: EIO;
	close(fd);
	return err;
}

#define E(expr)	((expr) < 0 ? errno : 0)

/*
 * ASSERT_ERR(err, call): call returns 0 or an errno value; 0 for success.
 */
#define ASSERT_ERR(want, call) do {					\
	int __want = (want), __got = (call);				\
	ASSERT_EQ(__want, __got)					\
		TH_LOG("%s: got %s, want %s", #call,			\
		       __got ? strerror(__got) : "success",		\
		       __want ? strerror(__want) : "success");		\
} while (0)

#define ASSERT_OK(call)	ASSERT_ERR(0, call)

static int rename2(const char *from, const char *to, unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags) ?
	       errno : 0;
}

struct user_op {
	int (*fn)(const char *, const char *);
	const char *a, *b;
};

static int run_user_op(void *arg)
{
	struct user_op *op = arg;

	return op->fn(op->a, op->b);
}

/* Run @fn(@a, @b) as_user() @id: its errno value (0: success). */
static int op_as_user(unsigned int id, int (*fn)(const char *, const char *),
		      const char *a, const char *b)
{
	struct user_op op = { fn, a, b };

	return as_user(id, run_user_op, &op);
}

static int op_create(const char *p, const char *unused)
{
	return create_file(p, 0644, "x");
}

static int op_mkdir(const char *p, const char *unused)
{
	return E(mkdir(p, 0755));
}

static int op_symlink(const char *p, const char *target)
{
	return E(symlink(target, p));
}

static int op_mkfifo(const char *p, const char *unused)
{
	return E(mknod(p, S_IFIFO | 0644, 0));
}

/* =================== create (rule 1) =================== */

/* Every kind of object can be made in the root; upper holds exactly them. */
TEST_F(ns, create_all_types)
{
	START();
	ASSERT_OK(create_file(M("f"), 0644, "hello"));
	ASSERT_OK(E(mkdir(M("d"), 0755)));
	ASSERT_OK(E(symlink("target", M("s"))));
	ASSERT_OK(E(mknod(M("p"), S_IFIFO | 0644, 0)));
	ASSERT_OK(E(mknod(M("c"), S_IFCHR | 0644, makedev(1, 3))));

	EXPECT_STREQ("hello", content(M("f")));
	EXPECT_STREQ("target", link_target(M("s")));
	EXPECT_STREQ("chr1:3", kind(M("c")));
	EXPECT_STREQ("c d f p s", listing(M("")));
	EXPECT_STREQ("c:chr1:3 d:dir f:reg p:fifo s:lnk",
		     upper_listing(U("")));
	EXPECT_STREQ("hello", content(U("f")));
	EXPECT_STREQ("target", link_target(U("s")));
	/* New objects are not copies: no origin. */
	EXPECT_STREQ("<ENODATA>", xattr_str(U("f"), X_ORIGIN));
	FINISH();
}

/*
 * Creating deep inside lower-only directories copies every ancestor up with
 * the lower directory's mode, owner and user.* xattrs.
 */
TEST_F(ns, create_deep_copies_up_parents)
{
	static const struct { const char *rel; mode_t mode; uid_t uid;
			      gid_t gid; const char *x; } d[] = {
		{ "a", 0751, 101, 201, "one" },
		{ "a/b", 0715, 102, 202, "two" },
		{ "a/b/c", 0700, 103, 203, "three" },
	};
	struct stat before[3], lo, up, un;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		mk_dir(_metadata, L(d[i].rel), d[i].mode);
		ASSERT_EQ(0, chown(L(d[i].rel), d[i].uid, d[i].gid));
		ASSERT_EQ(0, lsetxattr(L(d[i].rel), "user.tag", d[i].x,
				       strlen(d[i].x), 0));
	}
	TREE(L(""), "a/sibling=s");
	START();
	for (i = 0; i < 3; i++)
		before[i] = ST(M(d[i].rel));
	ASSERT_STREQ("none", kind(U("a")));

	ASSERT_OK(create_file(M("a/b/c/new"), 0644, "n"));

	for (i = 0; i < 3; i++) {
		lo = ST(L(d[i].rel));
		up = ST(U(d[i].rel));
		un = ST(M(d[i].rel));
		EXPECT_TRUE(S_ISDIR(up.st_mode)) TH_LOG("%s", d[i].rel);
		EXPECT_EQ(lo.st_mode, up.st_mode) TH_LOG("%s", d[i].rel);
		EXPECT_EQ(lo.st_uid, up.st_uid) TH_LOG("%s", d[i].rel);
		EXPECT_EQ(lo.st_gid, up.st_gid) TH_LOG("%s", d[i].rel);
		EXPECT_STREQ(d[i].x, xattr_str(U(d[i].rel), "user.tag"));
		EXPECT_STREQ(d[i].x, xattr_str(M(d[i].rel), "user.tag"));
		/* The union shows the same directory as before. */
		EXPECT_EQ(before[i].st_ino, un.st_ino) TH_LOG("%s", d[i].rel);
		EXPECT_EQ(before[i].st_mode, un.st_mode);
		EXPECT_EQ(before[i].st_uid, un.st_uid);
		EXPECT_EQ(before[i].st_gid, un.st_gid);
	}
	EXPECT_STREQ("reg", kind(U("a/b/c/new")));
	EXPECT_EQ(0u, ST(U("a/b/c/new")).st_uid);
	EXPECT_STREQ("n", content(M("a/b/c/new")));
	/* The untouched lower sibling still shows through. */
	EXPECT_STREQ("s", content(M("a/sibling")));
	EXPECT_STREQ("b sibling", listing(M("a")));
	EXPECT_STREQ("new", listing(M("a/b/c")));
	FINISH();
}

/*
 * Ancestors copied up for a deep create keep the lower mtime: nothing
 * changed in them from the union's point of view.
 */
TEST_F(ns, create_deep_keeps_ancestor_mtime)
{
	struct timespec t[2] = { { 1000000000, 111 }, { 1000000000, 222 } };
	struct stat lo, up, un;

	TREE(L(""), "a/", "a/b/", "a/b/c/");
	ASSERT_EQ(0, utimensat(AT_FDCWD, L("a/b"), t, AT_SYMLINK_NOFOLLOW));
	ASSERT_EQ(0, utimensat(AT_FDCWD, L("a"), t, AT_SYMLINK_NOFOLLOW));
	START();
	ASSERT_OK(create_file(M("a/b/c/new"), 0644, "n"));

	lo = ST(L("a"));
	up = ST(U("a"));
	un = ST(M("a"));
	EXPECT_EQ(lo.st_mtim.tv_sec, up.st_mtim.tv_sec);
	EXPECT_EQ(lo.st_mtim.tv_nsec, up.st_mtim.tv_nsec);
	EXPECT_EQ(lo.st_mtim.tv_sec, un.st_mtim.tv_sec);
	lo = ST(L("a/b"));
	up = ST(U("a/b"));
	un = ST(M("a/b"));
	EXPECT_EQ(lo.st_mtim.tv_sec, up.st_mtim.tv_sec);
	EXPECT_EQ(lo.st_mtim.tv_nsec, up.st_mtim.tv_nsec);
	EXPECT_EQ(lo.st_mtim.tv_sec, un.st_mtim.tv_sec);
	FINISH();
}

/*
 * Objects made by an unprivileged caller belong to its fsuid/fsgid; the
 * lower-only parent copied up on its behalf keeps the lower owner.
 */
TEST_F(ns, create_owner_is_caller)
{
	static const char *names[] = { "pub/f", "pub/d", "pub/s", "pub/p" };
	unsigned int i;

	mk_dir(_metadata, L("pub"), 0777);
	START();
	ASSERT_OK(op_as_user(TEST_UID, op_create, M("pub/f"), NULL));
	ASSERT_OK(op_as_user(TEST_UID, op_mkdir, M("pub/d"), NULL));
	ASSERT_OK(op_as_user(TEST_UID, op_symlink, M("pub/s"), "f"));
	ASSERT_OK(op_as_user(TEST_UID, op_mkfifo, M("pub/p"), NULL));

	for (i = 0; i < 4; i++) {
		struct stat un = ST(M(names[i])), up = ST(U(names[i]));

		EXPECT_EQ(TEST_UID, un.st_uid) TH_LOG("%s", names[i]);
		EXPECT_EQ(TEST_GID, un.st_gid) TH_LOG("%s", names[i]);
		EXPECT_EQ(TEST_UID, up.st_uid) TH_LOG("upper %s", names[i]);
		EXPECT_EQ(TEST_GID, up.st_gid) TH_LOG("upper %s", names[i]);
	}
	EXPECT_EQ(0u, ST(U("pub")).st_uid);
	EXPECT_EQ(0u, ST(U("pub")).st_gid);
	EXPECT_EQ(S_IFDIR | 0777, ST(U("pub")).st_mode);
	/* The new dir is usable by its owner. */
	ASSERT_OK(op_as_user(TEST_UID, op_create, M("pub/d/g"), NULL));
	EXPECT_EQ(TEST_UID, ST(U("pub/d/g")).st_uid);
	FINISH();
}

/* Permission checks use the union view; a refused create changes nothing. */
TEST_F(ns, create_permission_denied)
{
	TREE(L(""), "priv/");
	START();
	ASSERT_ERR(EACCES, op_as_user(TEST_UID, op_create, M("priv/f"), NULL));
	ASSERT_ERR(EACCES, op_as_user(TEST_UID, op_mkdir, M("priv/d"), NULL));
	ASSERT_ERR(EACCES, op_as_user(TEST_UID, op_create, M("f"), NULL));
	EXPECT_STREQ("none", kind(M("priv/f")));
	EXPECT_KINDS(U(""), "priv/f:none", "priv/d:none", "f:none");
	FINISH();
}

/* The umask applies, in the root, in a copied-up dir and over a whiteout. */
TEST_F(ns, create_honours_umask)
{
	static const char *dirs[] = { "", "low", "wh" };
	unsigned int i;

	TREE(L(""), "low/", "wh/", "wh/f=x", "wh/d/", "wh/p=x");
	START();
	REMOVE(M(""), "wh/f", "wh/d/", "wh/p");
	ASSERT_STREQ("wh", kind(U("wh/f")));
	umask(027);
	for (i = 0; i < 3; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "%s%sf", dirs[i], i ? "/" : "");
		ASSERT_OK(create_file(M(rel), 0666, NULL));
		EXPECT_EQ(S_IFREG | 0640, ST(M(rel)).st_mode) TH_LOG("%s", rel);
		EXPECT_EQ(S_IFREG | 0640, ST(U(rel)).st_mode) TH_LOG("%s", rel);
		snprintf(rel, sizeof(rel), "%s%sd", dirs[i], i ? "/" : "");
		ASSERT_OK(E(mkdir(M(rel), 0777)));
		EXPECT_EQ(S_IFDIR | 0750, ST(M(rel)).st_mode) TH_LOG("%s", rel);
		EXPECT_EQ(S_IFDIR | 0750, ST(U(rel)).st_mode) TH_LOG("%s", rel);
		snprintf(rel, sizeof(rel), "%s%sp", dirs[i], i ? "/" : "");
		ASSERT_OK(E(mknod(M(rel), S_IFIFO | 0666, 0)));
		EXPECT_EQ(S_IFIFO | 0640, ST(M(rel)).st_mode) TH_LOG("%s", rel);
		EXPECT_EQ(S_IFIFO | 0640, ST(U(rel)).st_mode) TH_LOG("%s", rel);
	}
	umask(022);
	FINISH();
}

/* Files made in a setgid dir get its group; subdirs inherit the bit. */
TEST_F(ns, create_in_setgid_dir)
{
	mk_dir(_metadata, L("sg"), 0777);
	ASSERT_EQ(0, chown(L("sg"), 0, SGID_GROUP));
	ASSERT_EQ(0, chmod(L("sg"), 02777));
	START();
	ASSERT_OK(create_file(M("sg/f"), 0644, NULL));
	ASSERT_OK(E(mkdir(M("sg/d"), 0755)));
	ASSERT_OK(op_as_user(TEST_UID, op_create, M("sg/uf"), NULL));

	EXPECT_EQ(S_IFDIR | 02777, ST(U("sg")).st_mode);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(U("sg")).st_gid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(M("sg/f")).st_gid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(U("sg/f")).st_gid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(M("sg/d")).st_gid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(U("sg/d")).st_gid);
	EXPECT_EQ(S_IFDIR | 02755, ST(M("sg/d")).st_mode);
	EXPECT_EQ(S_IFDIR | 02755, ST(U("sg/d")).st_mode);
	EXPECT_EQ(TEST_UID, ST(U("sg/uf")).st_uid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(U("sg/uf")).st_gid);
	FINISH();
}

/* Same where a whiteout is (the object is built elsewhere, then swapped in). */
TEST_F(ns, create_in_setgid_dir_over_whiteout)
{
	mk_dir(_metadata, L("sg"), 0777);
	ASSERT_EQ(0, chown(L("sg"), 0, SGID_GROUP));
	ASSERT_EQ(0, chmod(L("sg"), 02777));
	TREE(L(""), "sg/f=old", "sg/d/");
	START();
	REMOVE(M(""), "sg/f", "sg/d/");
	ASSERT_KINDS(U(""), "sg/f:wh", "sg/d:wh");
	ASSERT_OK(create_file(M("sg/f"), 0644, NULL));
	ASSERT_OK(E(mkdir(M("sg/d"), 0755)));

	EXPECT_KINDS(U(""), "sg/f:reg", "sg/d:dir");
	EXPECT_EQ((gid_t)SGID_GROUP, ST(M("sg/f")).st_gid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(U("sg/f")).st_gid);
	EXPECT_EQ((gid_t)SGID_GROUP, ST(U("sg/d")).st_gid);
	EXPECT_EQ(S_IFDIR | 02755, ST(M("sg/d")).st_mode);
	EXPECT_EQ(S_IFDIR | 02755, ST(U("sg/d")).st_mode);
	FINISH();
}

/* FIFOs and real device nodes can be made in a lower-only dir. */
TEST_F(ns, mknod_fifo_and_device)
{
	TREE(L(""), "dev/");
	START();
	ASSERT_OK(E(mknod(M("dev/null2"), S_IFCHR | 0666, makedev(1, 3))));
	ASSERT_OK(E(mknod(M("dev/fifo"), S_IFIFO | 0600, 0)));
	ASSERT_OK(E(mknod(M("dev/loop"), S_IFBLK | 0600, makedev(7, 200))));

	EXPECT_KINDS(M(""), "dev/null2:chr1:3", "dev/fifo:fifo",
	             "dev/loop:blk7:200");
	EXPECT_STREQ("fifo:fifo loop:blk7:200 null2:chr1:3",
		     upper_listing(U("dev")));
	EXPECT_STREQ("fifo loop null2", listing(M("dev")));
	FINISH();
}

/* A 0/0 character device is the whiteout: mknod of one fails, anywhere. */
TEST_F(ns, mknod_whiteout_eperm)
{
	TREE(L(""), "d/", "gone=x");
	START();
	ASSERT_OK(E(unlink(M("gone"))));
	ASSERT_ERR(EPERM, E(mknod(M("w"), S_IFCHR | 0644, 0)));
	ASSERT_ERR(EPERM, E(mknod(M("d/w"), S_IFCHR | 0644, 0)));
	ASSERT_ERR(EPERM, E(mknod(M("gone"), S_IFCHR | 0644, 0)));
	EXPECT_KINDS(M(""), "w:none", "gone:none");
	EXPECT_KINDS(U(""), "w:none", "d/w:none", "gone:wh");
	FINISH();
}

/* Creating a name that is visible fails with EEXIST and changes nothing. */
TEST_F(ns, create_existing_eexist)
{
	TREE(L(""), "f=lower", "d/");
	START();
	ASSERT_ERR(EEXIST, create_file(M("f"), 0644, NULL));
	ASSERT_ERR(EEXIST, E(mkdir(M("d"), 0755)));
	ASSERT_ERR(EEXIST, E(mkdir(M("f"), 0755)));
	ASSERT_ERR(EEXIST, E(symlink("x", M("d"))));
	ASSERT_ERR(EEXIST, E(mknod(M("f"), S_IFIFO | 0644, 0)));
	EXPECT_STREQ("lower", content(M("f")));
	EXPECT_KINDS(U(""), "f:none", "d:none");
	FINISH();
}

/* .union-work exists on upper (0700) and is invisible and unreachable. */
TEST_F(ns, work_dir_hidden)
{
	FILE_(L(WORK_DIR), "lower has the reserved name");
	TREE(L(""), "f=x");
	START();
	EXPECT_EQ(S_IFDIR | 0700, ST(U(WORK_DIR)).st_mode);
	EXPECT_STREQ("none", kind(M(WORK_DIR)));
	EXPECT_STREQ("f", listing(M("")));
	/* The first readdir copied the root up; still hidden after it. */
	EXPECT_STREQ("f:ft8", upper_listing(U("")));
	EXPECT_STREQ("f", listing(M("")));
	EXPECT_STREQ("none", kind(M(WORK_DIR)));
	EXPECT_STREQ("dir", kind(U(WORK_DIR)));
	FINISH();
}

/* =================== unlink / rmdir (rule 2) =================== */

/* An upper-only name is just removed. */
TEST_F(ns, unlink_upper_only)
{
	START();
	ASSERT_OK(create_file(M("n"), 0644, "x"));
	ASSERT_OK(E(symlink("n", M("s"))));
	REMOVE(M(""), "n", "s");
	EXPECT_STREQ("none", kind(M("n")));
	EXPECT_STREQ("", listing(M("")));
	EXPECT_STREQ("", upper_listing(U("")));
	FINISH();
}

/* A lower-only file leaves a whiteout; the lower file is untouched. */
TEST_F(ns, unlink_lower_leaves_whiteout)
{
	TREE(L(""), "d/", "d/f=x", "d/keep=k");
	START();
	ASSERT_OK(E(unlink(M("d/f"))));
	EXPECT_STREQ("none", kind(M("d/f")));
	ASSERT_ERR(ENOENT, E(unlink(M("d/f"))));
	EXPECT_STREQ("wh", kind(U("d/f")));
	EXPECT_STREQ("keep", listing(M("d")));
	EXPECT_STREQ("reg", kind(L("d/f")));
	REMOUNT();
	EXPECT_STREQ("none", kind(M("d/f")));
	EXPECT_STREQ("keep", listing(M("d")));
	FINISH();
}

/* A copied-up file whose name lower has also leaves a whiteout. */
TEST_F(ns, unlink_copied_up_leaves_whiteout)
{
	int fd;

	TREE(L(""), "f=lower");
	START();
	fd = open_ok(_metadata, M("f"), O_WRONLY | O_APPEND);
	ASSERT_EQ(1, write(fd, "+", 1));
	close(fd);
	ASSERT_STREQ("reg", kind(U("f")));
	ASSERT_STREQ("lower+", content(M("f")));
	ASSERT_OK(E(unlink(M("f"))));
	EXPECT_STREQ("none", kind(M("f")));
	EXPECT_STREQ("wh", kind(U("f")));
	EXPECT_STREQ("", listing(M("")));
	FINISH();
}

/* Lower symlinks, FIFOs, sockets and devices leave whiteouts too. */
TEST_F(ns, unlink_lower_special_files)
{
	TREE(L(""), "s->nowhere", "p:fifo", "c:chr1:3", "so:sock");
	START();
	ASSERT_STREQ("c p s so", listing(M("")));
	REMOVE(M(""), "s", "p", "c", "so");
	EXPECT_STREQ("", listing(M("")));
	EXPECT_STREQ("c:wh p:wh s:wh so:wh", upper_listing(U("")));
	FINISH();
}

/*
 * Whiteouts are hard links of one shared whiteout in the work directory (as
 * overlayfs makes them): no inode each.  They hide their names as any whiteout,
 * also after the remount that removes the shared one from the work directory
 * (FINISH); a directory holding only such links counts as empty for rmdir, and
 * union-fsck takes the shared whiteout of an unmounted union as part of the
 * format (fsck.sh).
 */
TEST_F(ns, whiteouts_link_the_shared_whiteout)
{
	struct stat shared, st;
	const char *names[] = { "a", "b", "d/c" };
	unsigned int i;

	TREE(L(""), "a=a", "b=b", "d/", "d/c=c", "e/", "e/x=x");
	START();
	ASSERT_STREQ("c", listing(M("d")));
	REMOVE(M(""), "a", "b", "d/c");
	ASSERT_EQ(0, lstat(U(WORK_DIR "/whiteout"), &shared));
	EXPECT_TRUE(S_ISCHR(shared.st_mode));
	EXPECT_EQ(makedev(0, 0), shared.st_rdev);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ASSERT_EQ(0, lstat(U(names[i]), &st));
		EXPECT_STREQ("wh", kind(U(names[i])));
		EXPECT_EQ(shared.st_ino, st.st_ino) TH_LOG("%s is not a link of the shared whiteout", names[i]);
	}
	EXPECT_EQ(4, (int)shared.st_nlink);
	EXPECT_KINDS(M(""), "a:none", "b:none", "d/c:none", "e/x:reg");
	/* d now holds a shared-whiteout link only: empty; e still shows x. */
	ASSERT_ERR(ENOTEMPTY, E(rmdir(M("e"))));
	ASSERT_OK(E(rmdir(M("d"))));
	EXPECT_STREQ("wh", kind(U("d")));
	EXPECT_STREQ("e", listing(M("")));
	FINISH();
	/* The remount in FINISH emptied the work directory; the links stayed. */
	EXPECT_STREQ("wh", kind(U("a")));
}

/*
 * A directory made over a whiteout is a new directory: opaque, not merged
 * with the lower one (union.rst, "Lookup"), so removing a name in it needs
 * no whiteout even where the old lower directory has that name, and the
 * lower entry never shows again (also after a remount, which FINISH checks).
 */
TEST_F(ns, unlink_in_dir_made_over_whiteout)
{
	TREE(L(""), "d/", "d/x=lower x");
	START();
	REMOVE(M(""), "d/x", "d/");
	ASSERT_OK(E(mkdir(M("d"), 0755)));
	ASSERT_STREQ("y", xattr_str(U("d"), X_OPAQUE));
	ASSERT_OK(create_file(M("d/x"), 0644, "new x"));
	ASSERT_OK(create_file(M("d/y"), 0644, "new y"));
	REMOVE(M(""), "d/x", "d/y");
	EXPECT_STREQ("", listing(M("d")));
	EXPECT_STREQ("", upper_listing(U("d")));
	EXPECT_STREQ("none", kind(M("d/x")));
	FINISH();
}

/* rmdir of a directory showing entries fails, also for lower-only ones. */
TEST_F(ns, rmdir_not_empty)
{
	TREE(L(""), "d/", "d/f=x", "e/", "e/sub/");
	START();
	ASSERT_ERR(ENOTEMPTY, E(rmdir(M("d"))));
	ASSERT_ERR(ENOTEMPTY, E(rmdir(M("e"))));
	EXPECT_STREQ("dir", kind(M("d")));
	EXPECT_STREQ("f", listing(M("d")));
	EXPECT_STREQ("sub", listing(M("e")));
	EXPECT_STRNE("wh", kind(U("d")));
	EXPECT_STRNE("wh", kind(U("e")));
	/* An upper file in an upper-only dir counts too. */
	ASSERT_OK(E(mkdir(M("n"), 0755)));
	ASSERT_OK(create_file(M("n/f"), 0644, NULL));
	ASSERT_ERR(ENOTEMPTY, E(rmdir(M("n"))));
	EXPECT_STREQ("dir", kind(U("n")));
	FINISH();
}

/*
 * rm -r by hand: read the dir (fallthrus), remove every entry, then rmdir
 * succeeds; the markers go with the upper dir, which becomes a whiteout.
 */
TEST_F(ns, rmdir_after_emptying)
{
	TREE(L(""), "d/", "d/f1=1", "d/f2=2", "d/s/", "d/s/g=g");
	START();
	ASSERT_STREQ("f1 f2 s", listing(M("d")));
	ASSERT_STREQ("f1:ft8 f2:ft8 s:ft4", upper_listing(U("d")));
	REMOVE(M(""), "d/f1", "d/f2");
	ASSERT_ERR(ENOTEMPTY, E(rmdir(M("d"))));
	ASSERT_ERR(ENOTEMPTY, E(rmdir(M("d/s"))));
	REMOVE(M(""), "d/s/g", "d/s/");
	ASSERT_STREQ("", listing(M("d")));
	ASSERT_OK(E(rmdir(M("d"))));

	EXPECT_STREQ("none", kind(M("d")));
	EXPECT_STREQ("", listing(M("")));
	EXPECT_STREQ("wh", kind(U("d")));
	EXPECT_STREQ("reg", kind(L("d/s/g")));
	REMOUNT();
	EXPECT_STREQ("none", kind(M("d")));
	EXPECT_STREQ("", listing(M("")));
	FINISH();
}

/* rmdir of an empty lower-only dir, without reading it first. */
TEST_F(ns, rmdir_empty_lower_dir)
{
	TREE(L(""), "e/", "p/", "p/e/");
	START();
	REMOVE(M(""), "e/", "p/e/");
	EXPECT_KINDS(M(""), "e:none", "p/e:none");
	EXPECT_KINDS(U(""), "e:wh", "p/e:wh");
	EXPECT_STREQ("", listing(M("p")));
	FINISH();
}

/* An upper-only directory tree is removed without leaving anything. */
TEST_F(ns, rmdir_upper_only)
{
	START();
	ASSERT_OK(E(mkdir(M("n"), 0755)));
	ASSERT_OK(E(mkdir(M("n/sub"), 0755)));
	ASSERT_OK(create_file(M("n/sub/f"), 0644, NULL));
	REMOVE(M(""), "n/sub/f", "n/sub/", "n/");
	EXPECT_STREQ("none", kind(M("n")));
	EXPECT_STREQ("none", kind(U("n")));
	EXPECT_STREQ("", upper_listing(U("")));
	FINISH();
}

/* rmdir of an opaque dir (made over a whiteout) leaves a whiteout again. */
TEST_F(ns, rmdir_opaque_dir)
{
	TREE(L(""), "d/", "d/x=x");
	START();
	REMOVE(M(""), "d/x", "d/");
	ASSERT_OK(E(mkdir(M("d"), 0755)));
	ASSERT_OK(create_file(M("d/y"), 0644, NULL));
	REMOVE(M(""), "d/y", "d/");
	EXPECT_STREQ("none", kind(M("d")));
	EXPECT_STREQ("wh", kind(U("d")));
	FINISH();
}

/* =================== opaque directories (rule 3) =================== */

TEST_F(ns, mkdir_over_whiteout_is_opaque)
{
	TREE(L(""), "d/", "d/x=x", "d/y=y", "d/sub/", "d/sub/z=z");
	START();
	REMOVE(M(""), "d/x", "d/y", "d/sub/z", "d/sub/", "d/");
	ASSERT_STREQ("wh", kind(U("d")));
	ASSERT_OK(E(mkdir(M("d"), 0700)));

	EXPECT_STREQ("dir", kind(U("d")));
	EXPECT_STREQ("y", xattr_str(U("d"), X_OPAQUE));
	EXPECT_STREQ("", upper_listing(U("d")));
	EXPECT_STREQ("", listing(M("d")));
	EXPECT_KINDS(M(""), "d/x:none", "d/sub:none");
	EXPECT_EQ(S_IFDIR | 0700, ST(M("d")).st_mode);
	ASSERT_OK(create_file(M("d/new"), 0644, NULL));
	EXPECT_STREQ("new", listing(M("d")));
	REMOUNT();
	EXPECT_STREQ("new", listing(M("d")));
	EXPECT_STREQ("none", kind(M("d/x")));
	FINISH();
}

/* Creating a file, symlink or dir where a whiteout is replaces it. */
TEST_F(ns, create_over_whiteout_replaces_it)
{
	TREE(L(""), "f=lower f", "s=lower s", "g=lower g", "d/", "d/x=x");
	START();
	REMOVE(M(""), "f", "s", "g", "d/x", "d/");
	ASSERT_STREQ("d:wh f:wh g:wh s:wh", upper_listing(U("")));

	ASSERT_OK(create_file(M("f"), 0644, "new f"));
	ASSERT_OK(E(symlink("f", M("s"))));
	ASSERT_OK(E(mkdir(M("g"), 0755)));
	ASSERT_OK(create_file(M("d"), 0644, "file d"));

	EXPECT_STREQ("d:reg f:reg g:dir s:lnk", upper_listing(U("")));
	EXPECT_STREQ("new f", content(M("f")));
	EXPECT_STREQ("new f", content(U("f")));
	EXPECT_CONTENTS(M(""), "s=new f", "d=file d");
	EXPECT_STREQ("y", xattr_str(U("g"), X_OPAQUE));
	EXPECT_STREQ("<ENODATA>", xattr_str(U("f"), X_ORIGIN));
	EXPECT_STREQ("d f g s", listing(M("")));
	FINISH();
}

/* =================== readdir copy-up (rule 4) =================== */

/* The first readdir makes a fallthru per lower entry, typed by d_type. */
TEST_F(ns, readdir_makes_fallthrus)
{
	TREE(L(""), "d/", "d/r=r", "d/sd/", "d/l->r", "d/p:fifo", "d/c:chr1:3",
	     "d/b:blk7:0", "d/so:sock", "d/covered=lower");
	START();
	ASSERT_OK(create_file(M("d/u"), 0644, "u"));
	ASSERT_OK(E(unlink(M("d/covered"))));
	ASSERT_OK(create_file(M("d/covered"), 0644, "upper"));

	EXPECT_STREQ("b c covered l p r sd so u", listing(M("d")));
	EXPECT_STREQ("b:ft6 c:ft2 covered:reg l:ft10 p:ft1 r:ft8 sd:ft4 "
		     "so:ft12 u:reg", upper_listing(U("d")));
	EXPECT_STREQ("y", xattr_str(U("d"), X_OPAQUE));
	/* Served from upper now: same answer, objects as on lower. */
	EXPECT_STREQ("b c covered l p r sd so u", listing(M("d")));
	EXPECT_KINDS(M(""), "d/b:blk7:0", "d/c:chr1:3");
	EXPECT_STREQ("r", link_target(M("d/l")));
	EXPECT_CONTENTS(M(""), "d/r=r", "d/covered=upper");
	EXPECT_EQ(ST(L("d/r")).st_ino | 1ULL << 63, ST(M("d/r")).st_ino);
	REMOUNT();
	EXPECT_STREQ("b c covered l p r sd so u", listing(M("d")));
	FINISH();
}

/*
 * Reading a lower-only dir copies it up (mode, owner, xattrs) with the
 * directory fallthru marker, fills it with fallthrus and makes it opaque.
 */
TEST_F(ns, readdir_copies_up_lower_dir)
{
	mk_dir(_metadata, L("d"), 0750);
	ASSERT_EQ(0, chown(L("d"), 7, 8));
	ASSERT_EQ(0, lsetxattr(L("d"), "user.k", "v", 1, 0));
	TREE(L(""), "d/a=a", "d/sub/", "d/sub/z=z");
	START();
	ASSERT_STREQ("a sub", listing(M("d")));

	EXPECT_STREQ("dir", kind(U("d")));
	EXPECT_EQ(S_IFDIR | 0750, ST(U("d")).st_mode);
	EXPECT_EQ(7u, ST(U("d")).st_uid);
	EXPECT_EQ(8u, ST(U("d")).st_gid);
	EXPECT_STREQ("v", xattr_str(U("d"), "user.k"));
	EXPECT_STREQ("y", xattr_str(U("d"), X_FALLTHRU));
	EXPECT_STREQ("y", xattr_str(U("d"), X_OPAQUE));
	EXPECT_STREQ("a:ft8 sub:ft4", upper_listing(U("d")));
	/* The subdir is still merged through its fallthru. */
	EXPECT_STREQ("z", listing(M("d/sub")));
	EXPECT_STREQ("z", content(M("d/sub/z")));
	EXPECT_STREQ("z:ft8", upper_listing(U("d/sub")));
	EXPECT_STREQ("y", xattr_str(U("d/sub"), X_OPAQUE));
	FINISH();
}

/* Whiteouts and markers are never listed; each name appears once. */
TEST_F(ns, readdir_hides_whiteouts)
{
	TREE(L(""), "d/", "d/a=a", "d/b=b", "d/c=c");
	START();
	ASSERT_OK(E(unlink(M("d/b"))));
	EXPECT_STREQ("a c", listing(M("d")));
	EXPECT_STREQ("a:ft8 b:wh c:ft8", upper_listing(U("d")));
	EXPECT_STREQ("a c", listing(M("d")));
	EXPECT_STREQ("none", kind(M("d/b")));
	ASSERT_OK(create_file(M("d/b"), 0644, "new"));
	EXPECT_STREQ("a b c", listing(M("d")));
	ASSERT_OK(E(unlink(M("d/a"))));
	EXPECT_STREQ("b c", listing(M("d")));
	EXPECT_STREQ("a:wh b:reg c:ft8", upper_listing(U("d")));
	FINISH();
}

/* "." and ".." carry the union inode numbers. */
TEST_F(ns, readdir_dot_entries)
{
	static struct ent e[16];
	int fd, n, i, seen = 0;

	TREE(L(""), "d/", "d/a=a");
	START();
	fd = open_ok(_metadata, M("d"), O_RDONLY | O_DIRECTORY);
	n = getdents_all(fd, e, 16, 4096);
	close(fd);
	ASSERT_EQ(3, n);
	for (i = 0; i < n; i++) {
		if (!strcmp(e[i].name, ".")) {
			EXPECT_EQ(ST(M("d")).st_ino, e[i].ino);
			EXPECT_EQ(DT_DIR, e[i].type);
			seen++;
		} else if (!strcmp(e[i].name, "..")) {
			EXPECT_EQ(ST(M("")).st_ino, e[i].ino);
			EXPECT_EQ(DT_DIR, e[i].type);
			seen++;
		}
	}
	EXPECT_EQ(2, seen);
	FINISH();
}

#define NFILES 60

/* telldir()/seekdir() round-trip on one open directory. */
TEST_F(ns, telldir_seekdir)
{
	char names[NFILES + 2][NAME_MAX + 1];
	long pos[NFILES + 2];
	struct dirent *d;
	DIR *dir;
	int i, k, n = 0;

	make_numbered(_metadata, L("d"), "f%02d", NFILES, "x");
	START();
	dir = opendir(M("d"));
	ASSERT_NE(NULL, dir);
	for (;;) {
		long p = telldir(dir);

		d = readdir(dir);
		if (!d)
			break;
		ASSERT_LT(n, NFILES + 2);
		pos[n] = p;
		snprintf(names[n], sizeof(names[n]), "%s", d->d_name);
		n++;
	}
	ASSERT_EQ(NFILES + 2, n);
	/* Every 7th entry backwards, then every 5th forwards. */
	for (k = 0; k < 2; k++) {
		for (i = k ? 0 : n - 1; k ? i < n : i >= 0; i += k ? 5 : -7) {
			seekdir(dir, pos[i]);
			d = readdir(dir);
			ASSERT_NE(NULL, d);
			EXPECT_STREQ(names[i], d->d_name) TH_LOG("entry %d", i);
		}
	}
	closedir(dir);
	FINISH();
}

/*
 * Copy-ups of entries not read yet, while the directory is being read: each
 * entry is still listed exactly once.  A copy-up over a fallthru (and a
 * whiteout over one) is a rename on upper, which tmpfs moves to the head of
 * its listing order while it keeps its position; resuming where tmpfs would
 * skipped those entries or listed the ones read already again.
 */
TEST_F_TIMEOUT(ns, readdir_during_copy_ups, 120)
{
	static struct ent e[2 * NFILES + 4];
	static int seen[NFILES];
	int fd, n, total = 0, calls = 0, i, j;
	bool changed = false;

	make_numbered(_metadata, L("d"), "f%02d", NFILES, "x");
	START();
	fd = open_ok(_metadata, M("d"), O_RDONLY | O_DIRECTORY);
	for (;;) {
		n = getdents_once(fd, e + total, 2 * NFILES + 4 - total, 256);
		ASSERT_LE(0, n) TH_LOG("getdents: %s", strerror(-n));
		if (!n)
			break;
		total += n;
		ASSERT_LT(++calls, 1000) TH_LOG("readdir does not end");
		if (changed)
			continue;
		/* Copy up every second entry not listed yet. */
		for (i = 0; i < NFILES; i += 2) {
			char rel[32];
			bool listed = false;

			snprintf(rel, sizeof(rel), "f%02d", i);
			for (j = 0; j < total; j++)
				listed |= !strcmp(e[j].name, rel);
			if (listed)
				continue;
			snprintf(rel, sizeof(rel), "d/f%02d", i);
			ASSERT_OK(E(chmod(M(rel), 0600)));
		}
		changed = true;
	}
	close(fd);
	ASSERT_TRUE(changed);
	ASSERT_LT(2, total) TH_LOG("the first read listed everything: nothing tested");
	for (i = 0; i < total; i++) {
		int idx;

		if (sscanf(e[i].name, "f%d", &idx) == 1 && idx < NFILES)
			seen[idx]++;
	}
	for (i = 0; i < NFILES; i++) {
		int times = seen[i];

		EXPECT_EQ(1, times) TH_LOG("f%02d listed %d times", i, times);
	}
	FINISH();
}

/*
 * An offset saved from one open resumes at the same entry in another open,
 * even after a remount and after other entries were removed.
 */
TEST_F(ns, offsets_stable_across_reopen)
{
	static struct ent all[NFILES + 2], got[4];
	int fd, n, k, pass;

	make_numbered(_metadata, L("d"), "f%02d", NFILES, "x");
	START();
	fd = open_ok(_metadata, M("d"), O_RDONLY | O_DIRECTORY);
	n = getdents_all(fd, all, NFILES + 2, 4096);
	close(fd);
	ASSERT_EQ(NFILES + 2, n);

	/* Resume in a new open at every 6th offset (first pass: inode too). */
	for (pass = 0; pass < 2; pass++) {
		if (pass) {
			REMOUNT();
			/* Remove the entries right before the probed ones. */
			for (k = 2; k < n - 1; k += 6)
				if (strcmp(all[k].name, ".") &&
				    strcmp(all[k].name, ".."))
					ASSERT_OK(E(unlink(jp(M("d"), all[k].name))));
		}
		for (k = 2 * pass; k < n - 1; k += 6) {
			fd = open_ok(_metadata, M("d"), O_RDONLY | O_DIRECTORY);
			ASSERT_EQ(all[k].off, lseek(fd, all[k].off, SEEK_SET));
			ASSERT_LE(1, getdents_once(fd, got, 1, 512));
			EXPECT_STREQ(all[k + 1].name, got[0].name)
				TH_LOG("k=%d", k);
			if (!pass)
				EXPECT_EQ(all[k + 1].ino, got[0].ino);
			close(fd);
		}
	}
	FINISH();
}

#define NCHURN 300

/*
 * Removing and adding entries while a directory is being read does not
 * make untouched entries appear twice or go missing, and the read ends.
 */
TEST_F_TIMEOUT(ns, readdir_during_changes, 120)
{
	static struct ent e[4 * NCHURN];
	static int seen[NCHURN];
	int fd, n, total = 0, calls = 0, i;
	bool churned = false;

	make_numbered(_metadata, L("d"), "f%03d", NCHURN, "x");
	START();
	fd = open_ok(_metadata, M("d"), O_RDONLY | O_DIRECTORY);
	for (;;) {
		n = getdents_once(fd, e + total, 4 * NCHURN - total, 600);
		ASSERT_LE(0, n) TH_LOG("getdents: %s", strerror(-n));
		if (!n)
			break;
		total += n;
		ASSERT_LT(++calls, 2000) TH_LOG("readdir does not end");
		if (!churned) {
			/* Remove every third file, add new ones. */
			for (i = 0; i < NCHURN; i += 3) {
				char rel[32];

				snprintf(rel, sizeof(rel), "d/f%03d", i);
				ASSERT_OK(E(unlink(M(rel))));
				snprintf(rel, sizeof(rel), "d/n%03d", i);
				ASSERT_OK(create_file(M(rel), 0644, NULL));
			}
			churned = true;
		}
	}
	close(fd);
	ASSERT_TRUE(churned);
	for (i = 0; i < total; i++) {
		int idx;

		if (sscanf(e[i].name, "f%d", &idx) == 1 && idx < NCHURN)
			seen[idx]++;
	}
	for (i = 0; i < NCHURN; i++) {
		if (i % 3 == 0) {
			EXPECT_GE(1, seen[i]) TH_LOG("removed f%03d", i);
		} else {
			EXPECT_EQ(1, seen[i]) TH_LOG("untouched f%03d", i);
		}
	}
	for (i = 0; i < total; i++) {
		int j;

		for (j = 0; j < i; j++)
			EXPECT_STRNE(e[j].name, e[i].name);
	}
	FINISH();
}

/* =================== rename (rule 5) =================== */

/* A lower file is copied up and renamed; its inode number stays. */
TEST_F(ns, rename_lower_file)
{
	struct stat lo, before, after;

	TREE(L(""), "d/", "d/f=data");
	START();
	lo = ST(L("d/f"));
	before = ST(M("d/f"));
	ASSERT_OK(E(rename(M("d/f"), M("d/g"))));
	after = ST(M("d/g"));

	EXPECT_EQ(before.st_ino, after.st_ino);
	EXPECT_STREQ("none", kind(M("d/f")));
	EXPECT_STREQ("data", content(M("d/g")));
	EXPECT_STREQ("f:wh g:reg", upper_listing(U("d")));
	EXPECT_STREQ("data", content(U("d/g")));
	EXPECT_EQ(lo.st_ino, origin_of(U("d/g")));
	EXPECT_STREQ("y", xattr_str(U("d"), X_IMPURE));
	EXPECT_STREQ("g", listing(M("d")));
	REMOUNT();
	EXPECT_EQ(before.st_ino, ST(M("d/g")).st_ino);
	FINISH();
}

/*
 * rename(2) of a lower file onto another of its lower hard links does
 * nothing (POSIX), though each name is a union inode of its own; so does
 * RENAME_EXCHANGE of the two.  Found by union-difftest (seed 2).
 */
TEST_F(ns, rename_onto_another_lower_link_of_itself_does_nothing)
{
	TREE(L(""), "a/", "f=x");
	ASSERT_EQ(0, link(L("f"), L("a/d")));
	ASSERT_EQ(0, link(L("f"), L("g")));
	START();
	ASSERT_OK(E(rename(M("f"), M("a/d"))));
	ASSERT_OK(E(syscall(SYS_renameat2, AT_FDCWD, M("g"), AT_FDCWD, M("a/d"),
			    RENAME_EXCHANGE)));
	EXPECT_KINDS(M(""), "f:reg", "a/d:reg", "g:reg");
	EXPECT_EQ(3, ST(M("f")).st_nlink);
	EXPECT_EQ(ST(M("f")).st_ino, ST(M("a/d")).st_ino);
	EXPECT_KINDS(U(""), "f:none", "a/d:none");
	EXPECT_STREQ("x", content(M("f")));
	FINISH();
}

/* Across directories: the destination parent is the impure one. */
TEST_F(ns, rename_lower_file_across_dirs)
{
	struct stat lo, before;

	TREE(L(""), "a/", "b/", "a/f=data");
	START();
	lo = ST(L("a/f"));
	before = ST(M("a/f"));
	ASSERT_OK(E(rename(M("a/f"), M("b/f"))));
	EXPECT_EQ(before.st_ino, ST(M("b/f")).st_ino);
	EXPECT_STREQ("data", content(M("b/f")));
	EXPECT_STREQ("none", kind(M("a/f")));
	EXPECT_KINDS(U(""), "a/f:wh", "b/f:reg");
	EXPECT_EQ(lo.st_ino, origin_of(U("b/f")));
	EXPECT_STREQ("y", xattr_str(U("b"), X_IMPURE));
	REMOUNT();
	EXPECT_EQ(before.st_ino, ST(M("b/f")).st_ino);
	EXPECT_STREQ("f", listing(M("b")));
	EXPECT_STREQ("", listing(M("a")));
	FINISH();
}

/* Symlinks and FIFOs keep their type and target. */
TEST_F(ns, rename_lower_symlink_and_fifo)
{
	struct stat s0, p0;

	TREE(L(""), "s->some/target");
	ASSERT_EQ(0, mknod(L("p"), S_IFIFO | 0640, 0));
	START();
	s0 = ST(M("s"));
	p0 = ST(M("p"));
	ASSERT_OK(E(rename(M("s"), M("s2"))));
	ASSERT_OK(E(rename(M("p"), M("p2"))));
	EXPECT_STREQ("some/target", link_target(M("s2")));
	EXPECT_STREQ("some/target", link_target(U("s2")));
	EXPECT_EQ(S_IFIFO | 0640, ST(M("p2")).st_mode);
	EXPECT_EQ(s0.st_ino, ST(M("s2")).st_ino);
	EXPECT_EQ(p0.st_ino, ST(M("p2")).st_ino);
	EXPECT_STREQ("p:wh p2:fifo s:wh s2:lnk", upper_listing(U("")));
	EXPECT_STREQ("p2 s2", listing(M("")));
	FINISH();
}

/* The target may be upper-only, lower-only, or a whiteout. */
TEST_F(ns, rename_replaces_target)
{
	TREE(L(""), "src1=one", "src2=two", "src3=three", "tlow=lower target",
	     "tw=removed target");
	START();
	ASSERT_OK(create_file(M("tup"), 0644, "upper target"));
	ASSERT_OK(E(unlink(M("tw"))));

	ASSERT_OK(E(rename(M("src1"), M("tup"))));
	ASSERT_OK(E(rename(M("src2"), M("tlow"))));
	ASSERT_OK(E(rename(M("src3"), M("tw"))));

	EXPECT_CONTENTS(M(""), "tup=one", "tlow=two", "tw=three");
	EXPECT_STREQ("tlow tup tw", listing(M("")));
	EXPECT_STREQ("src1:wh src2:wh src3:wh tlow:reg tup:reg tw:reg",
		     upper_listing(U("")));
	EXPECT_STREQ("two", content(U("tlow")));
	FINISH();
}

/*
 * In a directory already copied up by readdir, sources and targets are
 * fallthrus: renames and links replace them like any other entry.
 */
TEST_F(ns, rename_and_link_fallthrus)
{
	struct stat a0, c0;

	TREE(L(""), "r/", "r/a=a", "r/b=b", "r/c=c", "r/d=d");
	START();
	ASSERT_STREQ("a b c d", listing(M("r")));
	ASSERT_STREQ("a:ft8 b:ft8 c:ft8 d:ft8", upper_listing(U("r")));
	a0 = ST(M("r/a"));
	c0 = ST(M("r/c"));
	ASSERT_OK(E(rename(M("r/a"), M("r/b"))));	/* over a fallthru */
	ASSERT_OK(E(rename(M("r/c"), M("r/e"))));	/* to a new name */
	ASSERT_OK(E(link(M("r/d"), M("r/f"))));

	EXPECT_STREQ("a:wh b:reg c:wh d:reg e:reg f:reg", upper_listing(U("r")));
	EXPECT_STREQ("b d e f", listing(M("r")));
	EXPECT_CONTENTS(M(""), "r/b=a", "r/e=c");
	EXPECT_EQ(a0.st_ino, ST(M("r/b")).st_ino);
	EXPECT_EQ(c0.st_ino, ST(M("r/e")).st_ino);
	EXPECT_EQ(ST(M("r/d")).st_ino, ST(M("r/f")).st_ino);
	EXPECT_EQ(ST(U("r/d")).st_ino, ST(U("r/f")).st_ino);
	EXPECT_EQ(2u, ST(M("r/f")).st_nlink);
	FINISH();
}

/* An upper-only name renamed away leaves nothing; over a lower name works. */
TEST_F(ns, rename_upper_only_file)
{
	TREE(L(""), "tlow=lower");
	START();
	ASSERT_OK(create_file(M("n"), 0644, "n"));
	ASSERT_OK(create_file(M("o"), 0644, "o"));
	ASSERT_OK(E(rename(M("n"), M("m"))));
	ASSERT_OK(E(rename(M("o"), M("tlow"))));
	EXPECT_CONTENTS(M(""), "m=n", "tlow=o");
	EXPECT_STREQ("m:reg tlow:reg", upper_listing(U("")));
	EXPECT_STREQ("m tlow", listing(M("")));
	FINISH();
}

TEST_F(ns, rename_noreplace)
{
	TREE(L(""), "a=a", "b=b", "c=c");
	START();
	ASSERT_OK(create_file(M("u"), 0644, "u"));
	ASSERT_ERR(EEXIST, rename2(M("a"), M("b"), RENAME_NOREPLACE));
	ASSERT_ERR(EEXIST, rename2(M("a"), M("u"), RENAME_NOREPLACE));
	ASSERT_ERR(EEXIST, rename2(M("u"), M("b"), RENAME_NOREPLACE));
	EXPECT_CONTENTS(M(""), "a=a", "b=b");
	EXPECT_STREQ("u:reg", upper_listing(U("")));

	ASSERT_OK(E(unlink(M("c"))));
	ASSERT_OK(rename2(M("a"), M("c"), RENAME_NOREPLACE));
	ASSERT_OK(rename2(M("u"), M("v"), RENAME_NOREPLACE));
	EXPECT_STREQ("a", content(M("c")));
	EXPECT_STREQ("a:wh c:reg v:reg", upper_listing(U("")));
	EXPECT_STREQ("b c v", listing(M("")));
	FINISH();
}

TEST_F(ns, rename_exchange)
{
	struct stat a, b, c, d;

	TREE(L(""), "a=A", "c=C", "d=D");
	START();
	ASSERT_OK(create_file(M("b"), 0644, "B"));
	a = ST(M("a"));
	b = ST(M("b"));
	c = ST(M("c"));
	d = ST(M("d"));
	ASSERT_OK(rename2(M("a"), M("b"), RENAME_EXCHANGE));
	ASSERT_OK(rename2(M("c"), M("d"), RENAME_EXCHANGE));

	EXPECT_CONTENTS(M(""), "a=B", "b=A", "c=D", "d=C");
	EXPECT_EQ(b.st_ino, ST(M("a")).st_ino);
	EXPECT_EQ(a.st_ino, ST(M("b")).st_ino);
	EXPECT_EQ(d.st_ino, ST(M("c")).st_ino);
	EXPECT_EQ(c.st_ino, ST(M("d")).st_ino);
	EXPECT_STREQ("a:reg b:reg c:reg d:reg", upper_listing(U("")));
	EXPECT_CONTENTS(U(""), "a=B", "b=A");
	EXPECT_STREQ("a b c d", listing(M("")));
	FINISH();
}

TEST_F(ns, rename_whiteout_einval)
{
	TREE(L(""), "a=a");
	START();
	ASSERT_OK(create_file(M("u"), 0644, "u"));
	ASSERT_ERR(EINVAL, rename2(M("a"), M("b"), RENAME_WHITEOUT));
	ASSERT_ERR(EINVAL, rename2(M("u"), M("v"), RENAME_WHITEOUT));
	EXPECT_STREQ("a", content(M("a")));
	EXPECT_STREQ("none", kind(M("b")));
	EXPECT_STREQ("u:reg", upper_listing(U("")));
	FINISH();
}

/* Directories with a lower part cannot be renamed: EXDEV, nothing changes. */
TEST_F(ns, rename_lower_dir_exdev)
{
	TREE(L(""), "d/", "d/f=f", "m/", "m/f=f", "r/", "r/f=f", "e/");
	START();
	ASSERT_OK(create_file(M("m/u"), 0644, NULL));	/* merged */
	ASSERT_STREQ("f", listing(M("r")));		/* copied up */
	ASSERT_ERR(EXDEV, E(rename(M("d"), M("d2"))));
	ASSERT_ERR(EXDEV, E(rename(M("m"), M("m2"))));
	ASSERT_ERR(EXDEV, E(rename(M("r"), M("r2"))));
	ASSERT_ERR(EXDEV, E(rename(M("e"), M("e2"))));
	ASSERT_ERR(EXDEV, rename2(M("d"), M("x"), RENAME_NOREPLACE));
	EXPECT_KINDS(U(""), "d:none", "e:none", "m:dir", "r:dir");
	EXPECT_STREQ("m:dir r:dir", upper_listing(U("")));
	EXPECT_STREQ("d e m r", listing(M("")));
	EXPECT_STREQ("f", listing(M("d")));
	EXPECT_STREQ("f u", listing(M("m")));
	EXPECT_STREQ("f", listing(M("r")));
	FINISH();
}

/* An upper-only directory renames with its contents, also into lower dirs. */
TEST_F(ns, rename_upper_only_dir)
{
	struct stat n0;

	TREE(L(""), "ld/", "ld/keep=k");
	START();
	ASSERT_OK(E(mkdir(M("n"), 0755)));
	ASSERT_OK(create_file(M("n/f"), 0644, "x"));
	ASSERT_OK(E(mkdir(M("n/sub"), 0755)));
	ASSERT_OK(create_file(M("n/sub/g"), 0644, "g"));
	n0 = ST(M("n"));
	ASSERT_OK(E(rename(M("n"), M("m"))));
	EXPECT_EQ(n0.st_ino, ST(M("m")).st_ino);
	EXPECT_STREQ("f sub", listing(M("m")));
	EXPECT_STREQ("x", content(M("m/f")));
	EXPECT_STREQ("none", kind(M("n")));
	EXPECT_STREQ("none", kind(U("n")));
	EXPECT_STREQ("f:reg sub:dir", upper_listing(U("m")));

	ASSERT_OK(E(rename(M("m"), M("ld/m"))));
	EXPECT_STREQ("keep m", listing(M("ld")));
	EXPECT_STREQ("g", content(M("ld/m/sub/g")));
	EXPECT_KINDS(U(""), "m:none", "ld/m:dir");
	FINISH();
}

/*
 * An upper-only directory renamed over an (emptied) lower directory must not
 * let the lower directory's removed entries show again.
 */
TEST_F(ns, rename_upper_dir_over_lower_dir)
{
	TREE(L(""), "e/", "e/x=x");
	START();
	ASSERT_OK(E(mkdir(M("n"), 0755)));
	ASSERT_OK(create_file(M("n/f"), 0644, "f"));
	ASSERT_OK(E(unlink(M("e/x"))));
	ASSERT_OK(E(rename(M("n"), M("e"))));
	EXPECT_STREQ("f", listing(M("e")));
	EXPECT_KINDS(M(""), "e/x:none", "n:none");
	EXPECT_STREQ("y", xattr_str(U("e"), X_OPAQUE));
	EXPECT_STREQ("none", kind(U("n")));
	REMOUNT();
	EXPECT_STREQ("f", listing(M("e")));
	EXPECT_STREQ("none", kind(M("e/x")));
	FINISH();
}

/* =================== link (rule 6) =================== */

TEST_F(ns, link_lower_file)
{
	struct stat lo, f0, f, g, uf, ug;

	TREE(L(""), "f=data", "d/");
	START();
	lo = ST(L("f"));
	f0 = ST(M("f"));
	ASSERT_OK(E(link(M("f"), M("g"))));
	ASSERT_OK(E(link(M("f"), M("d/h"))));
	f = ST(M("f"));
	g = ST(M("g"));
	uf = ST(U("f"));
	ug = ST(U("g"));

	EXPECT_EQ(f0.st_ino, f.st_ino);
	EXPECT_EQ(f.st_ino, g.st_ino);
	EXPECT_EQ(f.st_ino, ST(M("d/h")).st_ino);
	EXPECT_EQ(3u, f.st_nlink);
	EXPECT_EQ(3u, g.st_nlink);
	EXPECT_EQ(uf.st_ino, ug.st_ino);
	EXPECT_EQ(uf.st_ino, ST(U("d/h")).st_ino);
	EXPECT_EQ(3u, uf.st_nlink);
	EXPECT_EQ(lo.st_ino, origin_of(U("f")));
	EXPECT_EQ(1u, lo.st_nlink);
	EXPECT_STREQ("data", content(M("g")));
	/* One inode: a write through one name shows through the other. */
	ASSERT_OK(E(truncate(M("g"), 2)));
	EXPECT_STREQ("da", content(M("f")));
	EXPECT_STREQ("d f g", listing(M("")));
	REMOUNT();
	EXPECT_EQ(f0.st_ino, ST(M("g")).st_ino);
	EXPECT_EQ(ST(M("f")).st_ino, ST(M("d/h")).st_ino);
	EXPECT_EQ(3u, ST(M("g")).st_nlink);
	FINISH();
}

/* The link name may be a whiteout; an unlinked name drops st_nlink. */
TEST_F(ns, link_over_whiteout_and_unlink)
{
	TREE(L(""), "f=data", "g=old g");
	START();
	ASSERT_OK(E(unlink(M("g"))));
	ASSERT_OK(E(link(M("f"), M("g"))));
	EXPECT_STREQ("data", content(M("g")));
	EXPECT_EQ(ST(M("f")).st_ino, ST(M("g")).st_ino);
	EXPECT_EQ(2u, ST(M("g")).st_nlink);
	EXPECT_EQ(ST(U("f")).st_ino, ST(U("g")).st_ino);
	EXPECT_EQ(2u, ST(U("g")).st_nlink);
	ASSERT_OK(E(unlink(M("f"))));
	EXPECT_EQ(1u, ST(M("g")).st_nlink);
	EXPECT_STREQ("wh", kind(U("f")));
	EXPECT_EQ(1u, ST(U("g")).st_nlink);
	EXPECT_STREQ("g", listing(M("")));
	FINISH();
}

/* =================== private xattrs =================== */

TEST_F(ns, private_xattrs_hidden)
{
	char list[4096];
	const char *p;
	ssize_t n;

	TREE(L(""), "d/", "d/f=f");
	START();
	ASSERT_OK(E(rename(M("d/f"), M("d/g"))));
	ASSERT_STREQ("g", listing(M("d")));
	ASSERT_STREQ("y", xattr_str(U("d"), X_OPAQUE));
	ASSERT_STREQ("y", xattr_str(U("d"), X_IMPURE));
	ASSERT_NE(0u, origin_of(U("d/g")));

	for (p = "d"; p; p = strcmp(p, "d") ? NULL : "d/g") {
		n = llistxattr(M(p), list, sizeof(list));
		ASSERT_LE(0, n);
		EXPECT_EQ(NULL, memmem(list, n, "trusted.union.", 14))
			TH_LOG("%s lists a private xattr", p);
	}
	EXPECT_STREQ("<ENODATA>", xattr_str(M("d"), X_OPAQUE));
	EXPECT_STREQ("<ENODATA>", xattr_str(M("d"), X_IMPURE));
	EXPECT_STREQ("<ENODATA>", xattr_str(M("d"), X_FALLTHRU));
	EXPECT_STREQ("<ENODATA>", xattr_str(M("d/g"), X_ORIGIN));
	ASSERT_ERR(EPERM, E(lsetxattr(M("d"), X_OPAQUE, "n", 1, 0)));
	ASSERT_ERR(EPERM, E(lsetxattr(M("d/g"), X_ORIGIN, "12345678", 8, 0)));
	ASSERT_ERR(EPERM, E(lsetxattr(M("d"), "trusted.union.new", "y", 1, 0)));
	EXPECT_STREQ("y", xattr_str(U("d"), X_OPAQUE));
	EXPECT_STREQ("<ENODATA>", xattr_str(U("d"), "trusted.union.new"));
	EXPECT_EQ(ST(L("d/f")).st_ino, origin_of(U("d/g")));
	FINISH();
}

TEST_HARNESS_MAIN
