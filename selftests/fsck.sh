#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# union-fsck (selftests/tools/union-fsck.c), the upper-layer format checker:
# upper layers built by hand (mknod, setfattr) with one kind of damage each
# must be reported (exit 1, the path in the message, the right class), the
# harmless redundancies the module may leave are notes (exit 0; exit 1 with
# --strict), usage errors exit 2, and an upper layer written by real union
# usage (cp, mv, rm, chmod, ls of lower directories, ln, mkdir over a
# whiteout, ...) is clean after umount.
#
# Must run as root (trusted.* xattrs, mknod).  The last part needs union.ko
# (FSCK_NO_UNION=1 skips it, for running the checker's own cases on a host).
# Prints TAP 13.

set -u

here=$(cd "$(dirname "$0")" && pwd)
fsck=$here/build/tools/union-fsck
# shellcheck source=selftests/lib/tap.sh
. "$here/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$here/lib/union.sh"

trap cleanup_work EXIT
trap 'exit 1' INT TERM

make_work fsck || {
	echo "1..1"; echo "not ok 1 setup: tmpfs on $work"; exit 1; }
L=$work/lower
U=$work/upper

# A fresh pair of layers: lower has a file, a directory with entries, a symlink
# and a fifo; upper is empty but for the work directory.
fresh()
{
	rm -rf "$L" "$U" && mkdir -p "$L/dir/sub" "$L/other" "$U/.union-work" &&
	chmod 0700 "$U/.union-work" &&
	echo file >"$L/file" && echo a >"$L/dir/a" && echo b >"$L/dir/b" &&
	ln -s file "$L/link" && mkfifo "$L/fifo" && echo x >"$L/other/x"
}

# The 8-byte little-endian origin value of a lower path, for setfattr.
origin_of()
{
	local hex i out=0x
	hex=$(printf '%016x' "$(stat -c %i "$1")")
	for i in 14 12 10 8 6 4 2 0; do out+=${hex:$i:2}; done
	echo "$out"
}

out=""
rc=0
run_fsck()	# run_fsck ARGS... -> $out, $rc
{
	out=$("$fsck" "$@" 2>&1)
	rc=$?
}

# expect NAME WANT_RC CLASS PATH [FSCK-OPTIONS...]: run union-fsck on $L $U;
# it must exit WANT_RC and (CLASS non-empty) print "CLASS $U/PATH: ..." (PATH
# is an extended regex: one|two).
expect()
{
	local name=$1 want=$2 cls=$3 path=$4 ok=0
	shift 4
	run_fsck "$@" "$L" "$U"
	[ "$rc" -eq "$want" ] || ok=1
	if [ -n "$cls" ] && ! grep -qE -- "^$cls $U/($path): " <<<"$out"; then
		ok=1
	fi
	if [ $ok -ne 0 ]; then
		diag "wanted exit $want and '$cls $U/$path: ...'; got exit $rc:"
		diag "$out"
	fi
	result $ok "$name"
}

echo "TAP version 13"
if [ ! -x "$fsck" ]; then
	echo "1..1"
	echo "not ok 1 union-fsck is built ($fsck)"
	exit 1
fi

# ---- a clean hand-made upper: every marker and xattr used as the format says
fresh && mkdir "$U/dir" "$U/dir/sub" &&
	setfattr -n trusted.union.opaque -v y "$U" && mknod "$U/other" c 0 4 &&
	setfattr -n trusted.union.opaque -v y "$U/dir" &&
	setfattr -n trusted.union.impure -v y "$U/dir" &&
	mknod "$U/dir/a" c 0 8 &&			# fallthru to lower file
	mknod "$U/dir/b" c 0 0 &&			# whiteout of lower b
	setfattr -n trusted.union.fallthru -v y "$U/dir/sub" &&
	mknod "$U/link" c 0 10 && mknod "$U/fifo" c 0 1 &&
	echo copied >"$U/dir/copied" &&
	setfattr -n trusted.union.origin -v "$(origin_of "$L/dir/a")" "$U/dir/copied" &&
	mknod "$U/file" c 0 0 && mkdir "$U/new" && echo n >"$U/new/f" &&
	setfattr -n trusted.union.fallthru -v y "$U/dir"
result $? "setup_clean_upper"
expect "clean_hand_made_upper_passes" 0 "" ""
expect "clean_hand_made_upper_passes_strict" 0 "" "" --strict
run_fsck --expect-clean "$L" "$U"
[ $rc -eq 0 ] && [ -z "$out" ]
result $? "clean_upper_prints_nothing"

# ---- fallthrus
fresh && mknod "$U/file" c 0 3
expect "fallthru_with_no_dtype_value" 1 ERROR file
fresh && mknod "$U/file" c 0 15
expect "fallthru_minor_15_is_no_dtype" 1 ERROR file
fresh && mknod "$U/dir" c 0 8
expect "fallthru_type_disagrees_with_lower_dir" 1 ERROR dir
fresh && mknod "$U/link" c 0 8
expect "fallthru_reg_over_lower_symlink" 1 ERROR link
fresh && mknod "$U/gone" c 0 8
expect "fallthru_with_lower_gone_is_allowed" 0 "" ""
expect "fallthru_with_lower_gone_is_a_note" 0 NOTE gone -v
fresh && mkdir "$U/newdir" && mknod "$U/newdir/x" c 0 8
expect "fallthru_in_dir_without_lower_counterpart" 1 ERROR newdir/x
fresh && mkdir "$U/dir" "$U/other" && setfattr -n trusted.union.opaque -v y "$U/dir" &&
	mkdir "$U/dir/sub" && mknod "$U/dir/sub/y" c 0 8
expect "fallthru_in_dir_not_merged_opaque_parent" 1 ERROR dir/sub/y
fresh && mkdir "$U/dir" && mknod "$U/dir/a" c 0 8
expect "fallthru_in_non_opaque_dir_is_a_note" 0 NOTE dir -v

# ---- whiteouts and other character devices 0/N
fresh && mkdir "$U/newdir" && mknod "$U/newdir/w" c 0 0
expect "whiteout_without_lower_dir_is_harmless" 0 "" ""
expect "whiteout_without_lower_dir_is_a_note" 0 NOTE newdir/w -v
expect "whiteout_without_lower_dir_strict_fails" 1 NOTE newdir/w --strict
fresh && mknod "$U/nothing" c 0 0
expect "whiteout_without_lower_entry_is_a_note" 0 NOTE nothing -v
fresh && mknod "$U/odd" c 0 16
expect "chardev_0_16_is_suspicious" 1 WARNING odd
fresh && mknod "$U/null" c 1 3
expect "real_chardev_is_fine" 0 "" ""

# ---- private xattrs on the wrong objects or with bad values
fresh && echo f >"$U/f" && setfattr -n trusted.union.opaque -v y "$U/f"
expect "opaque_on_a_file" 1 ERROR f
fresh && echo f >"$U/f" && setfattr -n trusted.union.fallthru -v y "$U/f"
expect "fallthru_xattr_on_a_file" 1 ERROR f
fresh && ln -s x "$U/s" && setfattr -h -n trusted.union.impure -v y "$U/s"
expect "impure_on_a_symlink" 1 ERROR s
fresh && mkdir "$U/dir" && setfattr -n trusted.union.opaque -v n "$U/dir"
expect "opaque_value_not_y" 1 ERROR dir
fresh && mkdir "$U/dir" && setfattr -n trusted.union.impure -v yes "$U/dir"
expect "impure_value_yes" 1 ERROR dir
fresh && mkdir "$U/dir" && setfattr -n trusted.union.origin -v "$(origin_of "$L/dir")" "$U/dir"
expect "origin_on_a_directory" 1 ERROR dir
fresh && echo f >"$U/file" && setfattr -n trusted.union.origin -v 0x01020304 "$U/file" &&
	setfattr -n trusted.union.impure -v y "$U"
expect "origin_not_8_bytes" 1 ERROR file
fresh && echo f >"$U/file" && setfattr -n trusted.union.origin -v 0x3930000000010000 "$U/file" &&
	setfattr -n trusted.union.impure -v y "$U"
expect "origin_not_a_lower_inode" 1 ERROR file
fresh && mkdir "$U/dir" && echo f >"$U/dir/a" &&
	setfattr -n trusted.union.origin -v "$(origin_of "$L/dir/a")" "$U/dir/a"
expect "origin_in_parent_not_impure" 1 ERROR dir/a
fresh && echo 1 >"$U/one" && echo 2 >"$U/two" && setfattr -n trusted.union.impure -v y "$U" &&
	setfattr -n trusted.union.origin -v "$(origin_of "$L/file")" "$U/one" &&
	setfattr -n trusted.union.origin -v "$(origin_of "$L/file")" "$U/two"
expect "origin_shared_by_two_files" 1 ERROR "one|two"
fresh && echo 1 >"$U/one" && ln "$U/one" "$U/two" && setfattr -n trusted.union.impure -v y "$U" &&
	setfattr -n trusted.union.origin -v "$(origin_of "$L/file")" "$U/one"
expect "origin_on_hard_links_of_one_file_is_fine" 0 "" ""
fresh && mknod "$U/file" c 0 0 && setfattr -n trusted.union.opaque -v y "$U/file"
expect "xattr_on_a_whiteout" 1 ERROR file
fresh && mknod "$U/file" c 0 8 && setfattr -n trusted.union.origin -v "$(origin_of "$L/file")" "$U/file" &&
	setfattr -n trusted.union.impure -v y "$U"
expect "origin_on_a_fallthru" 1 ERROR file
fresh && mkdir "$U/d" && setfattr -n trusted.union.colour -v y "$U/d"
expect "unknown_private_xattr" 1 WARNING d
fresh && mkdir "$U/d" && setfattr -n trusted.union.fallthru -v y "$U/d"
expect "stale_directory_fallthru_is_a_note" 0 NOTE d -v

# ---- metadata-only copies: a hole of the lower size, an origin, the marker
meta()	# meta NAME LOWER-PATH: a metadata-only copy of LOWER-PATH at $U/NAME
{
	truncate -s "$(stat -c %s "$2")" "$U/$1" &&
		setfattr -n trusted.union.origin -v "$(origin_of "$2")" "$U/$1" &&
		setfattr -n trusted.union.metacopy -v y "$U/$1" &&
		setfattr -n trusted.union.impure -v y "$(dirname "$U/$1")"
}
fresh && meta file "$L/file"
expect "metacopy_is_allowed" 0 "" ""
fresh && meta file "$L/file" && setfattr -n trusted.union.metacopy -v n "$U/file"
expect "metacopy_value_not_y" 1 ERROR file
fresh && meta file "$L/file" && setfattr -x trusted.union.origin "$U/file"
expect "metacopy_without_origin" 1 ERROR file
fresh && meta file "$L/file" && truncate -s 1 "$U/file"
expect "metacopy_size_differs_from_lower" 1 ERROR file
fresh && meta file "$L/file" && rm "$L/file"
expect "metacopy_lower_gone" 1 ERROR file
fresh && meta file "$L/file" && cp "$L/file" "$L/file.new" && mv "$L/file.new" "$L/file"
expect "metacopy_lower_replaced" 1 ERROR file
fresh && meta file "$L/file" && mv "$U/file" "$U/moved" && mkdir -p "$L/x"
expect "metacopy_at_a_name_lower_lacks" 1 ERROR moved
fresh && mkdir "$U/dir" && setfattr -n trusted.union.metacopy -v y "$U/dir"
expect "metacopy_on_a_directory" 1 ERROR dir
fresh && meta file "$L/file" && ln "$U/file" "$U/file2"
expect "metacopy_with_two_links" 1 ERROR "file|file2"

# ---- protection flags (chattr +a/+i through the union): "a" and/or "i"
fresh && touch "$U/f2" && mkdir "$U/d2" && setfattr -n trusted.union.protattr -v a "$U/f2" &&
	setfattr -n trusted.union.protattr -v ai "$U/d2"
expect "protattr_is_allowed" 0 "" ""
fresh && touch "$U/f2" && setfattr -n trusted.union.protattr -v x "$U/f2"
expect "protattr_bad_value" 1 ERROR f2
fresh && ln -s f "$U/l2" && setfattr -h -n trusted.union.protattr -v i "$U/l2"
expect "protattr_on_a_symlink" 1 ERROR l2
fresh && mknod "$U/file" c 0 8 && setfattr -h -n trusted.union.protattr -v i "$U/file"
expect "protattr_on_a_marker" 1 ERROR file

# ---- the lower layer's identity (persist.rs): on the upper root only
fresh && setfattr -n trusted.union.lower -v "v1 tmpfs uuid=00 root=2" "$U"
expect "lower_identity_on_the_root_is_allowed" 0 "" ""
fresh && mkdir "$U/dir" && setfattr -n trusted.union.lower -v "v1 tmpfs uuid=00 root=2" "$U/dir"
expect "lower_identity_below_the_root" 1 WARNING dir
fresh && setfattr -n trusted.union.lower -v "garbage" "$U"
expect "lower_identity_not_v1" 1 "" ""

# ---- the work directory
fresh && touch "$U/.union-work/#1"
expect "work_dir_leftover_file" 1 ERROR ".union-work/#1"
fresh && mknod "$U/.union-work/#2" c 0 0
expect "work_dir_leftover_whiteout" 1 ERROR ".union-work/#2"
fresh && mknod "$U/.union-work/fallthru.8" c 0 8 && ln "$U/.union-work/fallthru.8" "$U/file"
expect "work_dir_shared_marker_is_allowed" 0 "" ""
fresh && mknod "$U/.union-work/fallthru.8" c 0 4
expect "work_dir_shared_marker_of_wrong_type" 1 ERROR ".union-work/fallthru.8"
fresh && touch "$U/.union-work/fallthru.8"
expect "work_dir_shared_marker_not_a_device" 1 ERROR ".union-work/fallthru.8"
fresh && mknod "$U/.union-work/whiteout" c 0 0 && ln "$U/.union-work/whiteout" "$U/file"
expect "work_dir_shared_whiteout_is_allowed" 0 "" ""
fresh && mknod "$U/.union-work/whiteout" c 0 8
expect "work_dir_shared_whiteout_not_a_whiteout" 1 ERROR ".union-work/whiteout"
fresh && rmdir "$U/.union-work" && touch "$U/.union-work"
expect "work_dir_not_a_directory" 1 ERROR ".union-work"
# ---- the hard-link index: an indexed copy of a lower file with two links
indexed()	# indexed NAME LOWER-PATH COUNT: an indexed copy of LOWER-PATH at $U/NAME
{
	idx="$U/.union-work/index/$(printf '%016x' "$(stat -c %i "$2")")"
	echo copy >"$U/$1" &&
		setfattr -n trusted.union.origin -v "$(origin_of "$2")" "$U/$1" &&
		setfattr -n trusted.union.lowerlinks -v "$3" "$U/$1" &&
		setfattr -n trusted.union.impure -v y "$(dirname "$U/$1")" &&
		mkdir -p "$U/.union-work/index" && chmod 0700 "$U/.union-work/index" &&
		ln "$U/$1" "$idx"
}
hl() { fresh && ln "$L/file" "$L/file2"; }
hl && indexed file "$L/file" 0x01000000
expect "indexed_copy_is_allowed" 0 "" ""
hl && indexed file "$L/file" 0x01000000 && rm "$idx"
expect "indexed_copy_without_index_entry" 1 ERROR file
hl && indexed file "$L/file" 0x0100
expect "lowerlinks_not_4_bytes" 1 ERROR file
hl && indexed file "$L/file" 0x01000000 && setfattr -x trusted.union.origin "$idx"
expect "index_entry_without_origin" 1 ERROR "\\.union-work/index/[0-9a-f]{16}"
hl && indexed file "$L/file" 0x00000000 && rm "$U/file"
expect "index_entry_no_name_shows" 1 WARNING "\\.union-work/index/[0-9a-f]{16}"
hl && indexed file "$L/file" 0x01000000 && rm "$U/file"
expect "index_entry_for_lower_names_is_allowed" 0 "" ""
# A metadata-only indexed copy (chmod or unlink of a name): linked in the index and
# at the changed name, which is a lower name of the file.
hl && indexed file "$L/file" 0x01000000 && truncate -s 0 "$U/file" &&
	truncate -s "$(stat -c %s "$L/file")" "$U/file" &&
	setfattr -n trusted.union.metacopy -v y "$U/file"
expect "indexed_metadata_only_copy_is_allowed" 0 "" ""
hl && indexed file "$L/file" 0x01000000 && truncate -s 1 "$U/file" &&
	setfattr -n trusted.union.metacopy -v y "$U/file"
expect "indexed_metadata_only_copy_size_differs" 1 ERROR file
hl && mkdir -p "$U/.union-work/index" && echo x >"$U/.union-work/index/junk"
expect "index_entry_not_named_by_an_inode" 1 ERROR ".union-work/index/junk"

fresh && chmod 0755 "$U/.union-work"
expect "work_dir_mode_not_0700" 1 WARNING ".union-work"
fresh && touch "$U/.union-work/#3"
expect "work_dir_leftover_is_a_note_with_mounted" 0 NOTE ".union-work/#3" --mounted -v
fresh && rmdir "$U/.union-work"
expect "no_work_dir_is_fine" 0 "" ""

# ---- several problems: one line each, counted
fresh && mknod "$U/file" c 0 3 && mknod "$U/odd" c 0 99 && mkdir "$U/nd" && mknod "$U/nd/f" c 0 8
run_fsck "$L" "$U"
[ $rc -eq 1 ] && [ "$(grep -cE '^(ERROR|WARNING) ' <<<"$out")" -eq 3 ] &&
	grep -q '^union-fsck: 3 problems (2 errors, 1 warnings)' <<<"$out"
r=$?; [ $r -eq 0 ] || diag "$out"
result $r "three_problems_three_lines_and_count"

# ---- usage and I/O errors
run_fsck "$L"
result $(( rc != 2 )) "usage_error_exits_2"
run_fsck "$L" "$work/nonexistent"
result $(( rc != 2 )) "missing_upper_exits_2"
run_fsck --bogus "$L" "$U"
result $(( rc != 2 )) "unknown_option_exits_2"

# ---- an upper written by real union usage is clean
if [ "${FSCK_NO_UNION:-0}" = 1 ]; then
	finish
fi
rm -rf "$L" "$U" && mkdir -p "$L" "$U" && mnt=$work/mnt && mkdir -p "$mnt" &&
	mkdir -p "$L/etc/sub" "$L/usr/bin" "$L/var/lib/x" "$L/d2" "$L/gone/deep" &&
	for i in 1 2 3 4 5; do echo "$i" >"$L/etc/f$i"; done &&
	echo bin >"$L/usr/bin/tool" && chmod 755 "$L/usr/bin/tool" &&
	ln -s f1 "$L/etc/lnk" && mkfifo "$L/etc/fifo" && echo deep >"$L/gone/deep/x" &&
	head -c 300000 /dev/urandom >"$L/var/lib/x/big" && ln "$L/etc/f5" "$L/etc/f5-link" &&
	head -c 5000 /dev/urandom >"$L/etc/h1" && ln "$L/etc/h1" "$L/etc/h2" &&
	ln "$L/etc/h1" "$L/etc/h3" &&
	mount_union_o "lower=$L,upper=$U" "$mnt"
r=$?
result $r "real_usage_mount"
if [ $r -eq 0 ]; then
	(
		set -e
		cd "$mnt"
		ls -la / . etc usr usr/bin var/lib/x >/dev/null
		echo more >>etc/f1				# copy-up by append
		chmod 600 etc/f2				# copy-up by chmod
		chown 7:7 etc/sub usr/bin/tool			# metadata only
		touch -d @1000000000 var/lib/x/big		# metadata only, then truncate
		rm etc/f3					# whiteout in an opaque dir
		mv etc/f4 etc/f4.moved				# rename of a lower file
		cp -a usr/bin/tool usr/bin/tool2
		mv usr/bin/tool var/lib/x/			# across directories
		rm -rf gone					# lower tree removed
		mkdir gone && echo again >gone/file		# mkdir over a whiteout
		mv d2 d2.moved					# EXDEV: mv copies
		ln etc/f1 etc/f1.link				# link of a copied-up file
		ln etc/f5 f5-top				# link of a lower file
		mkdir -p new/a/b && echo n >new/a/b/c && mv new renamed
		setfattr -n user.x -v 1 etc/lnk 2>/dev/null || true
		ln -s /nowhere etc/dangling
		truncate -s 1000 var/lib/x/big			# truncate copy-up
		rm etc/fifo
		rm etc/h2					# metadata-only indexed copy
		cmp etc/h1 "$L/etc/h1"
		chmod 640 etc/h1				# then its data
		cmp etc/h3 "$L/etc/h3"
		: >etc/f2 && echo over >etc/f2
		chattr +a etc/f5 && chattr +i usr && chattr +d etc/sub	# protattr, flags
		ls -laR . >/dev/null
		cat etc/f1 var/lib/x/big >/dev/null
	)
	r=$?
	[ $r -eq 0 ] || diag "union operations failed"
	result $r "real_usage_operations"
	umount "$mnt"
	result $? "real_usage_umount"
	mnt=""
	run_fsck -v "$L" "$U"
	diag "$out"
	result $rc "real_usage_upper_is_clean"
	mount_union_o "lower=$L,upper=$U" "$work/mnt" && mnt=$work/mnt &&
		find "$mnt" >/dev/null && run_fsck "$L" "$U"
	r=$rc; [ $r -eq 0 ] || diag "$out"
	result $r "real_usage_upper_is_clean_while_mounted"
	chattr -a "$mnt/etc/f5" && chattr -i "$mnt/usr"
	umount "$mnt" && mnt=""
fi
finish
