#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A short run of union-stress (selftests/tools/union-stress.c): STRESS_PROCS
# processes (default 4) doing random namespace and data operations on shared
# names of a union over a populated tmpfs lower layer for STRESS_SECONDS
# (default 40; `make stress` runs it for 10 minutes), then its checks:
# readdir agrees with lookup, every object is the same after umount + mount,
# union-fsck finds the upper layer clean, rm -rf empties the union.  The kernel
# log written during the run must have no WARNING, BUG, lockdep report, ...
# (selftests/lib/klog.sh).  STRESS_SEED fixes the seed (printed otherwise),
# STRESS_BIG_FILES/STRESS_BIG_MB the big lower files copied up under load
# (default 2 x 32 MiB here, 4 x 64 MiB with STRESS_SECONDS >= 300).
#
# Must run as root with union.ko loaded.  Prints TAP 13.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib/klog.sh
. "$here/lib/klog.sh"
stress=$here/build/tools/union-stress
seconds=${STRESS_SECONDS:-40}
procs=${STRESS_PROCS:-4}
if [ "$seconds" -ge 300 ]; then
	big_files=${STRESS_BIG_FILES:-4} big_mb=${STRESS_BIG_MB:-64}
else
	big_files=${STRESS_BIG_FILES:-2} big_mb=${STRESS_BIG_MB:-32}
fi
seed_args=()
[ -n "${STRESS_SEED:-}" ] && seed_args=(--seed "$STRESS_SEED")

echo "TAP version 13"
echo "1..3"
if [ ! -x "$stress" ]; then
	echo "not ok 1 union-stress is built ($stress)"
	echo "not ok 2 # SKIP no run"
	echo "not ok 3 # SKIP no run"
	exit 1
fi

klog_before=$(dmesg | wc -l)
start=$(date +%s)
out=$("$stress" --procs "$procs" --seconds "$seconds" --big-files "$big_files" \
	--big-mb "$big_mb" "${seed_args[@]}" 2>&1)
rc=$?
end=$(date +%s)
sed 's/^/# /' <<<"$out"
echo "# union-stress: exit $rc after $((end - start)) s"
if [ $rc -eq 0 ]; then
	echo "ok 1 union_stress_load_and_checks"
else
	echo "not ok 1 union_stress_load_and_checks"
fi
if grep -q '^FAIL: .*unexpected errno' <<<"$out"; then
	echo "not ok 2 no_unexpected_errno"
else
	echo "ok 2 no_unexpected_errno"
fi

new=$(dmesg | tail -n +"$((klog_before + 1))")
if grep -qE "$klog_bad_re" <<<"$new"; then
	echo "# kernel log during the run:"
	grep -nE -B5 -A40 "$klog_bad_re" <<<"$new" | head -150 | sed 's/^/# /'
	echo "not ok 3 kernel_log_clean_during_stress"
	rc=1
else
	echo "ok 3 kernel_log_clean_during_stress"
fi
exit $(( rc != 0 ))
