#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Permission outcomes through the union against the oracle of the permission
# model (Documentation/filesystems/union.rst): a plain tmpfs copy of the
# lower tree (cp -a) on which the same operations are done, as root and as
# unprivileged uids with and without supplementary groups: a sticky
# /tmp-style directory (who may unlink and rename what), setgid directories
# (group and setgid bit inheritance, also over a whiteout), mode bits on
# files and directories (read, write, search, create, unlink), chown/chmod
# by non-owners, and a work directory left by someone else, which the mount
# takes over (mounter's, 0700).
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"

oracle_layers perm

# The lower tree.
mkdir -p "$L/tmp" "$L/sgid" "$L/ro" "$L/noexec" "$L/own"
chmod 1777 "$L/tmp"
echo a > "$L/tmp/by1000"; chown 1000:1000 "$L/tmp/by1000"
echo b > "$L/tmp/by1001"; chown 1001:1001 "$L/tmp/by1001"
echo r > "$L/tmp/byroot"
chgrp 2000 "$L/sgid"; chmod 2775 "$L/sgid"
mkdir "$L/sgid/sub"; chgrp 2000 "$L/sgid/sub"; chmod 2775 "$L/sgid/sub"
echo s > "$L/sgid/f"
echo x > "$L/ro/f"; chmod 0444 "$L/ro/f"; chmod 0555 "$L/ro"
echo y > "$L/noexec/f"; chmod 0644 "$L/noexec"
echo o > "$L/own/f"; chown -R 1000:1000 "$L/own"; chmod 0700 "$L/own"
chmod 0640 "$L/own/f"
cp -a "$L" "$C"
# Leftovers of another user at the work directory's name.
mkdir -m 0777 "$U/.union-work"
chown 1000:1000 "$U/.union-work"
echo planted > "$U/.union-work/planted"

mount_union_o "lower=$L,upper=$U" "$M" || { echo "not ok 1 mount"; exit 1; }
echo "TAP version 13"

result $([ "$(stat -c '%u %a' "$U/.union-work")" = "0 700" ] && [ ! -e "$U/.union-work/planted" ]; echo $?) \
	"a work directory left by another user is taken over (mounter's, 0700, emptied)" \
	"$(stat -c '%u %a' "$U/.union-work"; ls -la "$U/.union-work")"

check_both "sticky directory: who may unlink and rename what" 'for u in 1000 1001 1002; do
	for f in by1000 by1001 byroot; do as $u "rm -f \"\$T/tmp/$f\"" 2>/dev/null && echo "$u rm $f"; done;
	as $u "echo m > \"\$T/tmp/mine$u\"" && echo "$u create";
	as $u "mv \"\$T/tmp/mine$u\" \"\$T/tmp/moved$u\"" && echo "$u mv own";
done; ls "$T/tmp"'

check_both "setgid directories: group and setgid inheritance (also over whiteouts)" 'as 1000:2000 "touch \"\$T/sgid/new\"; mkdir \"\$T/sgid/newdir\"";
	stat -c "%n %U %G %a" "$T/sgid/new" "$T/sgid/newdir";
	rm "$T/sgid/f" && as 1000:2000 "touch \"\$T/sgid/f\"" && stat -c "%n %U %G %a" "$T/sgid/f";
	rmdir "$T/sgid/sub" && as 1000:2000 "mkdir \"\$T/sgid/sub\"" && stat -c "%n %U %G %a" "$T/sgid/sub"'

check_both "mode bits on files and directories" 'for u in 1000 1001; do
	as $u "cat \"\$T/ro/f\"" >/dev/null && echo "$u read ro/f";
	as $u "echo z >> \"\$T/ro/f\"" 2>/dev/null && echo "$u write ro/f";
	as $u "touch \"\$T/ro/new\"" 2>/dev/null && echo "$u create in ro";
	as $u "cat \"\$T/noexec/f\"" 2>/dev/null && echo "$u search noexec";
	as $u "ls \"\$T/noexec\"" >/dev/null 2>&1 && echo "$u list noexec";
	as $u "cat \"\$T/own/f\"" 2>/dev/null && echo "$u read own/f";
	as $u "echo w >> \"\$T/own/f\"" 2>/dev/null && echo "$u write own/f";
	as $u "rm \"\$T/own/f\"" 2>/dev/null && echo "$u rm own/f";
done'

check_both "chmod/chown/chgrp by owner, non-owner, group member" 'as 1001 "chmod 0666 \"\$T/tmp/by1000\"" 2>/dev/null && echo chmod-by-other;
	as 1000 "chmod 0600 \"\$T/tmp/by1000\"" && echo chmod-by-owner;
	as 1000 "chown 1001 \"\$T/tmp/by1000\"" 2>/dev/null && echo chown-by-owner;
	as 1000 "chgrp 2000 \"\$T/tmp/by1000\"" 2>/dev/null && echo chgrp-not-member;
	as 1000:2000 "chgrp 2000 \"\$T/tmp/by1000\"" && echo chgrp-member;
	stat -c "%U %G %a" "$T/tmp/by1000"'

umount "$M"
finish
