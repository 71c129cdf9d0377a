// SPDX-License-Identifier: GPL-2.0
/*
 * union: fsync of directories, syncfs, remount, and a union outliving the
 * mounts its layers came from (what pivot_root/switch_root rely on).
 */
#include "union_test.h"

/* Each layer on a tmpfs of its own, so it can be unmounted. */
UNION_LAYERS_FIXTURE(sr, .name = "sr", .propagation = MS_SLAVE,
		     .lower_fs = "", .upper_fs = "")

static int fsync_path(const char *path, int datasync)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	int r;

	if (fd < 0)
		return -errno;
	r = datasync ? fdatasync(fd) : fsync(fd);
	r = r ? -errno : 0;
	close(fd);
	return r;
}

TEST_F(sr, fsync_directories)
{
	const char *dirs[] = { "", "lonly", "both", "uonly" }, *p;

	TREE(L(""), "lonly/", "both/");
	TREE(U(""), "both/", "uonly/");
	union_mount_ok(_metadata, &self->l);
	for (unsigned int i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		p = M(dirs[i]);
		EXPECT_EQ(0, fsync_path(p, 0)) TH_LOG("fsync %s", p);
		EXPECT_EQ(0, fsync_path(p, 1)) TH_LOG("fdatasync %s", p);
	}
	/* fsync of a lower-only directory writes nothing to upper. */
	EXPECT_EQ(-1, access(U("lonly"), F_OK));
}

TEST_F(sr, syncfs_and_sync)
{
	int fd;

	ASSERT_EQ(0, write_file(L("f"), "lower"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, write_file(M("g"), "new"));
	fd = open_ok(_metadata, self->l.mnt, O_RDONLY | O_DIRECTORY);
	EXPECT_EQ(0, syncfs(fd));
	close(fd);
	sync();
}

TEST_F(sr, remount_with_same_options)
{
	union_mount_ok(_metadata, &self->l);
	/* mount(2)'s option string: the same as @opts of the mount. */
	EXPECT_EQ(0, mount("none", self->l.mnt, "union", MS_REMOUNT, self->l.opts))
		TH_LOG("remount: %s", strerror(errno));
	EXPECT_EQ(0, mount("none", self->l.mnt, "union", MS_REMOUNT | MS_NOATIME, ""))
		TH_LOG("remount without options: %s", strerror(errno));
}

/*
 * The union holds private clones of its layers' mounts: it keeps working when
 * the mounts it was given are gone (as after switch_root), and remount with
 * the now unresolvable names from /proc/mounts still succeeds.
 */
TEST_F(sr, layers_unmounted_under_the_union)
{
	char data[PATH_LEN + 8], buf[16] = "";
	int fd;

	ASSERT_EQ(0, write_file(L("f"), "lower"));
	union_mount_ok(_metadata, &self->l);
	ASSERT_EQ(0, umount2(self->l.lowerfs, MNT_DETACH));
	ASSERT_EQ(0, umount2(self->l.upperfs, MNT_DETACH));
	/* The names no longer resolve to the layers. */
	EXPECT_EQ(-1, access(L("f"), F_OK));

	fd = open_ok(_metadata, M("f"), O_RDONLY);
	EXPECT_EQ(5, read(fd, buf, sizeof(buf) - 1));
	close(fd);
	EXPECT_STREQ("lower", buf);
	EXPECT_EQ(0, write_file(M("new"), "x"));
	EXPECT_EQ(0, unlink(M("f")));

	EXPECT_EQ(0, mount("none", self->l.mnt, "union", MS_REMOUNT, self->l.opts))
		TH_LOG("remount: %s", strerror(errno));
	/* A different directory is still refused. */
	snprintf(data, sizeof(data), "lower=%s", self->l.base);
	EXPECT_ERRNO(EINVAL, mount("none", self->l.mnt, "union", MS_REMOUNT, data));
}

TEST_HARNESS_MAIN
