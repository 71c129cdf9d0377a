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
#   mount_union_o OPTS [DIR]    mount -t union -o OPTS on DIR (default $mnt); prints
#                               mount(8)'s messages (for a test to check them)
#   umount_union                unmount $mnt; an error is printed as a diag line
#   umount_all DIR [FSTYPE]     unmount every FSTYPE (default union) mount on DIR,
#                               lazily if it is busy
#   make_work NAME [OPTS]       mount a tmpfs (with options OPTS) on a new
#                               /tmp/union-NAME.XXXXXX, $work (and $w); non-zero if
#                               that fails
#   remove_work                 unmount the tmpfs of $work and remove the directory
#   umount_dirs DIR...          unmount whatever is mounted on each DIR (lazily if
#                               it is busy)
#   cleanup_work [DIR...]       for the EXIT trap: leave for /, umount_all $mnt,
#                               umount_dirs DIR..., remove_work
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

mount_union_o()
{
	LC_ALL=C mount -t union -o "$1" none "${2:-$mnt}" 2>&1
}

mount_union()
{
	local rc

	mount_out=$(mount_union_o "lower=$lower,upper=$upper")
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

make_work()
{
	work=$(mktemp -d "/tmp/union-$1.XXXXXX") || return 1
	w=$work
	mount -t tmpfs ${2:+-o "$2"} tmpfs "$work"
}

umount_dirs()
{
	local d

	for d in "$@"; do
		[ -n "$d" ] || continue
		while mountpoint -q "$d" 2>/dev/null; do
			umount "$d" 2>/dev/null || umount -l "$d" || break
		done
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
	umount_dirs "$@"
	remove_work
}

oracle_layers()
{
	make_work "$1" size=64m || { echo "1..0 # cannot mount tmpfs"; exit 1; }
	trap 'cleanup_work "$w/mnt"' EXIT
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
