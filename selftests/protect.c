// SPDX-License-Identifier: GPL-2.0
/*
 * Protection cases (issue 10) that the union must answer like the same tree
 * copied onto a plain filesystem, and private state it must keep out of
 * reach:
 *
 * - attributes follow the real object and never go backwards: a read
 *   through a descriptor opened on the lower file before a chmod's copy-up
 *   does not bring the lower mode back;
 * - O_RDONLY | O_APPEND asks for no write and copies nothing up;
 * - the on-disk markers cannot be forged: mknod of char 0/0..0/15 fails
 *   with EPERM (0/16 and real devices work);
 * - the reserved name of the work directory cannot be created, linked or
 *   renamed onto at the union root (EPERM), and the work directory is left
 *   intact;
 * - immutable and append-only flags of real files are honoured;
 * - a frozen upper filesystem blocks union writers instead of being
 *   bypassed, and they finish after the thaw.
 */
#include "union_test.h"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>

UNION_LAYERS_FIXTURE(prot,
		     .name = "prot", .propagation = MS_PRIVATE,
		     .base_fs = "size=64m", .upper_fs = "size=64m");

/* 0 if opening @arg (a path) for reading is refused with EACCES. */
static int open_refused(void *arg)
{
	return open(arg, O_RDONLY) < 0 && errno == EACCES ? 0 : 1;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

TEST_F(prot, chmod_not_undone_by_read)
{
	char buf[8];
	int fd;

	ASSERT_EQ(0, write_file(L("f"), "data"));
	ASSERT_EQ(0, chmod(L("f"), 0644));
	union_mount_ok(_metadata, &self->l);
	fd = open_ok(_metadata, M("f"), O_RDONLY);
	ASSERT_EQ(0, chmod(M("f"), 0600));
	EXPECT_EQ(0600, mode_of(M("f")));
	EXPECT_EQ(4, pread(fd, buf, sizeof(buf), 0));
	close(fd);
	/*
	 * Another user cannot open it (checked before anything stats the file,
	 * which would refresh the union inode from upper).
	 */
	EXPECT_EQ(0, as_user(1000, open_refused, (void *)M("f")));
	EXPECT_EQ(0600, mode_of(M("f")));
	EXPECT_EQ(0600, mode_of(U("f")));
}

TEST_F(prot, rdonly_append_no_copy_up)
{
	char buf[8];
	int fd;

	ASSERT_EQ(0, write_file(L("f"), "data"));
	union_mount_ok(_metadata, &self->l);
	fd = open_ok(_metadata, M("f"), O_RDONLY | O_APPEND);
	EXPECT_EQ(4, read(fd, buf, sizeof(buf)));
	EXPECT_ERRNO(EBADF, write(fd, "x", 1));
	close(fd);
	EXPECT_STREQ("none", kind(U("f")));
}

TEST_F(prot, marker_devices_cannot_be_made)
{
	char name[32];
	unsigned int minor;

	union_mount_ok(_metadata, &self->l);
	for (minor = 0; minor <= 15; minor++) {
		snprintf(name, sizeof(name), "c0-%u", minor);
		EXPECT_ERRNO(EPERM, mknod(M(name), S_IFCHR | 0644, makedev(0, minor)));
		EXPECT_STREQ("none", kind(U(name)));
	}
	EXPECT_EQ(0, mknod(M("c0-16"), S_IFCHR | 0644, makedev(0, 16)));
	EXPECT_EQ(0, mknod(M("null"), S_IFCHR | 0666, makedev(1, 3)));
	EXPECT_KINDS(M(""), "c0-16:chr0:16", "null:chr1:3");
}

TEST_F(prot, work_dir_name_is_reserved)
{
	struct stat st, st2;

	ASSERT_EQ(0, write_file(L("f"), "data"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, lstat(U(".union-work"), &st));
	ASSERT_EQ(0, mkdir(M("x"), 0755));
	EXPECT_ERRNO(EPERM, rename(M("x"), M(".union-work")));
	EXPECT_ERRNO(EPERM, mkdir(M(".union-work"), 0755));
	EXPECT_ERRNO(EPERM, open(M(".union-work"), O_WRONLY | O_CREAT, 0644));
	EXPECT_ERRNO(EPERM, symlink("f", M(".union-work")));
	EXPECT_ERRNO(EPERM, link(M("f"), M(".union-work")));
	EXPECT_ERRNO(ENOENT, rmdir(M(".union-work")));
	/* The work directory is the one the mount made, and still works. */
	ASSERT_EQ(0, lstat(U(".union-work"), &st2));
	EXPECT_EQ(st.st_ino, st2.st_ino);
	EXPECT_TRUE(S_ISDIR(st2.st_mode));
	EXPECT_EQ(0, append_file(M("f"), "more"));
	EXPECT_STREQ("datamore", read_str(M("f")));
	/* Not reserved below the root. */
	EXPECT_EQ(0, rename(M("x"), M("f.d")));
	EXPECT_EQ(0, mkdir(M("f.d/.union-work"), 0755));
}

static int set_flags(const char *path, int flags)
{
	int fd = open(path, O_RDONLY), r;

	if (fd < 0)
		return -1;
	r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	close(fd);
	return r;
}

TEST_F(prot, immutable_lower_file)
{
	ASSERT_EQ(0, write_file(L("f"), "data"));
	if (set_flags(L("f"), FS_IMMUTABLE_FL))
		SKIP(return, "lower fs cannot set the immutable flag: %s", strerror(errno));
	union_mount_ok(_metadata, &self->l);
	EXPECT_ERRNO(EPERM, open(M("f"), O_WRONLY));
	EXPECT_ERRNO(EPERM, chmod(M("f"), 0600));
	EXPECT_ERRNO(EPERM, unlink(M("f")));
	EXPECT_ERRNO(EPERM, truncate(M("f"), 0));
	EXPECT_STREQ("data", read_str(M("f")));
	EXPECT_STREQ("none", kind(U("f")));
	set_flags(L("f"), 0);
}

TEST_F(prot, append_only_lower_file)
{
	int fd;

	ASSERT_EQ(0, write_file(L("f"), "data"));
	if (set_flags(L("f"), FS_APPEND_FL))
		SKIP(return, "lower fs cannot set the append flag: %s", strerror(errno));
	union_mount_ok(_metadata, &self->l);
	EXPECT_ERRNO(EPERM, open(M("f"), O_WRONLY));
	EXPECT_ERRNO(EPERM, unlink(M("f")));
	EXPECT_STREQ("data", read_str(M("f")));
	fd = open(M("f"), O_WRONLY | O_APPEND);
	if (fd >= 0) {
		EXPECT_EQ(1, write(fd, "x", 1));
		close(fd);
		EXPECT_STREQ("datax", read_str(M("f")));
	}
	set_flags(L("f"), 0);
}

TEST_F_TIMEOUT(prot, frozen_upper_blocks_writers, 120)
{
	char cmd[2 * PATH_LEN];
	int status;
	pid_t pid;

	/* tmpfs cannot be frozen: the upper is on ext4. */
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 16M '%s/ext4.img' && mkfs.ext4 -q '%s/ext4.img' && "
		 "umount '%s' && mount -o loop '%s/ext4.img' '%s' && mkdir '%s'",
		 self->l.base, self->l.base, self->l.upperfs, self->l.base, self->l.upperfs,
		 self->l.upper);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, write_file(L("f"), "data"));
	union_mount_ok(_metadata, &self->l);
	snprintf(cmd, sizeof(cmd), "fsfreeze -f '%s'", self->l.upperfs);
	ASSERT_EQ(0, system(cmd));
	pid = fork();
	if (pid == 0)
		_exit(write_file(M("new"), "new") ? 1 : 0);
	/* The writer blocks on the upper's freeze protection (sb_start_write). */
	while (!strstr(task_wchan(pid), "percpu_rwsem"))
		ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG));
	EXPECT_STREQ("none", kind(U("new")));
	snprintf(cmd, sizeof(cmd), "fsfreeze -u '%s'", self->l.upperfs);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_STREQ("new", read_str(U("new")));
}

/* Leftovers of any depth in the work directory are removed at mount. */
TEST_F(prot, work_dir_leftovers_of_any_depth_are_removed)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	ASSERT_EQ(0, mkdir(U(".union-work"), 0700));
	ASSERT_EQ(0, mkdir(U(".union-work/#1"), 0755));
	ASSERT_EQ(0, mkdir(U(".union-work/#1/sub"), 0755));
	ASSERT_EQ(0, mkdir(U(".union-work/#1/sub/deeper"), 0755));
	ASSERT_EQ(0, write_file(U(".union-work/#1/sub/deeper/f"), "x"));
	ASSERT_EQ(0, write_file(U(".union-work/#2"), "y"));
	union_mount_ok(_metadata, &self->l);
	d = opendir(U(".union-work"));
	ASSERT_NE(NULL, d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	EXPECT_EQ(0, n);
}

/*
 * Character devices 0/1..0/15 on lower are a flattened union's fallthrus:
 * they stand for nothing and are not there (never copied up as markers).
 */
TEST_F(prot, lower_marker_devices_are_absent)
{
	ASSERT_EQ(0, mknod(L("dev5"), S_IFCHR | 0644, makedev(0, 5)));
	ASSERT_EQ(0, mknod(L("wh"), S_IFCHR | 0644, makedev(0, 0)));
	ASSERT_EQ(0, mknod(L("dev16"), S_IFCHR | 0644, makedev(0, 16)));
	union_mount_ok(_metadata, &self->l);
	EXPECT_KINDS(M(""), "dev5:none", "wh:none", "dev16:chr0:16");
	EXPECT_ERRNO(ENOENT, chmod(M("dev5"), 0600));
	EXPECT_EQ(0, chmod(M("dev16"), 0600));
	EXPECT_STREQ("none", kind(U("dev5")));
	EXPECT_EQ(0600, mode_of(M("dev16")));
	EXPECT_EQ(0, umount(self->l.mnt));
	union_mount_ok(_metadata, &self->l);
	EXPECT_EQ(0600, mode_of(M("dev16")));
	EXPECT_STREQ("none", kind(M("dev5")));
}

/* An xattr change that fails changes nothing: no copy-up. */
TEST_F(prot, failing_xattr_change_does_not_copy_up)
{
	ASSERT_EQ(0, write_file(L("f"), "data"));
	ASSERT_EQ(0, link(L("f"), L("g")));
	ASSERT_EQ(0, setxattr(L("f"), "user.a", "1", 1, 0));
	union_mount_ok(_metadata, &self->l);
	EXPECT_ERRNO(ENODATA, removexattr(M("f"), "user.missing"));
	EXPECT_ERRNO(ENODATA, setxattr(M("f"), "user.missing", "1", 1, XATTR_REPLACE));
	EXPECT_ERRNO(EEXIST, setxattr(M("f"), "user.a", "2", 1, XATTR_CREATE));
	EXPECT_STREQ("none", kind(U("f")));
	EXPECT_EQ(0, setxattr(M("f"), "user.a", "3", 1, XATTR_REPLACE));
	EXPECT_STREQ("reg", kind(U("f")));
}

/* Bytes written to @path (created) until the filesystem is full. */
static long fill(const char *path)
{
	static char chunk[64 * 1024];
	long total = 0;
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	memset(chunk, 'x', sizeof(chunk));
	while ((n = write(fd, chunk, sizeof(chunk))) > 0)
		total += n;
	if (n < 0 && errno != ENOSPC)
		total = -1;
	fsync(fd);
	close(fd);
	return total;
}

/*
 * The union writes to its layers with the mounter's credentials minus
 * CAP_SYS_RESOURCE (as overlayfs): blocks reserved on an ext4 upper stay
 * reserved, so root can still write to the upper filesystem itself once
 * the union filled it.
 */
TEST_F_TIMEOUT(prot, reserved_blocks_apply_to_union_writes, 300)
{
	char cmd[4 * PATH_LEN], img[PATH_LEN];
	long through_union, direct;

	snprintf(img, PATH_LEN, "%s/ext4.img", self->l.base);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 24M '%s' && mkfs.ext4 -q -O ^has_journal -m 40 '%s' && "
		 "tune2fs -u 12345 -g 12345 '%s' >/dev/null && umount '%s' && "
		 "mount -o loop '%s' '%s' && mkdir '%s'",
		 img, img, img, self->l.upperfs, img, self->l.upperfs, self->l.upper);
	ASSERT_EQ(0, system(cmd));
	union_mount_ok(_metadata, &self->l);
	through_union = fill(M("big"));
	ASSERT_LT(0, through_union);
	direct = fill(jp(self->l.upperfs, "direct"));
	TH_LOG("union wrote %ld KiB, root then wrote %ld KiB directly",
	       through_union / 1024, direct / 1024);
	/* About 40% of 24 MiB is reserved: root (CAP_SYS_RESOURCE) still gets it. */
	EXPECT_LT(4 * MiB, direct);
	EXPECT_EQ(0, umount(self->l.mnt));
}

TEST_HARNESS_MAIN
