#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The test command: every gate and every test, ending with "N passed,
# N failed".
#
#   test.sh            everything: series drift, patch sizes, checkpatch,
#                      the libbus1 build, git am onto the base, bisectable
#                      build (CONFIG_BUS1=y and =n, the whole series
#                      without bus1), coccicheck, kernel-doc and docutils,
#                      KUnit through kunit.py (UML),
#                      the syscall tables cross-built for arm, ppc64le,
#                      s390x, mips64el and riscv64,
#                      sparse and W=1, man pages, x86_64 KUnit + selftests
#                      and libbus1's tests (64-bit and 32-bit), a short
#                      fuzzer run, arm64 the same but the fuzzer
#   test.sh ONLY       one part in the x86_64 guest: "kunit", "kunit:GLOB",
#                      a selftest program (peer_test, peer_test-32) or one
#                      test of it (peer_test:create_default); or
#                      "arch:ARCH", the whole guest suite (KUnit,
#                      selftests, libbus1, the sample) on one architecture,
#                      e.g. arch:riscv64, which the full run does not boot
# BUS1_ARCHS limits the architectures booted (default "x86_64 arm64").
# BUS1_FUZZ_SECONDS sets the whole run's fuzzer time, in the x86_64 guest
# after the selftests (default 60).

. "$(dirname "$0")/lib.sh"

only=${1:-}
archs=${BUS1_ARCHS:-x86_64 arm64}
case $only in
"") ;;
arch:*) archs=${only#arch:} ;;
*) archs=x86_64 ;;
esac
RESULTS=$BUILD/results.txt
mkdir -p "$BUILD"
: >"$RESULTS"
S=$TOP/scripts
started=$SECONDS

# check NAME CMD...: run a gate, record it, show its output if it fails,
# and how long it took.
check() {
	local name=$1 out start=$SECONDS
	shift
	note "$name"
	if out=$("$@" 2>&1); then
		echo "PASS $name" | tee -a "$RESULTS"
		echo "    ($((SECONDS - start)) s)"
		return 0
	fi
	echo "$out" | tail -n 40 | sed 's/^/    /'
	echo "FAIL $name" | tee -a "$RESULTS"
	echo "    ($((SECONDS - start)) s)"
	return 1
}

summary() {
	local pass fail
	pass=$(grep -c '^PASS ' "$RESULTS" || true)
	fail=$(grep -c '^FAIL ' "$RESULTS" || true)
	if [ "$fail" -gt 0 ]; then
		echo
		echo "Failed:"
		grep '^FAIL ' "$RESULTS" | sed 's/^FAIL /  /'
	fi
	echo
	echo "test run took $((SECONDS - started)) s"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ] && exit 0
	exit 1
}
trap summary EXIT

# shellcheck disable=SC2086
bash "$S/setup.sh" $archs || { echo "FAIL setup" >>"$RESULTS"; exit 1; }

if [ -z "$only" ]; then
	check series-up-to-date bash "$S/gen-series.sh" --check || true
	check series-patch-sizes bash "$S/check-patch-sizes.sh" || true
	for p in "$TOP"/patches/*.patch; do
		check "checkpatch/$(basename "$p")" bash "$S/checkpatch.sh" "$p" || true
	done
	check libbus1-build-install bash "$S/check-libbus1.sh" || true
fi
check series-applies bash "$S/apply-series.sh" || exit 1
[ -n "$only" ] || check series-bisectable bash "$S/check-bisect.sh" || true
if [ -z "$only" ]; then
	for p in cocci kernel-doc; do
		check "static/$p" bash "$S/check-static.sh" "$p" || true
	done
	check kunit-tool bash "$S/check-kunit-tool.sh" || true
fi
if [ -z "$only" ]; then
	for a in $(bash "$S/check-cross.sh" --list); do
		check "cross-build/$a" bash "$S/check-cross.sh" "$a" || true
	done
fi

kunit_suites=$(sed -n 's/^[[:space:]]*\.name = "\(.*\)",$/\1/p' "$WT_TEST"/ipc/bus1/*_test.c)
for arch in $archs; do
	check "build/$arch" bash "$S/build-kernel.sh" "$arch" || continue
	if [ "$arch" = x86_64 ] && [ -z "$only" ]; then
		check sparse-and-W=1 bash "$S/check-warnings.sh" "$arch" || true
		check man-pages python3 "$S/check-man.py" \
			--examples "$BUILD/obj/$arch-test/usr/include" || true
	fi
	check "guest/$arch" bash "$S/build-guest.sh" "$arch" || continue
	progs=$(cd "$BUILD/guest/$arch-test/root/bus1/tests" &&
		for d in *; do for p in "$d"/*; do
			[ "$d" = native ] && echo "${p#*/}" || echo "${p#*/}-$d"
		done; done)
	expect=(--kunit $kunit_suites --selftests $progs --samples bus1-ping svcbus-demo)
	case $only in
	"" | arch:*)
		# The suite once more through run_kselftest.sh, where installed.
		list=$BUILD/guest/$arch-test/root/kselftest/kselftest-list.txt
		[ ! -f "$list" ] || expect+=(--kselftest-runner $(sed -n 's/^bus1://p' "$list"))
		;;
	kunit) expect=(--kunit $kunit_suites) ;;
	kunit:*)
		glob=${only#kunit:}
		expect=(--kunit)
		for s in $kunit_suites; do
			# shellcheck disable=SC2254
			case $s in ${glob%%.*}) expect+=("$s") ;; esac
		done
		[ ${#expect[@]} -gt 1 ] || die "no KUnit suite matches $glob"
		;;
	*) expect=(--selftests "${only%%:*}") ;;
	esac
	part=$only
	[ "${only#arch:}" = "$only" ] || part=
	# The whole run fuzzes for a while too, on x86_64 (make fuzz runs
	# longer).
	fuzz=0
	if [ -z "$only" ] && [ "$arch" = x86_64 ]; then
		fuzz=${BUS1_FUZZ_SECONDS:-60}
		[ "$fuzz" = 0 ] || expect+=(--fuzz)
	fi
	check "boot/$arch" env BUS1_FUZZ_SECONDS="$fuzz" bash "$S/boot.sh" "$arch" test "$part" || true
	python3 "$S/parse-results.py" "$BUILD/logs/$arch-test-test.log" "$arch" "${expect[@]}" |
		tee -a "$RESULTS" | grep -v '^PASS' || true
done
