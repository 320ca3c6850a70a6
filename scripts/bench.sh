#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The bench: build the bench kernel (the series, no debug option, Binder)
# and a guest holding bench/, boot it in QEMU once per run, all mechanisms
# in the same boot, then print the tables and write
# bench/results/DATE.{md,csv,png}.
#
#   bench.sh           the full bench (about 3 minutes here)
#   bench.sh quick     a tenth of the iterations: a smoke test of the
#                      whole chain; its results go to build/bench/ only
#   bench.sh profile WORKLOAD MECHS SIZE [SCALE]
#                      one point under icount with the kernel's profiler
#                      (profile=): where the kernel spends the guest's
#                      instructions, by function, into build/bench/
#
# The runs (BENCH_RUNS picks some):
#   wall         -accel tcg,thread=multi -smp 4: wall clock, noisy
#   icount-smp2  -accel tcg,thread=single -icount shift=0 -smp 2: guest
#                time is instructions; client and server on two CPUs
#   icount-smp1  the same with one CPU: both sides on it
# The two icount runs, whose figures do not depend on the host, run first
# and side by side (BENCH_JOBS=1: one after another); the wall-clock run
# goes last and alone. Its figures do depend on what else the host runs:
# the load average at its start goes into the results.
# BENCH_SCALE multiplies the iterations; BENCH_TIMEOUT bounds one boot.

. "$(dirname "$0")/lib.sh"

mode=${1:-full}
runs=${BENCH_RUNS:-wall icount-smp2 icount-smp1}
case $mode in
full) scale=${BENCH_SCALE:-1} ;;
quick) scale=${BENCH_SCALE:-0.1} ;;
profile)
	[ $# -ge 4 ] || die "usage: bench.sh profile WORKLOAD MECHS SIZE [SCALE]"
	scale=${5:-10}
	runs=${BENCH_RUNS:-icount-smp1}
	;;
*) die "usage: bench.sh [quick | profile WORKLOAD MECHS SIZE [SCALE]]" ;;
esac
parallel=${BENCH_JOBS:-2}
limit=${BENCH_TIMEOUT:-1800}
S=$TOP/scripts
O=$BUILD/obj/x86_64-bench
G=$BUILD/guest-bench
B=$BUILD/bench
# A profile keeps its logs apart: a full bench may be running.
[ "$mode" != profile ] || B=$BUILD/bench/profile
started=$SECONDS

run_flags() {
	case $1 in
	wall) echo "-accel tcg,thread=multi -smp 4" ;;
	icount-smp2) echo "-accel tcg,thread=single -icount shift=0 -smp 2" ;;
	icount-smp1) echo "-accel tcg,thread=single -icount shift=0 -smp 1" ;;
	*) die "unknown run: $1" ;;
	esac
}

# Independent pairs scale only where vCPUs run in parallel. The svc-*
# workloads are svcbench's: the service bus against D-Bus. BENCH_WORK
# replaces the list (a quick run of some workloads).
SVC_WORK="svc-call,svc-signal,svc-fd,svc-start"
run_work() {
	if [ -n "${BENCH_WORK:-}" ]; then
		echo "$BENCH_WORK"
		return
	fi
	case $1 in
	wall) echo "rt,rt-read,stream,stream-read,mcast,pass,path,pairs,$SVC_WORK" ;;
	*) echo "rt,rt-read,stream,stream-read,mcast,pass,path,$SVC_WORK" ;;
	esac
}

QEMU_COMMON="-cpu max -m 2G -no-reboot -display none -monitor none -serial stdio"

# The test worktree holds patches/ already when its commits since the base
# are the same patches (git patch-id), and nothing is changed in it.
series_applied() {
	local want have
	[ -f "$WT_TEST/Makefile" ] || return 1
	[ -z "$(git -C "$WT_TEST" status --porcelain --untracked-files=no)" ] || return 1
	want=$(cat "$TOP"/patches/*.patch | git patch-id --stable | cut -d' ' -f1)
	have=$(git -C "$WT_TEST" log -p --reverse base..HEAD | git patch-id --stable | cut -d' ' -f1)
	[ -n "$want" ] && [ "$want" = "$have" ]
}

need_gnuplot() {
	command -v gnuplot >/dev/null && return 0
	note "installing gnuplot-nox for the plot"
	[ "$(id -u)" -eq 0 ] || { note "not root: no plot"; return 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null ||
		{ note "could not install gnuplot-nox: no plot"; return 1; }
}

# Copy the ELF programs @2... and the shared libraries they load (as ldd
# finds them on this host) into the guest root @1, each at its path.
install_dynamic() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		[ -x "$f" ] || die "$f is missing: run 'make setup'"
		[ "${f#"$root"/}" != "$f" ] || install -D -m 755 "$f" "$root$f"
		ldd "$f" | sed -n 's|.*=> \(/[^ ]*\) .*|\1|p; s|^[[:space:]]*\(/[^ ]*\) (.*|\1|p' |
		while read -r lib; do
			[ -e "$root$lib" ] || install -D -m 755 "$(readlink -f "$lib")" "$root$lib"
		done
	done
}

# svcbench: the service bus of examples/service-bus against D-Bus, with
# dbus-broker and dbus-daemon from Debian and sd-bus clients. sd-bus is a
# shared library only, so svcbench is dynamic, the bus1 side included, and
# the guest gets the host's libraries and the brokers' files.
build_svcbench() {
	local root=$1
	rm -rf "$G/svcbus"
	make -s -C "$TOP/examples/service-bus" O="$G/svcbus" CC=gcc CFLAGS=-O2 all ||
		die "building the service bus example for the bench failed"
	# shellcheck disable=SC2046
	gcc -O2 -Wall -Wextra -Werror -I "$TOP/examples/service-bus" \
		-I "$TOP/libbus1/include" -o "$root/bench/svcbench" \
		"$TOP"/bench/svc/*.c "$G/svcbus/libsvcbus.a" \
		"$G/svcbus/libbus1/libbus1.a" $(pkg-config --libs libsystemd) -lm ||
		die "building svcbench failed"
	install_dynamic "$root" "$root/bench/svcbench" /usr/bin/dbus-broker \
		/usr/bin/dbus-broker-launch /usr/bin/dbus-daemon
	install -D -m 644 "$TOP/bench/svc/bus.conf" "$root/etc/svcbench/bus.conf"
	# Who the brokers look up (dbus-broker-launch reads every user and
	# group), and the machine ID both report.
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'messagebus:x:100:101::/nonexistent:/bin/false' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'messagebus:x:101:' >"$root/etc/group"
	printf '%s\n' 'passwd: files' 'group: files' >"$root/etc/nsswitch.conf"
	echo 5b0b1b5b0b1b5b0b1b5b0b1b5b0b1b5b >"$root/etc/machine-id"
	mkdir -p "$root/run"
}

build_guest() {
	local root=$G/root
	[ -d "$O/usr/include/linux/android" ] || die "no bench headers: the bench kernel build failed?"
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,bench,etc,run}
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	install -m 755 "$TOP/bench/init" "$root/init"
	# The uapi headers of the bench kernel: bus1.h, the bus1 syscall
	# numbers in asm/unistd_64.h, linux/android/binder.h. libbus1 (the
	# bus1-lib row) is built with the same compiler and headers and
	# linked statically; its own copy of bus1.h has the same include
	# guard as the kernel's. Rebuilt every time: its Makefile does not
	# know the kernel's headers.
	rm -rf "$G/libbus1"
	make -s -C "$TOP/libbus1" O="$G/libbus1" CC=gcc \
		CFLAGS="-O2 -isystem $O/usr/include" "$G/libbus1/libbus1.a" ||
		die "building libbus1 for the bench failed"
	gcc -static -O2 -Wall -Wextra -Werror -isystem "$O/usr/include" \
		-I "$TOP/libbus1/include" -o "$root/bench/bench" \
		"$TOP"/bench/*.c "$G/libbus1/libbus1.a" -lm ||
		die "building the bench failed"
	build_svcbench "$root"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
		gzip -1 > "$G/initramfs.cpio.gz"
	note "bench guest ready"
}

# boot RUN: one guest, its console in $B/RUN.log, its CSV in $B/RUN.csv.
boot() {
	local run=$1 log=$B/$1.log rc=0 start=$SECONDS
	# What else the host runs: it moves the wall-clock figures.
	echo "load average $(cut -d' ' -f1 /proc/loadavg), $(pgrep -c qemu-system || true) QEMU running" >"$B/$run.host"
	local cmdline="console=ttyS0 panic=-1 quiet loglevel=3"
	if [ "$mode" = profile ]; then
		# 16-byte buckets: fine enough to tell functions apart.
		cmdline+=" bench.run=$run bench.work=$prof_work bench.scale=$scale"
		cmdline+=" bench.mechs=$prof_mechs bench.size=$prof_size"
		cmdline+=" bench.profile=1 profile=4"
	else
		cmdline+=" bench.run=$run bench.work=$(run_work "$run") bench.scale=$scale"
		[ -z "${BENCH_MECHS:-}" ] || cmdline+=" bench.mechs=$BENCH_MECHS"
	fi
	# shellcheck disable=SC2046,SC2086
	timeout --foreground -k 10 "$limit" qemu-system-x86_64 $(run_flags "$run") $QEMU_COMMON \
		-kernel "$O/arch/x86/boot/bzImage" -initrd "$G/initramfs.cpio.gz" \
		-append "$cmdline" </dev/null >"$log" 2>&1 || rc=$?
	tr -d '\r' <"$log" | sed -n '/^BENCH-CSV-BEGIN/,/^BENCH-CSV-END/p' |
		grep -E '^(CSV|MECH|GROUP|INFO),' >"$B/$run.csv" || true
	note "$run: $((SECONDS - start)) s, $(grep -c '^CSV,.*,ok$' "$B/$run.csv") points"
	[ $rc = 0 ] || { note "$run: QEMU exited with $rc (see ${log#"$TOP"/})"; return 1; }
	tr -d '\r' <"$log" | grep -q '^BENCH-CSV-END rc=0' ||
		{ note "$run: the bench did not finish (see ${log#"$TOP"/})"; return 1; }
}

meta_of() {	# meta_of RUN KEY: a field of the guest's BENCH-META line
	tr -d '\r' <"$B/$1.log" | sed -n "s/^BENCH-META .*\b$2=\([^ ]*\).*/\1/p" | head -n 1
}

bash "$S/setup.sh"
need_base
if series_applied; then
	note "the test tree holds patches/ already"
else
	bash "$S/apply-series.sh"
fi
nice -n 10 bash "$S/build-kernel.sh" x86_64 bench
mkdir -p "$G" "$B"
build_guest

if [ "$mode" = profile ]; then
	prof_work=$2 prof_mechs=$3 prof_size=$4
	for run in $runs; do
		boot "$run" || die "the profiled run failed"
		out=$B/$run-$prof_work-${prof_mechs//,/+}-$prof_size.txt
		tr -d '\r' <"$B/$run.log" | grep '^PROF,' |
			python3 "$S/profile-report.py" "$O/System.map" "$O/.config" \
				"$B/$run.csv" >"$out"
		head -n 60 "$out"
		note "profile: ${out#"$TOP"/}"
	done
	exit 0
fi

note "bench runs: $runs (scale $scale; icount first, wall last)"
bench_start=$SECONDS
failed=0
pids=()
for run in $runs; do
	[ "$run" != wall ] || continue
	if [ "$parallel" -gt 1 ]; then
		boot "$run" & pids+=($!)
	else
		boot "$run" || failed=1
	fi
done
for pid in "${pids[@]}"; do
	wait "$pid" || failed=1
done
# Last and alone: nothing of ours competes with its vCPU threads.
for run in $runs; do
	[ "$run" = wall ] || continue
	boot wall || failed=1
done
elapsed=$((SECONDS - bench_start))

date=$(date -u +%F)
if [ "$mode" = full ]; then
	R=$TOP/bench/results
	out=$R/$date
	# A later run of the same day keeps the earlier results: DATE-2, ...
	n=2
	while [ -e "$out.md" ]; do
		out=$R/$date-$n
		n=$((n + 1))
	done
else
	R=$B/results
	out=$R/$date-quick
fi
mkdir -p "$R" "$B/plot"
all=$B/all.csv
first=
for run in $runs; do
	[ -s "$B/$run.csv" ] || continue
	cat "$B/$run.csv"
	first=${first:-$run}
done >"$all"
[ -n "$first" ] || die "no run printed results"
{
	echo "run,workload,mech,size,k,touch,depth,iters,median_ns,p99_ns,status"
	grep -h '^CSV,' "$all" | grep -v '^CSV,run,' | cut -d, -f2-
} >"$out.csv"

patches_state=
if git -C "$TOP" status --porcelain -- patches | grep -q .; then
	patches_state=", patches/ modified in the working tree"
fi
{
	echo "date=$date"
	echo "kernel=$(meta_of "$first" kernel)"
	echo "series=patches/ of commit $(git -C "$TOP" rev-parse --short HEAD)$patches_state (sha1 of patches/*.patch: $(cat "$TOP"/patches/*.patch | sha1sum | cut -c1-12)), applied with git am"
	echo "config=tinyconfig + scripts/configs/{x86_64,common,bench}.config: no debug option, -O2, SLUB, Binder"
	echo "qemu=$(qemu-system-x86_64 --version | head -n 1)"
	echo "host=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, KVM not used"
	echo "scale=$scale"
	echo "elapsed=$elapsed s for the guests (the icount runs side by side: $([ "$parallel" -gt 1 ] && echo yes || echo no))"
	for run in $runs; do
		echo "flags-$run=$(run_flags "$run") $QEMU_COMMON"
		echo "clocksource-$run=$(meta_of "$run" clocksource)"
		echo "host-$run=$(cat "$B/$run.host" 2>/dev/null)"
	done
} >"$B/meta.txt"

python3 "$TOP/bench/report.py" "$all" "$B/meta.txt" "$out.md" "$B/plot" | tee "$B/table.txt"
if need_gnuplot; then
	gnuplot -e "dir='$B/plot'; out='$out.png'; title='bus1 bench $date, $(meta_of "$first" kernel)'" \
		"$TOP/bench/plot.gp" 2>"$B/plot.log" || note "the plot failed (see ${B#"$TOP"/}/plot.log)"
fi
note "results: ${out#"$TOP"/}.{md,csv,png}; bench runs took $elapsed s, all of it $((SECONDS - started)) s"
[ $failed = 0 ] || die "a bench run failed"
