/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The helper library of the union selftests: the layers of a test (fresh
 * tmpfs instances in a private mount namespace) and mounting the union on
 * them through the new mount API (fsopen/fsconfig/fsmount/move_mount; mount(2)
 * where a test is about it), building trees on a layer (TREE: directories,
 * files, symlinks, special files, the upper layer's markers, xattrs),
 * removing them, listings of the union (d_type/d_ino checked) and of a layer
 * with marker types (upper_listing), table checks of kinds and contents,
 * running a function as another user, paths, small file contents,
 * filesystem usage and task states (for synchronising on observable
 * progress, never on sleeps).  Include it instead of kselftest_harness.h.
 */
#ifndef UNION_TEST_H
#define UNION_TEST_H

#include "common.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include "kselftest_harness.h"

/* A test may define a smaller PATH_LEN before including this. */
#ifndef PATH_LEN
#define PATH_LEN	512
#endif
#ifndef MiB
#define MiB		(1024L * 1024)
#endif

static inline char *pbuf(void)
{
	static char bufs[32][PATH_LEN];
	static unsigned int i;

	return bufs[i++ % 32];
}

/*
 * "@a/@b" ("@a" if @b is NULL or empty) in a ring of static buffers; @a may
 * be an earlier result (built aside, so that the compiler sees no overlap).
 */
static inline const char *jp(const char *a, const char *b)
{
	char tmp[PATH_LEN], *p = pbuf();

	snprintf(tmp, PATH_LEN, "%s%s%s", a, b && *b ? "/" : "", b ?: "");
	return strcpy(p, tmp);
}

/* @call fails (returns -1) with errno @err. */
#define EXPECT_ERRNO(err, call) do {					\
	EXPECT_EQ(-1, (call));						\
	EXPECT_EQ(err, errno) TH_LOG("%s", #call);			\
} while (0)

#define ASSERT_ERRNO(err, call) do {					\
	ASSERT_EQ(-1, (call));						\
	ASSERT_EQ(err, errno) TH_LOG("%s", #call);			\
} while (0)

/*
 * @expr evaluated with @fd open on @path (open() @flags): its value (an int),
 * or -errno if the open failed.
 */
#define WITH_FD(fd, path, flags, expr) ({				\
	int fd = open(path, (flags) | O_CLOEXEC), __r = -errno;		\
	if (fd >= 0) {							\
		__r = (expr);						\
		close(fd);						\
	}								\
	__r;								\
})

/* open(@path, @flags | O_CLOEXEC), asserting it succeeds. */
static inline int open_ok(struct __test_metadata *_metadata, const char *path,
			  int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	return fd;
}

/* ---- the layers of a test ---- */

/*
 * Everything lives below @base, a fresh tmpfs mounted on a mkdtemp()
 * directory in the test's own mount namespace: @lower and @upper (each
 * either a directory on @base or on a tmpfs of its own, @lowerfs and
 * @upperfs) and the mount point @mnt.
 */
struct union_layers {
	char base[PATH_LEN];
	char lowerfs[PATH_LEN];	/* "" if the lower layer is on @base */
	char upperfs[PATH_LEN];	/* "" if the upper layer is on @base */
	char lower[PATH_LEN];
	char upper[PATH_LEN];
	char mnt[PATH_LEN];
	char opts[3 * PATH_LEN];	/* the last union_mount()'s data */
	char log[1024];			/* its fs_context log, if it failed */
};

struct union_layers_cfg {
	const char *name;		/* base is /tmp/union-@name.XXXXXX */
	unsigned long propagation;	/* of "/" in the new namespace */
	const char *base_fs;		/* tmpfs options of @base */
	const char *lower_fs;		/* NULL: lower on @base, else tmpfs options */
	const char *upper_fs;		/* NULL: upper on @base, else tmpfs options */
};

/* A layer directory @dir/@name, on its own tmpfs @fs ("@base/@fsname") if @fs_opts. */
static inline void union_layer_dir(struct __test_metadata *_metadata,
				   const char *base, char *fs, char *dir,
				   const char *fsname, const char *name,
				   const char *fs_opts)
{
	if (fs_opts) {
		snprintf(fs, PATH_LEN, "%s/%s", base, fsname);
		ASSERT_EQ(0, mkdir(fs, 0755));
		ASSERT_EQ(0, mount("tmpfs", fs, "tmpfs", 0, fs_opts))
			TH_LOG("mount tmpfs -o %s: %s", fs_opts, strerror(errno));
		base = fs;
	}
	snprintf(dir, PATH_LEN, "%s/%s", base, name);
	ASSERT_EQ(0, mkdir(dir, 0755));
}

static inline void union_layers_setup(struct __test_metadata *_metadata,
				      struct union_layers *l,
				      const struct union_layers_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | cfg->propagation, NULL));
	snprintf(l->base, PATH_LEN, "/tmp/union-%s.XXXXXX", cfg->name);
	ASSERT_NE(NULL, mkdtemp(l->base));
	ASSERT_EQ(0, mount("tmpfs", l->base, "tmpfs", 0, cfg->base_fs));
	union_layer_dir(_metadata, l->base, l->lowerfs, l->lower, "lfs", "lower",
			cfg->lower_fs);
	union_layer_dir(_metadata, l->base, l->upperfs, l->upper, "ufs", "upper",
			cfg->upper_fs);
	snprintf(l->mnt, PATH_LEN, "%s/mnt", l->base);
	ASSERT_EQ(0, mkdir(l->mnt, 0755));
}

/* Unmounts everything below @base (whatever a test left mounted) and removes it. */
static inline void union_layers_teardown(struct union_layers *l)
{
	const char *mnts[] = { l->mnt, l->upperfs, l->lowerfs };
	unsigned int i;

	if (chdir("/"))
		perror("chdir /");
	for (i = 0; i < sizeof(mnts) / sizeof(mnts[0]); i++)
		while (mnts[i][0] && !umount2(mnts[i], MNT_DETACH))
			;
	if (l->base[0]) {
		umount2(l->base, MNT_DETACH);
		rmdir(l->base);
	}
}

/* Appends printf(@fmt, ...) to the string in @buf (@size bytes), if it fits. */
__attribute__((format(printf, 3, 4)))
static inline void buf_append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/*
 * Drains the fs_context log of @fsfd (one message per read(), ENODATA when
 * empty) into @buf, one message per line, e.g. "e union: missing lower=".
 */
static inline void fslog_read(int fsfd, char *buf, size_t size)
{
	char msg[1024];
	ssize_t n;

	buf[0] = '\0';
	while ((n = read(fsfd, msg, sizeof(msg) - 1)) > 0) {
		msg[n] = '\0';
		if (msg[n - 1] == '\n')
			msg[n - 1] = '\0';
		buf_append(buf, size, "%s\n", msg);
	}
	if (n < 0 && errno != ENODATA)
		buf_append(buf, size, "<read of fs_context log failed: %s>\n",
			   strerror(errno));
}

/*
 * Mounts "union" on @target through the new mount API: fsopen(), fsconfig()
 * of lower=@lower and upper=@upper (and the flag "ro" if @ro), FSCONFIG_CMD_CREATE,
 * fsmount() and move_mount().  On failure the messages of the filesystem
 * context go to @log (if not NULL; fslog_read()).  0 or -errno.
 */
static inline int union_fsmount(const char *lower, const char *upper,
				const char *target, bool ro, char *log,
				size_t size)
{
	int fsfd, mfd, ret = 0;

	if (log && size)
		log[0] = '\0';
	fsfd = fsopen("union", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lower", lower, 0) ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "upper", upper, 0) ||
	    (ro && fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0)) ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		ret = -errno;
	if (!ret) {
		mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
		if (mfd < 0) {
			ret = -errno;
		} else {
			if (move_mount(mfd, "", AT_FDCWD, target,
				       MOVE_MOUNT_F_EMPTY_PATH))
				ret = -errno;
			close(mfd);
		}
	}
	if (ret && log)
		fslog_read(fsfd, log, size);
	close(fsfd);
	return ret;
}

/*
 * Mounts the union of @l on @l->mnt (a test may have changed @upper) with
 * the new mount API, read-only if @ro: 0 or -errno.  @l->opts is the same
 * as a mount(2) option string, for messages and for union_mount2().
 */
static inline int union_mount_ro(struct union_layers *l, bool ro)
{
	snprintf(l->opts, sizeof(l->opts), "lower=%s,upper=%s", l->lower, l->upper);
	return union_fsmount(l->lower, l->upper, l->mnt, ro, l->log,
			     sizeof(l->log));
}

static inline int union_mount(struct union_layers *l)
{
	return union_mount_ro(l, false);
}

/* The same through mount(2) with @flags and the option string @l->opts. */
static inline int union_mount2(struct union_layers *l, unsigned long flags)
{
	snprintf(l->opts, sizeof(l->opts), "lower=%s,upper=%s", l->lower, l->upper);
	return mount("none", l->mnt, "union", flags, l->opts) ? -errno : 0;
}

/* Unmounts @l->mnt: 0 or -errno. */
static inline int union_umount(struct union_layers *l)
{
	return umount2(l->mnt, 0) ? -errno : 0;
}

/* Asserts that @r, the result of @what on @l, is 0. */
static inline void union_mount_check(struct __test_metadata *_metadata,
				     struct union_layers *l, int r,
				     const char *what)
{
	ASSERT_EQ(0, r) TH_LOG("%s %s: %s\n%s", what,
			       strcmp(what, "umount") ? l->opts : l->mnt,
			       strerror(-r), strncmp(what, "mount union", 11) ?
			       "" : l->log);
}

#define union_mount_ok(_metadata, l)					\
	union_mount_check(_metadata, l, union_mount(l), "mount union")
#define union_mount_ro_ok(_metadata, l)					\
	union_mount_check(_metadata, l, union_mount_ro(l, true),	\
			  "mount union ro")
#define union_mount2_ok(_metadata, l, flags)				\
	union_mount_check(_metadata, l, union_mount2(l, flags),		\
			  "mount(2) union")
#define union_umount_ok(_metadata, l)					\
	union_mount_check(_metadata, l, union_umount(l), "umount")

static inline void union_remount_ok(struct __test_metadata *_metadata,
				    struct union_layers *l)
{
	union_umount_ok(_metadata, l);
	union_mount_ok(_metadata, l);
}

/*
 * A fixture @fixture that is just the layers: FIXTURE, FIXTURE_SETUP with the
 * union_layers_cfg initialisers given after the name, FIXTURE_TEARDOWN.
 */
#define UNION_LAYERS_FIXTURE(fixture, ...)				\
	FIXTURE(fixture) {						\
		struct union_layers l;					\
	};								\
	FIXTURE_SETUP(fixture)						\
	{								\
		union_layers_setup(_metadata, &self->l,			\
			&(struct union_layers_cfg){ __VA_ARGS__ });	\
	}								\
	FIXTURE_TEARDOWN(fixture)					\
	{								\
		union_layers_teardown(&self->l);			\
	}

/* Paths on the layers of a fixture with a struct union_layers l. */
#define M(rel)	jp(self->l.mnt, rel)
#define U(rel)	jp(self->l.upper, rel)
#define L(rel)	jp(self->l.lower, rel)

/* ---- other users ---- */

/* as_user()'s exit status when the child could not become the user. */
#define AS_USER_SETUP_FAILED	250

/*
 * Runs @fn(@arg) in a child process with uid and gid @uid and no
 * supplementary groups (it inherits the descriptors): the child's exit
 * status (@fn's return value), or -1 if it could not be run or was killed.
 */
static inline int as_user(uid_t uid, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
		    setresuid(uid, uid, uid))
			_exit(AS_USER_SETUP_FAILED);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- file contents ---- */

/* Writes @data to @path opened with @flags (0644 if created): 0 or -1. */
static inline int put_file(const char *path, const char *data, int flags)
{
	int fd = open(path, flags, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static inline int write_file(const char *path, const char *data)
{
	return put_file(path, data, O_WRONLY | O_CREAT | O_TRUNC);
}

static inline int append_file(const char *path, const char *data)
{
	return put_file(path, data, O_WRONLY | O_APPEND);
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

/*
 * What is at @path (not following symlinks): "none", "reg", "dir", "lnk",
 * "fifo", "sock", "blkMAJ:MIN", "chrMAJ:MIN", and the markers of the upper
 * layer: "wh" (char 0/0, a whiteout) and "ftN" (char 0/N for N 1..15, a
 * fallthru of d_type N); "<strerror>" if lstat fails otherwise.
 */
static inline const char *kind(const char *path)
{
	char *k = pbuf();
	struct stat st;

	if (lstat(path, &st)) {
		snprintf(k, PATH_LEN, "%s", errno == ENOENT ? "none" :
			 strerror(errno));
		return k;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFBLK:
		snprintf(k, PATH_LEN, "blk%u:%u", major(st.st_rdev),
			 minor(st.st_rdev));
		return k;
	case S_IFCHR:
		if (st.st_rdev == makedev(0, 0))
			return "wh";
		if (!major(st.st_rdev) && minor(st.st_rdev) <= 15)
			snprintf(k, PATH_LEN, "ft%u", minor(st.st_rdev));
		else
			snprintf(k, PATH_LEN, "chr%u:%u", major(st.st_rdev),
				 minor(st.st_rdev));
		return k;
	}
	return "?";
}

/* ---- listings ---- */

/* Small strings longer than a path live in a ring of STR_LEN buffers. */
#ifndef STR_LEN
#define STR_LEN		8192
#endif

static inline char *ring(void)
{
	static char bufs[48][STR_LEN];
	static unsigned int i;

	return bufs[i++ % 48];
}

static inline int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends printf(@f, ...) to the string @out of @len (STR_LEN bytes). */
__attribute__((format(printf, 3, 4)))
static inline void str_add(char *out, size_t *len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out + *len, *len < STR_LEN ? STR_LEN - *len : 0, f, ap);
	va_end(ap);
	if (n > 0)
		*len += n;
}

#define LIST_MAX	4096
#define WORK_DIR	".union-work"

/* An entry of a directory as readdir() returned it. */
struct dname {
	char *name;
	unsigned char type;
	uint64_t ino;
};

static inline int cmp_dname(const void *a, const void *b)
{
	return strcmp(((const struct dname *)a)->name,
		      ((const struct dname *)b)->name);
}

/*
 * The entries of directory @path but "." and ".." (and the work directory
 * if @hide_work), sorted by name, in @e (@max at most; names strdup()ed, free_names()):
 * their number, or -errno.
 */
static inline int dir_names(const char *path, struct dname *e, int max,
			    bool hide_work)
{
	struct dirent *d;
	int cnt = 0;
	DIR *dir = opendir(path);

	if (!dir)
		return -errno;
	while ((d = readdir(dir)) && cnt < max) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    (hide_work && !strcmp(d->d_name, WORK_DIR)))
			continue;
		e[cnt].name = strdup(d->d_name);
		if (!e[cnt].name)
			abort();
		e[cnt].type = d->d_type;
		e[cnt++].ino = d->d_ino;
	}
	closedir(dir);
	qsort(e, cnt, sizeof(e[0]), cmp_dname);
	return cnt;
}

static inline void free_names(struct dname *e, int n)
{
	while (n-- > 0)
		free(e[n].name);
}

/*
 * The sorted, space separated names in directory @dir (without "." and
 * ".."), or "<opendir: strerror>".  Each name's d_type and d_ino are checked
 * against lstat(): anomalies are appended as "!dup:NAME", "!lstat:NAME",
 * "!dtype:NAME(D/S)" and "!dino:NAME".
 * With @upper, a layer directory instead: sorted "NAME:KIND" (see kind():
 * the marker types of the upper layer), without the work directory.
 */
static inline const char *list_names(const char *dir, bool upper)
{
	static struct dname e[LIST_MAX];
	char *out = ring(), path[PATH_LEN];
	size_t len = 0;
	struct stat st;
	int n, i;

	/* @dir may be in jp()'s ring, which the names' paths go round. */
	snprintf(path, sizeof(path), "%s", dir);
	n = dir_names(path, e, LIST_MAX, upper);

	out[0] = '\0';
	if (n < 0) {
		str_add(out, &len, "<opendir: %s>", strerror(-n));
		return out;
	}
	for (i = 0; i < n; i++)
		str_add(out, &len, "%s%s%s%s", i ? " " : "", e[i].name,
			upper ? ":" : "", upper ? kind(jp(path, e[i].name)) : "");
	for (i = 0; i < n && !upper; i++) {
		if (i && !strcmp(e[i - 1].name, e[i].name))
			str_add(out, &len, " !dup:%s", e[i].name);
		if (lstat(jp(path, e[i].name), &st)) {
			str_add(out, &len, " !lstat:%s", e[i].name);
			continue;
		}
		if (e[i].type != IFTODT(st.st_mode))
			str_add(out, &len, " !dtype:%s(%u/%u)", e[i].name,
				e[i].type, IFTODT(st.st_mode));
		if (e[i].ino != st.st_ino)
			str_add(out, &len, " !dino:%s", e[i].name);
	}
	free_names(e, n);
	return out;
}

#define listing(path)		list_names(path, false)
#define upper_listing(path)	list_names(path, true)

/* ---- building trees (each step asserts success) ---- */

#define X_OPAQUE	"trusted.union.opaque"
#define X_FALLTHRU	"trusted.union.fallthru"
#define X_ORIGIN	"trusted.union.origin"
#define X_IMPURE	"trusted.union.impure"

/* A socket file at @path, made by bind(): 0 or -1. */
static inline int new_sock(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r;
}

/* A file @path of mode @mode (exactly) with @data: 0 or -1. */
static inline int new_file(const char *path, mode_t mode, const char *data)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	size_t len = strlen(data);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A directory @path of mode @mode (exactly): 0 or -1. */
static inline int new_dir(const char *path, mode_t mode)
{
	return mkdir(path, 0700) || chmod(path, mode) ? -1 : 0;
}

/*
 * Makes one entry below @root: "NAME/" a directory (0755), "NAME=DATA" a file
 * (0644) holding the rest of the string, "NAME->TARGET" a symlink,
 * "NAME:KIND" with a KIND of kind(): dir, reg (empty), fifo, sock,
 * chrMAJ:MIN, blkMAJ:MIN (0644), wh or ftN (the upper layer's markers), and
 * "NAME@XATTR=VALUE" sets an xattr on the existing NAME ("NAME@opaque" and
 * "NAME@fallthru" the private directory markers, value "y").  0 or -1.
 */
static inline int make_entry(const char *root, const char *spec)
{
	char name[PATH_LEN], *p, *v, op;
	const char *path;
	unsigned int ma, mi;

	snprintf(name, sizeof(name), "%s", spec);
	/* NAME ends at the first operator: '=', "->", '@' or ':'. */
	p = name + strcspn(name, "=-@:");
	while (*p == '-' && p[1] != '>')
		p += 1 + strcspn(p + 1, "=-@:");
	op = *p;
	if (op)
		*p++ = '\0';
	path = jp(root, name);
	switch (op) {
	case '=':
		return new_file(path, 0644, p);
	case '-':
		return symlink(p + 1, path);
	case '@':
		v = strchr(p, '=');
		if (v)
			*v++ = '\0';
		if (!strcmp(p, "opaque"))
			p = X_OPAQUE;
		else if (!strcmp(p, "fallthru"))
			p = X_FALLTHRU;
		v = v ?: "y";
		return lsetxattr(path, p, v, strlen(v), 0);
	case ':':
		break;
	default:
		p = name[0] && name[strlen(name) - 1] == '/' ? "dir" : "reg";
	}
	if (!strcmp(p, "dir"))
		return new_dir(path, 0755);
	if (!strcmp(p, "reg"))
		return new_file(path, 0644, "");
	if (!strcmp(p, "fifo"))
		return mknod(path, S_IFIFO | 0644, 0);
	if (!strcmp(p, "sock"))
		return new_sock(path);
	if (!strcmp(p, "wh"))
		return mknod(path, S_IFCHR, makedev(0, 0));
	if (sscanf(p, "ft%u", &mi) == 1)
		return mknod(path, S_IFCHR, makedev(0, mi));
	if (sscanf(p, "chr%u:%u", &ma, &mi) == 2)
		return mknod(path, S_IFCHR | 0644, makedev(ma, mi));
	if (sscanf(p, "blk%u:%u", &ma, &mi) == 2)
		return mknod(path, S_IFBLK | 0644, makedev(ma, mi));
	errno = EINVAL;
	return -1;
}

/* make_entry() of each of the NULL-terminated @specs in order, asserting each. */
static void __attribute__((noinline, unused))
make_tree(struct __test_metadata *_metadata, const char *dir,
	  const char *const *specs)
{
	char root[PATH_LEN];

	/* @dir may be in jp()'s ring, which the entries' paths go round. */
	snprintf(root, sizeof(root), "%s", dir);
	for (; *specs; specs++) {
		ASSERT_EQ(0, make_entry(root, *specs))
			TH_LOG("make %s in %s: %s", *specs, root,
			       strerror(errno));
	}
}

#define TREE(root, ...)	make_tree(_metadata, root,			\
				  (const char *const []){ __VA_ARGS__, NULL })

/*
 * Makes the directory @path (0755) holding @n files (0644) named
 * printf(@fmt, i) for i from 0 to @n - 1, each with @data.
 */
static void __attribute__((noinline, unused))
make_numbered(struct __test_metadata *_metadata, const char *path,
	      const char *fmt, int n, const char *data)
{
	char name[PATH_LEN], dir[PATH_LEN];
	int i;

	snprintf(dir, sizeof(dir), "%s", path);

	ASSERT_EQ(0, new_dir(dir, 0755)) TH_LOG("mkdir %s: %s", dir,
					       strerror(errno));
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), fmt, i);
		ASSERT_EQ(0, new_file(jp(dir, name), 0644, data))
			TH_LOG("create %s/%s: %s", dir, name, strerror(errno));
	}
}

/*
 * Removes each of the NULL-terminated @paths below @dir in order ("NAME/"
 * with rmdir(), anything else with unlink()), asserting each succeeds.
 */
static void __attribute__((noinline, unused))
remove_paths(struct __test_metadata *_metadata, const char *dir,
	     const char *const *paths)
{
	char name[PATH_LEN], root[PATH_LEN];
	size_t n;
	int r;

	snprintf(root, sizeof(root), "%s", dir);

	for (; *paths; paths++) {
		snprintf(name, sizeof(name), "%s", *paths);
		n = strlen(name);
		if (n && name[n - 1] == '/') {
			name[n - 1] = '\0';
			r = rmdir(jp(root, name));
		} else {
			r = unlink(jp(root, name));
		}
		ASSERT_EQ(0, r) TH_LOG("remove %s in %s: %s", *paths, root,
				       strerror(errno));
	}
}

#define REMOVE(root, ...) remove_paths(_metadata, root,		\
				       (const char *const []){ __VA_ARGS__, NULL })

/*
 * Checks each "NAME<@sep>VALUE" of the NULL-terminated @specs: @get() of NAME
 * below @dir is VALUE (EXPECT_STREQ, or ASSERT_STREQ if @fatal).
 */
static void __attribute__((noinline, unused))
check_each(struct __test_metadata *_metadata, const char *dir,
	   const char *const *specs, char sep, const char *(*get)(const char *),
	   bool fatal)
{
	char name[PATH_LEN], root[PATH_LEN], *v;

	snprintf(root, sizeof(root), "%s", dir);

	for (; *specs; specs++) {
		snprintf(name, sizeof(name), "%s", *specs);
		v = strchr(name, sep);
		ASSERT_NE(NULL, v) TH_LOG("no '%c' in %s", sep, *specs);
		*v = '\0';
		v = (char *)*specs + (v - name) + 1;
		if (fatal) {
			ASSERT_STREQ(v, get(jp(root, name))) TH_LOG("%s", name);
		} else {
			EXPECT_STREQ(v, get(jp(root, name))) TH_LOG("%s", name);
		}
	}
}

#define CHECK_EACH(root, sep, get, fatal, ...) check_each(_metadata, root, \
		(const char *const []){ __VA_ARGS__, NULL }, sep, get, fatal)

/* kind() of each "NAME:KIND" below @root is KIND. */
#define EXPECT_KINDS(root, ...)	CHECK_EACH(root, ':', kind, false, __VA_ARGS__)
#define ASSERT_KINDS(root, ...)	CHECK_EACH(root, ':', kind, true, __VA_ARGS__)


/* ---- reading ---- */

/* Contents of a file (up to STR_LEN - 1 bytes), or "<strerror>". */
static inline const char *content(const char *path)
{
	char *c = ring();
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(c, STR_LEN, "<%s>", strerror(errno));
		return c;
	}
	while ((n = read(fd, c + total, STR_LEN - 1 - total)) > 0)
		total += n;
	if (n < 0)
		snprintf(c, STR_LEN, "<read: %s>", strerror(errno));
	else
		c[total] = '\0';
	close(fd);
	return c;
}

/* The target of symlink @path, or "<strerror>". */
static inline const char *link_target(const char *path)
{
	char *t = ring();
	ssize_t n = readlink(path, t, STR_LEN - 1);

	if (n < 0)
		snprintf(t, STR_LEN, "<%s>", strerror(errno));
	else
		t[n] = '\0';
	return t;
}

/* content() of each "NAME=DATA" below @root is DATA. */
#define EXPECT_CONTENTS(root, ...) CHECK_EACH(root, '=', content, false,	\
					       __VA_ARGS__)
#define ASSERT_CONTENTS(root, ...) CHECK_EACH(root, '=', content, true,	\
					       __VA_ARGS__)


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

/* Reads /proc/@pid/@file into @buf (NUL terminated): its length, or -1. */
static inline ssize_t proc_read(pid_t pid, const char *file, char *buf,
				size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n;
}

/* The scheduler state letter of a task ('R', 'S', 'D', 'Z', ...). */
static inline char task_state(pid_t pid)
{
	char buf[512], *p;

	if (proc_read(pid, "stat", buf, sizeof(buf)) <= 0)
		return '?';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Where a task sleeps (/proc/PID/wchan), or "" if it runs or is gone. */
static inline const char *task_wchan(pid_t pid)
{
	char *b = pbuf();

	return proc_read(pid, "wchan", b, PATH_LEN) < 0 ? "" : b;
}

#endif /* UNION_TEST_H */
