#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Persistence across a new lower image (union.rst, "A new lower layer"), the
# way a LiveCD with a persistent upper layer is upgraded: image A (squashfs)
# with an upper layer, changes made through the union, then image B (A with
# files added, changed and removed) under the same upper layer.
#
# - the first mount records the lower layer on the upper root
#   (trusted.union.lower); the same image mounts again;
# - another image fails with ESTALE and a message naming -o remerge, also
#   read-only; remerge read-only is EROFS; remerge on a remount is EINVAL;
# - -o remerge: B's new files show in directories readdir had copied up
#   (opaque from directory copy-up is dropped), the user's changes stay:
#   written files, removals (whiteouts), a directory made over a removed one
#   (opaque of the user's), chmod of a file (a metadata-only copy: B's data,
#   the user's mode; setuid and file capabilities only where B's file has
#   them; its times), a metadata-only copy whose file B removed is gone; the
#   upper layer passes union-fsck against B; later mounts need no option;
# - an upper layer of an earlier version (no record) mounts and is recorded;
# - a different tmpfs lower (another UUID) is another lower layer too;
# - a re-merge interrupted after a directory lost its opaque flag leaves no stale
#   fallthru when run again.
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"
fsck=$(dirname "$0")/build/tools/union-fsck

make_work persist size=128m || { echo "not ok 1 tmpfs"; exit 1; }
A=$w/a.sqfs B=$w/b.sqfs LA=$w/la LB=$w/lb U=$w/upper M=$w/mnt
trap 'cleanup_work "$M" "$LA" "$LB" "$w/t1" "$w/t2" "$w/t3" "$w/t4"' EXIT
echo "TAP version 13"
mkdir -p "$LA" "$LB" "$U" "$M" "$w/src/d" "$w/src/e" "$w/src/etc"
echo keep >"$w/src/d/keep"
echo old >"$w/src/d/changed"
echo gone >"$w/src/d/gone"
echo meta-a >"$w/src/d/meta"
echo dropped >"$w/src/d/dropped"
echo meta-dropped >"$w/src/d/metadropped"
echo old >"$w/src/e/old"
echo conf-a >"$w/src/etc/conf"
# d/priv: setuid with a file capability (cap_net_raw) in A, neither in B;
# d/suid: setuid in both.
cap=0x0100000200200000000000000000000000000000
echo priv-a >"$w/src/d/priv" && chmod 4755 "$w/src/d/priv" &&
	setfattr -n security.capability -v $cap "$w/src/d/priv"
echo suid-a >"$w/src/d/suid" && chmod 4755 "$w/src/d/suid"
# d/hl, d/hl2: one file with two links in A; in B d/hl alone, new data.
echo hl-a >"$w/src/d/hl" && ln "$w/src/d/hl" "$w/src/d/hl2"
touch -m -d @1000000000 "$w/src/d/priv" "$w/src/d/meta"	# times a remerge must keep
mksquashfs "$w/src" "$A" -quiet -noappend -all-root >/dev/null
# Image B: A plus d/new and etc/new, minus d/dropped and d/metadropped, d/meta changed.
rm "$w/src/d/dropped" "$w/src/d/metadropped"
echo new >"$w/src/d/new"
echo new >"$w/src/etc/new"
echo meta-b-longer >"$w/src/d/meta"
setfattr -x security.capability "$w/src/d/priv" && chmod 0755 "$w/src/d/priv" &&
	echo priv-b-new >"$w/src/d/priv"
echo suid-b-new >"$w/src/d/suid"
rm "$w/src/d/hl2" && echo hl-b-new >"$w/src/d/hl"
mksquashfs "$w/src" "$B" -quiet -noappend -all-root >/dev/null
mount -o loop,ro "$A" "$LA" && mount -o loop,ro "$B" "$LB"
result $? "setup: images A and B"

# ---- image A: first mount records it, changes through the union
out=$(mount_union_o "lower=$LA,upper=$U" "$M")
r=$?
id=$(getfattr --absolute-names -n trusted.union.lower --only-values "$U" 2>/dev/null)
[ $r -eq 0 ] && [[ "$id" == "v1 squashfs blocks="* ]]
result $? "first_mount_records_the_lower_layer" "$out
recorded: $id"
(
	set -e
	ls "$M/d" "$M/etc" "$M" >/dev/null	# directory copy-up: opaque + fallthrus
	echo new-content >"$M/d/changed"
	rm "$M/d/gone"
	chmod 600 "$M/d/meta" "$M/d/metadropped"	# metadata-only copies
	rm "$M/d/hl2"		# a metadata-only indexed copy (the index entry only)
	chmod 600 "$M/d/hl"	# now its data too (an upper name of it)
	setfattr -n user.tag -v 1 "$M/d/priv" "$M/d/suid"
	rm -r "$M/e" && mkdir "$M/e" && echo mine >"$M/e/mine"
)
result $? "changes_through_the_union_on_A"
getfattr --absolute-names -n trusted.union.metacopy "$U/d/meta" >/dev/null 2>&1 &&
	getfattr --absolute-names -n trusted.union.opaque "$U/d" >/dev/null 2>&1
result $? "d_is_opaque_and_d_meta_a_metadata_only_copy"
priv_mtime=$(stat -c %Y "$M/d/priv") meta_mtime=$(stat -c %Y "$M/d/meta")
umount "$M"
out=$(mount_union_o "lower=$LA,upper=$U" "$M")
result $? "the_same_image_mounts_again" "$out"
umount "$M"

# ---- image B without remerge: refused
out=$(mount_union_o "lower=$LB,upper=$U" "$M")
r=$?
msg=$(dmesg | grep 'was made over another lower layer' | tail -1)
[ $r -ne 0 ] && grep -q 'Stale file handle' <<<"$out" && grep -q 'remerge' <<<"$msg"
result $? "another_image_fails_with_ESTALE_and_names_remerge" "$out
$msg"
out=$(mount_union_o "ro,lower=$LB,upper=$U" "$M")
r=$?
[ $r -ne 0 ] && grep -q 'Stale file handle' <<<"$out"
result $? "another_image_read_only_fails_too" "$out"
out=$(mount_union_o "ro,remerge,lower=$LB,upper=$U" "$M")
r=$?
msg=$(dmesg | grep 'remerge writes to upper' | tail -1)
[ $r -ne 0 ] && grep -q 'read-only' <<<"$out" && [ -n "$msg" ]
result $? "remerge_read_only_is_EROFS" "$out
$msg"
[ "$(getfattr --absolute-names -n trusted.union.lower --only-values "$U" 2>/dev/null)" = "$id" ] &&
	getfattr --absolute-names -n trusted.union.opaque "$U/d" >/dev/null 2>&1
result $? "refused_mounts_changed_nothing"

# ---- image B with remerge
out=$(mount_union_o "remerge,lower=$LB,upper=$U" "$M")
r=$?
result $r "remerge_mounts_B" "$out"
if [ $r -eq 0 ]; then
	got=$(cd "$M" && ls d etc e | tr '\n' ' ')
	[ "$(ls "$M/d" | tr '\n' ' ')" = "changed hl keep meta new priv suid " ]
	result $? "d_shows_B_s_new_file_and_the_user_s_removals" "$(ls -la "$M/d")"
	[ "$(ls "$M/etc" | tr '\n' ' ')" = "conf new " ]
	result $? "etc_shows_B_s_new_file" "$got"
	[ "$(ls "$M/e")" = mine ]
	result $? "a_directory_the_user_remade_stays_opaque" "$(ls -la "$M/e")"
	[ "$(cat "$M/d/changed")" = new-content ] && [ "$(cat "$M/d/keep")" = keep ]
	result $? "written_files_keep_the_user_s_data"
	[ "$(cat "$M/d/meta")" = meta-b-longer ] && [ "$(stat -c %a "$M/d/meta")" = 600 ] &&
		[ "$(stat -c %s "$M/d/meta")" = 14 ]
	result $? "a_chmod_keeps_its_mode_over_B_s_data" "$(stat "$M/d/meta"; cat "$M/d/meta")"
	[ ! -e "$M/d/metadropped" ] && [ ! -e "$U/d/metadropped" ]
	result $? "a_metadata_only_copy_of_a_file_B_removed_is_gone"
	# d/hl, indexed and changed on A, stays a file of upper's own with A's data
	# and the user's mode (never zeros, and the chmod is not lost).
	[ "$(cat "$M/d/hl")" = hl-a ] && [ "$(stat -c %h "$M/d/hl")" = 1 ] &&
		[ "$(stat -c %a "$M/d/hl")" = 600 ] && [ ! -e "$M/d/hl2" ]
	result $? "an_indexed_copy_keeps_its_data_and_mode" "$(stat "$M/d/hl"; od -c "$M/d/hl" | head -3)"
	# B's data under A's privileges would be a setuid or capable binary that B
	# does not ship: a re-pointed copy keeps setuid/setgid only where B's file
	# has them, and B's file capabilities.  Its times stay what they were.
	[ "$(cat "$M/d/priv")" = priv-b-new ] && [ "$(stat -c %a "$M/d/priv")" = 755 ] &&
		[ "$(stat -c %a "$U/d/priv")" = 755 ] &&
		! getfattr --absolute-names -n security.capability "$M/d/priv" >/dev/null 2>&1 &&
		! getfattr --absolute-names -n security.capability "$U/d/priv" >/dev/null 2>&1 &&
		[ "$(getfattr --absolute-names --only-values -n user.tag "$M/d/priv")" = 1 ] &&
		[ "$(cat "$M/d/suid")" = suid-b-new ] && [ "$(stat -c %a "$M/d/suid")" = 4755 ]
	result $? "a_re_pointed_copy_has_no_privileges_B_s_file_lacks" "$(stat "$M/d/priv" "$M/d/suid"
		getfattr -d -m - "$U/d/priv" 2>&1)"
	[ "$(stat -c %Y "$M/d/priv")" = "$priv_mtime" ] && [ "$(stat -c %Y "$M/d/meta")" = "$meta_mtime" ]
	result $? "a_re_pointed_copy_keeps_its_times" "$(stat "$M/d/priv" "$M/d/meta"; echo "want $priv_mtime $meta_mtime")"
	umount "$M"
	out=$("$fsck" "$LB" "$U" 2>&1)
	result $? "upper_passes_union_fsck_against_B" "$out"
	out=$(mount_union_o "lower=$LB,upper=$U" "$M")
	result $? "B_mounts_without_the_option_afterwards" "$out"
	[ "$(cat "$M/d/meta")" = meta-b-longer ] && [ "$(ls "$M/d" | tr '\n' ' ')" = "changed hl keep meta new priv suid " ]
	result $? "and_shows_the_same"
	out=$(mount -o remount,remerge "$M" 2>&1)
	r=$?
	msg=$(dmesg | grep 'remerge applies when mounting' | tail -1)
	[ $r -ne 0 ] && grep -q 'bad option' <<<"$out" && [ -n "$msg" ]
	result $? "remerge_on_a_remount_is_EINVAL" "$out
$msg"
	umount "$M"
fi

# ---- an upper layer of an earlier version (no record): mounts, is recorded
setfattr -x trusted.union.lower "$U"
out=$(mount_union_o "lower=$LB,upper=$U" "$M")
r=$?
[ $r -eq 0 ] && getfattr --absolute-names -n trusted.union.lower "$U" >/dev/null 2>&1
result $? "an_upper_without_a_record_mounts_and_is_recorded" "$out"
umount "$M" 2>/dev/null

# ---- tmpfs lowers: another instance is another lower layer
mkdir -p "$w/t1" "$w/t2" "$w/u2"
mount -t tmpfs tmpfs "$w/t1" && mount -t tmpfs tmpfs "$w/t2" && echo x >"$w/t1/x" &&
	echo x >"$w/t2/x"
out=$(mount_union_o "lower=$w/t1,upper=$w/u2" "$M") && umount "$M" &&
	! out=$(mount_union_o "lower=$w/t2,upper=$w/u2" "$M") && grep -q 'Stale file handle' <<<"$out"
result $? "another_tmpfs_is_another_lower_layer" "$out"
umount "$M" 2>/dev/null

# ---- a re-merge interrupted after dropping a directory's opaque flag (as a crash
# there leaves it), run again: the directory's fallthrus still go, so none stands
# for an entry of the new lower layer with its old type.
mkdir -p "$w/t3" "$w/t4" "$w/u3"
mount -t tmpfs tmpfs "$w/t3" && mount -t tmpfs tmpfs "$w/t4" && echo x >"$w/t3/x" &&
	mkdir "$w/t4/x"
out=$(mount_union_o "lower=$w/t3,upper=$w/u3" "$M") && ls "$M" >/dev/null && umount "$M" &&
	[ -c "$w/u3/x" ] && setfattr -x trusted.union.opaque "$w/u3" &&
	out=$(mount_union_o "remerge,lower=$w/t4,upper=$w/u3" "$M")
r=$?
[ $r -eq 0 ] && [ ! -e "$w/u3/x" ] && [ -d "$M/x" ] &&
	[ "$(find "$M" -mindepth 1 -maxdepth 1 -name x -printf '%y')" = d ]
result $? "an_interrupted_remerge_run_again_leaves_no_stale_fallthru" "$out
$(ls -la "$w/u3" 2>&1)"
umount "$M" 2>/dev/null

finish
