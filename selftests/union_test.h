/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the union selftests: the layers of a test (fresh tmpfs
 * instances in a private mount namespace) and mounting the union on them,
 * running a function as another user, paths, small file contents, what is at
 * a path on the upper layer (marker kinds), filesystem usage and task states
 * (for synchronising on observable progress, never on sleeps).
 * Include it instead of kselftest_harness.h.
 */
#ifndef UNION_TEST_H
#define UNION_TEST_H

#include "common.h"

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

/* Mounts the union of @l on @l->mnt (a test may have changed @upper): 0 or -errno. */
static inline int union_mount(struct union_layers *l)
{
	snprintf(l->opts, sizeof(l->opts), "lower=%s,upper=%s", l->lower, l->upper);
	return mount("none", l->mnt, "union", 0, l->opts) ? -errno : 0;
}

/* Unmounts @l->mnt: 0 or -errno. */
static inline int union_umount(struct union_layers *l)
{
	return umount2(l->mnt, 0) ? -errno : 0;
}

/* union_mount() (@mount) or union_umount() of @l, asserting success. */
static inline void union_mount_set(struct __test_metadata *_metadata,
				   struct union_layers *l, bool mount)
{
	int r = mount ? union_mount(l) : union_umount(l);

	ASSERT_EQ(0, r) TH_LOG("%s %s: %s", mount ? "mount union" : "umount",
			       mount ? l->opts : l->mnt, strerror(-r));
}

#define union_mount_ok(_metadata, l)	union_mount_set(_metadata, l, true)
#define union_umount_ok(_metadata, l)	union_mount_set(_metadata, l, false)

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
