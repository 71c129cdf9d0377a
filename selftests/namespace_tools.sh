#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The namespace write path of a union as coreutils use it: `mv` of a lower
# directory (rename(2) gives EXDEV, mv falls back to copy + remove), `cp -a`
# of the result, `find` over everything, and `rm -rf` of a lower tree of
# 10,000 entries (5,000 in one directory), which must terminate and remove
# everything: the union dir is gone, stays gone after a remount, and a
# whiteout is left for it on upper.  At the end the lower tree is exactly
# what it was (names, types, modes, owners, sizes, times, contents, xattrs).
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

NTESTS=21
RM_TIMEOUT=${RM_TIMEOUT:-600}

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"

# Everything about a tree that must survive a copy: relative names, types,
# modes, owners, file sizes, mtimes, symlink targets, file contents, user.*
# xattrs.
tree_sig()	# tree_sig DIR
{
	(
		cd "$1" || exit 1
		find . -mindepth 1 \( -type d -printf '%P %y %m %U:%G %T@\n' \) -o \
			-printf '%P %y %m %U:%G %s %T@ %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
		# In name order, not readdir order (which no filesystem promises).
		find . -print0 | LC_ALL=C sort -z |
			xargs -0r getfattr -h -d -m '^user\.' 2>/dev/null
	)
}

# Like tree_sig, plus ctime, all xattrs and directory sizes: for the lower
# layer, which must not change at all.
lower_sig()
{
	(
		cd "$lower" || exit 1
		find . -printf '%P %y %m %U:%G %s %T@ %C@ %n %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
		find . -print0 | LC_ALL=C sort -z | xargs -0r getfattr -h -d -m - 2>/dev/null
	) | sha256sum
}

# Is upper path $1 a whiteout (character device 0/0)?
is_whiteout()
{
	[ "$(stat -c '%F %t:%T' "$1" 2>/dev/null)" = "character special file 0:0" ]
}

# Compare two signatures; show the first differences.
same()	# same NAME SIG1 SIG2
{
	if [ "$2" = "$3" ]; then
		return 0
	fi
	diag "$1 differs:"
	diag "$(diff <(echo "$2") <(echo "$3") | head -20)"
	return 1
}

trap cleanup_work EXIT
trap 'exit 1' INT TERM

echo "TAP version 13"
echo "1..$NTESTS"

# ---- the lower tree ----
setup()
{
	local t=$lower/tree i

	mkdir -p "$t/a/b/c" "$t/empty" "$t/owned" "$lower/big/flat" &&
	echo "top" >"$t/top.txt" &&
	head -c 100000 /dev/urandom >"$t/a/random.bin" &&
	truncate -s 1M "$t/a/b/sparse" &&
	echo "deep" >"$t/a/b/c/deep.txt" &&
	ln -s ../top.txt "$t/a/link" &&
	ln -s /nonexistent "$t/dangling" &&
	mkfifo -m 0640 "$t/a/fifo" &&
	echo "x" >"$t/owned/file" &&
	chown -R 1000:1000 "$t/owned" &&
	chmod 0751 "$t/a" && chmod 0700 "$t/a/b/c" && chmod 0600 "$t/top.txt" &&
	chmod 4755 "$t/a/b/c/deep.txt" &&
	setfattr -n user.colour -v blue "$t/top.txt" &&
	setfattr -n user.dir -v yes "$t/a" &&
	find "$t" -exec touch -h -d '2001-02-03 04:05:06.123456789' {} + &&
	seq -f "$lower/big/flat/f%04.0f" 0 4999 | xargs touch &&
	for i in $(seq -w 0 49); do
		mkdir "$lower/big/d$i" || return 1
		seq -f "$lower/big/d$i/g%03.0f" 0 98 | xargs touch || return 1
	done
}

make_work nstools
lower="$work/lower"
upper="$work/upper"
mnt="$work/mnt"
mkdir "$lower" "$upper" "$mnt" && setup
result $? "setup_lower_tree"
entries=$(find "$lower/big" -mindepth 1 | wc -l)
diag "lower/big has $entries entries"
lower_before=$(lower_sig)
tree_before=$(tree_sig "$lower/tree")

# 2
mount_union && mounted "$mnt"
result $? "mount"

# 2b: tar c of the fresh union, its first traversal (every directory is copied up by
# readdir on the way): GNU tar checks each directory's ctime before and after reading it
# and fails (exit 1, "file changed as we read it") if it moved.
tar cf - -C "$mnt" . 2>"$work/tar.err" | cat >/dev/null
rc=${PIPESTATUS[0]}
out=$(head -5 "$work/tar.err")
[ $rc -eq 0 ] && [ -z "$out" ] || { diag "tar c: exit $rc: $out"; rc=1; }
[ -d "$upper/big/flat" ] || { diag "tar c did not copy up big/flat"; rc=1; }
result $rc "tar_c_of_first_traversal_sees_no_change"

# 3: mv of a lower directory (EXDEV -> copy and remove)
out=$(mv "$mnt/tree" "$mnt/moved" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "mv: exit $rc: $out"
result $rc "mv_lower_dir_succeeds"

# 4
same "moved tree" "$tree_before" "$(tree_sig "$mnt/moved")"
result $? "mv_result_has_same_contents"

# 5
! [ -e "$mnt/tree" ] && ! [ -L "$mnt/tree" ] && is_whiteout "$upper/tree" &&
	[ -d "$upper/moved" ]
rc=$?
[ $rc -eq 0 ] || diag "union tree: $(stat -c %F "$mnt/tree" 2>&1); upper tree: $(stat -c '%F %t:%T' "$upper/tree" 2>&1)"
result $rc "mv_source_gone_whiteout_on_upper"

# 6: cp -a of the moved tree
out=$(cp -a "$mnt/moved" "$mnt/copy" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "cp -a: exit $rc: $out"
[ $rc -eq 0 ] && same "cp -a copy" "$tree_before" "$(tree_sig "$mnt/copy")"
result $? "cp_a_copy_has_same_contents"

# 7: find sees every entry once, and stat works on each
list=$(find "$mnt" 2>&1)
rc=$?
dups=$(sort <<<"$list" | uniq -d)
[ -z "$dups" ] || diag "listed twice: $(head -5 <<<"$dups")"
cnt=$(grep -c "^$mnt/big/" <<<"$list")
[ "$cnt" -eq "$entries" ] || diag "find lists $cnt entries under big, lower has $entries"
[ $rc -eq 0 ] && [ -z "$dups" ] && [ "$cnt" -eq "$entries" ]
result $? "find_lists_each_entry_once"

# 8: rm -rf of 10,000 lower entries terminates and succeeds
out=$(timeout -k 5 "$RM_TIMEOUT" rm -rf "$mnt/big" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "rm -rf: exit $rc (124 = did not finish in ${RM_TIMEOUT}s): $(head -5 <<<"$out")"
result $rc "rm_rf_big_lower_tree"

# 9
! [ -e "$mnt/big" ] && ! ls "$mnt" | grep -qx big
rc=$?
[ $rc -eq 0 ] || diag "after rm -rf: $(ls -la "$mnt/big" 2>&1 | head -5)"
result $rc "rm_rf_big_gone"

# 10
is_whiteout "$upper/big"
rc=$?
[ $rc -eq 0 ] || diag "upper big: $(stat -c '%F %t:%T' "$upper/big" 2>&1)"
result $rc "rm_rf_big_leaves_whiteout_on_upper"

view_before=$(ls -la --time-style=+ "$mnt" | tail -n +2; tree_sig "$mnt")

# 11
umount_union && mount_union && mounted "$mnt"
result $? "remount"

# 12
view_after=$(ls -la --time-style=+ "$mnt" | tail -n +2; tree_sig "$mnt")
same "view after remount" "$view_before" "$view_after"
result $? "view_same_after_remount"

# 13
! [ -e "$mnt/big" ] && ! [ -e "$mnt/tree" ]
result $? "removed_dirs_stay_gone_after_remount"

# 14
same "moved after remount" "$tree_before" "$(tree_sig "$mnt/moved")"
result $? "moved_tree_same_after_remount"

# 15: rm -rf of the copies (upper-only trees) leaves nothing on upper
out=$(rm -rf "$mnt/moved" "$mnt/copy" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "rm -rf: $out"
[ $rc -eq 0 ] && ! [ -e "$upper/moved" ] && ! [ -e "$upper/copy" ]
result $? "rm_rf_upper_only_trees"

# 16: the union is now empty
left=$(ls -A "$mnt" 2>&1)
[ -z "$left" ] || diag "left in union: $left"
[ -z "$left" ]
result $? "union_empty"

# 17
umount_union && mount_union && [ -z "$(ls -A "$mnt")" ]
result $? "union_empty_after_remount"

# 18: recreate the removed names: fresh, opaque, no lower entries
mkdir "$mnt/big" "$mnt/tree" && touch "$mnt/big/new" &&
	[ "$(ls -A "$mnt/big")" = new ] && [ -z "$(ls -A "$mnt/tree")" ] &&
	[ "$(getfattr --only-values -n trusted.union.opaque "$upper/big" 2>/dev/null)" = y ]
result $? "recreated_dirs_are_opaque"

# 19
umount_union && ! mounted "$mnt"
result $? "umount"

# 20
lower_after=$(lower_sig)
[ "$lower_before" = "$lower_after" ]
result $? "lower_unchanged"

finish $NTESTS
