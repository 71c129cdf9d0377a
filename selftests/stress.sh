#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A short run of union-stress (selftests/tools/union-stress.c): STRESS_PROCS
# processes (default 4) doing random namespace and data operations on shared
# names of a union over a populated tmpfs lower layer for STRESS_SECONDS
# (default 45; `make stress` runs it for 10 minutes): two thirds of the time
# every kind of operation (with the targeted races first), one third links,
# renames and exchanges of a few names; after each phase its checks:
# readdir agrees with lookup, every object is the same after umount + mount,
# union-fsck finds the upper layer clean, rm -rf empties the union.  The kernel
# log written during the run must have no WARNING, BUG, lockdep report, ...
# (selftests/lib/klog.sh).  STRESS_SEED fixes the seed (printed otherwise),
# STRESS_BIG_FILES/STRESS_BIG_MB the big lower files copied up under load in
# the first phase (default 2 x 32 MiB, 4 x 64 MiB with STRESS_SECONDS >= 300).
#
# Must run as root with union.ko loaded.  Prints TAP 13.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib/tap.sh
. "$here/lib/tap.sh"
# shellcheck source=selftests/lib/klog.sh
. "$here/lib/klog.sh"
stress=$here/build/tools/union-stress
seconds=${STRESS_SECONDS:-45}
procs=${STRESS_PROCS:-4}
if [ "$seconds" -ge 300 ]; then
	big_files=${STRESS_BIG_FILES:-4} big_mb=${STRESS_BIG_MB:-64}
else
	big_files=${STRESS_BIG_FILES:-2} big_mb=${STRESS_BIG_MB:-32}
fi
seed_args=()
[ -n "${STRESS_SEED:-}" ] && seed_args=(--seed "$STRESS_SEED")

# The namespace-heavy phase: links, renames and exchanges of few names in two
# directories (how the simple_offset_rename_exchange WARNING and the stale
# union dentries of linked names were found), a third of the time.
ns_seconds=$(( seconds / 3 ))
mixed_seconds=$(( seconds - ns_seconds ))
ns_weights=link=15,rename=15,rename_exchange=15,unlink=10,create=10

echo "TAP version 13"
echo "1..4"
if [ ! -x "$stress" ]; then
	result 1 "union-stress is built ($stress)"
	exit 1
fi

klog_before=$(dmesg | wc -l)
unexpected=0
phase()	# phase NAME ARGS...
{
	local name=$1 out rc start end
	shift
	start=$(date +%s)
	out=$("$stress" --procs "$procs" "${seed_args[@]}" "$@" 2>&1)
	rc=$?
	end=$(date +%s)
	sed 's/^/# /' <<<"$out"
	echo "# union-stress: exit $rc after $((end - start)) s"
	grep -q '^FAIL: .*unexpected errno' <<<"$out" && unexpected=1
	result $rc "$name"
}

phase mixed_load_and_checks --seconds "$mixed_seconds" --big-files "$big_files" \
	--big-mb "$big_mb"
phase namespace_load_and_checks --seconds "$ns_seconds" --big-files 2 --big-mb 8 \
	--race-rounds 0 --dirs 2 --weights "$ns_weights"
result $unexpected no_unexpected_errno

new=$(dmesg | tail -n +"$((klog_before + 1))")
if grep -qE "$klog_bad_re" <<<"$new"; then
	echo "# kernel log during the run:"
	grep -nE -B5 -A40 "$klog_bad_re" <<<"$new" | head -150 | sed 's/^/# /'
	result 1 kernel_log_clean_during_stress
else
	result 0 kernel_log_clean_during_stress
fi
finish 4
