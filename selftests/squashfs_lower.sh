#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A squashfs image as the lower layer of a union: builds a tree (files,
# directories, symlinks, a file with user.* xattrs, a sparse file), packs it
# with mksquashfs -xattrs, loop-mounts it read-only, puts an upper layer on
# tmpfs over it (a covering file, whiteouts, an opaque directory with a
# fallthru, new files), mounts the union and checks the merged listing, file
# contents against the source tree, symlinks, xattrs and inode numbers.  Then
# changes the union in an ordered sequence (copy-up on write, append,
# truncate, chmod, chown, utimes, setxattr, removexattr; symlink, link, mkfifo,
# mkdir, mkdir over a whiteout, rename of a file, mv of a lower directory,
# unlink/rmdir/rm -r of lower names), each of which must succeed, and checks
# the union view, the upper layer (copied-up files, 0/0 whiteouts, the opaque
# directory), that trusted.union.* cannot be set through the union (EPERM),
# that the view survives a remount, and that the image is bit-for-bit
# unchanged after everything is unmounted.
#
# Must run as root with union.ko loaded. Prints TAP 13, cleans up all mounts
# and loop devices, leaves the module loaded.

set -u
export LC_ALL=C

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"

src=""
img=""
sq=""

loops_of_image()
{
	[ -n "$img" ] && losetup -n -O NAME -j "$img" 2>/dev/null
}

cleanup()
{
	local dev

	cd / || true
	umount_all "$mnt"
	umount_all "$sq" squashfs
	for dev in $(loops_of_image); do
		losetup -d "$dev" || diag "cleanup: cannot detach $dev"
	done
	remove_work
	registered || diag "cleanup: the union fs type is not registered"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# One line per object (type, mode, owner, size, inode, links, times, link
# target), checksums of the regular files and all xattrs, for DIR.
snapshot()	# snapshot DIR
{
	(
		cd "$1" || exit 1
		find . -printf '%p %y %m %U %G %s %i %n %T@ %C@ %l\n' 2>&1 | sort
		find . -type f -exec sha256sum {} + 2>&1 | sort -k 2
		getfattr -R -h -d -m - -e hex . 2>&1
	)
}

# Changes through the union, in order, as triples NAME COMMAND CHECK (run
# with "sh -c"; $M is the union, $S the source tree of the image).  COMMAND
# must succeed, then CHECK must hold.  A CHECK may call
# meta_is FILE STAT-FORMAT VALUE DATA: stat -c STAT-FORMAT of FILE is VALUE
# and FILE holds DATA (a change of metadata only).
check_helpers='meta_is() { [ "$(stat -c "$2" "$1")" = "$3" ] && [ "$(cat "$1")" = "$4" ]; }'
changes=(
	# file copy-up, on every trigger
	write_lower_file
	'printf "rewritten\n" > "$M/mut/write.txt"'
	'[ "$(cat "$M/mut/write.txt")" = rewritten ]'

	append_lower_file
	'echo more >> "$M/mut/append.txt"'
	'[ "$(cat "$M/mut/append.txt")" = "$(printf "a\nmore")" ]'

	truncate_lower_file
	'truncate -s 100000 "$M/big.bin"'
	'[ "$(stat -c %s "$M/big.bin")" = 100000 ] &&
	 head -c 100000 "$S/big.bin" | cmp - "$M/big.bin"'

	write_lower_file_in_lower_dirs
	'echo changed > "$M/dir/sub/deep.txt"'
	'[ "$(cat "$M/dir/sub/deep.txt")" = changed ] &&
	 [ "$(cat "$M/dir/one.txt")" = one ]'

	lsattr_chattr_lower_file
	'lsattr "$M/mut/chmod.txt" >/dev/null && chattr +d "$M/mut/chmod.txt"'
	'lsattr "$M/mut/chmod.txt" | cut -d" " -f1 | grep -q d &&
	 [ "$(cat "$M/mut/chmod.txt")" = c ]'

	chmod_lower_file
	'chmod 600 "$M/mut/chmod.txt"'
	'meta_is "$M/mut/chmod.txt" %a 600 c'

	chown_lower_file
	'chown 1:2 "$M/mut/chown.txt"'
	'meta_is "$M/mut/chown.txt" %u:%g 1:2 o'

	utimes_lower_file
	'touch -m -d @1000000000 "$M/mut/utimes.txt"'
	'meta_is "$M/mut/utimes.txt" %Y 1000000000 u'

	setxattr_lower_file
	'setfattr -n user.new -v 1 "$M/xattr.txt"'
	'[ "$(getfattr --absolute-names --only-values -n user.new "$M/xattr.txt")" = 1 ] &&
	 [ "$(getfattr --absolute-names --only-values -n user.color "$M/xattr.txt")" = blue ] &&
	 cmp "$S/xattr.txt" "$M/xattr.txt"'

	removexattr_lower_file
	'setfattr -x user.answer "$M/xattr.txt"'
	'! getfattr --absolute-names -n user.answer "$M/xattr.txt" 2>/dev/null &&
	 [ "$(getfattr --absolute-names --only-values -n user.color "$M/xattr.txt")" = blue ]'

	# new objects
	create_file
	'echo created > "$M/new.txt"'
	'[ "$(cat "$M/new.txt")" = created ]'

	symlink
	'ln -s hello.txt "$M/newlink"'
	'[ "$(readlink "$M/newlink")" = hello.txt ] && cmp "$S/hello.txt" "$M/newlink"'

	hard_link_to_lower_file
	'ln "$M/hello.txt" "$M/hardlink"'
	'[ "$(stat -c %i "$M/hello.txt")" = "$(stat -c %i "$M/hardlink")" ] &&
	 [ "$(stat -c %h "$M/hardlink")" = 2 ] && cmp "$S/hello.txt" "$M/hardlink"'

	mkfifo
	'mkfifo "$M/fifo"'
	'[ -p "$M/fifo" ]'

	mkdir
	'mkdir "$M/newdir" "$M/dir/sub/newsub"'
	'[ -d "$M/newdir" ] && [ -d "$M/dir/sub/newsub" ] &&
	 [ -z "$(ls -A "$M/newdir")" ] && [ -z "$(ls -A "$M/dir/sub/newsub")" ]'

	mkdir_over_whiteout_of_lower_dir
	'mkdir "$M/gonedir"'
	'[ -d "$M/gonedir" ] && [ -z "$(ls -A "$M/gonedir")" ] &&
	 [ ! -e "$M/gonedir/a" ]'

	# renames
	rename_lower_file
	'mv "$M/rename.txt" "$M/renamed.txt"'
	'[ ! -e "$M/rename.txt" ] && [ "$(cat "$M/renamed.txt")" = r ]'

	mv_lower_dir
	'mv "$M/movedir" "$M/moved"'
	'[ ! -e "$M/movedir" ] && [ "$(cat "$M/moved/m1.txt")" = m1 ] &&
	 [ "$(cat "$M/moved/inner/m2.txt")" = m2 ]'

	# removals
	unlink_lower_file
	'rm "$M/rmme.txt"'
	'[ ! -e "$M/rmme.txt" ]'

	unlink_lower_symlink
	'rm "$M/dirlink"'
	'[ ! -e "$M/dirlink" ] && [ ! -L "$M/dirlink" ] && [ -d "$M/dir" ]'

	rmdir_lower_dir
	'rmdir "$M/empty"'
	'[ ! -e "$M/empty" ]'

	rm_r_lower_tree
	'rm -r "$M/rmtree"'
	'[ ! -e "$M/rmtree" ] && [ ! -e "$M/rmtree/sub/s" ]'

	unlink_upper_only_file
	'rm "$M/upper-only.txt"'
	'[ ! -e "$M/upper-only.txt" ]'
)
NCHANGES=$((${#changes[@]} / 3))
NTESTS=$((23 + NCHANGES))

echo "TAP version 13"
echo "1..$NTESTS"

make_work squashfs mode=0755 &&
	mkdir "$work/src" "$work/sq" "$work/upper" "$work/mnt"
if [ $? -ne 0 ]; then
	diag "cannot set up work area '$work'"
fi
src="$work/src"
img="$work/x.sqfs"
sq="$work/sq"
upper="$work/upper"
mnt="$work/mnt"

# The lower tree.
out=$(
	set -e
	cd "$src"
	echo "hello from squashfs" > hello.txt
	echo "lower version" > cover.txt
	echo "whited out" > gone.txt
	mkdir gonedir
	echo a > gonedir/a
	mkdir -p dir/sub empty opaque/hiddendir
	echo one > dir/one.txt
	echo two > dir/two.txt
	echo deep > dir/sub/deep.txt
	echo shown > opaque/shown.txt
	echo hidden > opaque/hidden.txt
	echo x > opaque/hiddendir/x
	ln -s hello.txt link
	ln -s dir dirlink
	echo "has xattrs" > xattr.txt
	setfattr -n user.color -v blue xattr.txt
	setfattr -n user.answer -v 42 xattr.txt
	head -c 2097153 /dev/urandom > big.bin
	# for the changes
	mkdir mut
	echo w > mut/write.txt
	echo a > mut/append.txt
	echo c > mut/chmod.txt
	echo o > mut/chown.txt
	echo u > mut/utimes.txt
	echo r > rename.txt
	echo rm > rmme.txt
	mkdir -p movedir/inner rmtree/sub
	echo m1 > movedir/m1.txt
	echo m2 > movedir/inner/m2.txt
	echo t > rmtree/t
	echo s > rmtree/sub/s
	# 1 MiB data, 5 MiB hole, 1 MiB data, 1 MiB hole.
	dd if=/dev/urandom of=sparse.img bs=1M count=1 iflag=fullblock status=none
	dd if=/dev/urandom of=sparse.img bs=1M seek=6 count=1 iflag=fullblock \
	   conv=notrunc status=none
	truncate -s 8M sparse.img
	2>&1)
[ -n "$out" ] && diag "building the lower tree: $out"

# 1: image
out=$(mksquashfs "$src" "$img" -xattrs -noappend -quiet -no-progress 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "mksquashfs: $out"
sum_before=$(sha256sum "$img" 2>/dev/null | cut -d' ' -f1)
[ $rc -eq 0 ] && [ -n "$sum_before" ]
result $? "mksquashfs_image"

# 2: loop mount, read-only
out=$(mount -t squashfs -o loop,ro "$img" "$sq" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "mount squashfs: $out"
[ $rc -eq 0 ] && mounted "$sq" squashfs && [ -n "$(loops_of_image)" ] &&
	getfattr --only-values -n user.color "$sq/xattr.txt" 2>/dev/null |
	grep -qx blue
result $? "squashfs_loop_mounted_with_xattrs"

# The upper layer.
out=$(
	set -e
	cd "$upper"
	echo "upper version" > cover.txt
	mknod gone.txt c 0 0
	mknod gonedir c 0 0
	mkdir dir
	echo three > dir/three.txt
	mknod dir/two.txt c 0 0
	mkdir opaque
	setfattr -n trusted.union.opaque -v y opaque
	mknod opaque/shown.txt c 0 8
	echo new > opaque/new.txt
	echo "upper only" > upper-only.txt
	2>&1)
[ -n "$out" ] && diag "building the upper layer: $out"

# 3: the union
out=$(mount_union_o "lower=$sq,upper=$upper" "$mnt")
rc=$?
[ $rc -eq 0 ] || diag "mount union: $out"
[ $rc -eq 0 ] && mounted "$mnt" union
result $? "mount_union_over_squashfs"

# expect_listing DIR NAME...: "ls -a DIR" is exactly . .. NAME...
expect_listing()
{
	local dir=$1 got want

	shift
	got=$(ls -a "$dir" 2>&1 | sort)
	want=$(printf '%s\n' . .. "$@" | sort)
	if [ "$got" != "$want" ]; then
		diag "ls -a $dir:" "$got" "expected:" "$want"
		return 1
	fi
}

# 4-6: listings
expect_listing "$mnt" big.bin cover.txt dir dirlink empty hello.txt link \
	movedir mut opaque rename.txt rmme.txt rmtree sparse.img upper-only.txt \
	xattr.txt
result $? "merged_root_listing"
expect_listing "$mnt/dir" one.txt sub three.txt &&
	expect_listing "$mnt/dir/sub" deep.txt &&
	expect_listing "$mnt/empty"
result $? "merged_dir_listing"
expect_listing "$mnt/opaque" new.txt shown.txt
result $? "opaque_dir_listing"

# 7: whiteouts and the opaque dir hide lower names
rc=0
for p in gone.txt gonedir gonedir/a dir/two.txt opaque/hidden.txt \
	 opaque/hiddendir; do
	if [ -e "$mnt/$p" ] || [ -L "$mnt/$p" ]; then
		diag "$p is visible: $(ls -ld "$mnt/$p" 2>&1)"
		rc=1
	fi
done
result $rc "hidden_names_do_not_exist"

# 8: lower files read back identical to the source tree
rc=0
for p in hello.txt dir/one.txt dir/sub/deep.txt opaque/shown.txt \
	 xattr.txt big.bin sparse.img; do
	out=$(cmp "$src/$p" "$mnt/$p" 2>&1) || { diag "$p: $out"; rc=1; }
done
result $rc "lower_file_contents"

# 9: upper files
rc=0
for p in cover.txt dir/three.txt opaque/new.txt upper-only.txt; do
	out=$(cmp "$upper/$p" "$mnt/$p" 2>&1) || { diag "$p: $out"; rc=1; }
done
[ "$(cat "$mnt/cover.txt" 2>&1)" = "upper version" ] || rc=1
result $rc "upper_file_contents"

# 10: the sparse file: size, and SEEK_DATA/SEEK_HOLE as on squashfs
out=$(python3 - "$mnt/sparse.img" "$sq/sparse.img" 2>&1 <<'EOF'
import os, sys

def seeks(path):
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    out = [size]
    for off in (0, 1, 1 << 20, (1 << 20) + 1, 3 << 20, 6 << 20, 7 << 20,
                size - 1, size, size + 1):
        for whence in (os.SEEK_DATA, os.SEEK_HOLE):
            try:
                out.append(os.lseek(fd, off, whence))
            except OSError as e:
                out.append("errno %d" % e.errno)
    os.close(fd)
    return out

union, real = seeks(sys.argv[1]), seeks(sys.argv[2])
if union != real:
    print("union:   ", union)
    print("squashfs:", real)
    sys.exit(1)
EOF
)
rc=$?
[ $rc -eq 0 ] || diag "lseek: $out"
[ $rc -eq 0 ] && [ "$(stat -c %s "$mnt/sparse.img")" = 8388608 ]
result $? "sparse_file_size_and_seek"

# 11: symlinks
rc=0
t=$(readlink "$mnt/link" 2>&1)
[ "$t" = hello.txt ] || { diag "readlink link: '$t'"; rc=1; }
t=$(readlink "$mnt/dirlink" 2>&1)
[ "$t" = dir ] || { diag "readlink dirlink: '$t'"; rc=1; }
out=$(cat "$mnt/link" 2>&1)
[ "$out" = "hello from squashfs" ] || { diag "cat link: $out"; rc=1; }
out=$(ls "$mnt/dirlink/" 2>&1 | tr '\n' ' ')
[ "$out" = "one.txt sub three.txt " ] || { diag "ls dirlink/: $out"; rc=1; }
result $rc "symlinks"

# 12: user.* xattrs from squashfs
rc=0
v=$(getfattr --absolute-names --only-values -n user.color "$mnt/xattr.txt" 2>&1)
[ "$v" = blue ] || { diag "user.color: '$v'"; rc=1; }
v=$(getfattr --absolute-names --only-values -n user.answer "$mnt/xattr.txt" 2>&1)
[ "$v" = 42 ] || { diag "user.answer: '$v'"; rc=1; }
out=$(getfattr --absolute-names -d -m '^user\.' "$mnt/xattr.txt" 2>&1 |
      grep -c '^user\.')
[ "$out" = 2 ] || { diag "user.* xattrs listed: $out"; rc=1; }
result $rc "xattrs"

# 13: private xattrs are invisible
rc=0
out=$(getfattr --absolute-names -h -d -m - "$mnt/opaque" "$mnt/dir" \
      "$mnt/opaque/shown.txt" 2>&1)
if grep -q 'trusted\.union\.' <<<"$out"; then
	diag "private xattrs listed:" "$out"
	rc=1
fi
if out=$(getfattr --absolute-names -n trusted.union.opaque "$mnt/opaque" 2>&1); then
	diag "trusted.union.opaque readable: $out"
	rc=1
elif ! grep -q "No such attribute" <<<"$out"; then
	diag "getfattr trusted.union.opaque: $out"
	rc=1
fi
result $rc "private_xattrs_hidden"

# 14: inode numbers and device
rc=0
for p in hello.txt dir/sub/deep.txt opaque/shown.txt; do
	lo=$(stat -c %i "$sq/$p") && un=$(stat -c %i "$mnt/$p") || rc=1
	want=$(printf '%u' $(( ${lo:-0} | (1 << 63) )))
	[ "$un" = "$want" ] || { diag "$p: st_ino $un, want $want"; rc=1; }
done
un=$(stat -c %i "$mnt/upper-only.txt") ; want=$(stat -c %i "$upper/upper-only.txt")
[ "$un" = "$want" ] || { diag "upper-only.txt: st_ino $un, want $want"; rc=1; }
dm=$(stat -c %d "$mnt") ; dl=$(stat -c %d "$sq") ; du=$(stat -c %d "$upper")
[ "$dm" != "$dl" ] && [ "$dm" != "$du" ] || { diag "st_dev $dm (lower $dl, upper $du)"; rc=1; }
[ "$(stat -c %d "$mnt/dir/sub/deep.txt")" = "$dm" ] || rc=1
result $rc "st_ino_and_st_dev"

snap_lower=$(snapshot "$sq")

# 15..: the changes, in order
for ((i = 0; i < ${#changes[@]}; i += 3)); do
	name=${changes[i]}
	cmd=${changes[i + 1]}
	check=${changes[i + 2]}
	out=$(M="$mnt" S="$src" sh -c "$cmd" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		diag "'$cmd' failed (status $rc): $out"
	else
		out=$(M="$mnt" S="$src" sh -c "$check_helpers
$check" 2>&1)
		rc=$?
		[ $rc -eq 0 ] || diag "'$cmd' succeeded, but not: $check" "$out"
	fi
	result $rc "$name"
done

# private xattrs cannot be set or removed through the union
rc=0
for args in "-n trusted.union.opaque -v y $mnt/dir" \
	    "-n trusted.union.fallthru -v y $mnt/moved" \
	    "-n trusted.union.custom -v 1 $mnt/new.txt" \
	    "-n trusted.union.custom -v 1 $mnt/hello.txt"; do
	# shellcheck disable=SC2086 # (no spaces in $mnt: mktemp)
	if out=$(setfattr $args 2>&1); then
		diag "setfattr $args succeeded"
		rc=1
	elif ! grep -q "Operation not permitted" <<<"$out"; then
		diag "setfattr $args: $out (want: Operation not permitted)"
		rc=1
	fi
done
# nor removed (they do not exist through the union: ENODATA, or EPERM)
if out=$(setfattr -x trusted.union.opaque "$mnt/gonedir" 2>&1); then
	diag "setfattr -x trusted.union.opaque gonedir succeeded"
	rc=1
elif ! grep -qE "Operation not permitted|No such attribute" <<<"$out"; then
	diag "setfattr -x trusted.union.opaque gonedir: $out"
	rc=1
fi
v=$(getfattr --absolute-names --only-values -n trusted.union.opaque \
    "$upper/gonedir" 2>&1)
[ "$v" = y ] || { diag "upper gonedir lost its opaque flag: $v"; rc=1; }
if getfattr --absolute-names -n trusted.union.custom "$upper/new.txt" \
	    "$upper/hello.txt" >/dev/null 2>&1; then
	diag "trusted.union.custom reached the upper layer"
	rc=1
fi
result $rc "private_xattrs_eperm"

# the union after the changes
rc=0
expect_listing "$mnt" big.bin cover.txt dir fifo gonedir hardlink hello.txt \
	link moved mut new.txt newdir newlink opaque renamed.txt sparse.img \
	xattr.txt || rc=1
expect_listing "$mnt/mut" append.txt chmod.txt chown.txt utimes.txt \
	write.txt || rc=1
expect_listing "$mnt/dir" one.txt sub three.txt || rc=1
expect_listing "$mnt/dir/sub" deep.txt newsub || rc=1
expect_listing "$mnt/moved" inner m1.txt || rc=1
expect_listing "$mnt/moved/inner" m2.txt || rc=1
expect_listing "$mnt/opaque" new.txt shown.txt || rc=1
expect_listing "$mnt/gonedir" || rc=1
for p in gone.txt dir/two.txt opaque/hidden.txt empty rmme.txt rmtree \
	 movedir rename.txt dirlink upper-only.txt; do
	if [ -e "$mnt/$p" ] || [ -L "$mnt/$p" ]; then
		diag "$p is visible: $(ls -ld "$mnt/$p" 2>&1)"
		rc=1
	fi
done
[ "$(cat "$mnt/cover.txt" 2>&1)" = "upper version" ] ||
	{ diag "cover.txt: $(cat "$mnt/cover.txt" 2>&1)"; rc=1; }
# untouched lower files still read as in the image
for p in hello.txt dir/one.txt opaque/shown.txt sparse.img link; do
	out=$(cmp "$src/$p" "$mnt/$p" 2>&1) || { diag "$p: $out"; rc=1; }
done
out=$(head -c 100000 "$src/big.bin" | cmp - "$mnt/big.bin" 2>&1) ||
	{ diag "big.bin: $out"; rc=1; }
result $rc "union_view_after_changes"

# the upper layer: regular files where copied up, 0/0 whiteouts where lower
# names were removed, the directory made over a whiteout is opaque
rc=0
for p in mut/write.txt mut/append.txt big.bin dir/sub/deep.txt \
	 mut/chmod.txt mut/chown.txt mut/utimes.txt xattr.txt hello.txt \
	 hardlink renamed.txt moved/m1.txt moved/inner/m2.txt new.txt; do
	if [ ! -f "$upper/$p" ] || [ -L "$upper/$p" ]; then
		diag "upper $p: not a regular file: $(ls -ld "$upper/$p" 2>&1)"
		rc=1
	elif [ "$(getfattr --absolute-names --only-values -n trusted.union.metacopy \
		  "$upper/$p" 2>/dev/null)" = y ]; then
		# a metadata-only copy (chmod, chown, utimes, setxattr): the size
		# of the file, the data still on lower
		case $p in
		mut/chmod.txt|mut/chown.txt|mut/utimes.txt|xattr.txt) ;;
		*) diag "upper $p: metadata-only copy after a data change"; rc=1 ;;
		esac
		[ "$(stat -c %s "$upper/$p")" = "$(stat -c %s "$mnt/$p")" ] ||
			{ diag "upper $p: size differs from the union's"; rc=1; }
	elif ! out=$(cmp "$upper/$p" "$mnt/$p" 2>&1); then
		diag "upper $p: $out"
		rc=1
	fi
done
for p in mut/chmod.txt mut/chown.txt xattr.txt; do
	[ "$(getfattr --absolute-names --only-values -n trusted.union.metacopy \
	     "$upper/$p" 2>/dev/null)" = y ] ||
		{ diag "upper $p: not a metadata-only copy"; rc=1; }
done
for p in gone.txt dir/two.txt rename.txt movedir rmme.txt dirlink empty \
	 rmtree; do
	t=$(stat -c '%F %t:%T' "$upper/$p" 2>&1)
	[ "$t" = "character special file 0:0" ] ||
		{ diag "upper $p: '$t', want a 0/0 whiteout"; rc=1; }
done
[ "$(stat -c %h "$upper/hello.txt" 2>&1)" = 2 ] &&
	[ "$upper/hello.txt" -ef "$upper/hardlink" ] ||
	{ diag "upper hello.txt and hardlink are not one file"; rc=1; }
[ -L "$upper/newlink" ] && [ -p "$upper/fifo" ] && [ -d "$upper/newdir" ] &&
	[ -d "$upper/dir/sub/newsub" ] ||
	{ diag "upper: newlink, fifo, newdir, dir/sub/newsub: $(ls -ld \
		"$upper/newlink" "$upper/fifo" "$upper/newdir" \
		"$upper/dir/sub/newsub" 2>&1)"; rc=1; }
if [ -e "$upper/upper-only.txt" ] || [ -L "$upper/upper-only.txt" ]; then
	diag "upper-only.txt left on upper: $(ls -ld "$upper/upper-only.txt")"
	rc=1
fi
v=$(getfattr --absolute-names --only-values -n trusted.union.opaque \
    "$upper/gonedir" 2>&1)
[ -d "$upper/gonedir" ] && [ "$v" = y ] ||
	{ diag "upper gonedir: opaque='$v' $(ls -ld "$upper/gonedir" 2>&1)"; rc=1; }
[ "$(stat -c %a "$upper/mut/chmod.txt" 2>&1)" = 600 ] &&
	[ "$(stat -c %u:%g "$upper/mut/chown.txt" 2>&1)" = 1:2 ] &&
	[ "$(stat -c %Y "$upper/mut/utimes.txt" 2>&1)" = 1000000000 ] ||
	{ diag "upper: attributes of mut/*: $(stat -c '%n %a %u:%g %Y' \
		"$upper"/mut/* 2>&1)"; rc=1; }
v=$(getfattr --absolute-names -d -m '^user\.' "$upper/xattr.txt" 2>&1 |
    grep '^user\.' | sort | tr '\n' ' ')
[ "$v" = 'user.color="blue" user.new="1" ' ] ||
	{ diag "upper xattr.txt: user.* xattrs: $v"; rc=1; }
result $rc "upper_layer_after_changes"

# the lower layer (the mounted image) did not change
now=$(snapshot "$sq")
[ "$now" = "$snap_lower" ] ||
	diag "lower layer changed:" "$(diff <(echo "$snap_lower") <(echo "$now"))"
[ "$now" = "$snap_lower" ]
result $? "lower_layer_unchanged"

# the view survives a remount (after every directory was read once)
find "$mnt" >/dev/null 2>&1
snap_union=$(snapshot "$mnt")
out=$(umount "$mnt" 2>&1 &&
      mount_union_o "lower=$sq,upper=$upper" "$mnt")
rc=$?
[ $rc -eq 0 ] || diag "remount union: $out"
if [ $rc -eq 0 ]; then
	now=$(snapshot "$mnt")
	if [ "$now" != "$snap_union" ]; then
		diag "union view changed by the remount:" \
		     "$(diff <(echo "$snap_union") <(echo "$now"))"
		rc=1
	fi
fi
result $rc "view_survives_remount"

# unmount the union, then squashfs; the loop device goes away
out=$(umount "$mnt" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "umount union: $out"
[ $rc -eq 0 ] && ! mounted "$mnt" union
result $? "umount_union"

out=$(umount "$sq" 2>&1)
rc=$?
[ $rc -eq 0 ] || diag "umount squashfs: $out"
loops=$(loops_of_image)
[ -z "$loops" ] || diag "loop devices still bound to the image: $loops"
[ $rc -eq 0 ] && ! mounted "$sq" squashfs && [ -z "$loops" ]
result $? "umount_squashfs_and_loop_released"

# the image is bit-for-bit unchanged
sum_after=$(sha256sum "$img" 2>/dev/null | cut -d' ' -f1)
diag "sha256 before $sum_before" "sha256 after  $sum_after"
[ -n "$sum_before" ] && [ "$sum_before" = "$sum_after" ]
result $? "image_unchanged"

# the module is still there
registered
result $? "union_still_registered"

finish $NTESTS
