#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The differential model tester (tools/union-difftest.c) over a fixed set of
# seeds: for each seed a generated lower tree, a union over it and a plain
# reference copy get the same random operations; every result, and the whole
# visible tree every CHECK_EVERY operations, at the end and after a remount,
# must agree (see the comment at the top of union-difftest.c for the model
# of the documented deviations).  One TAP line per seed.  A failing seed is
# not shrunk here (that takes minutes under TCG); reproduce and shrink it
# with `make fuzz SEEDS=N..N OPS=...` (Documentation/development.rst).
#
# DIFFTEST_SEEDS, DIFFTEST_OPS and DIFFTEST_CHECK_EVERY override the set.
# Must run as root with union.ko loaded.  Prints TAP 13.

set -u
here=$(cd "$(dirname "$0")" && pwd)
tool=$here/build/tools/union-difftest
seeds=${DIFFTEST_SEEDS:-$(seq 1 6)}
ops=${DIFFTEST_OPS:-1000}
check_every=${DIFFTEST_CHECK_EVERY:-100}

# shellcheck source=selftests/lib/tap.sh
. "$here/lib/tap.sh"

set -- $seeds
echo "TAP version 13"
echo "1..$#"
for seed in "$@"; do
	start=$(date +%s.%N)
	out=$("$tool" --seed "$seed" --ops "$ops" --check-every "$check_every" \
		--no-shrink 2>&1)
	rc=$?
	secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
	if [ $rc -eq 0 ]; then
		diag "$out"
		result 0 "seed_$seed ($ops ops, ${secs%%.*} s)"
	else
		diag "$(echo "$out" | head -60)"
		[ $rc -eq 1 ] &&
			diag "reproduce and shrink: make fuzz SEEDS=$seed..$seed OPS=$ops"
		result $rc "seed_$seed (exit status $rc)"
	fi
done
finish $#
