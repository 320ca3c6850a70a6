#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Generate patches/ from the overlay: commit it onto the base tree in
# logical steps, each with its message from scripts/series/, and write the
# steps out with git format-patch plus a cover letter.
#
#   gen-series.sh           (re)write patches/
#   gen-series.sh --check   regenerate elsewhere; fail if patches/ differs

. "$(dirname "$0")/lib.sh"

MSGS=$TOP/scripts/series
OVERLAY_DIRS=(ipc include tools samples Documentation)
mode=write
case "${1:-}" in
"") ;;
--check) mode=check ;;
*) die "usage: gen-series.sh [--check]" ;;
esac

need_base
make_worktree "$WT_SERIES" base
tree=$WT_SERIES
git -C "$tree" checkout -q -f -B bus1-series base
git -C "$tree" clean -q -fdx

# Copy overlay paths (files or folders) into the tree.
copy() {
	local p
	for p in "$@"; do
		[ -e "$TOP/$p" ] || die "overlay path $p is missing"
		mkdir -p "$tree/$(dirname "$p")"
		cp -a "$TOP/$p" "$tree/$(dirname "$p")/"
	done
}

commit() {
	python3 "$TOP/scripts/maintainers-entry.py" "$tree"
	git -C "$tree" add -A
	git -C "$tree" commit -q -s -F "$MSGS/$1.msg"
}

# Insert line $2 into file $1 before the first line that sorts after it
# among the lines matching $3.
insert_sorted() {
	python3 - "$tree/$1" "$2" "$3" <<'PY'
import re, sys
path, new, pat = sys.argv[1:]
lines = open(path).read().split("\n")
idx = [i for i, l in enumerate(lines) if re.match(pat, l)]
at = next((i for i in idx if lines[i] > new), idx[-1] + 1)
lines.insert(at, new)
open(path, "w").write("\n".join(lines))
PY
}

# Insert the lines on stdin, and a blank line, into file $1 before its one
# line that matches $2.
insert_before() {
	python3 - "$tree/$1" "$2" "$(cat)" <<'PY'
import re, sys
path, pat, text = sys.argv[1:]
lines = open(path).read().split("\n")
idx = [i for i, l in enumerate(lines) if re.match(pat, l)]
if len(idx) != 1:
    sys.exit(f"insert_before: {len(idx)} lines of {path} match {pat}")
lines[idx[0]:idx[0]] = text.split("\n") + [""]
open(path, "w").write("\n".join(lines))
PY
}

copy include/uapi/linux/bus1.h
commit 1-uapi

python3 "$TOP/scripts/lsm-hooks.py" "$tree"
commit 1-lsm-hooks

copy ipc/bus1
python3 "$TOP/scripts/wire-syscalls.py" generic "$tree"
commit 2-core

python3 "$TOP/scripts/wire-syscalls.py" tables "$tree"
commit 3-wiring

copy tools/testing/selftests/bus1
insert_sorted tools/testing/selftests/Makefile "TARGETS += bus1" '^TARGETS \+= '
commit 4-selftests

copy samples/bus1
insert_sorted samples/Makefile 'subdir-$(CONFIG_SAMPLE_BUS1)		+= bus1' '^subdir-\$\(CONFIG_SAMPLE_'
insert_before samples/Kconfig '^source "samples/rust/Kconfig"$' <<'KCONFIG'
config SAMPLE_BUS1
	bool "Build example program that uses the bus1 system calls"
	depends on BUS1 && CC_CAN_LINK && HEADERS_INSTALL
	help
	  Build an example user-space program in which two processes
	  exchange a request and its reply over bus1: two peers, a node,
	  a handle given to a peer and another passed in a message, a
	  payload read in place from the receive pool, and the notices of
	  a handle's release and a node's destruction.
KCONFIG
commit 4-samples

copy Documentation/userspace-api/bus1.rst
insert_sorted Documentation/userspace-api/index.rst "   bus1" '^   (unshare|futex2|ebpf/index|ioctl/index|mseal)$'
commit 5-docs

# Every overlay file must have landed in some patch, unchanged.
(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_DIRS[@]}") |
while read -r f; do
	[ -e "$TOP/$f" ] || continue
	cmp -s "$TOP/$f" "$tree/$f" || die "overlay file $f is in no patch of the series"
done

git -C "$tree" config branch.bus1-series.description "$(cat "$MSGS/0-cover.msg")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
git -C "$tree" format-patch -q --zero-commit --no-signature --cover-letter \
	--cover-from-description=subject -o "$out" base..bus1-series
# The cover letter carries no diff: named *.patch, it would stop a plain
# "git am patches/*.patch".
mv "$out/0000-cover-letter.patch" "$out/0000-cover-letter.txt"

if [ $mode = write ]; then
	rm -f "$TOP"/patches/*
	mkdir -p "$TOP/patches"
	cp "$out"/* "$TOP/patches/"
	note "wrote $(ls "$out" | wc -l) files to patches/"
	exit 0
fi

# Blob ids and line numbers follow the base tree's sublevel; the change
# itself must not differ.
normalize() {
	sed -E -e '/^index [0-9a-f]+\.\.[0-9a-f]+/d' \
	       -e 's/^@@ -[0-9]+(,[0-9]+)? \+[0-9]+(,[0-9]+)? @@/@@/' "$1"
}
drift=0
for f in "$out"/* "$TOP"/patches/*; do
	name=$(basename "$f")
	if [ ! -e "$out/$name" ] || [ ! -e "$TOP/patches/$name" ]; then
		echo "drift: patches/$name is not what the overlay generates" >&2
		drift=1
	elif ! diff -q <(normalize "$out/$name") <(normalize "$TOP/patches/$name") >/dev/null; then
		echo "drift: patches/$name differs from the overlay:" >&2
		diff -u <(normalize "$TOP/patches/$name") <(normalize "$out/$name") | head -n 20 >&2
		drift=1
	fi
done
[ $drift = 0 ] || die "patches/ is stale: run 'make series' and commit the result"
note "patches/ matches the overlay"
