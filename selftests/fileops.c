// SPDX-License-Identifier: GPL-2.0
/*
 * File operations users expect through the union (issue 12, item 4):
 *
 * - O_TMPFILE: an unlinked file in the upper directory, with the caller's
 *   ids and the directory's setgid rule; linkat(2) names it (AT_EMPTY_PATH
 *   and /proc/self/fd), also over a whiteout; O_EXCL ones cannot be linked;
 *   one never linked leaves nothing behind.  linkat of an open file whose
 *   name was unlinked works as on one filesystem.
 * - File attributes (lsattr/chattr: FS_IOC_GETFLAGS/SETFLAGS): read from the
 *   real object, set on the upper one after a copy-up; append-only and
 *   immutable are kept in trusted.union.protattr, not on the upper inode,
 *   and enforced on the union inode, across remounts, also for a lower
 *   directory that readdir copied up; a copy-up carries the lower flags;
 *   unprivileged callers get EPERM without a copy-up; chattr of a lower file
 *   whose flags its tmpfs copy cannot have (ext4 extents) applies its change.
 * - FS_IOC_FIEMAP (filefrag) reports the real file's extents.
 * - Writes, truncates, fallocate and copy_file_range by a caller without
 *   CAP_FSETID drop setuid/setgid (the real operation runs with the
 *   mounter's credentials).
 * - copy_file_range between the layers' filesystems, FICLONE answered by
 *   the upper filesystem.
 *
 * Each test works in its own mount namespace; the lower and the upper layer
 * are on two tmpfs instances (two superblocks).
 */
#include "union_test.h"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>

#define PROTATTR	"trusted.union.protattr"

FIXTURE(fo) {
	struct union_layers l;
};

FIXTURE_SETUP(fo)
{
	union_layers_setup(_metadata, &self->l, &(struct union_layers_cfg){
		.name = "fo", .propagation = MS_PRIVATE,
		.base_fs = "size=128m", .upper_fs = "size=64m" });
}

static int get_flags(const char *path);
static int set_flags(const char *path, int flags);

FIXTURE_TEARDOWN(fo)
{
	/* Protection flags on lower would keep the tmpfs busy: drop them. */
	set_flags(L("f"), 0);
	set_flags(L("d"), 0);
	union_layers_teardown(&self->l);
}

/* FS_IOC_GETFLAGS of @path (opened O_RDONLY), or -errno. */
static int get_flags(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK), flags = 0, r;

	if (fd < 0)
		return -errno;
	r = ioctl(fd, FS_IOC_GETFLAGS, &flags);
	if (r)
		r = -errno;
	close(fd);
	return r ? r : flags;
}

/* FS_IOC_SETFLAGS on @path (opened O_RDONLY): 0 or -errno. */
static int set_flags(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK), r;

	if (fd < 0)
		return -errno;
	r = ioctl(fd, FS_IOC_SETFLAGS, &flags) ? -errno : 0;
	close(fd);
	return r;
}

/* The protattr record of an upper object, "" if none, "<err>" on error. */
static const char *protattr(const char *path)
{
	char *b = pbuf();
	ssize_t n = lgetxattr(path, PROTATTR, b, PATH_LEN - 1);

	if (n < 0) {
		if (errno == ENODATA)
			return "";
		snprintf(b, PATH_LEN, "<%s>", strerror(errno));
		return b;
	}
	b[n] = '\0';
	return b;
}

/* Names in a directory, sorted, space separated ("." and ".." left out). */
static const char *names(const char *dir)
{
	struct dirent **list;
	char *b = pbuf();
	int n, i;

	b[0] = '\0';
	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		snprintf(b, PATH_LEN, "<%s>", strerror(errno));
		return b;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
			if (b[0])
				strncat(b, " ", PATH_LEN - strlen(b) - 1);
			strncat(b, list[i]->d_name, PATH_LEN - strlen(b) - 1);
		}
		free(list[i]);
	}
	free(list);
	return b;
}

/* How many regular files a directory holds (the work directory: leftovers). */
static int regular_files(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_type == DT_REG;
	closedir(d);
	return n;
}

/* ---- O_TMPFILE ---- */

TEST_F(fo, tmpfile_linkat_names_it)
{
	struct stat fst, st;
	char data[16];
	int fd;

	ASSERT_EQ(0, mkdir(L("d"), 0755));
	ASSERT_EQ(0, write_file(L("d/old"), "old"));
	union_mount_ok(_metadata, &self->l);
	fd = open(M("d"), O_TMPFILE | O_RDWR, 0640);
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	ASSERT_EQ(7, write(fd, "tmpdata", 7));
	ASSERT_EQ(0, fstat(fd, &fst));
	EXPECT_EQ(0, fst.st_nlink);
	EXPECT_EQ(S_IFREG | 0640, fst.st_mode);
	/* Nothing has a name yet. */
	EXPECT_STREQ("old", names(M("d")));
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, M("d/t"), AT_EMPTY_PATH))
		TH_LOG("linkat: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &fst));
	EXPECT_EQ(1, fst.st_nlink);
	ASSERT_EQ(0, stat(M("d/t"), &st));
	EXPECT_EQ(fst.st_ino, st.st_ino);
	EXPECT_EQ(fst.st_dev, st.st_dev);
	EXPECT_STREQ("tmpdata", read_str(M("d/t")));
	EXPECT_STREQ("tmpdata", read_str(U("d/t")));
	/* Writes through the descriptor are the named file's. */
	ASSERT_EQ(4, pwrite(fd, "TEMP", 4, 0));
	EXPECT_STREQ("TEMPata", read_str(M("d/t")));
	ASSERT_EQ(7, pread(fd, data, sizeof(data), 0));
	close(fd);
	EXPECT_STREQ("old t", names(M("d")));
	EXPECT_EQ(0, regular_files(U(".union-work")));
	union_remount_ok(_metadata, &self->l);
	EXPECT_STREQ("TEMPata", read_str(M("d/t")));
	ASSERT_EQ(0, stat(M("d/t"), &st));
	EXPECT_EQ(fst.st_ino, st.st_ino);
}

TEST_F(fo, tmpfile_linkat_through_proc_and_twice)
{
	struct stat a, b;
	char p[64];
	int fd;

	ASSERT_EQ(0, mkdir(L("d"), 0755));
	union_mount_ok(_metadata, &self->l);
	fd = open(M("d"), O_TMPFILE | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "xy", 2));
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ASSERT_EQ(0, linkat(AT_FDCWD, p, AT_FDCWD, M("a"), AT_SYMLINK_FOLLOW))
		TH_LOG("linkat /proc: %s", strerror(errno));
	/* A second name, from the descriptor again (its dentry has no name). */
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, M("d/b"), AT_EMPTY_PATH))
		TH_LOG("second linkat: %s", strerror(errno));
	close(fd);
	ASSERT_EQ(0, stat(M("a"), &a));
	ASSERT_EQ(0, stat(M("d/b"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(2, a.st_nlink);
	ASSERT_EQ(0, stat(U("a"), &a));
	ASSERT_EQ(0, stat(U("d/b"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_STREQ("xy", read_str(M("d/b")));
}

TEST_F(fo, tmpfile_never_linked_leaves_nothing)
{
	int fd;

	ASSERT_EQ(0, mkdir(L("d"), 0755));
	ASSERT_EQ(0, write_file(L("d/x"), "x"));
	union_mount_ok(_metadata, &self->l);
	fd = open(M("d"), O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "hello", 5));
	close(fd);
	/* The upper directory exists (the file was made there) and holds no file. */
	EXPECT_STREQ("dir", kind(U("d")));
	EXPECT_STREQ("", names(U("d")));
	EXPECT_EQ(0, regular_files(U(".union-work")));
	EXPECT_STREQ("x", names(M("d")));
}

TEST_F(fo, tmpfile_excl_cannot_be_linked)
{
	int fd;

	union_mount_ok(_metadata, &self->l);
	fd = open(self->l.mnt, O_TMPFILE | O_RDWR | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(ENOENT, linkat(fd, "", AT_FDCWD, M("t"), AT_EMPTY_PATH));
	close(fd);
	EXPECT_STREQ("none", kind(M("t")));
	EXPECT_STREQ("none", kind(U("t")));
}

TEST_F(fo, tmpfile_linked_over_whiteout_and_not_over_a_file)
{
	int fd;

	ASSERT_EQ(0, write_file(L("x"), "lower"));
	ASSERT_EQ(0, write_file(L("y"), "lower y"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, unlink(M("x")));
	EXPECT_STREQ("wh", kind(U("x")));
	fd = open(self->l.mnt, O_TMPFILE | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "new", 3));
	EXPECT_ERRNO(EEXIST, linkat(fd, "", AT_FDCWD, M("y"), AT_EMPTY_PATH));
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, M("x"), AT_EMPTY_PATH))
		TH_LOG("linkat over a whiteout: %s", strerror(errno));
	close(fd);
	EXPECT_STREQ("new", read_str(M("x")));
	EXPECT_STREQ("reg", kind(U("x")));
	EXPECT_STREQ("lower y", read_str(M("y")));
	union_remount_ok(_metadata, &self->l);
	EXPECT_STREQ("new", read_str(M("x")));
}

static const char *tmp_dir;

/*
 * O_TMPFILE | O_DIRECT opens where the upper filesystem's files take O_DIRECT
 * (tmpfs does), as a plain O_DIRECT open of a union file does; an O_DIRECT
 * write and read go through.
 */
TEST_F(fo, tmpfile_odirect_as_upper_allows)
{
	int fd, ufd, uerr, r;
	void *buf;

	ASSERT_EQ(0, mkdir(L("d"), 0755));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, mkdir(U("native"), 0755));
	ufd = open(U("native"), O_TMPFILE | O_RDWR | O_DIRECT, 0600);
	uerr = ufd < 0 ? errno : 0;
	if (ufd >= 0)
		close(ufd);
	fd = open(M("d"), O_TMPFILE | O_RDWR | O_DIRECT, 0600);
	r = fd < 0 ? errno : 0;
	EXPECT_EQ(uerr, r) TH_LOG("union %s, upper %s", strerror(r), strerror(uerr));
	ASSERT_EQ(0, posix_memalign(&buf, 4096, 4096));
	memset(buf, 'd', 4096);
	if (fd >= 0) {
		EXPECT_EQ(4096, pwrite(fd, buf, 4096, 0)) TH_LOG("%s", strerror(errno));
		memset(buf, 0, 4096);
		EXPECT_EQ(4096, pread(fd, buf, 4096, 0)) TH_LOG("%s", strerror(errno));
		EXPECT_EQ('d', ((char *)buf)[4095]);
		close(fd);
	}
	free(buf);
	/* A plain O_DIRECT open answers the same. */
	ASSERT_EQ(0, write_file(M("d/f"), "x"));
	fd = open(M("d/f"), O_RDWR | O_DIRECT);
	EXPECT_EQ(uerr, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(0, regular_files(U(".union-work")));
}

static int make_tmpfile_as_user(void *arg)
{
	const char *name = arg;
	struct stat st;
	char p[64];
	int fd = open(tmp_dir, O_TMPFILE | O_RDWR, 0644);

	if (fd < 0)
		return 1;
	if (fstat(fd, &st) || st.st_uid != 1000 || st.st_gid != 4001)
		return 2;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (write(fd, "u", 1) != 1 || linkat(AT_FDCWD, p, AT_FDCWD, name, AT_SYMLINK_FOLLOW))
		return 3;
	return 0;
}

/* The caller's uid, the setgid directory's group. */
TEST_F(fo, tmpfile_unprivileged_owner_and_setgid_group)
{
	struct stat st;

	ASSERT_EQ(0, mkdir(L("d"), 0777));
	ASSERT_EQ(0, chown(L("d"), 0, 4001));
	ASSERT_EQ(0, chmod(L("d"), 02777));
	union_mount_ok(_metadata, &self->l);
	tmp_dir = M("d");
	ASSERT_EQ(0, as_user(1000, make_tmpfile_as_user, (void *)M("d/t")));
	ASSERT_EQ(0, stat(U("d/t"), &st));
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(4001, st.st_gid);
	EXPECT_STREQ("u", read_str(M("d/t")));
}

/* An open file whose name was unlinked can get a new one (as on one fs). */
TEST_F(fo, linkat_of_open_file_whose_name_was_unlinked)
{
	struct stat st;
	int fd;

	ASSERT_EQ(0, write_file(L("a"), "data"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, link(M("a"), M("b")));
	fd = open_ok(_metadata, M("a"), O_RDONLY);
	ASSERT_EQ(0, unlink(M("a")));
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, M("c"), AT_EMPTY_PATH))
		TH_LOG("linkat: %s", strerror(errno));
	close(fd);
	EXPECT_STREQ("data", read_str(M("c")));
	ASSERT_EQ(0, stat(M("c"), &st));
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_STREQ("none", kind(M("a")));
	EXPECT_STREQ("wh", kind(U("a")));
}

/* ---- file attributes ---- */

TEST_F(fo, getflags_reads_the_lower_object)
{
	ASSERT_EQ(0, write_file(L("f"), "data"));
	ASSERT_EQ(0, set_flags(L("f"), FS_NODUMP_FL));
	union_mount_ok(_metadata, &self->l);
	EXPECT_EQ(FS_NODUMP_FL, get_flags(M("f")));
	EXPECT_STREQ("none", kind(U("f")));
}

TEST_F(fo, setflags_append_only_kept_in_protattr)
{
	int fd;

	ASSERT_EQ(0, write_file(L("f"), "data"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, set_flags(M("f"), FS_APPEND_FL));
	EXPECT_EQ(FS_APPEND_FL, get_flags(M("f")));
	/* On upper: the record, not the flag (the union still writes there). */
	EXPECT_STREQ("reg", kind(U("f")));
	EXPECT_EQ(0, get_flags(U("f")));
	EXPECT_STREQ("a", protattr(U("f")));
	/* Enforced on the union inode. */
	EXPECT_ERRNO(EPERM, open(M("f"), O_WRONLY | O_TRUNC));
	EXPECT_ERRNO(EPERM, unlink(M("f")));
	/* Appending works: the data is copied up below the flag. */
	ASSERT_EQ(0, append_file(M("f"), "+more"));
	EXPECT_STREQ("data+more", read_str(M("f")));
	union_remount_ok(_metadata, &self->l);
	EXPECT_EQ(FS_APPEND_FL, get_flags(M("f")));
	EXPECT_ERRNO(EPERM, open(M("f"), O_WRONLY));
	/* Cleared: the record goes, writes work again. */
	ASSERT_EQ(0, set_flags(M("f"), 0));
	EXPECT_EQ(0, get_flags(M("f")));
	EXPECT_STREQ("", protattr(U("f")));
	ASSERT_EQ(0, write_file(M("f"), "new"));
	EXPECT_STREQ("new", read_str(M("f")));
	fd = open_ok(_metadata, M("f"), O_RDONLY);
	close(fd);
	EXPECT_EQ(0, unlink(M("f")));
}

TEST_F(fo, setflags_immutable_dir_still_copies_up_below)
{
	ASSERT_EQ(0, mkdir(L("d"), 0755));
	ASSERT_EQ(0, write_file(L("d/f"), "data"));
	ASSERT_EQ(0, write_file(L("d/g"), "gg"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, set_flags(M("d"), FS_IMMUTABLE_FL));
	EXPECT_EQ(FS_IMMUTABLE_FL, get_flags(M("d")));
	EXPECT_EQ(0, get_flags(U("d")));
	EXPECT_STREQ("i", protattr(U("d")));
	/* The directory's entries cannot change ... */
	EXPECT_ERRNO(EPERM, open(M("d/new"), O_WRONLY | O_CREAT, 0644));
	EXPECT_ERRNO(EPERM, unlink(M("d/f")));
	EXPECT_ERRNO(EPERM, rename(M("d/f"), M("d/h")));
	/* ... but its files can, and it can be listed (copy-up, fallthrus). */
	EXPECT_STREQ("f g", names(M("d")));
	ASSERT_EQ(0, append_file(M("d/f"), "+more"));
	EXPECT_STREQ("data+more", read_str(M("d/f")));
	EXPECT_EQ(0, chmod(M("d/g"), 0600));
	EXPECT_STREQ("data+more", read_str(U("d/f")));
	union_remount_ok(_metadata, &self->l);
	EXPECT_EQ(FS_IMMUTABLE_FL, get_flags(M("d")));
	EXPECT_ERRNO(EPERM, mkdir(M("d/sub"), 0755));
	ASSERT_EQ(0, set_flags(M("d"), 0));
	EXPECT_EQ(0, mkdir(M("d/sub"), 0755));
}

/* A lower immutable directory stays immutable once readdir copied it up. */
TEST_F(fo, immutable_lower_dir_stays_immutable_after_readdir)
{
	ASSERT_EQ(0, mkdir(L("d"), 0755));
	ASSERT_EQ(0, write_file(L("d/x"), "x"));
	ASSERT_EQ(0, set_flags(L("d"), FS_IMMUTABLE_FL));
	union_mount_ok(_metadata, &self->l);
	EXPECT_STREQ("x", names(M("d")));
	EXPECT_STREQ("dir", kind(U("d")));
	EXPECT_STREQ("i", protattr(U("d")));
	EXPECT_EQ(FS_IMMUTABLE_FL, get_flags(M("d")));
	EXPECT_ERRNO(EPERM, open(M("d/new"), O_WRONLY | O_CREAT, 0644));
	EXPECT_STREQ("none", kind(U("d/new")));
	union_remount_ok(_metadata, &self->l);
	EXPECT_ERRNO(EPERM, mkdir(M("d/new"), 0755));
}

TEST_F(fo, copy_up_carries_nodump)
{
	ASSERT_EQ(0, write_file(L("f"), "data"));
	ASSERT_EQ(0, set_flags(L("f"), FS_NODUMP_FL));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, chmod(M("f"), 0600));
	EXPECT_EQ(FS_NODUMP_FL, get_flags(U("f")));
	EXPECT_EQ(FS_NODUMP_FL, get_flags(M("f")));
	ASSERT_EQ(0, append_file(M("f"), "+"));
	EXPECT_EQ(FS_NODUMP_FL, get_flags(M("f")));
	EXPECT_STREQ("data+", read_str(M("f")));
}

static const char *flag_path;

static int setflags_append(void *arg)
{
	(void)arg;
	return set_flags(flag_path, FS_APPEND_FL) == -EPERM ? 0 : 1;
}

static int setflags_nodump(void *arg)
{
	(void)arg;
	return set_flags(flag_path, FS_NODUMP_FL) ? 1 : 0;
}

static int setflags_nodump_refused(void *arg)
{
	(void)arg;
	return set_flags(flag_path, FS_NODUMP_FL) == -EPERM ? 0 : 1;
}

TEST_F(fo, setflags_unprivileged)
{
	ASSERT_EQ(0, write_file(L("f"), "data"));
	ASSERT_EQ(0, chown(L("f"), 1000, 1000));
	union_mount_ok(_metadata, &self->l);
	flag_path = M("f");
	/* Not the owner: EPERM, nothing copied up. */
	ASSERT_EQ(0, as_user(1001, setflags_nodump_refused, NULL));
	EXPECT_STREQ("none", kind(U("f")));
	/* Protection flags need CAP_LINUX_IMMUTABLE: refused before any copy-up. */
	ASSERT_EQ(0, as_user(1000, setflags_append, NULL));
	EXPECT_STREQ("none", kind(U("f")));
	ASSERT_EQ(0, as_user(1000, setflags_nodump, NULL));
	EXPECT_EQ(FS_NODUMP_FL, get_flags(M("f")));
	EXPECT_EQ(FS_NODUMP_FL, get_flags(U("f")));
	EXPECT_STREQ("", protattr(U("f")));
}

TEST_F(fo, protattr_is_private)
{
	char buf[64];

	ASSERT_EQ(0, write_file(L("f"), "data"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, set_flags(M("f"), FS_APPEND_FL));
	EXPECT_ERRNO(ENODATA, lgetxattr(M("f"), PROTATTR, buf, sizeof(buf)));
	EXPECT_ERRNO(EPERM, lsetxattr(M("f"), PROTATTR, "", 0, 0));
	EXPECT_EQ(0, llistxattr(M("f"), buf, sizeof(buf)));
	ASSERT_EQ(0, set_flags(M("f"), 0));
}

/* ---- extents and range operations ---- */

/*
 * Puts a fresh 16 MiB ext4 image BASE/@name on @dir (the lower layer, or the
 * upper layer's filesystem in place of its tmpfs, which is unmounted first);
 * with @upper, makes the upper directory in it.  0 or the shell's status.
 */
static int ext4_on(FIXTURE_DATA(fo) *self, const char *name, const char *dir, bool upper)
{
	const char *base = self->l.base;
	char cmd[5 * PATH_LEN];
	int n;

	n = snprintf(cmd, sizeof(cmd), "truncate -s 16M '%s/%s' && mkfs.ext4 -q '%s/%s' && ",
		     base, name, base, name);
	if (upper)
		n += snprintf(cmd + n, sizeof(cmd) - n, "umount '%s' && ", dir);
	n += snprintf(cmd + n, sizeof(cmd) - n, "mount -o loop '%s/%s' '%s'", base, name, dir);
	if (upper)
		snprintf(cmd + n, sizeof(cmd) - n, " && mkdir '%s'", self->l.upper);
	return system(cmd);
}

/* Mapped extents of @path by FS_IOC_FIEMAP: count (first physical in *phys), or -errno. */
static int fiemap_of(const char *path, unsigned long long *phys)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[32];
	} req;
	int fd = open(path, O_RDONLY), r;

	if (fd < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.fm.fm_length = FIEMAP_MAX_OFFSET;
	req.fm.fm_flags = FIEMAP_FLAG_SYNC;
	req.fm.fm_extent_count = 32;
	r = ioctl(fd, FS_IOC_FIEMAP, &req) ? -errno : (int)req.fm.fm_mapped_extents;
	if (r > 0 && phys)
		*phys = req.ext[0].fe_physical;
	close(fd);
	return r;
}

TEST_F_TIMEOUT(fo, fiemap_reports_the_real_extents, 120)
{
	unsigned long long lp = 0, mp = 0;
	char cmd[2 * PATH_LEN];
	int ln, mn, un;

	/* tmpfs has no extent map: the lower is on ext4. */
	ASSERT_EQ(0, ext4_on(self, "ext4.img", self->l.lower, false));
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/urandom of='%s/f' bs=64k count=4 status=none && sync",
		 self->l.lower);
	ASSERT_EQ(0, system(cmd));
	union_mount_ok(_metadata, &self->l);
	ln = fiemap_of(L("f"), &lp);
	ASSERT_LT(0, ln);
	mn = fiemap_of(M("f"), &mp);
	EXPECT_EQ(ln, mn) TH_LOG("union FIEMAP: %s", mn < 0 ? strerror(-mn) : "");
	EXPECT_EQ(lp, mp);
	/* A metadata-only copy still maps the lower data. */
	ASSERT_EQ(0, chmod(M("f"), 0600));
	EXPECT_EQ(ln, fiemap_of(M("f"), &mp));
	EXPECT_EQ(lp, mp);
	/* Copied up to tmpfs: tmpfs' answer. */
	ASSERT_EQ(0, append_file(M("f"), "+"));
	un = fiemap_of(U("f"), NULL);
	EXPECT_GT(0, un);
	EXPECT_EQ(un, fiemap_of(M("f"), NULL));
	umount2(self->l.mnt, MNT_DETACH);
	umount2(self->l.lower, MNT_DETACH);
}

/*
 * chattr of a lower-only file whose lower filesystem reports flags the upper
 * one cannot have (ext4's extents flag, tmpfs upper): chattr reads the flags
 * and sets them back with its change; the union applies the change to the
 * copy, as on one filesystem.
 */
TEST_F_TIMEOUT(fo, setflags_of_lower_file_with_flags_upper_lacks, 120)
{
	int lf, f;

	ASSERT_EQ(0, ext4_on(self, "ext4.img", self->l.lower, false));
	ASSERT_EQ(0, write_file(L("f"), "data\n"));
	ASSERT_EQ(0, mkdir(L("d"), 0755));
	union_mount_ok(_metadata, &self->l);
	lf = get_flags(L("f"));
	ASSERT_LT(0, lf);
	ASSERT_TRUE(lf & FS_EXTENT_FL);
	ASSERT_EQ(lf, get_flags(M("f")));
	/* What chattr +d does: the flags it read, with its change. */
	EXPECT_EQ(0, set_flags(M("f"), lf | FS_NODUMP_FL));
	f = get_flags(M("f"));
	EXPECT_TRUE(f >= 0 && (f & FS_NODUMP_FL)) TH_LOG("flags %d", f);
	EXPECT_EQ(FS_NODUMP_FL, get_flags(U("f")));
	EXPECT_STREQ("data\n", read_str(M("f")));
	/* And -d takes it away again. */
	EXPECT_EQ(0, set_flags(M("f"), f & ~FS_NODUMP_FL));
	EXPECT_EQ(0, get_flags(U("f")));
	/* A lower directory (copied up whole). */
	lf = get_flags(L("d"));
	ASSERT_LT(0, lf);
	EXPECT_EQ(0, set_flags(M("d"), lf | FS_NOATIME_FL));
	EXPECT_EQ(FS_NOATIME_FL, get_flags(U("d")));
	umount2(self->l.mnt, MNT_DETACH);
	umount2(self->l.lower, MNT_DETACH);
}

TEST_F(fo, copy_file_range_across_the_layers)
{
	char big[200000];
	loff_t in = 0, out = 0;
	int src, dst;
	ssize_t n;

	memset(big, 'q', sizeof(big));
	src = open(L("src"), O_WRONLY | O_CREAT, 0644);
	ASSERT_LE(0, src);
	ASSERT_EQ(sizeof(big), write(src, big, sizeof(big)));
	close(src);
	union_mount_ok(_metadata, &self->l);
	/* From a lower file (lower tmpfs) to an upper one (upper tmpfs). */
	src = open(M("src"), O_RDONLY);
	dst = open(M("dst"), O_WRONLY | O_CREAT, 0644);
	ASSERT_LE(0, src);
	ASSERT_LE(0, dst);
	n = copy_file_range(src, &in, dst, &out, sizeof(big), 0);
	ASSERT_EQ(sizeof(big), n) TH_LOG("copy_file_range: %s", strerror(errno));
	EXPECT_EQ(sizeof(big), in);
	close(src);
	close(dst);
	ASSERT_EQ(0, stat(M("dst"), &(struct stat){}));
	src = open_ok(_metadata, U("dst"), O_RDONLY);
	memset(big, 0, sizeof(big));
	EXPECT_EQ(sizeof(big), read(src, big, sizeof(big)));
	EXPECT_EQ('q', big[0]);
	EXPECT_EQ('q', big[sizeof(big) - 1]);
	close(src);
	EXPECT_STREQ("none", kind(U("src")));
}

/* FICLONE is the upper filesystem's to answer (tmpfs: EOPNOTSUPP). */
TEST_F(fo, ficlone_answered_by_upper)
{
	int a, b, ua, ub, uerr, r;

	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, write_file(M("a"), "data"));
	ua = open(U("a"), O_RDONLY);
	ub = open(U("native"), O_WRONLY | O_CREAT, 0644);
	ASSERT_LE(0, ua);
	ASSERT_LE(0, ub);
	uerr = ioctl(ub, FICLONE, ua) ? errno : 0;
	close(ua);
	close(ub);
	a = open(M("a"), O_RDONLY);
	b = open(M("b"), O_WRONLY | O_CREAT, 0644);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	r = ioctl(b, FICLONE, a) ? errno : 0;
	EXPECT_EQ(uerr, r) TH_LOG("union %s, upper %s", strerror(r), strerror(uerr));
	close(a);
	close(b);
}

/*
 * A clone or dedupe into a file made immutable after it was opened for write
 * is refused (EPERM, as generic_remap_file_range_prep says on one
 * filesystem): the union inode has the flag, not the upper one the upper
 * filesystem would check.
 */
TEST_F(fo, clone_into_immutable_file_refused)
{
	struct file_dedupe_range *dr;
	int a, b, flags;

	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, write_file(M("a"), "data"));
	ASSERT_EQ(0, write_file(M("b"), "data"));
	a = open_ok(_metadata, M("a"), O_RDONLY);
	b = open_ok(_metadata, M("b"), O_RDWR);
	ASSERT_EQ(0, set_flags(M("b"), FS_IMMUTABLE_FL));
	EXPECT_ERRNO(EPERM, ioctl(b, FICLONE, a));
	dr = calloc(1, sizeof(*dr) + sizeof(struct file_dedupe_range_info));
	ASSERT_NE(NULL, dr);
	dr->src_length = 4;
	dr->dest_count = 1;
	dr->info[0].dest_fd = b;
	ASSERT_EQ(0, ioctl(a, FIDEDUPERANGE, dr));
	EXPECT_EQ(-EPERM, dr->info[0].status);
	free(dr);
	flags = get_flags(M("b"));
	EXPECT_EQ(FS_IMMUTABLE_FL, flags & FS_IMMUTABLE_FL);
	ASSERT_EQ(0, set_flags(M("b"), 0));
	close(a);
	close(b);
	EXPECT_STREQ("data", read_str(M("b")));
}

static int clone_fds(void *arg)
{
	const int *fds = arg;

	return ioctl(fds[0], FICLONE, fds[1]) ? errno : 0;
}

/* FICLONE of @src into @dst as uid 1000 (a child, inheriting the descriptors): errno. */
static int clone_as_user(int dst, int src)
{
	int fds[2] = { dst, src };

	return as_user(1000, clone_fds, fds);
}

/*
 * A clone that is refused (immutable destination) or cannot be made (tmpfs
 * has no reflink, or across the layers' filesystems) changes nothing: the
 * destination keeps setuid/setgid and its file capabilities, as on one
 * filesystem, which checks before removing anything.
 */
TEST_F(fo, failed_clone_keeps_setuid_and_capabilities)
{
	/* struct vfs_cap_data, revision 2, effective, cap_net_raw permitted. */
	const uint32_t cap[5] = { 0x02000001, 1u << 13, 0, 0, 0 };
	uint32_t got[8];
	struct stat st;
	int a, la, b, r;

	ASSERT_EQ(0, write_file(L("la"), "data"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, write_file(M("a"), "data"));
	ASSERT_EQ(0, write_file(M("b"), "data"));
	ASSERT_EQ(0, chmod(M("b"), 06777));
	ASSERT_EQ(0, setxattr(M("b"), "security.capability", cap, sizeof(cap), 0));
	a = open(M("a"), O_RDONLY);
	la = open(M("la"), O_RDONLY);
	b = open(M("b"), O_RDWR);
	ASSERT_LE(0, a);
	ASSERT_LE(0, la);
	ASSERT_LE(0, b);
	/* tmpfs cannot clone; a lower file is on another filesystem. */
	EXPECT_EQ(EOPNOTSUPP, clone_as_user(b, a));
	EXPECT_EQ(EXDEV, clone_as_user(b, la));
	ASSERT_EQ(0, set_flags(M("b"), FS_IMMUTABLE_FL));
	EXPECT_EQ(EPERM, clone_as_user(b, a));
	r = ioctl(b, FICLONE, a) ? errno : 0;
	EXPECT_EQ(EPERM, r);
	ASSERT_EQ(0, set_flags(M("b"), 0));
	ASSERT_EQ(0, stat(M("b"), &st));
	EXPECT_EQ(S_IFREG | 06777, st.st_mode);
	ASSERT_EQ(0, stat(U("b"), &st));
	EXPECT_EQ(S_IFREG | 06777, st.st_mode);
	EXPECT_EQ((ssize_t)sizeof(cap), getxattr(U("b"), "security.capability", got, sizeof(got)));
	close(a);
	close(la);
	close(b);
}

/*
 * chattr +X of a flag the lower file has but its copy-up does not carry
 * (ext4's secure deletion flag 's', both layers ext4): the flag is set, as
 * the caller asked, not dropped as "no change".
 */
TEST_F_TIMEOUT(fo, setflags_sets_a_lower_flag_the_copy_lost, 120)
{
	char cmd[2 * PATH_LEN];
	int lf, f;

	ASSERT_EQ(0, ext4_on(self, "l.img", self->l.lower, false));
	ASSERT_EQ(0, ext4_on(self, "u.img", self->l.upperfs, true));
	ASSERT_EQ(0, write_file(L("f"), "data\n"));
	snprintf(cmd, sizeof(cmd), "chattr +s '%s'", L("f"));
	ASSERT_EQ(0, system(cmd));
	union_mount_ok(_metadata, &self->l);
	lf = get_flags(L("f"));
	ASSERT_LT(0, lf);
	ASSERT_TRUE(lf & FS_SECRM_FL);
	ASSERT_EQ(lf, get_flags(M("f")));
	/*
	 * chattr +s of the lower-only file: it read s (the lower flags) and asks
	 * for s; the copy-up made for the change does not carry s.
	 */
	EXPECT_EQ(0, set_flags(M("f"), lf));
	f = get_flags(U("f"));
	EXPECT_TRUE(f >= 0 && (f & FS_SECRM_FL)) TH_LOG("upper flags %#x", f);
	EXPECT_STREQ("data\n", read_str(M("f")));
	umount2(self->l.mnt, MNT_DETACH);
	umount2(self->l.lower, MNT_DETACH);
	umount2(self->l.upperfs, MNT_DETACH);
}

/*
 * Changing a setuid/setgid file's data as a caller without CAP_FSETID drops
 * the bits, on the union inode and on upper, by every way of changing it:
 * the union passes the operation to the real file with the mounter's
 * credentials, which would keep them (file_remove_privs must see the
 * caller).  Each variant writes a lower file (copy-up first) and one that is
 * already on upper.
 */
enum priv_op { PRIV_WRITE, PRIV_TRUNCATE, PRIV_COPY_RANGE, PRIV_FALLOCATE };

struct priv_arg {
	char path[PATH_LEN];
	char src[PATH_LEN];
	enum priv_op op;
};

static int modify_as_user(void *arg)
{
	struct priv_arg *a = arg;
	int fd = open(a->path, O_WRONLY), src, r = 0;
	loff_t in = 0, out = 0;

	if (fd < 0)
		return 10;
	switch (a->op) {
	case PRIV_WRITE:
		r = write(fd, "new", 3) == 3 ? 0 : 11;
		break;
	case PRIV_TRUNCATE:
		r = ftruncate(fd, 2) ? 12 : 0;
		break;
	case PRIV_COPY_RANGE:
		src = open(a->src, O_RDONLY);
		if (src < 0)
			return 13;
		r = copy_file_range(src, &in, fd, &out, 4, 0) == 4 ? 0 : 14;
		close(src);
		break;
	case PRIV_FALLOCATE:
		r = fallocate(fd, 0, 0, 8192) ? 15 : 0;
		break;
	}
	close(fd);
	return r;
}

static void check_privs_dropped(struct __test_metadata *_metadata,
				FIXTURE_DATA(fo) *self, enum priv_op op)
{
	static const char *const names[] = { "lower", "upper" };
	struct priv_arg a = { .op = op };
	struct stat st;
	int i;

	ASSERT_EQ(0, write_file(L("src"), "data"));
	ASSERT_EQ(0, write_file(L("lower"), "old data"));
	ASSERT_EQ(0, chmod(L("lower"), 06777));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, write_file(M("upper"), "old data"));
	ASSERT_EQ(0, chmod(M("upper"), 06777));
	for (i = 0; i < 2; i++) {
		snprintf(a.path, PATH_LEN, "%s", M(names[i]));
		snprintf(a.src, PATH_LEN, "%s", M("src"));
		ASSERT_EQ(0, as_user(1000, modify_as_user, &a)) TH_LOG("%s", names[i]);
		ASSERT_EQ(0, stat(M(names[i]), &st));
		EXPECT_EQ(S_IFREG | 0777, st.st_mode) TH_LOG("%s: union mode %o", names[i], st.st_mode);
		ASSERT_EQ(0, stat(U(names[i]), &st));
		EXPECT_EQ(S_IFREG | 0777, st.st_mode) TH_LOG("%s: upper mode %o", names[i], st.st_mode);
	}
}

TEST_F(fo, write_drops_setuid_of_unprivileged_writer)
{
	check_privs_dropped(_metadata, self, PRIV_WRITE);
}

TEST_F(fo, truncate_drops_setuid_of_unprivileged_writer)
{
	check_privs_dropped(_metadata, self, PRIV_TRUNCATE);
}

TEST_F(fo, copy_file_range_drops_setuid_of_unprivileged_writer)
{
	check_privs_dropped(_metadata, self, PRIV_COPY_RANGE);
}

TEST_F(fo, fallocate_drops_setuid_of_unprivileged_writer)
{
	check_privs_dropped(_metadata, self, PRIV_FALLOCATE);
}

/* An unaligned 1-byte pwrite through @fd after F_SETFL @fl: 0 or errno. */
static int setfl_then_write(int fd, int fl)
{
	if (fcntl(fd, F_SETFL, fl))
		return -1;
	return pwrite(fd, "x", 1, 1) == 1 ? 0 : errno;
}

/*
 * fcntl(F_SETFL, O_DIRECT) on a union file takes effect on the real file, as
 * on the upper filesystem itself: ext4 refuses a misaligned direct write
 * (EINVAL) and takes it again once O_DIRECT is cleared.
 */
TEST_F_TIMEOUT(fo, setfl_odirect_reaches_the_real_file, 120)
{
	int fd, nfd, native;

	ASSERT_EQ(0, ext4_on(self, "u.img", self->l.upperfs, true));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, write_file(M("f"), "0123456789"));
	ASSERT_EQ(0, write_file(U("native"), "0123456789"));
	nfd = open_ok(_metadata, U("native"), O_RDWR);
	fd = open_ok(_metadata, M("f"), O_RDWR);
	native = setfl_then_write(nfd, O_DIRECT);
	ASSERT_EQ(EINVAL, native);
	EXPECT_EQ(native, setfl_then_write(fd, O_DIRECT));
	EXPECT_EQ(0, setfl_then_write(nfd, 0));
	EXPECT_EQ(0, setfl_then_write(fd, 0));
	close(fd);
	close(nfd);
	EXPECT_STREQ("0x23456789", read_str(M("f")));
	EXPECT_STREQ("0x23456789", read_str(U("f")));
	umount2(self->l.mnt, MNT_DETACH);
	umount2(self->l.upperfs, MNT_DETACH);
}

/*
 * fcntl(F_SETFL) clearing O_APPEND reaches the real file for every write path, as on
 * one filesystem: splice(2) and sendfile(2) into the descriptor write at the offset
 * given, copy_file_range(2) works (a real file still appending made it EBADF).
 * (Review: only write_iter copied the flags.)
 */
TEST_F(fo, setfl_cleared_append_reaches_splice_sendfile_copy_file_range)
{
	loff_t off, in;
	int fd, p[2], src;

	ASSERT_EQ(0, write_file(L("f"), "hello"));
	ASSERT_EQ(0, write_file(L("src"), "SC"));
	union_mount_ok(_metadata, &self->l);
	fd = open_ok(_metadata, M("f"), O_WRONLY | O_APPEND);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(1, write(p[1], "J", 1));
	off = 0;
	EXPECT_EQ(1, splice(p[0], NULL, fd, &off, 1, 0)) TH_LOG("splice: %m");
	EXPECT_STREQ("Jello", read_str(M("f")));
	src = open_ok(_metadata, M("src"), O_RDONLY);
	ASSERT_EQ(1, lseek(fd, 1, SEEK_SET));
	EXPECT_EQ(1, sendfile(fd, src, NULL, 1)) TH_LOG("sendfile: %m");
	EXPECT_STREQ("JSllo", read_str(M("f")));
	in = 1;
	off = 2;
	EXPECT_EQ(1, copy_file_range(src, &in, fd, &off, 1, 0)) TH_LOG("copy_file_range: %m");
	EXPECT_STREQ("JSClo", read_str(M("f")));
	EXPECT_STREQ("JSClo", read_str(U("f")));
	/* Set again, it appends again (and splice refuses it: EINVAL, as natively). */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_APPEND));
	ASSERT_EQ(1, pwrite(fd, "Z", 1, 0));
	EXPECT_STREQ("JSCloZ", read_str(M("f")));
	ASSERT_EQ(1, write(p[1], "Y", 1));
	off = 0;
	EXPECT_EQ(-1, splice(p[0], NULL, fd, &off, 1, 0));
	EXPECT_EQ(EINVAL, errno);
	close(p[0]);
	close(p[1]);
	close(src);
	close(fd);
}

/*
 * A mapping made through a read-only descriptor opened before the file was copied
 * up (by a write through another descriptor) shows the copy, as read(2) through
 * that descriptor does.  (Review: mmap went to the lower file the descriptor was
 * opened on.)
 */
TEST_F(fo, mmap_of_descriptor_opened_before_copy_up_shows_the_copy)
{
	char buf[8] = "";
	char *m;
	int ro, rw;

	ASSERT_EQ(0, write_file(L("f"), "lower"));
	union_mount_ok(_metadata, &self->l);
	ro = open_ok(_metadata, M("f"), O_RDONLY);
	rw = open_ok(_metadata, M("f"), O_RDWR);
	ASSERT_EQ(3, pwrite(rw, "NEW", 3, 0));
	ASSERT_EQ(5, pread(ro, buf, 5, 0));
	EXPECT_STREQ("NEWer", buf);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, m) TH_LOG("mmap: %m");
	EXPECT_EQ(0, memcmp(m, "NEWer", 5)) TH_LOG("mapped: %.5s", m);
	/* Later writes show in it too (the upper file's page cache). */
	ASSERT_EQ(1, pwrite(rw, "x", 1, 4));
	EXPECT_EQ(0, memcmp(m, "NEWex", 5)) TH_LOG("mapped: %.5s", m);
	EXPECT_EQ(0, posix_fadvise(ro, 0, 0, POSIX_FADV_DONTNEED));
	munmap(m, 4096);
	close(rw);
	close(ro);
}

/* Writes completed by the block device of the filesystem holding @path. */
static long dev_writes(const char *path)
{
	char sys[PATH_LEN], line[256];
	long r[5] = { -1, -1, -1, -1, -1 };
	struct stat st;
	FILE *f;

	if (stat(path, &st))
		return -1;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/stat", major(st.st_dev),
		 minor(st.st_dev));
	f = fopen(sys, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "%ld %ld %ld %ld %ld", &r[0], &r[1], &r[2], &r[3], &r[4]) != 5)
		r[4] = -1;
	fclose(f);
	return r[4];
}

/*
 * fsync(2) through a descriptor opened on the lower file syncs the upper object the
 * union shows since: the copy a write through another descriptor made (its data), and
 * the upper metadata of a metadata-only copy (chmod).  Seen as writes to the upper's
 * block device, with ext4's periodic commit and the periodic writeback put off for the
 * test.  (Review: such an fsync did nothing, a crash lost what it was to make durable.)
 */
TEST_F_TIMEOUT(fo, fsync_of_lower_descriptor_syncs_the_upper_object, 120)
{
	long w0, w1, saved_wb;
	int ro, rw, ro2;
	FILE *f;

	ASSERT_EQ(0, ext4_on(self, "u.img", self->l.upperfs, true));
	ASSERT_EQ(0, mount(NULL, self->l.upperfs, NULL, MS_REMOUNT, "commit=600"));
	f = fopen("/proc/sys/vm/dirty_writeback_centisecs", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%ld", &saved_wb));
	fclose(f);
	ASSERT_EQ(0, write_file("/proc/sys/vm/dirty_writeback_centisecs", "0"));
	ASSERT_EQ(0, write_file(L("f"), "lower"));
	ASSERT_EQ(0, write_file(L("g"), "lower"));
	union_mount_ok(_metadata, &self->l);
	ro = open_ok(_metadata, M("f"), O_RDONLY);
	rw = open_ok(_metadata, M("f"), O_RDWR);
	ASSERT_EQ(3, pwrite(rw, "NEW", 3, 0));
	close(rw);
	w0 = dev_writes(self->l.upperfs);
	ASSERT_LE(0, w0);
	EXPECT_EQ(0, fsync(ro));
	w1 = dev_writes(self->l.upperfs);
	EXPECT_LT(w0, w1) TH_LOG("fsync wrote nothing (%ld writes)", w0);
	/* A metadata-only copy: its new mode is what fsync makes durable. */
	ro2 = open_ok(_metadata, M("g"), O_RDONLY);
	ASSERT_EQ(0, chmod(M("g"), 0600));
	w0 = dev_writes(self->l.upperfs);
	EXPECT_EQ(0, fsync(ro2));
	w1 = dev_writes(self->l.upperfs);
	EXPECT_LT(w0, w1) TH_LOG("fsync wrote nothing (%ld writes)", w0);
	close(ro2);
	close(ro);
	{
		char v[32];

		snprintf(v, sizeof(v), "%ld", saved_wb);
		EXPECT_EQ(0, write_file("/proc/sys/vm/dirty_writeback_centisecs", v));
	}
	umount2(self->l.mnt, MNT_DETACH);
	umount2(self->l.upperfs, MNT_DETACH);
}

TEST_HARNESS_MAIN
