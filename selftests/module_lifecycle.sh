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
NTESTS=13

work=""
mnt=""
lower=""
upper=""
failed=0
n=0

diag()
{
	local line

	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

result()	# result STATUS NAME
{
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=1
	fi
}

registered()
{
	awk '$NF == "union" { found = 1 } END { exit !found }' /proc/filesystems
}

mounted()	# is a union mounted on $mnt?
{
	awk -v m="$mnt" '$2 == m && $3 == "union" { found = 1 }
			 END { exit !found }' /proc/self/mounts
}

# mount_union: mount $lower/$upper on $mnt; mount(8)'s output goes to $mount_out
mount_out=""
mount_union()
{
	local rc

	mount_out=$(LC_ALL=C mount -t union -o "lower=$lower,upper=$upper" \
		    none "$mnt" 2>&1)
	rc=$?
	[ -n "$mount_out" ] && diag "mount: $mount_out"
	return $rc
}

# Unmount whatever we left behind and make sure the module ends up loaded.
cleanup()
{
	if [ -n "$mnt" ]; then
		while mounted; do
			umount "$mnt" 2>/dev/null || umount -l "$mnt" || break
		done
	fi
	if [ -n "$work" ]; then
		umount -l "$work" 2>/dev/null
		rmdir "$work" 2>/dev/null
	fi
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

work=$(mktemp -d /tmp/union-lifecycle.XXXXXX) && mount -t tmpfs tmpfs "$work" &&
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
mount_union && mounted
result $? "mount_union"

# 3: busy module cannot be removed
out=$(rmmod union 2>&1)
rc=$?
diag "rmmod union: exit $rc${out:+: $out}"
[ $rc -ne 0 ] && registered
result $? "rmmod_fails_while_mounted"

# 4: ... and the union is still mounted
mounted
result $? "still_mounted_after_failed_rmmod"

# 5: ... and the mount still works
out=$(ls -a "$mnt" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "ls $mnt: $out"
[ $rc -eq 0 ] && grep -qx hello <<<"$out"
result $? "mount_usable_after_failed_rmmod"

# 6: unmount
out=$(umount "$mnt" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "umount: $out"
[ $rc -eq 0 ] && ! mounted
result $? "umount"

# 7: idle module can be removed
out=$(rmmod union 2>&1)
rmmod_rc=$?
[ $rmmod_rc -eq 0 ] || diag "rmmod union: $out"
result $rmmod_rc "rmmod_succeeds_when_unused"

# 8: ... and the fs type is gone (only meaningful if rmmod worked)
[ $rmmod_rc -eq 0 ] && ! registered
result $? "unregistered_after_rmmod"

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

# 12: mounting works again
mount_union && mounted && ls "$mnt" >/dev/null
result $? "mount_after_insmod"

# 13: and unmounts cleanly
out=$(umount "$mnt" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "umount: $out"
[ $rc -eq 0 ] && ! mounted
result $? "umount_after_insmod"

if [ $n -ne $NTESTS ]; then
	diag "ran $n tests, planned $NTESTS"
	failed=1
fi
exit $failed
