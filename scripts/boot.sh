#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the built kernel and guest of one architecture in QEMU (TCG).
#
#   boot.sh ARCH test [ONLY]    run the tests, console to build/logs/
#   boot.sh ARCH fuzz SECONDS   run the fuzzer alone, console likewise
#   boot.sh ARCH demo [shell]   run the demo on the terminal, then
#                               optionally stay at a shell in the guest
#
# ONLY: "kunit" or "kunit:GLOB" for KUnit alone, SUITE or SUITE:TEST for
# one selftest program or one of its tests.
# BUS1_FUZZ_SECONDS adds a fuzzer run of that length to a whole test run.
# BUS1_BOOT_TIMEOUT (seconds) bounds a test boot; a guest that hangs fails.

. "$(dirname "$0")/lib.sh"

arch=${1:-}
mode=${2:-}
arg=${3:-}
flavour=${BUS1_FLAVOUR:-test}
O=$BUILD/obj/$arch-$flavour
G=$BUILD/guest/$arch-$flavour
case $arch in
x86_64)
	qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max
	      -smp "${BUS1_SMP:-4}" -m 2G -kernel "$O/arch/x86/boot/bzImage")
	console=ttyS0
	;;
arm64)
	qemu=(qemu-system-aarch64 -accel tcg,thread=multi -M virt -cpu cortex-a57
	      -smp "${BUS1_SMP:-2}" -m 2G -kernel "$O/arch/arm64/boot/Image")
	console=ttyAMA0
	;;
riscv64)
	# -bios default: the OpenSBI firmware QEMU ships.
	qemu=(qemu-system-riscv64 -accel tcg,thread=multi -M virt -cpu rv64
	      -bios default -smp "${BUS1_SMP:-2}" -m 2G -kernel "$O/arch/riscv/boot/Image")
	console="ttyS0 earlycon=sbi"
	;;
*) die "usage: boot.sh x86_64|arm64|riscv64 test|demo [ONLY|shell]" ;;
esac
[ -f "${qemu[-1]}" ] || die "no $arch kernel: run scripts/build-kernel.sh $arch"
[ -f "$G/initramfs.cpio.gz" ] || die "no $arch guest: run scripts/build-guest.sh $arch"
command -v "${qemu[0]}" >/dev/null || die "${qemu[0]} is missing: run 'make setup'"

cmdline="console=$console panic=-1 bus1.mode=$mode"
qemu+=(-initrd "$G/initramfs.cpio.gz" -no-reboot)

mkdir -p "$BUILD/logs"
log=$BUILD/logs/$arch-$flavour-$mode.log
if [ "$mode" = demo ]; then
	cmdline+=" kunit.enable=0 quiet"
	[ "$arg" = shell ] && cmdline+=" bus1.shell=1"
	"${qemu[@]}" -nographic -append "$cmdline" | tee "$log"
	grep -q "BUS1-DEMO-END rc=0" "$log" || die "the demo failed (see ${log#"$TOP"/})"
	exit 0
fi
fuzz=${BUS1_FUZZ_SECONDS:-0}
case $mode:$arg in
test:) ;;
test:kunit) cmdline+=" bus1.only=none" ;;
test:kunit:*) cmdline+=" bus1.only=none kunit.filter_glob=${arg#kunit:}" ;;
test:*) cmdline+=" bus1.only=$arg kunit.enable=0" fuzz=0 ;;
fuzz:[1-9]*) cmdline+=" kunit.enable=0" fuzz=$arg ;;
*) die "unknown mode: $mode $arg" ;;
esac
[ "$fuzz" = 0 ] || cmdline+=" bus1.fuzz=$fuzz"

limit=$((${BUS1_BOOT_TIMEOUT:-900} + fuzz))
note "booting $arch ($flavour): $cmdline"
start=$SECONDS
rc=0
timeout -k 10 "$limit" "${qemu[@]}" -display none -monitor none -serial stdio \
	-append "$cmdline" </dev/null >"$log" 2>&1 || rc=$?
note "$arch guest ran $((SECONDS - start)) s, console in ${log#"$TOP"/}"
if [ $rc = 124 ] || [ $rc = 137 ]; then
	echo "guest timed out after $limit s" >>"$log"
	die "the $arch guest did not finish within $limit s (see ${log#"$TOP"/})"
fi
[ $rc = 0 ] || die "QEMU exited with status $rc (see ${log#"$TOP"/})"
if ! grep -q '^BUS1-GUEST-UP' "$log"; then
	tail -n 20 "$log" >&2
	die "the $arch guest never reached /init (see ${log#"$TOP"/})"
fi
