#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the bus1 KUnit tests the way a maintainer does, with the kernel's
# own tool on the test tree:
#
#   tools/testing/kunit/kunit.py run --kunitconfig=ipc/bus1
#
# as a UML kernel (the tool's default architecture), built out of tree in
# build/kunit-uml so that a re-run rebuilds only what changed. Fails if the
# kernel does not build or boot, if any test fails, or if a bus1 suite did
# not run; prints the tool's summary.

. "$(dirname "$0")/lib.sh"

[ -f "$WT_TEST/ipc/bus1/.kunitconfig" ] ||
	die "no ipc/bus1/.kunitconfig in the test tree: run scripts/apply-series.sh first"
out=$BUILD/kunit-uml
log=$BUILD/logs/kunit-uml.log
mkdir -p "$out" "$BUILD/logs"

start=$SECONDS
rc=0
(cd "$WT_TEST" && python3 tools/testing/kunit/kunit.py run \
	--kunitconfig=ipc/bus1 --build_dir="$out" --jobs="$JOBS") >"$log" 2>&1 || rc=$?
note "kunit.py ran $((SECONDS - start)) s, output in ${log#"$TOP"/}"
if [ $rc -ne 0 ]; then
	tail -n 40 "$log"
	die "kunit.py run --kunitconfig=ipc/bus1 failed (status $rc)"
fi

# Every suite of ipc/bus1/*_test.c must have run and passed.
suites=$(sed -n 's/^[[:space:]]*\.name = "\(.*\)",$/\1/p' "$WT_TEST"/ipc/bus1/*_test.c)
[ -n "$suites" ] || die "no KUnit suite found in ipc/bus1"
for s in $suites; do
	grep -q "\[PASSED\] $s\b" "$log" || {
		tail -n 40 "$log"
		die "KUnit suite $s did not pass"
	}
done
grep -E '^\[[0-9:]+\] (Testing complete|Elapsed time)' "$log" | sed 's/^\[[0-9:]*\] //'
