# SPDX-License-Identifier: GPL-2.0
# Shell helpers shared by the selftests/*.sh scripts (source it):
#   result STATUS NAME [DIAG]   one TAP result; DIAG lines become comments on failure
#   both CMD                    CMD on the union ($M) and on the plain copy ($C), with
#                               $T set to the tree: same output and status, or fail
#   as UID[:GROUPS] CMD         CMD as UID (gid UID), with supplementary GROUPS or none
# shellcheck shell=bash

n=0
failed=0

result()
{
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		[ -n "${3:-}" ] && sed 's/^/# /' <<<"$3"
		failed=1
	fi
	return 0
}

both()
{
	local out_m out_c
	out_m=$(T=$M bash -c "$*" 2>&1; echo "rc=$?")
	out_c=$(T=$C bash -c "$*" 2>&1; echo "rc=$?")
	out_m=${out_m//$M/TREE}
	out_c=${out_c//$C/TREE}
	if [ "$out_m" = "$out_c" ]; then
		# What both said, for the log (the test's evidence).
		sed 's/^/#   /' <<<"$out_m" >&2
		return 0
	fi
	echo "union: $out_m"
	echo "copy:  $out_c"
	return 1
}

as()
{
	local who=$1 uid groups
	shift
	uid=${who%%:*}
	groups=${who#*:}
	[ "$groups" = "$who" ] && groups=
	if [ -n "$groups" ]; then
		setpriv --reuid="$uid" --regid="$uid" --groups="$groups" -- bash -c "$*"
	else
		setpriv --reuid="$uid" --regid="$uid" --clear-groups -- bash -c "$*"
	fi
}
export -f as
