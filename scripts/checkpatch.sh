#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run checkpatch.pl --strict from the base tree on one patch. Any ERROR,
# WARNING or CHECK fails: the series is meant to be clean.

. "$(dirname "$0")/lib.sh"

[ $# = 1 ] && [ -f "$1" ] || die "usage: checkpatch.sh PATCH"
patch=$(realpath "$1")
need_base
# Debian's python3 runs scripts/spdxcheck.py, with its python3-ply.
rc=0
out=$(cd "$BASE" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict \
	--showfile --color=never "$patch" 2>&1) || rc=$?
if [ $rc != 0 ] || echo "$out" | grep -qE '^([^:]*:[0-9]+: )?(ERROR|WARNING|CHECK):'; then
	echo "$out"
	exit 1
fi
echo "$out" | tail -n 1
