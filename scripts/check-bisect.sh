#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build every prefix of the applied series, with CONFIG_BUS1=y and with
# CONFIG_BUS1=n, so that it stays bisectable.
#
# The prefixes are built in order in one worktree and one object folder:
# checking out the next commit rewrites only the files that patch
# changes, so each build after the first recompiles only what depends on
# them. Each prefix builds with CONFIG_BUS1=y, then, where that can differ,
# with CONFIG_BUS1=n in the same folder: kbuild tracks which objects read
# which option, so switching the option rebuilds little more than the
# link (a folder of its own would cost a second cold build). The kernel
# is x86_64 tinyconfig with bus1 and its KUnit tests, to keep it quick,
# and with tracepoints, so that a trace event used before the patch that
# defines it fails to link, the i386 entry points (IA32_EMULATION) and the
# LSM framework (SECURITY), which the series extends.
#
# The whole series built with CONFIG_BUS1=n must also be free of compiler
# warnings, and each bus1 entry of the 64-bit and the i386 table must be
# the weak sys_ni.c stub, with no other bus1 code in the kernel.
#
# Builds left out, each because it would build exactly what another one
# builds:
#  - a patch that touches only what the kernel build never reads
#    (Documentation/, tools/, MAINTAINERS) and the sample (samples/),
#    which tinyconfig leaves off: the test kernels build that tree, the
#    whole series but the documentation, with the sample on;
#  - CONFIG_BUS1=n before the patch that adds CONFIG_BUS1: the two
#    settings are the same kernel then;
#  - CONFIG_BUS1=n for a patch that modifies nothing outside ipc/bus1/,
#    unless it is the last one the build reads: that kernel does not
#    build ipc/bus1/, and it reads a file the patch
#    adds elsewhere (include/trace/events/bus1.h) only through a file the
#    patch modifies, a Makefile, a Kconfig or an #include;
#  - a prefix whose files, as the build reads them, are those of one that
#    built before with the same options ("built before"), so a re-run
#    after a change builds from the first patch that it changes on.

. "$(dirname "$0")/lib.sh"

need_base
git -C "$WT_TEST" rev-parse -q --verify HEAD >/dev/null || die "run scripts/apply-series.sh first"

WT=$BUILD/wt/bisect
O=$BUILD/obj/bisect
OPTIONS="-e 64BIT -e SHMEM -e KUNIT -e FTRACE -e ENABLE_DEFAULT_TRACERS
	 -e IA32_EMULATION -e SYSFS -e MULTIUSER -e SECURITY"
UNREAD=(':!Documentation' ':!tools' ':!MAINTAINERS' ':!samples')

# The earlier layout, a worktree and an object folder per prefix.
for d in "$BUILD"/wt/bisect-[0-9]*; do
	[ -e "$d" ] || continue
	git -C "$BASE" worktree remove --force "$d" 2>/dev/null || rm -rf "$d"
done
rm -rf "$BUILD"/obj/bisect-[0-9]*
make_worktree "$WT" base
mkdir -p "$O"
# What built before counts only with the same options.
if [ "$(cat "$O/.bus1-options" 2>/dev/null)" != "$OPTIONS" ]; then
	: >"$O/.bus1-built-y"
	: >"$O/.bus1-built-n"
	echo "$OPTIONS" >"$O/.bus1-options"
fi

# key COMMIT SETTING: a name for the files the build reads at COMMIT.
key() {
	local skip='^$'
	[ "$2" = y ] || skip=$'\tipc/bus1/'
	git -C "$WT_TEST" ls-tree -r "$1" |
		grep -Ev $'\t(Documentation/|tools/|samples/|MAINTAINERS$)' |
		grep -v "$skip" | git hash-object --stdin
}

# build INDEX COMMIT SETTING KEY SUBJECT: build COMMIT, the INDEX-th patch,
# checked out in $WT.
build() {
	local i=$1 c=$2 set=$3 k=$4 subject=$5 start label
	label="builds"
	[ "$set" = y ] || label="builds with CONFIG_BUS1=n"
	[ "$(git -C "$WT" rev-parse HEAD)" = "$c" ] || git -C "$WT" checkout -q -f --detach "$c"
	echo "$i" >"$O/.bus1-at"
	kmake() {
		make -s -C "$WT" O="$O" ARCH=x86_64 "$@"
	}
	[ -f "$O/.config" ] || kmake tinyconfig >/dev/null
	# shellcheck disable=SC2086
	"$WT/scripts/config" --file "$O/.config" $OPTIONS
	if [ "$set" = y ]; then
		"$WT/scripts/config" --file "$O/.config" -e BUS1 -e BUS1_KUNIT_TEST
	else
		"$WT/scripts/config" --file "$O/.config" -d BUS1 -d BUS1_KUNIT_TEST
	fi
	kmake olddefconfig >/dev/null
	grep -qx "CONFIG_TRACEPOINTS=y" "$O/.config" || die "tracepoints did not take"
	grep -qx "CONFIG_IA32_EMULATION=y" "$O/.config" || die "IA32_EMULATION did not take"
	grep -qx "CONFIG_SECURITY=y" "$O/.config" || die "SECURITY did not take"
	# CONFIG_BUS1 exists from the patch that adds it on; it must take there.
	if [ "$set" = y ] && git -C "$WT" grep -q '^config BUS1$' -- init/Kconfig; then
		grep -qx "CONFIG_BUS1_KUNIT_TEST=y" "$O/.config" ||
			die "CONFIG_BUS1 or its KUnit tests did not take after: $subject"
	fi
	start=$SECONDS
	if ! kmake -j"$JOBS" vmlinux >"$O/build.log" 2>&1; then
		tail -n 30 "$O/build.log"
		die "the series does not build${label#builds} after: $subject"
	fi
	if [ "$set" = n ] && [ "$i" = "$last_read" ]; then
		check_nobus1
	fi
	echo "$k" >>"$O/.bus1-built-$set"
	echo "$label ($((SECONDS - start)) s): $subject"
}

# The names of the bus1 system calls, from the one list of them.
bus1_calls() {
	grep -E '^bus1_[a-z_]+\s' "$TOP/arch-syscall-tables/bus1.tbl" | cut -f1
}

# The series without bus1, as just built: no warning, and every bus1
# entry of both tables the weak COND_SYSCALL() stub of kernel/sys_ni.c.
check_nobus1() {
	local syms n
	if grep -E 'warning:' "$O/build.log"; then
		die "the series builds with warnings with CONFIG_BUS1=n"
	fi
	syms=$(nm "$O/vmlinux" | grep -E ' [A-Za-z] (__(x64|ia32)_)?sys_bus1_') || true
	n=$(echo "$syms" | grep -cE ' W __(x64|ia32)_sys_bus1_[a-z_]+$') || true
	[ "$n" -eq "$(echo "$syms" | grep -c .)" ] && [ "$n" -eq $((2 * $(bus1_calls | wc -l))) ] || {
		echo "$syms"
		die "with CONFIG_BUS1=n, the bus1 entries are not (all) the sys_ni.c stubs"
	}
	! nm "$O/vmlinux" | grep -E ' [tT] bus1_' || die "bus1 code is in a kernel without bus1"
	echo "CONFIG_BUS1=n: no warning, the $n bus1 entries are sys_ni.c stubs"
}

# The last patch that changes what the kernel build reads: built with
# CONFIG_BUS1=n, it is the series without bus1.
i=0
last_read=0
for c in $(git -C "$WT_TEST" rev-list --reverse base..HEAD); do
	i=$((i + 1))
	[ -z "$(git -C "$WT_TEST" diff --name-only "$c^" "$c" -- . "${UNREAD[@]}")" ] ||
		last_read=$i
done

# First what each prefix needs, in order; then the builds.
todo=()
i=0
for c in $(git -C "$WT_TEST" rev-list --reverse base..HEAD); do
	i=$((i + 1))
	subject=$(git -C "$WT_TEST" log -1 --format=%s "$c")
	changed=$(git -C "$WT_TEST" diff --name-status "$c^" "$c" -- . "${UNREAD[@]}")
	if [ -z "$changed" ]; then
		echo "nothing the kernel build reads: $subject"
		continue
	fi
	sets=y
	if git -C "$WT_TEST" grep -q '^config BUS1$' "$c" -- init/Kconfig &&
	   { [ "$i" = "$last_read" ] ||
	     echo "$changed" | grep -qv -e '^A' -e $'^[MD]\tipc/bus1/'; }; then
		sets="y n"
	fi
	for set in $sets; do
		k=$(key "$c" "$set")
		if grep -qx "$k" "$O/.bus1-built-$set"; then
			if [ "$set" = y ]; then
				echo "built before: $subject"
			else
				echo "built before with CONFIG_BUS1=n: $subject"
			fi
			continue
		fi
		todo+=("$i $c $set $k $subject")
	done
done
[ ${#todo[@]} -gt 0 ] || exit 0

# A change to one patch changes every prefix from it on. When the
# worktree holds a later prefix than any to build, as after the last run,
# build them last to first: going back one patch at a time undoes each
# patch once, where going to the first and forward again would undo the
# later patches (the syscall declarations and tables, which much of the
# kernel reads) and then redo them.
at=$(cat "$O/.bus1-at" 2>/dev/null || echo 0)
read -r last _ <<<"${todo[-1]}"
order=("${!todo[@]}")
if [ "$at" -ge "$last" ]; then
	order=()
	for ((j = ${#todo[@]} - 1; j >= 0; j--)); do order+=("$j"); done
fi
for j in "${order[@]}"; do
	read -r i c set k subject <<<"${todo[j]}"
	build "$i" "$c" "$set" "$k" "$subject"
done
