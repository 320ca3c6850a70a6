#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the fuzzer (fuzz/bus1-fuzz.c) in the x86_64 test guest, under
# KASAN, lockdep, kmemleak and UBSAN, with fault injection, and judge the
# console: the fuzzer's own checks, any splat, any leak.
#
#   fuzz.sh [SECONDS]    default 600, or $FUZZ_SECONDS
#
# The calls made and the time are at the end of the fuzzer's output in
# build/logs/x86_64-test-fuzz.log.

. "$(dirname "$0")/lib.sh"

seconds=${1:-${FUZZ_SECONDS:-600}}
S=$TOP/scripts
bash "$S/setup.sh" x86_64
bash "$S/apply-series.sh"
bash "$S/build-kernel.sh" x86_64
bash "$S/build-guest.sh" x86_64
bash "$S/boot.sh" x86_64 fuzz "$seconds" || true
log=$BUILD/logs/x86_64-test-fuzz.log
grep '^bus1-fuzz:' "$log" | tail -n 14 || true
python3 "$S/parse-results.py" "$log" x86_64 --fuzz
