#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Read-only unions: a union mounted (or remounted) read-only never writes
# either layer -- no work directory, no directory copy-up, no markers -- and
# its readdir merges the layers in memory: the same names, types and inode
# numbers (d_ino == st_ino) as the read-write union shows, with positions
# that telldir/seekdir can come back to.  Remounted read-write, the union
# copies directories up at their next first readdir as usual.  An explicitly
# read-only union also works over an upper on a read-only mount (to inspect a
# saved layer); it cannot be remounted read-write (EROFS with a message).
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"

make_work ro size=64m || { echo "not ok 1 tmpfs"; exit 1; }
L=$w/lower UFS=$w/ufs U=$w/ufs/upper M=$w/mnt
trap 'cleanup_work "$M" "$UFS"' EXIT
mkdir -p "$L/d/sub" "$L/e" "$L/big" "$UFS" "$M"
mount -t tmpfs -o size=32m tmpfs "$UFS"
mkdir "$U"
for i in $(seq 1 300); do echo "$i" > "$L/big/f$i"; done
echo a > "$L/a"
echo b > "$L/d/b"
echo c > "$L/d/sub/c"
echo e > "$L/e/e"
ln -s a "$L/lnk"
mkfifo "$L/fifo"

echo "TAP version 13"

# The state of the upper layer: every object with type, mode, device numbers
# and every xattr (markers included).
upper_state()
{
	(cd "$U" && find . -printf '%p %y %m %s\n' | sort
	 getfattr -R -h -d -m - --absolute-names . 2>/dev/null)
}

# What a tree shows: names, d_type, d_ino and st_ino (readdir <-> lookup).
view()
{
	python3 - "$1" <<'EOF'
import os, stat, sys
root = sys.argv[1]
out = []
def walk(d):
    for e in os.scandir(d):
        st = os.lstat(e.path)
        t = 'd' if e.is_dir(follow_symlinks=False) else 'l' if e.is_symlink() else 'f' if e.is_file(follow_symlinks=False) else 'o'
        out.append("%s %s d_ino=%d st_ino=%d %s" % (os.path.relpath(e.path, root), t, e.inode(), st.st_ino,
                   "ok" if e.inode() == st.st_ino else "MISMATCH"))
        if t == 'd':
            walk(e.path)
walk(root)
print("\n".join(sorted(out)))
EOF
}

# telldir/seekdir: read some entries, remember the position, read the rest,
# seek back, read the rest again: the two rests must be equal.
seek_check()
{
	perl -e '
		opendir(my $d, $ARGV[0]) or die "opendir: $!";
		for (1..20) { readdir($d) }
		my $pos = telldir($d);
		my @a = readdir($d);
		seekdir($d, $pos);
		my @b = readdir($d);
		print((join(",", @a) eq join(",", @b) && @a > 0) ? "same\n" : "differ\n");
	' "$1"
}

before=$(upper_state)
mount_union_o "ro,lower=$L,upper=$U" "$M"
result $? "mount -o ro"
ro_view=$(view "$M")
ls -lR "$M" >/dev/null
result $([ "$(upper_state)" = "$before" ]; echo $?) "a read-only union writes nothing to upper (ls -lR, readdir of every directory)" \
	"$(diff <(echo "$before") <(upper_state))"
result $([ ! -e "$U/.union-work" ]; echo $?) "no work directory is made on a read-only mount"
out=$(grep -c MISMATCH <<<"$ro_view")
result $([ "$out" = 0 ]; echo $?) "read-only readdir: d_ino == st_ino for every entry" "$(grep MISMATCH <<<"$ro_view")"
result $([ "$(seek_check "$M/big")" = same ]; echo $?) "read-only readdir: seekdir to a telldir position resumes there"
out=$(touch "$M/new" 2>&1)
result $([ $? != 0 ] && grep -q "Read-only" <<<"$out"; echo $?) "writes fail with EROFS" "$out"
umount "$M"

mount_union_o "lower=$L,upper=$U" "$M"
rw_view=$(view "$M")
result $([ "$rw_view" = "$ro_view" ]; echo $?) "the read-write union shows the same names, types and inode numbers" \
	"$(diff <(echo "$ro_view") <(echo "$rw_view") | head -20)"
result $([ -c "$U/d/b" ] && [ -d "$U/.union-work" ]; echo $?) "read-write: the first readdir copies directories up (fallthrus)"
rm "$M/a" "$M/d/b"
echo new > "$M/e/new"
rm -r "$M/d/sub"
mkdir "$M/d/sub"
echo n > "$M/d/sub/n"
rw_view=$(view "$M")
umount "$M"

# Whiteouts, opaque directories and fallthrus of an existing upper.
before=$(upper_state)
mount_union_o "ro,lower=$L,upper=$U" "$M"
ro_view=$(view "$M")
result $([ "$rw_view" = "$ro_view" ]; echo $?) "read-only over a used upper: whiteouts, opaque dirs and new files as read-write showed" \
	"$(diff <(echo "$rw_view") <(echo "$ro_view") | head -20)"
result $([ "$(upper_state)" = "$before" ]; echo $?) "... and nothing is written" "$(diff <(echo "$before") <(upper_state))"

# remount,rw then ro: directories listed while read-write are copied up, later ones not.
mount -o remount,rw "$M"
result $? "remount,rw"
ls "$M/big" >/dev/null
result $([ -c "$U/big/f1" ]; echo $?) "after remount,rw the first readdir copies the directory up"
echo x > "$M/written"
result $([ "$(cat "$U/written" 2>&1)" = x ]; echo $?) "after remount,rw writes go to upper"
mount -o remount,ro "$M"
result $? "remount,ro"
before=$(upper_state)
view "$M" >/dev/null
ls -lR "$M" >/dev/null
result $([ "$(upper_state)" = "$before" ]; echo $?) "after remount,ro nothing is written" "$(diff <(echo "$before") <(upper_state))"
umount "$M"

# An upper on a read-only mount: only a read-only union.
mount -o remount,ro "$UFS"
# -w: util-linux would otherwise retry read-only by itself.
out=$(mount -w -t union -o "lower=$L,upper=$U" none "$M" 2>&1)
result $([ $? != 0 ] && grep -q "read-only" <<<"$out$(dmesg | tail -2)"; echo $?) \
	"read-write union over a read-only upper mount fails (EROFS)" "$out"
mountpoint -q "$M" && umount "$M"
mount_union_o "ro,lower=$L,upper=$U" "$M"
result $? "read-only union over a read-only upper mount"
result $([ "$(view "$M")" = "$(view "$M")" ] && [ "$(cat "$M/written")" = x ]; echo $?) "it shows the saved layer"
dmesg -C 2>/dev/null
out=$(mount -o remount,rw "$M" 2>&1)
rc=$?
msg=$(dmesg | grep -c "read-only mount: the union stays read-only")
result $([ $rc != 0 ] && [ "$msg" -ge 1 ]; echo $?) "remount,rw fails (EROFS) and says why" "$out $(dmesg | tail -3)"
umount "$M"

finish
