#!/bin/bash
# selftests/host/livecd.sh -- a real Debian booted on a union root (qemu/live), tested
# from the host.  Prints TAP 13.
#
# Builds (or reuses) the root filesystem image, builds a tiny .deb, and boots:
#   A  with a tmpfs upper layer (what `make run` boots): the system reaches
#      multi-user with no failed unit, / is a union, editing /etc, useradd, dpkg -i of
#      the .deb and apt-get remove of a package of the image work, the changes are on
#      the upper layer (selftests/host/livecd-guest does the checks inside);
#   B  the same with a fresh persistent upper layer (ext4 image); then, from the host,
#      the image holds the changes (debugfs) and is clean (e2fsck -fn);
#   C  again on B's upper layer: the changes are still there and the view (names,
#      types, modes, owners, sizes, mtimes, inode numbers, contents) is B's;
#   D  a newer image (a package's files added, another's removed) on the same upper layer with
#      union.remerge (-o remerge): the new image's files show, B's changes stay.
# The squashfs image must be byte-identical at the end, and no boot's console log may
# show an oops, BUG, WARNING, lockdep or KASAN report.
#
# LIVECD_FS=overlay runs the same against overlayfs (for comparison).
# UNION_LIVECD_TIMEOUT: limit per boot in seconds (default 1200).
# The console logs of the last run are kept in $UNION_LIVECD_LOGS (default
# /tmp/union-livecd-logs).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=selftests/lib/klog.sh
. "$here/../lib/klog.sh"
fs=${LIVECD_FS:-union}
timeout=${UNION_LIVECD_TIMEOUT:-1200}
append=
[ "$fs" = union ] || append="union.fs=$fs"
tmp=$(mktemp -d /tmp/union-livecd.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
logs=${UNION_LIVECD_LOGS:-/tmp/union-livecd-logs}
rm -rf "$logs" && mkdir -p "$logs"
t0=$(date +%s)

# shellcheck source=selftests/lib/tap.sh
. "$here/../lib/tap.sh"
end() {
	echo "# livecd: total $(( $(date +%s) - t0 )) s; console logs in $logs"
	finish
}

echo "TAP version 13"

# The root filesystem image (cold: ~2 min, downloads ~40 MB from deb.debian.org).
s=$(date +%s)
if rootfs=$("$repo/qemu/build-rootfs" 2>"$tmp/build-rootfs.log" | tail -1) && [ -f "$rootfs" ]; then
	result 0 "build the root filesystem image ($(du -h "$rootfs" | cut -f1), $(( $(date +%s) - s )) s)"
else
	result 1 "build the root filesystem image"
	tail -30 "$tmp/build-rootfs.log" | sed 's/^/#   /'
	end
fi
sha=$(sha256sum < "$rootfs")

# A tiny package with a program and a conffile, passed to the guest over 9p.
mkdir -p "$tmp/share" "$tmp/pkg/DEBIAN" "$tmp/pkg/usr/bin" "$tmp/pkg/etc"
cat > "$tmp/pkg/DEBIAN/control" <<'EOF'
Package: union-hello
Version: 1.0
Architecture: all
Maintainer: union <union@localhost>
Section: misc
Priority: optional
Description: union LiveCD test package
EOF
echo /etc/union-hello.conf > "$tmp/pkg/DEBIAN/conffiles"
printf '#!/bin/sh\necho "hello from union-hello"\n' > "$tmp/pkg/usr/bin/union-hello"
chmod 755 "$tmp/pkg/usr/bin/union-hello"
echo greeting=hello > "$tmp/pkg/etc/union-hello.conf"
check "build a local .deb (dpkg-deb)" \
	dpkg-deb --root-owner-group -Zgzip --build "$tmp/pkg" "$tmp/share/union-hello_1.0_all.deb"
cp "$here/livecd-guest" "$tmp/share/"

klog_clean() { # LOG
	[ -s "$1" ] || { echo "empty console log"; return 1; }
	if grep -qE "$klog_bad_re" "$1"; then
		grep -nE -A20 "$klog_bad_re" "$1" | head -60
		return 1
	fi
}
boot() { # TAG MODE [qemu/live options]
	local tag=$1 mode=$2 s status line
	shift 2
	s=$(date +%s)
	echo "# boot $tag: qemu/live $* -- livecd-guest $mode $tag $fs"
	"$repo/qemu/live" --rootfs "$rootfs" --share "$tmp/share" --timeout "$timeout" \
		--log "$logs/console-$tag.log" ${append:+--append "$append"} "$@" \
		-- bash /mnt/host/livecd-guest "$mode" "$tag" "$fs" > "$logs/out-$tag" 2>&1
	status=$?
	# Every guest run reports results; none (or no output at all) is a failure, never a
	# silent pass.
	check "$tag: the guest reported its results" \
		grep -qE '^(not )?ok - ' "$logs/out-$tag"
	[ -f "$logs/out-$tag" ] || return 0
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) result 0 "${line#ok - }" ;;
		"not ok - "*) result 1 "${line#not ok - }" ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < "$logs/out-$tag"
	echo "# $tag: boot, test and power off took $(( $(date +%s) - s )) s"
	check "$tag: the VM ran the test and powered off (exit status $status)" [ "$status" = 0 ]
	check "$tag: console log has no oops, BUG, WARNING, lockdep or KASAN report" \
		klog_clean "$logs/console-$tag.log"
	if grep -q "union-shutdown: union root busy" "$logs/console-$tag.log"; then
		echo "# $tag: at power off the union root was busy and only detached"
	fi
}

boot A change

img=$tmp/upper.img
boot B change --upper "$img"
debugfs_has() { # DEBUGFS-CMD PATTERN
	local out
	out=$(debugfs -R "$1" "$img" 2>&1)
	grep -qE "$2" <<< "$out" || { echo "debugfs -R '$1':"; echo "$out" | head -20; return 1; }
}
check "B: the ext4 upper layer is clean after power off (e2fsck -fn)" e2fsck -fn "$img"
check "B: upper has the edited /etc/motd (debugfs)" \
	debugfs_has 'cat /upper/etc/motd' '^changed by livecd.sh$'
check "B: upper has the new user in /etc/passwd and /etc/shadow (debugfs)" sh -c "
	debugfs -R 'cat /upper/etc/passwd' '$img' 2>/dev/null | grep -q '^alice:x:1000:' &&
	debugfs -R 'cat /upper/etc/shadow' '$img' 2>/dev/null | grep -q '^alice:\\\$'"
check "B: upper has the installed package's files (debugfs)" \
	debugfs_has 'ls -l /upper/usr/bin' 'union-hello'
check "B: upper has a whiteout (0/0 character device) for the removed /usr/bin/less (debugfs)" \
	sh -c "debugfs -R 'stat /upper/usr/bin/less' '$img' 2>&1 | grep -q 'Type: character special' &&
		debugfs -R 'stat /upper/usr/bin/less' '$img' 2>&1 | grep -q 'Device major/minor number: 00:00'"

boot C verify --upper "$img"
check "C: the ext4 upper layer is clean after power off (e2fsck -fn)" e2fsck -fn "$img"
same_view() {
	[ -s "$tmp/share/manifest-B" ] && [ -s "$tmp/share/manifest-C" ] || { echo "no manifest"; return 1; }
	diff "$tmp/share/manifest-B" "$tmp/share/manifest-C" | head -40
	cmp -s "$tmp/share/manifest-B" "$tmp/share/manifest-C"
}
check "C: the view after the reboot is the same (names, types, modes, owners, sizes, mtimes, inode numbers, contents)" same_view

# D: a newer image -- the image with the union-upgrade package's files added and
# procps' files removed -- booted on C's upper layer with
# union.remerge: the new package's files show (also in /usr/bin, which B's readdir had
# copied up), procps is gone, and B's changes are all still there.
mkdir -p "$tmp/pkg2/DEBIAN" "$tmp/pkg2/usr/bin" "$tmp/pkg2/usr/share/union-upgrade"
sed 's/^Package: union-hello/Package: union-upgrade/' "$tmp/pkg/DEBIAN/control" > "$tmp/pkg2/DEBIAN/control"
printf '#!/bin/sh\necho "hello from union-upgrade"\n' > "$tmp/pkg2/usr/bin/union-upgrade"
chmod 755 "$tmp/pkg2/usr/bin/union-upgrade"
echo "in the newer image" > "$tmp/pkg2/usr/share/union-upgrade/README"
newer=$tmp/newer.sqfs
# (Files only, no maintainer scripts: nothing of the image's packages runs on the host.)
check "build a newer image (unsquashfs, union-upgrade unpacked, procps' files removed, mksquashfs)" sh -c "
	dpkg-deb --root-owner-group -Zgzip --build '$tmp/pkg2' '$tmp/union-upgrade.deb' >/dev/null &&
	unsquashfs -q -n -d '$tmp/newer' '$rootfs' >/dev/null &&
	dpkg-deb -x '$tmp/union-upgrade.deb' '$tmp/newer' &&
	dpkg-query --admindir='$tmp/newer/var/lib/dpkg' -L procps |
		while read -r f; do [ -d \"$tmp/newer\$f\" ] || rm -f \"$tmp/newer\$f\"; done &&
	[ ! -e '$tmp/newer/usr/bin/ps' ] &&
	mksquashfs '$tmp/newer' '$newer' -comp zstd -noappend -quiet -no-progress >/dev/null &&
	rm -rf '$tmp/newer'"
rootfs_saved=$rootfs
rootfs=$newer
boot D upgrade --upper "$img" --append union.remerge
rootfs=$rootfs_saved
check "D: the ext4 upper layer is clean after power off (e2fsck -fn)" e2fsck -fn "$img"

check "the root filesystem image is byte-identical (sha256)" \
	sh -c "[ \"\$(sha256sum < '$rootfs')\" = '$sha' ]"
end
