# SPDX-License-Identifier: GPL-2.0
# TAP output of the selftests/*.sh scripts (source it first; lib/union.sh has the
# mount and layer helpers):
#   diag LINE...                each argument's lines as "# " comment lines
#   result STATUS NAME [DIAG]   one TAP result, numbered in order ($n); a failure
#                               (STATUS != 0) sets $failed and prints DIAG as comments
#   check DESC CMD...           one result: CMD's exit status, the last 30 lines of
#                               its output as DIAG
#   finish [PLANNED]            end the script: with PLANNED (the plan "1..PLANNED" was
#                               printed first) a different number of results fails;
#                               without, print the plan "1..$n" now; exit 1 if
#                               anything failed, else 0
# shellcheck shell=bash

n=0
failed=0

diag()
{
	local arg line

	for arg in "$@"; do
		while IFS= read -r line; do
			echo "# $line"
		done <<<"$arg"
	done
}

result()
{
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		[ -n "${3:-}" ] && diag "$3"
		failed=1
	fi
	return 0
}

check()
{
	local desc=$1 out rc

	shift
	out=$("$@" 2>&1)
	rc=$?
	result $rc "$desc" "$(printf '%s\n' "$out" | tail -30)"
}

# shellcheck disable=SC2120 # (PLANNED is optional)
finish()
{
	if [ $# -gt 0 ]; then
		if [ "$n" -ne "$1" ]; then
			diag "ran $n tests, planned $1"
			failed=1
		fi
	else
		echo "1..$n"
	fi
	exit "$failed"
}
