#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A frozen upper layer (fsfreeze of an ext4 upper, as for a snapshot): every
# change through the union waits for the thaw -- copy-up of data and of
# metadata, truncate, create, mkdir, unlink (whiteout), rename, link, setxattr
# and the directory copy-up of a first readdir -- without touching the frozen
# filesystem (ext4 warns when a frozen filesystem is written: the kernel log
# must stay clean), while reads go on.  After the thaw each change completes
# with the result it would have had.
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"
# shellcheck source=selftests/lib/klog.sh
. "$(dirname "$0")/lib/klog.sh"

make_work freeze size=160m || { echo "not ok 1 tmpfs"; exit 1; }
L=$w/lower UFS=$w/ufs U=$w/ufs/upper M=$w/mnt IMG=$w/upper.img
pids=()
thaw() { fsfreeze -u "$UFS" 2>/dev/null; kill "${pids[@]}" 2>/dev/null; wait; }
trap 'thaw; cleanup_work "$M" "$UFS"' EXIT
# Each change works in a directory of its own (a change waiting for the thaw holds
# its directory's lock, as on any filesystem, where other lookups in it wait too).
mkdir -p "$L/w" "$L/c" "$L/t" "$L/n" "$L/k" "$L/u" "$L/r" "$L/l" "$L/x" "$L/rd/d" "$L/ro" \
	"$UFS" "$M"
for f in w/fw c/fc t/ft u/fu r/fr l/fl x/fx ro/f; do echo lower > "$L/$f"; done
for i in $(seq 1 20); do echo "$i" > "$L/rd/d/e$i"; done
truncate -s 64M "$IMG" && mkfs.ext4 -q -F "$IMG" && mount -o loop "$IMG" "$UFS" &&
	mkdir "$U"
echo "TAP version 13"
out=$(mount_union_o "lower=$L,upper=$U" "$M")
rc=$?
result $rc "union over an ext4 upper" "$out"
[ $rc = 0 ] || finish

# Each change, in a process of its own.
declare -A ops=(
	[write]="echo new >> $M/w/fw"
	[chmod]="chmod 600 $M/c/fc"
	[truncate]="truncate -s 2 $M/t/ft"
	[create]="echo c > $M/n/new"
	[mkdir]="mkdir $M/k/newdir"
	[unlink]="rm $M/u/fu"
	[rename]="mv $M/r/fr $M/r/fr2"
	[link]="ln $M/l/fl $M/l/fl2"
	[setxattr]="setfattr -n user.x -v 1 $M/x/fx"
	[readdir]="ls $M/rd/d > $w/ls.out"
)
names=(write chmod truncate create mkdir unlink rename link setxattr readdir)

# Whether process $1 sleeps waiting for the frozen filesystem (sb_start_write's
# percpu rwsem): its kernel stack, else its wchan.
frozen_wait()
{
	grep -qE 'percpu_rwsem_wait|__sb_start_write|mnt_want_write' "/proc/$1/stack" 2>/dev/null ||
		grep -qE 'percpu_rwsem' "/proc/$1/wchan" 2>/dev/null
}

# The directories are copied up (their first readdir) and the names looked up
# before the freeze, but for rd/d: its first readdir is one of the changes.
for d in "$M" "$M"/*/; do
	ls "$d" > /dev/null
	stat "$d"/* "$d/new" "$d/newdir" "$d/fr2" "$d/fl2" > /dev/null 2>&1
done
klog_start=$(dmesg | wc -l)
before=$(cd "$U" && find . -printf '%p %y %m %s\n' | sort)
fsfreeze -f "$UFS"
rc=$?
result $rc "fsfreeze -f of the upper filesystem"
[ $rc = 0 ] || finish
for op in "${names[@]}"; do
	bash -c "exec ${ops[$op]}" &
	pids+=($!)
done
# Wait (polling, up to 120 s) until each process sleeps on the frozen filesystem.
for i in "${!names[@]}"; do
	pid=${pids[$i]} waited=0
	until frozen_wait "$pid" || ! kill -0 "$pid" 2>/dev/null || [ $waited -ge ${FREEZE_WAIT:-1200} ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	frozen_wait "$pid"
	result $? "${names[$i]} waits for the frozen upper" \
		"$(cat "/proc/$pid/stack" 2>&1 | head -12)"
done
result $([ "$(cat "$M/ro/f")" = lower ] && [ "$(ls "$M" | wc -l)" = 11 ]; echo $?) \
	"reads go on meanwhile (a file, a listed directory)"
now=$(cd "$U" && find . -printf '%p %y %m %s\n' | sort)
result $([ "$before" = "$now" ]; echo $?) "the frozen upper is unchanged" \
	"$(diff <(echo "$before") <(echo "$now"))"
bad=$(dmesg | tail -n +$((klog_start + 1)) | grep -E "$klog_bad_re")
result $([ -z "$bad" ]; echo $?) "no kernel warning while frozen" \
	"$(dmesg | tail -n +$((klog_start + 1)) | grep -E -A12 "$klog_bad_re" | head -40)"

fsfreeze -u "$UFS"
result $? "fsfreeze -u"
for i in "${!names[@]}"; do
	wait "${pids[$i]}"
	result $? "${names[$i]} completes after the thaw"
done
pids=()
result $([ "$(cat "$M/w/fw")" = "$(printf 'lower\nnew')" ] && [ "$(cat "$U/w/fw")" = "$(printf 'lower\nnew')" ]; echo $?) \
	"write: the data copied up and appended" "$(cat "$M/w/fw")"
result $([ "$(stat -c %a "$M/c/fc")" = 600 ] && [ "$(stat -c %a "$U/c/fc")" = 600 ] &&
	  [ "$(cat "$M/c/fc")" = lower ]; echo $?) "chmod: copied up with mode 600"
result $([ "$(cat "$M/t/ft")" = lo ] && [ "$(stat -c %s "$U/t/ft")" = 2 ]; echo $?) "truncate: 2 bytes on upper"
result $([ "$(cat "$U/n/new")" = c ] && [ -d "$U/k/newdir" ]; echo $?) "create and mkdir: on upper"
result $([ ! -e "$M/u/fu" ] && [ -c "$U/u/fu" ]; echo $?) "unlink: gone, a whiteout on upper"
result $([ ! -e "$M/r/fr" ] && [ "$(cat "$M/r/fr2")" = lower ]; echo $?) "rename: the new name has the data"
result $([ "$(stat -c %i "$M/l/fl")" = "$(stat -c %i "$M/l/fl2")" ] && [ "$(stat -c %h "$M/l/fl")" = 2 ]; echo $?) \
	"link: two names of one file"
result $([ "$(getfattr --only-values -n user.x "$M/x/fx" 2>/dev/null)" = 1 ]; echo $?) "setxattr: set"
result $([ "$(wc -l < "$w/ls.out")" = 20 ] && [ -c "$U/rd/d/e1" ]; echo $?) \
	"readdir: 20 entries listed, the directory copied up (fallthrus)"
bad=$(dmesg | tail -n +$((klog_start + 1)) | grep -E "$klog_bad_re")
result $([ -z "$bad" ]; echo $?) "no kernel warning after the thaw" \
	"$(dmesg | tail -n +$((klog_start + 1)) | grep -E -A12 "$klog_bad_re" | head -40)"
umount "$M"
result $? "umount"

finish
