#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module lifecycle of union.ko: while a union is mounted the module cannot be
# removed (and stays registered and usable); once unmounted it can be removed,
# after which the "union" fs type is gone; loading it again makes it work
# again.
#
# Must run as root with union.ko loaded ($UNION_REPO/union.ko). Prints TAP 13
# and leaves the module loaded.

set -u

KO="${UNION_REPO:-}/union.ko"
NTESTS=15

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"

# Unmount whatever we left behind and make sure the module ends up loaded.
cleanup()
{
	cleanup_work
	if ! registered; then
		out=$(insmod "$KO" 2>&1) || diag "cleanup: insmod $KO: $out"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "TAP version 13"
echo "1..$NTESTS"

if [ -z "${UNION_REPO:-}" ] || [ ! -f "$KO" ]; then
	diag "union.ko not found (UNION_REPO='${UNION_REPO:-}')"
fi

make_work lifecycle &&
	mkdir "$work/lower" "$work/upper" "$work/mnt" &&
	touch "$work/lower/hello"
if [ $? -ne 0 ]; then
	diag "cannot set up work area '$work'"
fi
lower="$work/lower"
upper="$work/upper"
mnt="$work/mnt"

# 1: loaded on entry
registered
result $? "union_registered_on_entry"

# 2: mount a union
mount_union && mounted "$mnt"
result $? "mount_union"

# 3: busy module cannot be removed
out=$(rmmod union 2>&1)
rc=$?
diag "rmmod union: exit $rc${out:+: $out}"
[ $rc -ne 0 ] && registered
result $? "rmmod_fails_while_mounted"

# 4: ... and the union is still mounted
mounted "$mnt"
result $? "still_mounted_after_failed_rmmod"

# 5: ... and the mount still works
out=$(ls -a "$mnt" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "ls $mnt: $out"
[ $rc -eq 0 ] && grep -qx hello <<<"$out"
result $? "mount_usable_after_failed_rmmod"

# 6: unmount
umount_union && ! mounted "$mnt"
result $? "umount"

# 7: idle module can be removed
out=$(rmmod union 2>&1)
rmmod_rc=$?
[ $rmmod_rc -eq 0 ] || diag "rmmod union: $out"
result $rmmod_rc "rmmod_succeeds_when_unused"

# 8: ... and the fs type is gone (only meaningful if rmmod worked)
[ $rmmod_rc -eq 0 ] && ! registered
result $? "unregistered_after_rmmod"

# 8b: ... and its /proc/fs/union is gone too
[ $rmmod_rc -eq 0 ] && [ ! -e /proc/fs/union ]
result $? "proc_stats_gone_after_rmmod"

# 9: ... so mounting fails, for lack of the fs type
if [ $rmmod_rc -ne 0 ]; then
	diag "module was not removed"
	rc=1
elif mount_union; then
	diag "mount -t union succeeded without the module"
	umount "$mnt"
	rc=1
else
	grep -q "unknown filesystem type" <<<"$mount_out"
	rc=$?
fi
result $rc "mount_fails_after_rmmod"

# 10: load it again
out=$(insmod "$KO" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "insmod $KO: $out"
result $rc "insmod_again"

# 11: registered again
registered
result $? "registered_after_insmod"

# 11b: with its counters, all zero on a fresh module
[ "$(awk '$2 != 0' /proc/fs/union/stats 2>&1)" = "" ] &&
	[ "$(wc -l </proc/fs/union/stats)" = 7 ]
result $? "proc_stats_fresh_after_insmod"

# 12: mounting works again
mount_union && mounted "$mnt" && ls "$mnt" >/dev/null
result $? "mount_after_insmod"

# 13: and unmounts cleanly
umount_union && ! mounted "$mnt"
result $? "umount_after_insmod"

finish $NTESTS
