#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Static checks of the applied series (the test tree), each a part of its
# own:
#
#   cocci       make coccicheck MODE=report M=ipc/bus1: no report
#   kernel-doc  scripts/kernel-doc -none -Wall on ipc/bus1/ and the uapi
#               header: no warning; Documentation/userspace-api/bus1.rst
#               as reStructuredText (docutils): no warning, and in the
#               userspace-api toctree
#
#   check-static.sh [cocci|kernel-doc]...   (default: both)
#
# The kernel without bus1 (CONFIG_BUS1=n) is built by check-bisect.sh.

. "$(dirname "$0")/lib.sh"

[ -f "$WT_TEST/ipc/bus1/Makefile" ] || die "no test tree: run scripts/apply-series.sh first"

cocci() {
	local log=$BUILD/logs/coccicheck.log
	command -v spatch >/dev/null || die "spatch is missing: run 'make setup'"
	mkdir -p "$BUILD/logs"
	make -C "$WT_TEST" coccicheck MODE=report M=ipc/bus1 J="$JOBS" >"$log" 2>&1 || {
		tail -n 30 "$log"
		die "make coccicheck failed"
	}
	# A report names a file and a line; the rest is the command lines
	# and what spatch says about the semantic patches themselves.
	if grep -E '^(\./)?ipc/bus1/[^ :]+:[0-9]+' "$log"; then
		die "coccicheck reports the lines above"
	fi
	echo "coccicheck: no report on ipc/bus1"
}

kernel_doc() {
	local out files rst=Documentation/userspace-api/bus1.rst
	files=$(cd "$WT_TEST" && ls ipc/bus1/*.[ch] include/uapi/linux/bus1.h)
	# shellcheck disable=SC2086
	out=$(cd "$WT_TEST" && scripts/kernel-doc -none -Wall $files 2>&1) || true
	[ -z "$out" ] || { echo "$out"; die "kernel-doc warns"; }
	echo "kernel-doc: no warning in $(echo "$files" | wc -l) files"

	# Debian's python3-docutils, or docutils of the python3 first in PATH.
	for py in python3 /usr/bin/python3 ""; do
		[ -n "$py" ] || die "python3-docutils is missing: run 'make setup'"
		! "$py" -c 'import docutils' 2>/dev/null || break
	done
	# Warnings and errors stop the parse (halt_level 2) and are printed.
	out=$(cd "$WT_TEST" && "$py" - "$rst" 2>&1 <<'PY'
import sys
import docutils.core
path = sys.argv[1]
with open(path) as f:
    docutils.core.publish_doctree(f.read(), source_path=path, settings_overrides={
        "halt_level": 2, "report_level": 2, "traceback": False})
PY
) || { echo "$out"; die "$rst is not clean reStructuredText"; }
	[ -z "$out" ] || { echo "$out"; die "docutils warns about $rst"; }
	grep -qx '   bus1' "$WT_TEST/Documentation/userspace-api/index.rst" ||
		die "bus1.rst is in no toctree of Documentation/userspace-api/index.rst"
	echo "$rst: no docutils warning"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(cocci kernel-doc)
for p in "${parts[@]}"; do
	case $p in
	cocci) cocci ;;
	kernel-doc) kernel_doc ;;
	*) die "usage: check-static.sh [cocci|kernel-doc]..." ;;
	esac
done
