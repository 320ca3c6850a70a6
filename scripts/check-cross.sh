#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Cross-build the syscall wiring of the test worktree for architectures
# the tests do not boot, and check libbus1's syscall numbers against it.
#
#   check-cross.sh [ARCH...]   arm, powerpc (ppc64le), s390 (s390x),
#                              mips (mips64el) and riscv (riscv64);
#                              all of them by default
#   check-cross.sh --list      the architectures it knows
#
# For each one: an allnoconfig kernel plus what bus1 and every syscall
# table of the architecture need (the 32-bit compat tables too), out of
# tree in build/obj/cross-ARCH. It builds only the generated syscall
# headers (make prepare), the objects that hold the tables, kernel/sys_ni.o
# and ipc/bus1/, no kernel image; then
#   - every bus1 entry point a table object refers to is defined by
#     ipc/bus1/ (what the link of vmlinux would find missing),
#   - for each user ABI, a file compiled with the cross compiler finds
#     every call of arch-syscall-tables/bus1.tbl in the kernel's
#     generated <asm/unistd.h>, numbered consecutively in that order, and
#     static-asserts that libbus1/src/syscall-nr.h gives the same numbers.

. "$(dirname "$0")/lib.sh"

ARCHS="arm powerpc s390 mips riscv"

# arch_setup NAME: the kernel ARCH, the cross compiler prefix (Debian 12
# package gcc-<prefix without the dash>), the options set on top of
# allnoconfig, the table objects, and the user ABIs as "name:gcc flags".
arch_setup() {
	case $1 in
	arm)
		karch=arm cross=arm-linux-gnueabihf-
		opts=(MMU ARCH_MULTI_V7 AEABI)
		objs=(arch/arm/kernel/entry-common.o)
		abis=("eabi:") ;;
	powerpc)
		karch=powerpc cross=powerpc64le-linux-gnu-
		opts=(PPC64 CPU_LITTLE_ENDIAN COMPAT)
		objs=(arch/powerpc/kernel/systbl.o)
		abis=("ppc64le:-m64" "ppc32-compat:-m32") ;;
	s390)
		karch=s390 cross=s390x-linux-gnu-
		opts=(MULTIUSER COMPAT)
		objs=(arch/s390/kernel/entry.o)
		abis=("s390x:-m64" "s390-compat:-m31") ;;
	mips)
		karch=mips cross=mips64el-linux-gnuabi64-
		opts=(CPU_MIPS64_R2 64BIT CPU_LITTLE_ENDIAN MIPS32_O32 MIPS32_N32)
		objs=(arch/mips/kernel/scall64-n64.o arch/mips/kernel/scall64-n32.o
		      arch/mips/kernel/scall64-o32.o)
		abis=("n64:-mabi=64" "n32:-mabi=n32" "o32:-mabi=32") ;;
	riscv)
		karch=riscv cross=riscv64-linux-gnu-
		opts=(MMU 64BIT COMPAT)
		objs=(arch/riscv/kernel/syscall_table.o
		      arch/riscv/kernel/compat_syscall_table.o)
		abis=("rv64:-march=rv64gc -mabi=lp64d" "rv32-compat:-march=rv32gc -mabi=ilp32") ;;
	*)
		die "unknown architecture $1 (known: $ARCHS)" ;;
	esac
	opts+=(SHMEM BUS1)
}

[ "${1:-}" != --list ] || { echo "$ARCHS"; exit 0; }
[ -f "$WT_TEST/Makefile" ] || die "no test tree: run scripts/apply-series.sh first"
# The calls, in the order they are numbered.
mapfile -t CALLS < <(sed 's/#.*//' "$TOP/arch-syscall-tables/bus1.tbl" | awk 'NF { print $1 }')
[ ${#CALLS[@]} -gt 0 ] || die "arch-syscall-tables/bus1.tbl lists no call"

# values CC CFLAGS HEADER: "name value" for every call, as HEADER defines
# it ("name -" where it does not).
values() {
	local cc=$1 cflags=$2 hdr=$3 c
	{
		echo "#include $hdr"
		for c in "${CALLS[@]}"; do echo "BUS1_VALUE $c __NR_$c"; done
	} | $cc $cflags -E -P - 2>/dev/null | sed -n 's/^BUS1_VALUE //p' |
	while read -r c expr; do
		case $expr in
		*__NR_*) echo "$c -" ;;
		*) echo "$c $((expr))" ;;
		esac
	done
}

# check_abi NAME CFLAGS: the kernel's <asm/unistd.h> for that ABI against
# bus1.tbl and libbus1/src/syscall-nr.h.
check_abi() {
	local name=$1 cflags="$2 -ffreestanding -nostdinc" src=$O/bus1-nr-$1.c i c
	cflags+=" -I$WT_TEST/arch/$karch/include/uapi -I$O/arch/$karch/include/generated/uapi"
	cflags+=" -I$WT_TEST/include/uapi -I$O/include/generated/uapi -I$TOP/libbus1/src"
	{
		echo "#include <asm/unistd.h>"
		for c in "${CALLS[@]}"; do
			echo "#ifndef __NR_$c"
			echo "#error \"$arch/$name: the kernel <asm/unistd.h> has no __NR_$c\""
			echo "#endif"
		done
		i=0
		for c in "${CALLS[@]}"; do
			echo "enum { kernel_$c = __NR_$c };"
			echo "_Static_assert(kernel_$c == kernel_${CALLS[0]} + $i, \"$arch/$name: __NR_$c is not __NR_${CALLS[0]} + $i (bus1.tbl order)\");"
			echo "#undef __NR_$c"
			i=$((i + 1))
		done
		echo '#include "syscall-nr.h"'
		for c in "${CALLS[@]}"; do
			echo "_Static_assert(__NR_$c == kernel_$c, \"$arch/$name: libbus1 and the kernel number __NR_$c differently\");"
		done
	} >"$src"
	if ! "${cross}gcc" $cflags -c "$src" -o "${src%.c}.o" 2>"${src%.c}.log"; then
		sed -n 's/.*error: //p' "${src%.c}.log" | head -n 3 >&2
		paste -d' ' <(values "${cross}gcc" "$cflags" '<asm/unistd.h>') \
		      <(values "${cross}gcc" "$cflags" '"syscall-nr.h"' | cut -d' ' -f2) |
			awk 'BEGIN { printf "    %-24s %8s %8s\n", "call", "kernel", "libbus1" }
			     { printf "    %-24s %8s %8s\n", $1, $2, $3 }' >&2
		echo "error: $arch/$name: the syscall numbers do not check out" >&2
		return 1
	fi
	local first last
	first=$(values "${cross}gcc" "$cflags" '<asm/unistd.h>' | awk 'NR == 1 { print $2 }')
	last=$((first + ${#CALLS[@]} - 1))
	echo "$arch/$name: __NR_${CALLS[0]}..__NR_${CALLS[-1]} = $first..$last, libbus1 agrees"
}

cross_one() {
	local arch=$1 karch cross opts objs abis o undef defined missing ni abi rc=0 start=$SECONDS
	arch_setup "$arch"
	command -v "${cross}gcc" >/dev/null ||
		die "$arch: no ${cross}gcc (Debian package gcc-${cross%-}): run scripts/setup.sh"
	O=$BUILD/obj/cross-$arch
	mkdir -p "$O"
	kmake() {
		make -s -C "$WT_TEST" O="$O" ARCH="$karch" CROSS_COMPILE="$cross" "$@"
	}

	printf 'CONFIG_%s=y\n' "${opts[@]}" >"$O/bus1-cross.config.new"
	if [ ! -f "$O/.config" ] || ! cmp -s "$O/bus1-cross.config.new" "$O/bus1-cross.config"; then
		note "$arch: configuring (allnoconfig + ${opts[*]})"
		kmake KCONFIG_ALLCONFIG="$O/bus1-cross.config.new" allnoconfig >/dev/null ||
			die "$arch: allnoconfig failed"
		for o in "${opts[@]}"; do
			grep -qx "CONFIG_$o=y" "$O/.config" ||
				die "$arch: CONFIG_$o=y did not take in the config"
		done
		mv "$O/bus1-cross.config.new" "$O/bus1-cross.config"
	fi
	rm -f "$O/bus1-cross.config.new"

	note "$arch: building the syscall headers, ${objs[*]}, kernel/sys_ni.o, ipc/bus1/"
	kmake -j"$JOBS" "${objs[@]}" kernel/sys_ni.o ipc/bus1/ 2>"$O/build.log" || {
		tail -n 40 "$O/build.log" >&2
		die "$arch: the build failed"
	}
	for o in "${objs[@]}" kernel/sys_ni.o ipc/bus1/built-in.a; do
		[ -f "$O/$o" ] || die "$arch: $o was not built"
	done
	! grep -E 'warning:' "$O/build.log" >&2 || die "$arch: the build has warnings"

	# Each bus1 entry point the tables name must exist (what linking
	# vmlinux would check); sys_ni.o must hold the fallbacks.
	undef=$("${cross}nm" -u "${objs[@]/#/$O/}" | awk '/bus1/ { print $2 }' | sort -u)
	defined=$("${cross}nm" --defined-only "$O/ipc/bus1/built-in.a" 2>/dev/null |
		awk '$2 ~ /^[TtWw]$/ && /bus1/ { print $3 }' | sort -u)
	[ -n "$undef" ] || die "$arch: the syscall tables name no bus1 entry point"
	missing=$(comm -23 <(echo "$undef") <(echo "$defined"))
	[ -z "$missing" ] || die "$arch: the tables name entry points ipc/bus1/ does not define: $(echo "$missing" | tr "\n" " ")"
	ni=$("${cross}nm" "$O/kernel/sys_ni.o")
	for o in "${CALLS[@]}"; do
		grep -q "_sys_$o\$\| sys_$o\$" <<<"$ni" ||
			die "$arch: kernel/sys_ni.o has no fallback for $o"
	done
	echo "$arch: the tables name $(echo "$undef" | wc -l) bus1 entry points, all defined"

	for abi in "${abis[@]}"; do
		check_abi "${abi%%:*}" "${abi#*:}" || rc=1
	done
	[ $rc -eq 0 ] || die "$arch: syscall numbers"
	note "$arch: done in $((SECONDS - start)) s"
}

[ $# -gt 0 ] || set -- $ARCHS
fail=0
for a in "$@"; do
	(cross_one "$a") || fail=1
done
exit $fail
