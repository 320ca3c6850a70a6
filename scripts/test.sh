#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The test command: every gate and every test, ending with "N passed,
# N failed".
#
#   test.sh            everything: series drift, checkpatch, the libbus1
#                      build, git am onto the base, bisectable build,
#                      sparse and W=1, man pages, x86_64 KUnit + selftests
#                      and libbus1's tests (64-bit and 32-bit), arm64 the
#                      same
#   test.sh ONLY       one part in the x86_64 guest: "kunit", "kunit:GLOB",
#                      a selftest program (peer_test, peer_test-32) or one
#                      test of it (peer_test:create_default)
# BUS1_ARCHS limits the architectures booted (default "x86_64 arm64").

. "$(dirname "$0")/lib.sh"

only=${1:-}
archs=${BUS1_ARCHS:-x86_64 arm64}
[ -z "$only" ] || archs=x86_64
RESULTS=$BUILD/results.txt
mkdir -p "$BUILD"
: >"$RESULTS"
S=$TOP/scripts
started=$SECONDS

# check NAME CMD...: run a gate, record it, show its output if it fails.
check() {
	local name=$1 out
	shift
	note "$name"
	if out=$("$@" 2>&1); then
		echo "PASS $name" | tee -a "$RESULTS"
		return 0
	fi
	echo "$out" | tail -n 40 | sed 's/^/    /'
	echo "FAIL $name" | tee -a "$RESULTS"
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

bash "$S/setup.sh" || { echo "FAIL setup" >>"$RESULTS"; exit 1; }

if [ -z "$only" ]; then
	check series-up-to-date bash "$S/gen-series.sh" --check || true
	for p in "$TOP"/patches/*.patch; do
		check "checkpatch/$(basename "$p")" bash "$S/checkpatch.sh" "$p" || true
	done
	check libbus1-build-install bash "$S/check-libbus1.sh" || true
fi
check series-applies bash "$S/apply-series.sh" || exit 1
[ -n "$only" ] || check series-bisectable bash "$S/check-bisect.sh" || true

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
	expect=(--kunit $kunit_suites --selftests $progs --samples bus1-ping)
	case $only in
	"") ;;
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
	check "boot/$arch" bash "$S/boot.sh" "$arch" test "$only" || true
	python3 "$S/parse-results.py" "$BUILD/logs/$arch-test-test.log" "$arch" "${expect[@]}" |
		tee -a "$RESULTS" | grep -v '^PASS' || true
done
