# SPDX-License-Identifier: GPL-2.0
# Mounts and layers of the selftests/*.sh scripts (source it after lib/tap.sh, whose
# diag and result it uses).
#
# A test of one union uses $work (a tmpfs the test mounts on a mktemp directory),
# $lower, $upper and $mnt (the union's mount point); they are empty until the test
# sets them:
#   registered                  the "union" filesystem type is registered
#   mounted DIR [FSTYPE]        an FSTYPE (default union) filesystem is mounted on DIR
#   mount_union                 mount $lower and $upper on $mnt; mount(8)'s output is
#                               kept in $mount_out and printed as a diag line
#   umount_union                unmount $mnt; an error is printed as a diag line
#   umount_all DIR [FSTYPE]     unmount every FSTYPE (default union) mount on DIR,
#                               lazily if it is busy
#   remove_work                 unmount the tmpfs of $work and remove the directory
#   cleanup_work                for the EXIT trap: leave for /, umount_all $mnt,
#                               remove_work
#
# A test against the oracle of a plain copy of the lower layer (cp -a) uses $L
# (lower), $U (upper), $M (the union) and $C (the copy) in the tmpfs $w:
#   oracle_layers NAME          mount a tmpfs on a new /tmp/union-NAME.XXXXXX ($w),
#                               make $L, $U and $M in it; $C is for the test's copy;
#                               at exit $M and $w are unmounted and $w removed
#   both CMD                    CMD on the union ($M) and on the plain copy ($C), with
#                               $T set to the tree: same output and status, or fail
#   check_both NAME CMD         one result: both CMD, its difference as the diag
#   as UID[:GROUPS] CMD         CMD as UID (gid UID), with supplementary GROUPS or none
# shellcheck shell=bash

work=""
lower=""
upper=""
mnt=""
mount_out=""

registered()
{
	awk '$NF == "union" { found = 1 } END { exit !found }' /proc/filesystems
}

mounted()
{
	awk -v m="$1" -v t="${2:-union}" '$2 == m && $3 == t { found = 1 }
					  END { exit !found }' /proc/self/mounts
}

mount_union()
{
	local rc

	mount_out=$(LC_ALL=C mount -t union -o "lower=$lower,upper=$upper" \
		    none "$mnt" 2>&1)
	rc=$?
	[ -n "$mount_out" ] && diag "mount: $mount_out"
	return $rc
}

umount_union()
{
	local out rc

	out=$(umount "$mnt" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || diag "umount: $out"
	return $rc
}

umount_all()
{
	[ -n "$1" ] || return 0
	while mounted "$1" "${2:-union}"; do
		umount "$1" 2>/dev/null || umount -l "$1" || break
	done
}

remove_work()
{
	[ -n "$work" ] || return 0
	umount -l "$work" 2>/dev/null
	rmdir "$work" 2>/dev/null
}

cleanup_work()
{
	cd / || true
	umount_all "$mnt"
	remove_work
}

oracle_layers()
{
	w=$(mktemp -d "/tmp/union-$1.XXXXXX")
	mount -t tmpfs -o size=64m tmpfs "$w" || { echo "1..0 # cannot mount tmpfs"; exit 1; }
	trap 'umount "$w/mnt" 2>/dev/null; umount "$w" 2>/dev/null; rmdir "$w"' EXIT
	L=$w/lower U=$w/upper M=$w/mnt C=$w/copy
	mkdir -p "$L" "$U" "$M"
}

both()
{
	local out_m out_c
	out_m=$(T=$M bash -c "$*" 2>&1; echo "rc=$?")
	out_c=$(T=$C bash -c "$*" 2>&1; echo "rc=$?")
	out_m=${out_m//$M/TREE}
	out_c=${out_c//$C/TREE}
	if [ "$out_m" = "$out_c" ]; then
		# What both said, for the log (the test's evidence).
		sed 's/^/#   /' <<<"$out_m" >&2
		return 0
	fi
	echo "union: $out_m"
	echo "copy:  $out_c"
	return 1
}

check_both()
{
	local out

	out=$(both "$2")
	result $? "$1" "$out"
}

as()
{
	local who=$1 uid groups
	shift
	uid=${who%%:*}
	groups=${who#*:}
	[ "$groups" = "$who" ] && groups=
	if [ -n "$groups" ]; then
		setpriv --reuid="$uid" --regid="$uid" --groups="$groups" -- bash -c "$*"
	else
		setpriv --reuid="$uid" --regid="$uid" --clear-groups -- bash -c "$*"
	fi
}
export -f as
