#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel of the test worktree for one architecture, out of tree,
# and install its uapi headers for the selftests.
#
#   build-kernel.sh ARCH [FLAVOUR]
#
# ARCH is x86_64, arm64 or riscv64. FLAVOUR "test" (the default) adds
# scripts/configs/debug.config, lsm.config and samples.config to the
# guest configuration; "bench" adds
# scripts/configs/bench.config instead (no debug option, Binder). The
# config is tinyconfig plus the fragments in scripts/configs/; it is
# remade when a fragment changes, and every option the fragments set must
# come out set (where two fragments set one option, the later one wins).

. "$(dirname "$0")/lib.sh"

arch=${1:-}
flavour=${2:-test}
case $arch in
x86_64) karch=x86_64 cross= image=arch/x86/boot/bzImage ;;
arm64) karch=arm64 cross=aarch64-linux-gnu- image=arch/arm64/boot/Image ;;
riscv64) karch=riscv cross=riscv64-linux-gnu- image=arch/riscv/boot/Image ;;
*) die "usage: build-kernel.sh x86_64|arm64|riscv64 [test|bench]" ;;
esac
CONF=$TOP/scripts/configs
frags=("$CONF/$arch.config" "$CONF/common.config")
case $flavour in
test) frags+=("$CONF/debug.config" "$CONF/lsm.config" "$CONF/samples.config") ;;
bench) frags+=("$CONF/bench.config") ;;
*) die "unknown flavour: $flavour" ;;
esac

[ -f "$WT_TEST/Makefile" ] || die "no test tree: run scripts/apply-series.sh first"
O=$BUILD/obj/$arch-$flavour
mkdir -p "$O"
# User programs (samples/) are linked statically: the guest has no libc.
kmake() {
	make -s -C "$WT_TEST" O="$O" ARCH="$karch" CROSS_COMPILE="$cross" \
		USERLDFLAGS=-static "$@"
}

stamp=$(cat "${frags[@]}" | sha1sum | cut -d' ' -f1)
if [ ! -f "$O/.config" ] || [ "$(cat "$O/.bus1-config" 2>/dev/null)" != "$stamp" ]; then
	note "configuring $arch ($flavour)"
	kmake tinyconfig >/dev/null
	(cd "$WT_TEST" && ARCH=$karch CROSS_COMPILE=$cross \
		scripts/kconfig/merge_config.sh -m -O "$O" "$O/.config" "${frags[@]}" >/dev/null)
	kmake olddefconfig >/dev/null
	# A fragment line that did not take (a typo, an unmet dependency)
	# would silently test something else.
	# The last fragment to set an option wins, as in merge_config.sh.
	grep -h '^CONFIG_' "${frags[@]}" | tac | awk -F= '!seen[$1]++' |
	while IFS== read -r sym val; do
		if [ "$val" = n ]; then
			! grep -q "^$sym=" "$O/.config" || die "$sym=$val did not take in the $arch config"
		else
			grep -qx "$sym=$val" "$O/.config" || die "$sym=$val did not take in the $arch config"
		fi
	done
	echo "$stamp" > "$O/.bus1-config"
fi

note "building $arch kernel ($flavour)"
start=$SECONDS
kmake -j"$JOBS" "$(basename "$image")" 2> "$O/build.log" || {
	tail -n 40 "$O/build.log" >&2
	die "$arch kernel build failed"
}
kmake headers_install >/dev/null
# The image target builds the samples too (samples/ is part of vmlinux).
if grep -q '^CONFIG_SAMPLE_BUS1=y' "$O/.config"; then
	[ -x "$O/samples/bus1/bus1-ping" ] || die "the bus1 sample was not built"
	! grep 'samples/bus1/.*warning:' "$O/build.log" >&2 || die "the bus1 sample has warnings"
fi
note "$arch kernel built in $((SECONDS - start)) s"
