#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Compile ipc/bus1 of the built test kernel again with sparse (C=2) and
# W=1; any warning fails.
#
#   check-warnings.sh ARCH

. "$(dirname "$0")/lib.sh"

arch=${1:-x86_64}
cross=
[ "$arch" = arm64 ] && cross=aarch64-linux-gnu-
O=$BUILD/obj/$arch-test
[ -f "$O/.config" ] || die "no $arch kernel: run scripts/build-kernel.sh $arch"
command -v sparse >/dev/null || die "sparse is missing: run 'make setup'"

out=$(make -s -C "$WT_TEST" O="$O" ARCH="$arch" CROSS_COMPILE="$cross" \
	C=2 W=1 ipc/bus1/ 2>&1) || { echo "$out"; die "ipc/bus1 does not build with C=2 W=1"; }
if echo "$out" | grep -E 'warning|error' >/dev/null; then
	echo "$out"
	exit 1
fi
echo "ipc/bus1: no sparse or W=1 warnings"
