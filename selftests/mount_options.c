// SPDX-License-Identifier: GPL-2.0
/*
 * Mount option handling of the "union" filesystem.
 *
 * Checks that good lower=/upper= pairs mount through both mount(2) and
 * fsopen()/fsconfig()/fsmount()/move_mount(), that /proc/self/mounts shows
 * the absolute (and escaped) layer paths, and that every bad configuration
 * fails with the documented errno at the documented step while logging a
 * one-line "union: ..." error: in the fs_context log for the fsopen()
 * interface, in the kernel log (/dev/kmsg) for mount(2).
 *
 * Must run as root with union.ko loaded. Each test works in its own mount
 * namespace on a private tmpfs and unmounts everything it mounted.
 */
#define PATH_LEN	256
#include "union_test.h"

#include <limits.h>

#define LOG_LEN		8192
#define DATA_LEN	(3 * PATH_LEN)

/* Error lines as both interfaces present them (see log_has()). */
#define ERR_PREFIX	"e union: "

/* ---- small helpers, all returning 0 or -errno ---- */

static int union_fsopen(void)
{
	int fd = fsopen("union", FSOPEN_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int set_string(int fsfd, const char *key, const char *value)
{
	return fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0) ? -errno : 0;
}

static int cmd_create(int fsfd)
{
	return fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ? -errno : 0;
}

static int do_umount(const char *target)
{
	return umount2(target, 0) ? -errno : 0;
}

/* Position @kmsg_fd after the last record currently in the kernel log. */
static int kmsg_skip(int kmsg_fd)
{
	return lseek(kmsg_fd, 0, SEEK_END) < 0 ? -errno : 0;
}

/*
 * Read the kernel log records that appeared since kmsg_skip() into @buf.
 * Records ("prio,seq,ts,flags;text") are rewritten in the fs_context log
 * style: KERN_ERR text is prefixed "e ", warnings "w ", others by level.
 */
static void kmsg_read(int kmsg_fd, char *buf, size_t size)
{
	char rec[8192];
	char *text, *nl;
	unsigned long prio;
	ssize_t n;
	char level;

	buf[0] = '\0';
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EPIPE)	/* records overwritten */
				continue;
			if (errno != EAGAIN)
				buf_append(buf, size,
				       "<read of /dev/kmsg failed: %s>\n",
				       strerror(errno));
			break;
		}
		rec[n] = '\0';
		text = strchr(rec, ';');
		if (!text)
			continue;
		*text++ = '\0';
		nl = strchr(text, '\n');
		if (nl)
			*nl = '\0';
		prio = strtoul(rec, NULL, 10) & 7;
		level = prio == 3 ? 'e' : prio == 4 ? 'w' : '0' + prio;
		buf_append(buf, size, "%c %s\n", level, text);
	}
}

/* Is there a line in @log starting with ERR_PREFIX and containing @needle? */
static bool log_has(const char *log, const char *needle)
{
	const char *line = log;

	while (*line) {
		const char *end = strchrnul(line, '\n');
		size_t len = end - line;

		if (len >= strlen(ERR_PREFIX) &&
		    !strncmp(line, ERR_PREFIX, strlen(ERR_PREFIX)) &&
		    memmem(line, len, needle, strlen(needle)))
			return true;
		line = *end ? end + 1 : end;
	}
	return false;
}

/*
 * Return @log with every line turned into a TAP diagnostic, for TH_LOG().
 * Uses a static buffer: one call per TH_LOG().
 */
static const char *tap_lines(const char *log)
{
	static char out[2 * LOG_LEN];
	const char *line = log;

	out[0] = '\0';
	if (!*line)
		return "#   <nothing logged>";
	while (*line) {
		const char *end = strchrnul(line, '\n');

		buf_append(out, sizeof(out), "%s#   %.*s", out[0] ? "\n" : "",
		       (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
	return out;
}

/*
 * Call mount(2) for "union" on @target and collect what it printed to the
 * kernel log into @log.
 */
static int mount_logged(int kmsg_fd, const char *target, unsigned long flags,
			const char *data, char *log, size_t size)
{
	int ret;

	ret = kmsg_skip(kmsg_fd);
	if (ret)
		return ret;
	ret = mount("none", target, "union", flags, data) ? -errno : 0;
	kmsg_read(kmsg_fd, log, size);
	return ret;
}

/*
 * Find the topmost mount on @target in /proc/self/mounts and copy its fs type
 * and options. @target must not need escaping.
 */
static bool find_mount(const char *target, char *fstype, size_t type_size,
		       char *opts, size_t opts_size)
{
	char *line = NULL, *save, *mnt, *type, *o;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		if (!strtok_r(line, " \n", &save))
			continue;
		mnt = strtok_r(NULL, " \n", &save);
		type = strtok_r(NULL, " \n", &save);
		o = strtok_r(NULL, " \n", &save);
		if (!mnt || !type || !o || strcmp(mnt, target))
			continue;
		snprintf(fstype, type_size, "%s", type);
		snprintf(opts, opts_size, "%s", o);
		found = true;
	}
	free(line);
	fclose(f);
	return found;
}

static bool union_mounted_at(const char *target)
{
	char type[64], opts[LOG_LEN];

	return find_mount(target, type, sizeof(type), opts, sizeof(opts)) &&
	       !strcmp(type, "union");
}

/* Is @opt one of the comma separated entries of @opts? */
static bool has_option(const char *opts, const char *opt)
{
	size_t len = strlen(opt);
	const char *p = opts;

	while (*p) {
		const char *end = strchrnul(p, ',');

		if ((size_t)(end - p) == len && !strncmp(p, opt, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* ---- fixture ---- */

FIXTURE(union_opts) {
	struct union_layers l;	/* lower, upper, mnt on a private tmpfs */
	char lower2[PATH_LEN];
	char upper2[PATH_LEN];
	char mnt2[PATH_LEN];
	char rodir[PATH_LEN];	/* for read-only mounts */
	char file[PATH_LEN];	/* a regular file */
	char data[DATA_LEN];	/* mount(2) option string */
	char log[LOG_LEN];
	int kmsg_fd;
};

static void mkpath(struct __test_metadata *_metadata, char *buf,
		   const char *dir, const char *name)
{
	ASSERT_LT(snprintf(buf, PATH_LEN, "%s/%s", dir, name), PATH_LEN);
}

FIXTURE_SETUP(union_opts)
{
	int fd;

	self->kmsg_fd = -1;
	union_layers_setup(_metadata, &self->l, &(struct union_layers_cfg){
		.name = "opts", .propagation = MS_SLAVE, .base_fs = "mode=0755" });

	mkpath(_metadata, self->lower2, self->l.base, "lower2");
	mkpath(_metadata, self->upper2, self->l.base, "upper2");
	mkpath(_metadata, self->mnt2, self->l.base, "mnt2");
	mkpath(_metadata, self->rodir, self->l.base, "ro");
	mkpath(_metadata, self->file, self->l.base, "file");
	ASSERT_EQ(0, mkdir(self->lower2, 0755));
	ASSERT_EQ(0, mkdir(self->upper2, 0755));
	ASSERT_EQ(0, mkdir(self->mnt2, 0755));
	ASSERT_EQ(0, mkdir(self->rodir, 0755));
	fd = open(self->file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	close(fd);

	self->kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_GE(self->kmsg_fd, 0)
		TH_LOG("open /dev/kmsg: %s", strerror(errno));
}

FIXTURE_TEARDOWN(union_opts)
{
	const char *mnts[] = { self->mnt2, self->rodir };
	unsigned int i;

	for (i = 0; i < sizeof(mnts) / sizeof(mnts[0]); i++)
		while (mnts[i][0] && !umount2(mnts[i], MNT_DETACH))
			;
	if (self->kmsg_fd >= 0)
		close(self->kmsg_fd);
	union_layers_teardown(&self->l);
}

/* Build "lower=@lower,upper=@upper" (either may be NULL) into self->data. */
static const char *layers(struct __test_metadata *_metadata, char *data,
			  const char *lower, const char *upper)
{
	int n;

	data[0] = '\0';
	n = snprintf(data, DATA_LEN, "%s%s%s%s%s",
		     lower ? "lower=" : "", lower ?: "",
		     lower && upper ? "," : "",
		     upper ? "upper=" : "", upper ?: "");
	EXPECT_LT(n, DATA_LEN);
	return data;
}

#define DATA(lower, upper) layers(_metadata, self->data, lower, upper)

/* mount(2) must fail with -@err and log @msg in the kernel log. */
#define ASSERT_MOUNT_FAILS(target, flags, data, err, msg) do {		\
	const char *__data = (data);					\
	int __ret = mount_logged(self->kmsg_fd, target, flags, __data,	\
				 self->log, sizeof(self->log));		\
	ASSERT_EQ(-(err), __ret)					\
		TH_LOG("mount(%s): %s", __data, strerror(-__ret));	\
	ASSERT_TRUE(log_has(self->log, msg))				\
		TH_LOG("no '%s%s' in kernel log:\n%s",			\
		       ERR_PREFIX, msg, tap_lines(self->log));		\
} while (0)

/* The fsconfig() call @call on @fsfd must fail with -@err and log @msg. */
#define ASSERT_FSCONFIG_FAILS(fsfd, call, err, msg) do {		\
	int __ret = (call);						\
	fslog_read(fsfd, self->log, sizeof(self->log));			\
	ASSERT_EQ(-(err), __ret)					\
		TH_LOG("%s: %s", #call, strerror(-__ret));		\
	ASSERT_TRUE(log_has(self->log, msg))				\
		TH_LOG("no '%s%s' in fs_context log:\n%s",		\
		       ERR_PREFIX, msg, tap_lines(self->log));		\
} while (0)

/* Mount self->l.lower/self->l.upper at self->l.mnt with mount(2). */
#define ASSERT_GOOD_MOUNT() do {					\
	int __ret = mount_logged(self->kmsg_fd, self->l.mnt, 0,		\
				 DATA(self->l.lower, self->l.upper),	\
				 self->log, sizeof(self->log));		\
	ASSERT_EQ(0, __ret)						\
		TH_LOG("mount(%s): %s\n%s", self->data,			\
		       strerror(-__ret), tap_lines(self->log));		\
	ASSERT_TRUE(union_mounted_at(self->l.mnt));			\
} while (0)

/* A new union fs_context, asserting fsopen() succeeds. */
static int fsopen_ok(struct __test_metadata *_metadata)
{
	int fd = union_fsopen();

	ASSERT_GE(fd, 0) TH_LOG("fsopen: %s", strerror(-fd));
	return fd;
}

/* The same with @key set to @value. */
static int fsopen_with(struct __test_metadata *_metadata, const char *key,
		       const char *value)
{
	int fd = fsopen_ok(_metadata);

	ASSERT_EQ(0, set_string(fd, key, value)) TH_LOG("%s=%s", key, value);
	return fd;
}

/* Set lower= and upper= (must succeed) and expect CMD_CREATE to fail. */
#define ASSERT_CREATE_FAILS(lower, upper, err, msg) do {		\
	int __fd = union_fsopen(), __r;					\
	ASSERT_GE(__fd, 0) TH_LOG("fsopen: %s", strerror(-__fd));	\
	__r = set_string(__fd, "lower", lower);				\
	if (!__r)							\
		__r = set_string(__fd, "upper", upper);			\
	if (__r)							\
		fslog_read(__fd, self->log, sizeof(self->log));		\
	ASSERT_EQ(0, __r)						\
		TH_LOG("setting layers: %s\n%s", strerror(-__r),	\
		       tap_lines(self->log));				\
	ASSERT_FSCONFIG_FAILS(__fd, cmd_create(__fd), err, msg);	\
	close(__fd);							\
} while (0)

/* Check fstype and the lower=/upper= entries shown for @target. */
static void check_shown(struct __test_metadata *_metadata, const char *target,
			const char *lower, const char *upper)
{
	char type[64], opts[LOG_LEN], want[DATA_LEN];

	ASSERT_TRUE(find_mount(target, type, sizeof(type), opts, sizeof(opts)))
		TH_LOG("%s not in /proc/self/mounts", target);
	EXPECT_STREQ("union", type);
	snprintf(want, sizeof(want), "lower=%s", lower);
	EXPECT_TRUE(has_option(opts, want))
		TH_LOG("'%s' not in options '%s'", want, opts);
	snprintf(want, sizeof(want), "upper=%s", upper);
	EXPECT_TRUE(has_option(opts, want))
		TH_LOG("'%s' not in options '%s'", want, opts);
}

/* ---- good mounts ---- */

TEST_F(union_opts, mount_syscall)
{
	ASSERT_GOOD_MOUNT();
	check_shown(_metadata, self->l.mnt, self->l.lower, self->l.upper);
	ASSERT_EQ(0, do_umount(self->l.mnt));
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

TEST_F(union_opts, fsmount)
{
	int ret;

	ret = union_fsmount(self->l.lower, self->l.upper, self->l.mnt, false,
			    self->log, sizeof(self->log));
	ASSERT_EQ(0, ret)
		TH_LOG("%s\n%s", strerror(-ret), tap_lines(self->log));
	check_shown(_metadata, self->l.mnt, self->l.lower, self->l.upper);
	ASSERT_EQ(0, do_umount(self->l.mnt));
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

/* Layer paths with ',' and ' ' must be shown octal-escaped. */
TEST_F(union_opts, escaped_paths)
{
	char lower[PATH_LEN], upper[PATH_LEN];
	char lower_esc[PATH_LEN], upper_esc[PATH_LEN];
	int ret;

	mkpath(_metadata, lower, self->l.base, "a,b c");
	mkpath(_metadata, upper, self->l.base, "u p,q");
	mkpath(_metadata, lower_esc, self->l.base, "a\\054b\\040c");
	mkpath(_metadata, upper_esc, self->l.base, "u\\040p\\054q");
	ASSERT_EQ(0, mkdir(lower, 0755));
	ASSERT_EQ(0, mkdir(upper, 0755));

	ret = union_fsmount(lower, upper, self->l.mnt, false, self->log,
			    sizeof(self->log));
	ASSERT_EQ(0, ret)
		TH_LOG("%s\n%s", strerror(-ret), tap_lines(self->log));
	check_shown(_metadata, self->l.mnt, lower_esc, upper_esc);
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

/* Relative layer paths are resolved; the absolute paths are shown. */
TEST_F(union_opts, relative_paths_shown_absolute)
{
	int ret;

	ASSERT_EQ(0, chdir(self->l.base));
	ret = union_fsmount("lower", "./upper", self->l.mnt, false, self->log,
			    sizeof(self->log));
	ASSERT_EQ(0, ret)
		TH_LOG("%s\n%s", strerror(-ret), tap_lines(self->log));
	ASSERT_EQ(0, chdir("/"));
	check_shown(_metadata, self->l.mnt, self->l.lower, self->l.upper);
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

/* ---- missing / malformed options ---- */

TEST_F(union_opts, missing_lower_fsconfig)
{
	int fd = fsopen_with(_metadata, "upper", self->l.upper);

	ASSERT_FSCONFIG_FAILS(fd, cmd_create(fd), EINVAL, "missing lower=");
	close(fd);
}

TEST_F(union_opts, missing_lower_mount)
{
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(NULL, self->l.upper),
			   EINVAL, "missing lower=");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

TEST_F(union_opts, missing_upper_fsconfig)
{
	int fd = fsopen_with(_metadata, "lower", self->l.lower);

	ASSERT_FSCONFIG_FAILS(fd, cmd_create(fd), EINVAL, "missing upper=");
	close(fd);
}

TEST_F(union_opts, missing_upper_mount)
{
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(self->l.lower, NULL),
			   EINVAL, "missing upper=");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

TEST_F(union_opts, unknown_option_fsconfig)
{
	int fd = fsopen_ok(_metadata);

	ASSERT_FSCONFIG_FAILS(fd, set_string(fd, "foo", "bar"), EINVAL,
			      "Unknown parameter 'foo'");
	close(fd);
}

TEST_F(union_opts, unknown_option_mount)
{
	char data[DATA_LEN];

	snprintf(data, sizeof(data), "%s,foo=bar",
		 DATA(self->l.lower, self->l.upper));
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, data, EINVAL,
			   "Unknown parameter 'foo'");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

/* fsconfig() of @key a second time (@first, then @second) fails. */
static void twice_fsconfig(struct __test_metadata *_metadata,
			   FIXTURE_DATA(union_opts) *self, const char *key,
			   const char *first, const char *second)
{
	char msg[64];
	int fd = fsopen_with(_metadata, key, first);

	snprintf(msg, sizeof(msg), "%s= given more than once", key);
	ASSERT_FSCONFIG_FAILS(fd, set_string(fd, key, second), EINVAL, msg);
	close(fd);
}

TEST_F(union_opts, lower_twice_fsconfig)
{
	twice_fsconfig(_metadata, self, "lower", self->l.lower, self->lower2);
}

TEST_F(union_opts, upper_twice_fsconfig)
{
	twice_fsconfig(_metadata, self, "upper", self->l.upper, self->upper2);
}

TEST_F(union_opts, lower_twice_mount)
{
	char data[DATA_LEN];

	snprintf(data, sizeof(data), "lower=%s,%s", self->lower2,
		 DATA(self->l.lower, self->l.upper));
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, data, EINVAL,
			   "lower= given more than once");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

/* An empty path must be rejected when it is set (errno not specified). */
TEST_F(union_opts, empty_lower_fsconfig)
{
	int fd = fsopen_ok(_metadata);
	int ret;

	ret = set_string(fd, "lower", "");
	fslog_read(fd, self->log, sizeof(self->log));
	ASSERT_LT(ret, 0);
	ASSERT_TRUE(ret == -EINVAL || ret == -ENOENT)
		TH_LOG("fsconfig(lower=\"\"): %s", strerror(-ret));
	ASSERT_TRUE(log_has(self->log, "union: "))
		TH_LOG("no error in fs_context log:\n%s",
		       tap_lines(self->log));
	close(fd);
}

/* ---- path resolution ---- */

/*
 * fsconfig() of @key with a path that does not exist fails with ENOENT; with
 * @named, the message names the path.
 */
static void enoent_fsconfig(struct __test_metadata *_metadata,
			    FIXTURE_DATA(union_opts) *self, const char *key,
			    bool named)
{
	char path[PATH_LEN], msg[64];
	int fd = fsopen_ok(_metadata);

	snprintf(msg, sizeof(msg), "failed to resolve %s=", key);
	mkpath(_metadata, path, self->l.base, "nonexistent");
	ASSERT_FSCONFIG_FAILS(fd, set_string(fd, key, path), ENOENT, msg);
	if (named) {
		EXPECT_TRUE(log_has(self->log, path))
			TH_LOG("path not in message:\n%s", tap_lines(self->log));
	}
	close(fd);
}

TEST_F(union_opts, lower_enoent_fsconfig)
{
	enoent_fsconfig(_metadata, self, "lower", true);
}

TEST_F(union_opts, lower_enoent_mount)
{
	char path[PATH_LEN];

	mkpath(_metadata, path, self->l.base, "nonexistent");
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(path, self->l.upper), ENOENT,
			   "failed to resolve lower=");
	EXPECT_TRUE(log_has(self->log, path))
		TH_LOG("path not in message:\n%s", tap_lines(self->log));
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

TEST_F(union_opts, upper_enoent_fsconfig)
{
	enoent_fsconfig(_metadata, self, "upper", false);
}

TEST_F(union_opts, lower_notdir_fsconfig)
{
	int fd = fsopen_ok(_metadata);

	ASSERT_FSCONFIG_FAILS(fd, set_string(fd, "lower", self->file),
			      ENOTDIR, "is not a directory");
	close(fd);
}

TEST_F(union_opts, upper_notdir_mount)
{
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(self->l.lower, self->file),
			   ENOTDIR, "is not a directory");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

/* ---- upper filesystem requirements ---- */

/* self->rodir becomes a read-only bind mount of a writable tmpfs dir. */
static void make_ro_bind(struct __test_metadata *_metadata,
			 FIXTURE_DATA(union_opts) *self)
{
	char path[PATH_LEN];

	ASSERT_EQ(0, mount(self->upper2, self->rodir, NULL, MS_BIND, NULL));
	ASSERT_EQ(0, mount(NULL, self->rodir, NULL,
			   MS_BIND | MS_REMOUNT | MS_RDONLY, NULL));
	mkpath(_metadata, path, self->rodir, "probe");
	ASSERT_ERRNO(EROFS, mkdir(path, 0755));
}

TEST_F(union_opts, upper_ro_bind_fsconfig)
{
	make_ro_bind(_metadata, self);
	ASSERT_CREATE_FAILS(self->l.lower, self->rodir, EROFS,
			    "is on a read-only mount");
}

TEST_F(union_opts, upper_ro_bind_mount)
{
	make_ro_bind(_metadata, self);
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(self->l.lower, self->rodir),
			   EROFS, "is on a read-only mount");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

/* Read-only superblock rather than read-only mount. */
TEST_F(union_opts, upper_ro_superblock_fsconfig)
{
	ASSERT_EQ(0, mount("tmpfs", self->rodir, "tmpfs", MS_RDONLY, NULL));
	ASSERT_CREATE_FAILS(self->l.lower, self->rodir, EROFS,
			    "is on a read-only mount");
}

/* ramfs has no xattrs at all. */
TEST_F(union_opts, upper_no_trusted_xattr)
{
	ASSERT_EQ(0, mount("ramfs", self->rodir, "ramfs", 0, NULL));
	ASSERT_CREATE_FAILS(self->l.lower, self->rodir, EOPNOTSUPP,
			    "does not support trusted.* xattrs");
}

/* procfs refuses to be stacked on (its s_stack_depth is the maximum). */
TEST_F(union_opts, upper_too_deep)
{
	ASSERT_CREATE_FAILS(self->l.lower, "/proc", EINVAL,
			    "maximum filesystem stacking depth exceeded");
}

/* sysfs has trusted.* xattrs but no O_TMPFILE. */
TEST_F(union_opts, upper_no_tmpfile)
{
	ASSERT_CREATE_FAILS(self->l.lower, "/sys/kernel", EOPNOTSUPP,
			    "does not support O_TMPFILE");
}

/*
 * A user namespace mapping 0-99 to 1000-1099, as an fd (for MOUNT_ATTR_IDMAP): a
 * child unshares it, the parent writes its maps and opens it.
 */
static int userns_fd(struct __test_metadata *_metadata)
{
	int go[2], done[2], fd, status;
	char path[64], c = 'x';
	pid_t pid;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[0]);
		close(done[1]);
		if (unshare(CLONE_NEWUSER) || write(go[1], &c, 1) != 1)
			_exit(1);
		/* Until the parent has opened the namespace. */
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	ASSERT_EQ(1, read(go[0], &c, 1));
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	ASSERT_EQ(0, write_file(path, "0 1000 100\n")) TH_LOG("%s: %m", path);
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	ASSERT_EQ(0, write_file(path, "deny\n")) TH_LOG("%s: %m", path);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	ASSERT_EQ(0, write_file(path, "0 1000 100\n")) TH_LOG("%s: %m", path);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0) TH_LOG("%s: %m", path);
	close(done[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(go[0]);
	return fd;
}

/* An idmapped view of @src at @dst (open_tree + mount_setattr + move_mount). */
static void make_idmapped(struct __test_metadata *_metadata, const char *src,
			  const char *dst)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
	int t;

	attr.userns_fd = userns_fd(_metadata);
	t = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	ASSERT_GE(t, 0) TH_LOG("open_tree %s: %m", src);
	ASSERT_EQ(0, mount_setattr(t, "", AT_EMPTY_PATH, &attr, sizeof(attr)))
		TH_LOG("mount_setattr: %m");
	ASSERT_EQ(0, move_mount(t, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH))
		TH_LOG("move_mount: %m");
	close(t);
	close(attr.userns_fd);
}

/*
 * Idmapped layers are refused (EINVAL, with a message): union inodes carry the
 * layers' raw owners, so permission checks and ACLs would see unmapped ids.
 */
TEST_F(union_opts, lower_idmapped)
{
	make_idmapped(_metadata, self->l.lower, self->rodir);
	ASSERT_CREATE_FAILS(self->rodir, self->l.upper, EINVAL,
			    "is on an idmapped mount, which is not supported");
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(self->rodir, self->l.upper),
			   EINVAL, "is on an idmapped mount, which is not supported");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

TEST_F(union_opts, upper_idmapped)
{
	make_idmapped(_metadata, self->upper2, self->rodir);
	ASSERT_CREATE_FAILS(self->l.lower, self->rodir, EINVAL,
			    "is on an idmapped mount, which is not supported");
}

/* ---- overlapping layers ---- */

TEST_F(union_opts, same_dir_fsconfig)
{
	ASSERT_CREATE_FAILS(self->l.lower, self->l.lower, ELOOP,
			    "are the same directory");
}

TEST_F(union_opts, same_dir_mount)
{
	ASSERT_MOUNT_FAILS(self->l.mnt, 0, DATA(self->l.upper, self->l.upper),
			   ELOOP, "are the same directory");
	ASSERT_FALSE(union_mounted_at(self->l.mnt));
}

TEST_F(union_opts, upper_inside_lower)
{
	char upper[PATH_LEN];

	mkpath(_metadata, upper, self->l.lower, "up");
	ASSERT_EQ(0, mkdir(upper, 0755));
	ASSERT_CREATE_FAILS(self->l.lower, upper, ELOOP,
			    "upper= is inside lower=");
}

TEST_F(union_opts, lower_inside_upper)
{
	char lower[PATH_LEN];

	mkpath(_metadata, lower, self->l.upper, "low");
	ASSERT_EQ(0, mkdir(lower, 0755));
	ASSERT_CREATE_FAILS(lower, self->l.upper, ELOOP,
			    "lower= is inside upper=");
}

/* ---- interaction with mounted unions ---- */

TEST_F(union_opts, upper_in_use_fsconfig)
{
	ASSERT_GOOD_MOUNT();
	ASSERT_CREATE_FAILS(self->lower2, self->l.upper, EBUSY,
			    "is in use by another union mount");
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

TEST_F(union_opts, upper_in_use_mount)
{
	ASSERT_GOOD_MOUNT();
	ASSERT_MOUNT_FAILS(self->mnt2, 0, DATA(self->lower2, self->l.upper),
			   EBUSY, "is in use by another union mount");
	ASSERT_FALSE(union_mounted_at(self->mnt2));
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

/*
 * Unmounting releases the upper layer for a new union (over the same lower
 * layer: another one needs -o remerge, see persist.sh), and the reason a
 * mount over another lower layer fails is in the fs_context log.
 */
TEST_F(union_opts, upper_reusable_after_umount)
{
	int ret;

	ASSERT_GOOD_MOUNT();
	ASSERT_EQ(0, do_umount(self->l.mnt));
	ret = union_fsmount(self->lower2, self->l.upper, self->mnt2, false,
			    self->log, sizeof(self->log));
	ASSERT_EQ(-ESTALE, ret);
	EXPECT_NE(NULL, strstr(self->log, "was made over another lower layer"))
		TH_LOG("log: %s", self->log);
	EXPECT_NE(NULL, strstr(self->log, "-o remerge")) TH_LOG("log: %s", self->log);
	ret = union_fsmount(self->l.lower, self->l.upper, self->mnt2, false,
			    self->log, sizeof(self->log));
	ASSERT_EQ(0, ret)
		TH_LOG("%s\n%s", strerror(-ret), tap_lines(self->log));
	check_shown(_metadata, self->mnt2, self->l.lower, self->l.upper);
	ASSERT_EQ(0, do_umount(self->mnt2));
}

TEST_F(union_opts, union_as_lower)
{
	ASSERT_GOOD_MOUNT();
	ASSERT_CREATE_FAILS(self->l.mnt, self->upper2, EINVAL,
			    "is a union mount");
	ASSERT_MOUNT_FAILS(self->mnt2, 0, DATA(self->l.mnt, self->upper2),
			   EINVAL, "is a union mount");
	ASSERT_FALSE(union_mounted_at(self->mnt2));
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

TEST_F(union_opts, union_subdir_as_lower)
{
	char sub[PATH_LEN], via_union[PATH_LEN];

	mkpath(_metadata, sub, self->l.lower, "sub");
	ASSERT_EQ(0, mkdir(sub, 0755));
	ASSERT_GOOD_MOUNT();
	mkpath(_metadata, via_union, self->l.mnt, "sub");
	ASSERT_CREATE_FAILS(via_union, self->upper2, EINVAL,
			    "is a union mount");
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

/* A remount with @key=@dir (another layer) fails and changes nothing. */
static void remount_change(struct __test_metadata *_metadata,
			   FIXTURE_DATA(union_opts) *self, const char *key,
			   const char *dir)
{
	char data[DATA_LEN];

	ASSERT_GOOD_MOUNT();
	snprintf(data, sizeof(data), "%s=%s", key, dir);
	ASSERT_MOUNT_FAILS(self->l.mnt, MS_REMOUNT, data, EINVAL,
			   "cannot change");
	check_shown(_metadata, self->l.mnt, self->l.lower, self->l.upper);
	ASSERT_EQ(0, do_umount(self->l.mnt));
}

TEST_F(union_opts, remount_change_lower)
{
	remount_change(_metadata, self, "lower", self->lower2);
}

TEST_F(union_opts, remount_change_upper)
{
	remount_change(_metadata, self, "upper", self->upper2);
}

TEST_HARNESS_MAIN
