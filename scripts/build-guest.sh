#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build what runs inside the guest for one architecture: the bus1
# selftests (through their kselftest Makefile, statically linked, against
# the uapi headers of the test kernel), libbus1's test, the service bus
# example (examples/service-bus) with its test, the demo, the fuzzer
# (fuzz/), the sample the kernel build made, busybox and /init, packed
# into an initramfs.
#
#   build-guest.sh ARCH [FLAVOUR]

. "$(dirname "$0")/lib.sh"

arch=${1:-}
flavour=${2:-test}
O=$BUILD/obj/$arch-$flavour
G=$BUILD/guest/$arch-$flavour
case $arch in
x86_64)
	busybox=/bin/busybox
	cc=gcc
	# 32-bit programs on the 64-bit kernel use the i386 table entries.
	variants=("native $cc" "32 i686-linux-gnu-gcc")
	;;
arm64)
	busybox=$BUILD/busybox-arm64/bin/busybox
	cc=aarch64-linux-gnu-gcc
	variants=("native $cc")
	;;
riscv64)
	busybox=$BUILD/busybox-riscv64/bin/busybox
	cc=riscv64-linux-gnu-gcc
	variants=("native $cc")
	;;
*) die "usage: build-guest.sh x86_64|arm64|riscv64 [FLAVOUR]" ;;
esac
[ -d "$O/usr/include/linux" ] || die "no $arch headers: run scripts/build-kernel.sh $arch first"
[ -x "$busybox" ] || die "no busybox for $arch: run 'make setup'"

root=$G/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,bus1/tests}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$TOP/scripts/guest/init" "$root/init"

for v in "${variants[@]}"; do
	read -r name vcc <<<"$v"
	command -v "$vcc" >/dev/null || die "$vcc is missing: run 'make setup'"
	out=$G/selftests-$name
	# The selftest Makefile does not track the kernel headers: a uapi
	# change must rebuild every program, so build from scratch.
	rm -rf "$out"
	mkdir -p "$out"
	make -s -C "$WT_TEST/tools/testing/selftests/bus1" OUTPUT="$out" \
		CC="$vcc" KHDR_INCLUDES="-isystem $O/usr/include" \
		USERCFLAGS=-Werror USERLDFLAGS=-static >"$out/build.log" 2>&1 || {
		cat "$out/build.log" >&2
		die "building the $name $arch selftests failed"
	}
	mkdir -p "$root/bus1/tests/$name"
	make -s -C "$WT_TEST/tools/testing/selftests/bus1" OUTPUT="$out" \
		CC="$vcc" KHDR_INCLUDES="-isystem $O/usr/include" \
		--eval='print-progs: ; @echo $(TEST_GEN_PROGS)' print-progs |
		tr ' ' '\n' | grep . | while read -r prog; do
			cp "$prog" "$root/bus1/tests/$name/"
		done

	# libbus1 and its test, built without the kernel's uapi headers:
	# the library brings the ABI and the syscall numbers itself.
	lib=$G/libbus1-$name
	rm -rf "$lib"
	make -s -C "$TOP/libbus1" O="$lib" CC="$vcc" CFLAGS="-O2 -g -Werror" \
		>"$out/libbus1.log" 2>&1 &&
	"$vcc" -static -O2 -g -Wall -Werror -I"$TOP/libbus1/include" \
		-I"$WT_TEST/tools/testing/selftests" \
		-o "$root/bus1/tests/$name/libbus1_test" \
		"$TOP/libbus1/test/libbus1_test.c" "$lib/libbus1.a" -pthread \
		>>"$out/libbus1.log" 2>&1 || {
		cat "$out/libbus1.log" >&2
		die "building libbus1 ($name $arch) or its test failed"
	}

	# The service bus example on libbus1, its test and its demo.
	sb=$G/svcbus-$name
	rm -rf "$sb"
	make -s -C "$TOP/examples/service-bus" O="$sb" CC="$vcc" \
		CFLAGS="-O2 -g -Werror" LDFLAGS=-static \
		KSFT="$WT_TEST/tools/testing/selftests" all test-prog \
		>"$out/svcbus.log" 2>&1 || {
		cat "$out/svcbus.log" >&2
		die "building the service bus example ($name $arch) failed"
	}
	cp "$sb/svcbus_test" "$root/bus1/tests/$name/"
done
cp "$G/svcbus-native/svcbus-demo" "$root/bus1/"

# The suite once more as a maintainer installs it, with the kernel's own
# tooling, into /kselftest, for init to run it with run_kselftest.sh (x86_64
# only, to keep the guest time in check). The runner needs bash: busybox
# ash cannot parse its "((((( ... )))))". Its "timeout --foreground" gets a
# shim that drops the option busybox's timeout does not know.
if [ "$arch" = x86_64 ]; then
	ksft=$G/kselftest-build
	rm -rf "$ksft"
	mkdir -p "$ksft"
	make -s -C "$WT_TEST/tools/testing/selftests" TARGETS=bus1 O="$ksft" \
		CC="$cc" KHDR_INCLUDES="-isystem $O/usr/include" \
		USERCFLAGS=-Werror USERLDFLAGS=-static \
		INSTALL_PATH="$root/kselftest" install >"$ksft/install.log" 2>&1 || {
		cat "$ksft/install.log" >&2
		die "make -C tools/testing/selftests TARGETS=bus1 install failed"
	}
	[ -x "$root/kselftest/run_kselftest.sh" ] || die "no run_kselftest.sh installed"
	[ -x /bin/bash-static ] || die "bash-static is missing: run 'make setup'"
	cp /bin/bash-static "$root/bin/bash"
	printf '%s\n' '#!/bin/sh' '[ "$1" = --foreground ] && shift' \
		'exec /bin/busybox timeout "$@"' >"$root/usr/bin/timeout"
	chmod +x "$root/usr/bin/timeout"
fi

"$cc" -static -O2 -Wall -Werror -I"$TOP/libbus1/include" \
	-o "$root/bus1/bus1-demo" "$TOP/scripts/demo/bus1-demo.c" \
	"$G/libbus1-native/libbus1.a" || die "building the demo failed"
# The fuzzer: "make fuzz", and a short run in the full "make test".
"$cc" -static -O2 -Wall -Werror -isystem "$O/usr/include" \
	-o "$root/bus1/bus1-fuzz" "$TOP/fuzz/bus1-fuzz.c" || die "building the fuzzer failed"
# libbus1_test runs the README's example.
readme_example >"$G/readme-example.c"
"$cc" -static -O2 -Wall -Werror -I"$TOP/libbus1/include" \
	-o "$root/bus1/readme-example" "$G/readme-example.c" \
	"$G/libbus1-native/libbus1.a" || die "building the README's example failed"
# The sample of samples/bus1/, built with the kernel.
if grep -q '^CONFIG_SAMPLE_BUS1=y' "$O/.config"; then
	cp "$O/samples/bus1/bus1-ping" "$root/bus1/"
fi

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
	gzip -1 > "$G/initramfs.cpio.gz"
note "$arch guest ready: $(find "$root/bus1/tests" -type f | wc -l) test programs"
