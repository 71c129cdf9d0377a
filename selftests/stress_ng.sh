#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The field's stress tool on the union: stress-ng's filesystem stressors (and
# those of its I/O class that work on files), each by two processes with
# --verify for STRESS_NG_SECONDS (default 1), in a directory of a union over
# tmpfs layers, and those whose paths differ on ext4 (fiemap, file attributes,
# punched holes, direct and asynchronous I/O, journalled metadata) in one over
# ext4 layers.  Each stressor must end successfully (a stressor that skips itself,
# e.g. for a missing feature, fails: the lists are what runs here); then the
# kernel log written meanwhile must be clean, the lower files unchanged,
# union-fsck must find the upper layer clean and the union must unmount.
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib/tap.sh
. "$here/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$here/lib/union.sh"
# shellcheck source=selftests/lib/klog.sh
. "$here/lib/klog.sh"
fsck=$here/build/tools/union-fsck
seconds=${STRESS_NG_SECONDS:-1}

# Every stressor of the filesystem class but those that are not about files on
# the union (bind-mount, binderfs, procfs) or need what the test kernel lacks
# (verity), plus file I/O ones; fiemap only where the upper filesystem has it.
common="access chattr chdir chmod chown copy-file dentry dir dirdeep dirmany dnotify dup
	fallocate fanotify fcntl file-ioctl filename flock fpunch fsize fstat getdent handle
	hdd inode-flags inotify io iomix lease link locka lockf lockofd mknod open rename
	symlink sync-file touch utime xattr aio aiol readahead seek sendfile splice tee mmap
	msync revio flushcache"
# On ext4, those whose path differs from tmpfs' (attributes, extents, journalled
# metadata, direct and asynchronous I/O).
ext4="chattr copy-file dentry dir fallocate fiemap file-ioctl fpunch fsize hdd inode-flags io
	iomix lease link rename sync-file xattr aio aiol readahead seek sendfile splice mmap
	msync revio"
declare -A stressors=([tmpfs]="$common" [ext4]="$ext4")
# Sizes that fit the 256 MiB layers (the defaults are sized to the free space or 1 GiB).
declare -A extra=([iomix]="--iomix-bytes 32m" [hdd]="--hdd-bytes 32m"
	[fallocate]="--fallocate-bytes 32m" [seek]="--seek-size 32m"
	[aio]="--aio-requests 8" [sendfile]="--sendfile-size 1m")

make_work stress-ng size=700m || { echo "not ok 1 tmpfs"; exit 1; }
trap 'cleanup_work "$w/mnt" "$w/lfs" "$w/ufs"' EXIT
mnt=$w/mnt

echo "TAP version 13"
if ! command -v stress-ng > /dev/null; then
	result 1 "stress-ng is installed (qemu/install-deps)"
	finish
fi

for fs in tmpfs ext4; do
	LFS=$w/lfs UFS=$w/ufs L=$w/lfs/lower U=$w/ufs/upper
	mkdir -p "$LFS" "$UFS" "$mnt"
	if [ $fs = ext4 ]; then
		truncate -s 256M "$w/l.img" "$w/u.img"
		mkfs.ext4 -q -F "$w/l.img" && mkfs.ext4 -q -F "$w/u.img" &&
			mount -o loop "$w/l.img" "$LFS" && mount -o loop "$w/u.img" "$UFS"
	else
		mount -t tmpfs -o size=256m tmpfs "$LFS" && mount -t tmpfs -o size=256m tmpfs "$UFS"
	fi
	mkdir -p "$L/d" "$U"
	for i in $(seq 1 50); do echo "$i" > "$L/d/f$i"; done
	[ $fs = ext4 ] && mount -o remount,ro "$LFS"
	out=$(mount_union_o "lower=$L,upper=$U" "$mnt")
	rc=$?
	result $rc "$fs: union mounted" "$out"
	[ $rc = 0 ] || continue
	klog_start=$(dmesg | wc -l)
	for s in ${stressors[$fs]}; do
		# shellcheck disable=SC2086 # (the extra options are words)
		out=$(cd "$mnt/d" && timeout $((seconds * 20 + 120)) stress-ng --"$s" 2 \
			${extra[$s]:-} --timeout "${seconds}s" --verify --temp-path "$mnt/d" 2>&1)
		rc=$?
		skipped=$(grep -iE "skipping|not supported|not implemented" <<<"$out")
		result $([ $rc = 0 ] && [ -z "$skipped" ]; echo $?) "$fs: stress-ng --$s" \
			"exit status $rc
$(grep -vE "dispatching|setting to a|successful run|metrc" <<<"$out" | tail -15)"
	done
	bad=$(dmesg | tail -n +$((klog_start + 1)) | grep -E "$klog_bad_re")
	result $([ -z "$bad" ]; echo $?) "$fs: no kernel warning meanwhile" \
		"$(dmesg | tail -n +$((klog_start + 1)) | grep -E -A12 "$klog_bad_re" | head -40)"
	wrong=$(for i in $(seq 1 50); do [ "$(cat "$mnt/d/f$i")" = "$i" ] || echo "f$i"; done)
	result $([ -z "$wrong" ]; echo $?) "$fs: the lower files read as before" "$wrong"
	out=$(umount "$mnt" 2>&1)
	result $? "$fs: umount" "$out"
	out=$("$fsck" "$L" "$U" 2>&1)
	result $? "$fs: union-fsck finds the upper layer clean" "$(tail -20 <<<"$out")"
	umount "$LFS" "$UFS"
	rm -f "$w/l.img" "$w/u.img"
done

finish
