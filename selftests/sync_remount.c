// SPDX-License-Identifier: GPL-2.0
/*
 * union: fsync of directories, syncfs, remount, and a union outliving the
 * mounts its layers came from (what pivot_root/switch_root rely on).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"

FIXTURE(sr) {
	char work[64];
	char lower[128], upper[128], mnt[128];
};

FIXTURE_SETUP(sr)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL));
	strcpy(self->work, "/tmp/union-sr.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->work));
	snprintf(self->lower, sizeof(self->lower), "%s/lower", self->work);
	snprintf(self->upper, sizeof(self->upper), "%s/upper", self->work);
	snprintf(self->mnt, sizeof(self->mnt), "%s/mnt", self->work);
	ASSERT_EQ(0, mkdir(self->lower, 0755));
	ASSERT_EQ(0, mkdir(self->upper, 0755));
	ASSERT_EQ(0, mkdir(self->mnt, 0755));
	/* Each layer on a tmpfs of its own, so it can be unmounted. */
	ASSERT_EQ(0, mount("tmpfs", self->lower, "tmpfs", 0, NULL));
	ASSERT_EQ(0, mount("tmpfs", self->upper, "tmpfs", 0, NULL));
}

FIXTURE_TEARDOWN(sr)
{
	umount2(self->mnt, MNT_DETACH);
	umount2(self->lower, MNT_DETACH);
	umount2(self->upper, MNT_DETACH);
	umount2(self->work, MNT_DETACH);
}

static int put(const char *dir, const char *name, const char *data)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int mount_union(struct _test_data_sr *self)
{
	char data[512];

	snprintf(data, sizeof(data), "lower=%s,upper=%s", self->lower, self->upper);
	return mount("none", self->mnt, "union", 0, data);
}

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
	char p[256];

	ASSERT_EQ(0, mkdir(strcat(strcpy(p, self->lower), "/lonly"), 0755));
	ASSERT_EQ(0, mkdir(strcat(strcpy(p, self->lower), "/both"), 0755));
	ASSERT_EQ(0, mkdir(strcat(strcpy(p, self->upper), "/both"), 0755));
	ASSERT_EQ(0, mkdir(strcat(strcpy(p, self->upper), "/uonly"), 0755));
	ASSERT_EQ(0, mount_union(self));
	const char *dirs[] = { "", "/lonly", "/both", "/uonly" };
	for (unsigned int i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", self->mnt, dirs[i]);
		EXPECT_EQ(0, fsync_path(p, 0)) TH_LOG("fsync %s", p);
		EXPECT_EQ(0, fsync_path(p, 1)) TH_LOG("fdatasync %s", p);
	}
	/* fsync of a lower-only directory writes nothing to upper. */
	snprintf(p, sizeof(p), "%s/lonly", self->upper);
	EXPECT_EQ(-1, access(p, F_OK));
}

TEST_F(sr, syncfs_and_sync)
{
	int fd;

	ASSERT_EQ(0, put(self->lower, "f", "lower"));
	ASSERT_EQ(0, mount_union(self));
	ASSERT_EQ(0, put(self->mnt, "g", "new"));
	fd = open(self->mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, syncfs(fd));
	close(fd);
	sync();
}

TEST_F(sr, remount_with_same_options)
{
	char data[512];

	ASSERT_EQ(0, mount_union(self));
	snprintf(data, sizeof(data), "lower=%s,upper=%s", self->lower, self->upper);
	EXPECT_EQ(0, mount("none", self->mnt, "union", MS_REMOUNT, data))
		TH_LOG("remount: %s", strerror(errno));
	EXPECT_EQ(0, mount("none", self->mnt, "union", MS_REMOUNT | MS_NOATIME, ""))
		TH_LOG("remount without options: %s", strerror(errno));
}

/*
 * The union holds private clones of its layers' mounts: it keeps working when
 * the mounts it was given are gone (as after switch_root), and remount with
 * the now unresolvable names from /proc/mounts still succeeds.
 */
TEST_F(sr, layers_unmounted_under_the_union)
{
	char p[256], data[512], buf[16] = "";
	int fd;

	ASSERT_EQ(0, put(self->lower, "f", "lower"));
	ASSERT_EQ(0, mount_union(self));
	ASSERT_EQ(0, umount2(self->lower, MNT_DETACH));
	ASSERT_EQ(0, umount2(self->upper, MNT_DETACH));
	/* The names no longer resolve to the layers. */
	snprintf(p, sizeof(p), "%s/f", self->lower);
	EXPECT_EQ(-1, access(p, F_OK));

	snprintf(p, sizeof(p), "%s/f", self->mnt);
	fd = open(p, O_RDONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(5, read(fd, buf, sizeof(buf) - 1));
	close(fd);
	EXPECT_STREQ("lower", buf);
	EXPECT_EQ(0, put(self->mnt, "new", "x"));
	EXPECT_EQ(0, unlink(p));

	snprintf(data, sizeof(data), "lower=%s,upper=%s", self->lower, self->upper);
	EXPECT_EQ(0, mount("none", self->mnt, "union", MS_REMOUNT, data))
		TH_LOG("remount: %s", strerror(errno));
	/* A different directory is still refused. */
	snprintf(data, sizeof(data), "lower=%s", self->work);
	EXPECT_EQ(-1, mount("none", self->mnt, "union", MS_REMOUNT, data));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
