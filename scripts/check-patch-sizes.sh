#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fail if a patch of patches/ changes more than MAX lines, added and
# removed together, naming each one that does. The cover letter states
# the limit and why the largest patch is as large as it is; it must name
# the same number.

. "$(dirname "$0")/lib.sh"

MAX=3500

cover=$TOP/scripts/series/0-cover.msg
grep -q "more than $MAX lines" "$cover" ||
	die "scripts/series/0-cover.msg does not state the limit: no patch changes more than $MAX lines"

shopt -s nullglob
patches=("$TOP"/patches/*.patch)
[ ${#patches[@]} -gt 0 ] || die "patches/ holds no patch: run 'make series'"
bad=0
largest=0
for p in "${patches[@]}"; do
	n=$(git apply --numstat "$p" | awk '{ n += $1 + $2 } END { print n + 0 }')
	[ "$n" -le "$largest" ] || largest=$n
	if [ "$n" -gt "$MAX" ]; then
		echo "patches/$(basename "$p") changes $n lines, more than $MAX" >&2
		bad=1
	fi
done
[ $bad = 0 ] || die "split the patches named above, or argue a new limit in the cover letter"
note "no patch changes more than $MAX lines (the largest $largest)"
