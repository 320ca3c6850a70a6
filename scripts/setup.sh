#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what the build and the tests need (Debian 12 packages) and turn
# Debian's linux-source-6.12 into a git repo with one base commit, tagged
# "base". Re-runs reuse what is already there.
#
#   setup.sh [ARCH...]   also what booting ARCH needs beyond the x86_64
#                        and arm64 guests of every run (riscv64)

. "$(dirname "$0")/lib.sh"

PKGS=(linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev
      cpio xz-utils git python3 perl qemu-system-x86 qemu-system-arm
      busybox-static bash-static rsync coccinelle python3-docutils
      sparse gcc-aarch64-linux-gnu gcc-i686-linux-gnu
      libc6-dev-i386-cross libc6-dev-arm64-cross python3-ply python3-git
      dwarves mandoc pkg-config g++
      gcc-arm-linux-gnueabihf gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu
      gcc-mips64el-linux-gnuabi64 gcc-riscv64-linux-gnu
      dbus-broker dbus-daemon libsystemd-dev)
for a in "$@"; do
	case $a in
	x86_64 | arm64) ;;
	riscv64) PKGS+=(libc6-dev-riscv64-cross qemu-system-misc) ;;
	*) die "no guest for $a" ;;
	esac
done

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

# The arm64 and riscv64 guests need a busybox of their own. Installing
# busybox-static:ARCH would replace the host's, and Debian 12 has no
# riscv64 packages (riscv64 is a release architecture from Debian 13 on),
# so fetch the package with a private apt state into the build folder,
# leaving the host's apt configuration and lists alone, and unpack it.
fetch_busybox() {
	local arch=$1 suite=$2 dir=$BUILD/busybox-$1 deb
	[ -x "$dir/bin/busybox" ] && return 0
	note "fetching busybox-static:$arch from Debian $suite"
	rm -rf "$dir"
	mkdir -p "$dir/deb" "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
	: >"$dir/apt/status"
	echo "deb [arch=$arch] http://deb.debian.org/debian $suite main" >"$dir/apt/sources.list"
	local apt=(apt-get -q -o Dir::Etc::SourceList="$dir/apt/sources.list"
		   -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$dir/apt/lists"
		   -o Dir::Cache="$dir/apt/cache" -o Dir::State::status="$dir/apt/status"
		   -o APT::Architecture="$arch" -o APT::Architectures::="$arch"
		   -o APT::Sandbox::User=root -o Debug::NoLocking=1)
	"${apt[@]}" update >/dev/null 2>&1 || die "could not fetch Debian $suite's $arch package list"
	(cd "$dir/deb" && "${apt[@]}" download busybox-static >/dev/null 2>&1) ||
		die "could not download busybox-static:$arch"
	deb=$(ls "$dir"/deb/*.deb)
	dpkg-deb -x "$deb" "$dir" || die "could not unpack $deb"
	# Debian 13 ships it as /usr/bin/busybox.
	[ -e "$dir/bin/busybox" ] || [ ! -x "$dir/usr/bin/busybox" ] ||
		{ mkdir -p "$dir/bin" && cp "$dir/usr/bin/busybox" "$dir/bin/busybox"; }
	[ -x "$dir/bin/busybox" ] || die "busybox missing from $deb"
	rm -rf "$dir/apt"
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
fetch_busybox arm64 bookworm
[[ " $* " != *" riscv64 "* ]] || fetch_busybox riscv64 trixie
extract_base
note "base tree ready: $(git -C "$BASE" log -1 --format=%s base)"
