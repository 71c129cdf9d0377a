#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# POSIX ACLs through the union, against the oracle of Documentation's
# permission model: a plain tmpfs copy of the lower tree (cp -a), on which
# the same operations are done.  getfacl, access decisions (as uid 1000 and
# 1001, with and without supplementary groups), copy-up of files with ACLs,
# setfacl through the union, and default ACLs applied on create (also over a
# whiteout), the setgid bit a setfacl clears (the caller outside the group)
# must give what they give on the copy; upper holds the ACLs and
# lower is never changed.
#
# Must run as root with union.ko loaded. Prints TAP 13; unmounts everything.

set -u

# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/lib/tap.sh"
# shellcheck source=selftests/lib/union.sh
. "$(dirname "$0")/lib/union.sh"

oracle_layers acl

# The lower tree: files and directories with access and default ACLs.
mkdir -p "$L/d" "$L/shared" "$L/priv"
echo data > "$L/f"
echo secret > "$L/priv/s"
chmod 0600 "$L/f"
chmod 0700 "$L/priv"
chmod 0600 "$L/priv/s"
setfacl -m u:1000:rw "$L/f"
setfacl -m u:1000:rx "$L/priv"
setfacl -m u:1000:r "$L/priv/s"
setfacl -m g:2000:rwx -m d:u:1000:rwx -m d:g:2000:rx "$L/shared"
echo x > "$L/shared/old"
# setgid files of uid 1000, group 2000 (1000 is not in it unless given)
for f in sg sg2; do echo s > "$L/$f"; chown 1000:2000 "$L/$f"; chmod 2775 "$L/$f"; done
cp -a "$L" "$C"
lower_before=$(cd "$L" && getfacl -R -n -p . 2>&1; find . -printf '%p %m %U %G %s\n' | sort)

mount_union_o "lower=$L,upper=$U" "$M" || { echo "not ok 1 mount"; exit 1; }
echo "TAP version 13"

acls()	# the ACLs of a tree, relative names, numeric ids, in name order
{
	(cd "$1" && find . -path ./.union-work -prune -o -print | sort |
		while IFS= read -r f; do getfacl -n -p "$f" 2>&1; done)
}

check_both "getfacl of lower objects is what the copy has" 'getfacl -n -p "$T/f" "$T/priv" "$T/shared"'

check_both "access decisions (ACL entries, groups) are the copy's" 'for u in 1000 1001 1000:2000 1001:2000; do
	as $u "cat \"\$T/f\" >/dev/null" && echo "$u read f";
	as $u "cat \"\$T/priv/s\" >/dev/null" && echo "$u read priv/s";
	as $u "ls \"\$T/priv\" >/dev/null" && echo "$u list priv";
	as $u "touch \"\$T/shared/t-$u\"" && echo "$u create in shared";
done'

check_both "appending to a lower file with an ACL (copy-up) works" 'echo more >> "$T/f" && cat "$T/f"'
out=$(getfacl -n -p "$U/f" 2>&1 | grep -c 'user:1000:rw-')
result $(( out == 1 ? 0 : 1 )) "the copied-up file carries the ACL on upper" "$(getfacl -n -p "$U/f" 2>&1)"

check_both "the ACL entry grants write after the copy-up too" 'as 1000 "echo byuser >> \"\$T/f\"" && cat "$T/f"'

check_both "setfacl through the union changes access as on the copy" 'setfacl -m u:1001:r "$T/priv/s" && getfacl -n -p "$T/priv/s" && as 1001 "cat \"\$T/priv/s\"" ; as 1001 "cat \"\$T/priv/s\""'

check_both "setfacl -x removes the entry as on the copy" 'setfacl -x u:1000 "$T/priv" && getfacl -n -p "$T/priv" && as 1000 "ls \"\$T/priv\""'

check_both "setfacl by the owner outside the file's group clears setgid" 'as 1000 "setfacl -m u:1001:r \"\$T/sg\"" && stat -c "%a %u %g" "$T/sg" && getfacl -n -p "$T/sg"'

check_both "setfacl by the owner in the file's group keeps setgid" 'as 1000:2000 "setfacl -m u:1001:r \"\$T/sg2\"" && stat -c "%a %u %g" "$T/sg2"'

check_both "default ACLs are applied on create" 'touch "$T/shared/new" && mkdir "$T/shared/sub" && getfacl -n -p "$T/shared/new" "$T/shared/sub"'

check_both "default ACLs are applied on create over a whiteout" 'rm "$T/shared/old" && touch "$T/shared/old" && mkdir "$T/shared/old2" && getfacl -n -p "$T/shared/old"'

check_both "umask applies where there is no default ACL only" 'umask 077; touch "$T/shared/masked" "$T/d/masked"; stat -c "%n %a" "$T/shared/masked" "$T/d/masked"'

check_both "chmod of a file with an ACL updates its mask as on the copy" 'chmod 0640 "$T/f" && getfacl -n -p "$T/f"'

m_acls=$(acls "$M")
c_acls=$(acls "$C")
result $([ "$m_acls" = "$c_acls" ]; echo $?) "getfacl -R of the union is the copy's" \
	"$(diff <(echo "$c_acls") <(echo "$m_acls") | head -40)"

umount "$M"
mount_union_o "lower=$L,upper=$U" "$M"
m_acls=$(acls "$M")
result $([ "$m_acls" = "$c_acls" ]; echo $?) "... and after umount + mount" \
	"$(diff <(echo "$c_acls") <(echo "$m_acls") | head -40)"
umount "$M"

lower_after=$(cd "$L" && getfacl -R -n -p . 2>&1; find . -printf '%p %m %U %G %s\n' | sort)
result $([ "$lower_before" = "$lower_after" ]; echo $?) "lower is unchanged" \
	"$(diff <(echo "$lower_before") <(echo "$lower_after") | head -20)"

finish
