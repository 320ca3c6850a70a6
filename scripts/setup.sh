#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what the build and the tests need (Debian 12 packages) and turn
# Debian's linux-source-6.12 into a git repo with one base commit, tagged
# "base". Re-runs reuse what is already there.

. "$(dirname "$0")/lib.sh"

PKGS=(linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev
      cpio xz-utils git python3 perl qemu-system-x86 qemu-system-arm
      busybox-static sparse gcc-aarch64-linux-gnu gcc-i686-linux-gnu
      libc6-dev-i386-cross libc6-dev-arm64-cross python3-ply python3-git
      dwarves mandoc pkg-config g++)

install_packages() {
	local missing=() p
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	note "installing ${missing[*]}"
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || die "apt-get update failed"
	apt-get install -y -q "${missing[@]}" >/dev/null ||
		die "could not install: ${missing[*]}"
}

# The arm64 guest needs an arm64 busybox; installing busybox-static:arm64
# would replace the host's, so unpack the package into the build folder.
fetch_arm64_busybox() {
	local dir=$BUILD/busybox-arm64 deb
	[ -x "$dir/bin/busybox" ] && return 0
	note "fetching busybox-static:arm64"
	dpkg --print-foreign-architectures | grep -qx arm64 || {
		dpkg --add-architecture arm64
		apt-get update -q >/dev/null || die "apt-get update failed"
	}
	rm -rf "$dir" && mkdir -p "$dir/deb"
	(cd "$dir/deb" && apt-get download -q busybox-static:arm64 >/dev/null 2>&1) ||
		die "could not download busybox-static:arm64"
	deb=$(ls "$dir"/deb/*.deb)
	dpkg-deb -x "$deb" "$dir" || die "could not unpack $deb"
	[ -x "$dir/bin/busybox" ] || die "busybox missing from $deb"
}

extract_base() {
	local tarball
	git -C "$BASE" rev-parse -q --verify base >/dev/null 2>&1 && return 0
	tarball=$(dpkg -L linux-source-6.12 | grep -E '/linux-source-6\.12\.tar\.xz$' | head -n 1)
	[ -f "$tarball" ] || die "linux-source-6.12 tarball not found"
	note "extracting $(basename "$tarball")"
	rm -rf "$BASE" "$BUILD/wt"
	mkdir -p "$BASE"
	tar -xJf "$tarball" -C "$BASE" --strip-components=1 || die "extracting $tarball failed"
	# Debian's top-level .gitignore ignores everything at the top level;
	# the kernel's own per-directory .gitignore files stay.
	rm -f "$BASE/.gitignore"
	note "making the base commit"
	git -C "$BASE" init -q -b pristine
	git -C "$BASE" add -A
	git -C "$BASE" commit -q -m "Linux $(make -s -C "$BASE" kernelversion) (Debian linux-source-6.12)"
	git -C "$BASE" tag base
}

install_packages
mkdir -p "$BUILD"
fetch_arm64_busybox
extract_base
note "base tree ready: $(git -C "$BASE" log -1 --format=%s base)"
