#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run checkpatch.pl --strict from the base tree on one patch. Any ERROR,
# WARNING or CHECK fails: the series is meant to be clean.

. "$(dirname "$0")/lib.sh"

[ $# = 1 ] && [ -f "$1" ] || die "usage: checkpatch.sh PATCH"
patch=$(realpath "$1")
need_base

# checkpatch asks "does MAINTAINERS need updating?" of every patch that
# adds a file and leaves MAINTAINERS alone. Each patch of the series adds
# the lines of the bus1 entry for the paths it creates, so a file that
# the entry names through a folder it already named has its maintainers:
# for a patch that adds only such files, the question is answered here
# and that one warning is not asked for.
ignore=()
created=$(git apply --summary "$patch" | sed -n 's/^ create mode [0-7]* //p')
if [ -n "$created" ] && ! git apply --numstat "$patch" | grep -q $'\tMAINTAINERS$'; then
	covered=1
	while read -r f; do
		grep -q "^F:[[:space:]]*\($f\|$(dirname "$f")/\)\$" "$TOP/MAINTAINERS.fragment" || covered=0
	done <<<"$created"
	[ $covered = 0 ] || ignore=(--ignore FILE_PATH_CHANGES)
fi

# Debian's python3 runs scripts/spdxcheck.py, with its python3-ply.
rc=0
out=$(cd "$BASE" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict \
	--showfile --color=never "${ignore[@]}" "$patch" 2>&1) || rc=$?
if [ $rc != 0 ] || echo "$out" | grep -qE '^([^:]*:[0-9]+: )?(ERROR|WARNING|CHECK):'; then
	echo "$out"
	exit 1
fi
echo "$out" | grep "has no obvious style problems"
