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

# copy_bus1 FILE...: copy files of ipc/bus1; copy_selftests: of its tests.
copy_bus1() {
	local f
	for f in "$@"; do copy "ipc/bus1/$f"; done
}

copy_selftests() {
	local f
	for f in "$@"; do copy "tools/testing/selftests/bus1/$f"; done
}

wire() {
	python3 "$TOP/scripts/wire-syscalls.py" "$1" "$tree"
}

# Rewrite Makefile $1 from the overlay's, keeping of its object, program
# and header lists only what the tree holds so far: an object whose .c is
# there, a test program whose .c is there, a header that is there. A list
# the tree holds all of stays as it is, so the last step leaves the
# overlay's Makefile unchanged.
filter_makefile() {
	[ -e "$tree/$1" ] || return 0
	python3 - "$TOP/$1" "$tree/$1" <<'PY'
import os, re, sys
src, dst = sys.argv[1:]
d = os.path.dirname(dst)
def present(var, tok):
    if var.startswith("obj-") and tok.endswith(".o"):
        return os.path.exists(os.path.join(d, tok[:-2] + ".c"))
    if var == "TEST_GEN_PROGS":
        return os.path.exists(os.path.join(d, tok + ".c"))
    if var == "LOCAL_HDRS":
        return os.path.exists(os.path.join(d, tok))
    return True
out, group = [], []
for line in open(src).read().split("\n"):
    group.append(line)
    if line.endswith("\\"):
        continue
    text = " ".join(l.rstrip("\\") for l in group)
    m = re.match(r"^(obj-\S+|TEST_GEN_PROGS|LOCAL_HDRS)\s*(:=|\+=|=)\s*(.*)$", text)
    if m:
        var, op, toks = m.group(1), m.group(2), m.group(3).split()
        kept = [t for t in toks if present(var, t)]
        if kept != toks:
            group = []
            if kept:
                head = f"{var} {op} "
                indent = "\t" * (len(head) // 8) + " " * (len(head) % 8)
                line = head + kept[0]
                for t in kept[1:]:
                    if len(line.expandtabs()) + len(t) + 3 > 80:
                        group.append(line + " \\")
                        line = indent + t
                    else:
                        line += " " + t
                group.append(line)
    out += group
    group = []
open(dst, "w").write("\n".join(out))
PY
}

# Every #include of a file the overlay provides must find it in the tree:
# a step must bring the headers its files include.
check_includes() {
	(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_DIRS[@]}") |
	python3 -c '
import os, re, sys
top, tree = sys.argv[1:]
bad = 0
for f in sys.stdin.read().split():
    if not f.endswith((".c", ".h")) or not os.path.exists(os.path.join(tree, f)):
        continue
    for m in re.finditer(r"^#include ([<\"])([^>\"]+)[>\"]", open(os.path.join(tree, f)).read(), re.M):
        if m.group(1) == "\"":
            want = [os.path.normpath(os.path.join(os.path.dirname(f), m.group(2)))]
            if not os.path.exists(os.path.join(top, want[0])):
                continue
        else:
            want = [p for p in ("include/" + m.group(2), "include/uapi/" + m.group(2))
                    if os.path.exists(os.path.join(top, p))]
        if want and not any(os.path.exists(os.path.join(tree, p)) for p in want):
            print(f"error: {f} includes {m.group(2)}, which no patch so far adds", file=sys.stderr)
            bad = 1
sys.exit(bad)
' "$TOP" "$tree" || die "a step of the series lacks a header it includes"
}

commit() {
	filter_makefile ipc/bus1/Makefile
	filter_makefile tools/testing/selftests/bus1/Makefile
	check_includes
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

# The steps, leaves first: each builds with CONFIG_BUS1=y and =n
# (scripts/check-bisect.sh), each a file of scripts/series/ for its message.
copy include/uapi/linux/bus1.h
commit 01-uapi

python3 "$TOP/scripts/lsm-hooks.py" "$tree"
commit 02-lsm-hooks

wire kconfig
copy_bus1 Makefile .kunitconfig queue.h queue.c queue_test.c
commit 03-queue

# quota.c traces refused charges: the trace events come with it.
copy_bus1 quota.h quota.c quota_test.c trace.c
copy include/trace/events/bus1.h
commit 04-quota

copy_bus1 slice.h slice.c slice_test.c
commit 05-slice

copy_bus1 pool.h pool.c pool_test.c
commit 06-pool

# These include each other: one patch.
copy_bus1 peer.h peer.c creds.h creds.c node.h node.c handle.h handle.c \
	message.h message.c tx.h tx.c
commit 07-objects

copy_bus1 syscalls.c
wire decls
commit 08-syscalls

wire x86
commit 09-x86

wire others
commit 10-arch

copy_selftests Makefile config settings .gitignore bus1_test.h peer_test.c handle_test.c
insert_sorted tools/testing/selftests/Makefile "TARGETS += bus1" '^TARGETS \+= '
commit 11-selftests-peers

copy_selftests message_test.c
commit 12-selftests-messages

copy_selftests lifecycle_test.c passing_test.c
commit 13-selftests-lifecycle

copy_selftests order_test.c race_test.c
commit 14-selftests-order

copy_selftests quota_test.c
commit 15-selftests-quota

copy_selftests bpf_lsm.h creds_test.c lsm_test.c
commit 16-selftests-creds

copy_selftests trace_test.c
commit 17-selftests-trace

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
commit 18-sample

copy Documentation/userspace-api/bus1.rst
insert_sorted Documentation/userspace-api/index.rst "   bus1" '^   (unshare|futex2|ebpf/index|ioctl/index|mseal)$'
commit 19-docs

# Every overlay file must have landed in some patch, unchanged.
(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_DIRS[@]}") |
while read -r f; do
	[ -e "$TOP/$f" ] || continue
	cmp -s "$TOP/$f" "$tree/$f" || die "overlay file $f is in no patch of the series"
done

git -C "$tree" config branch.bus1-series.description "$(cat "$MSGS/0-cover.msg")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The lists Documentation/process/adding-syscalls.rst and the touched
# areas ask for; base-commit names the imported base.
git -C "$tree" format-patch -q --zero-commit --no-signature --cover-letter \
	--cover-from-description=subject --base=base \
	--to=linux-kernel@vger.kernel.org --cc=linux-api@vger.kernel.org \
	--cc=linux-man@vger.kernel.org \
	--cc=linux-security-module@vger.kernel.org \
	--cc=linux-arch@vger.kernel.org --cc=linux-kselftest@vger.kernel.org \
	--cc=linux-trace-kernel@vger.kernel.org --cc=linux-doc@vger.kernel.org \
	-o "$out" base..bus1-series
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

# Blob ids, line numbers and the base commit follow the base tree's
# sublevel; the change itself must not differ.
normalize() {
	sed -E -e '/^index [0-9a-f]+\.\.[0-9a-f]+/d' -e '/^base-commit: /d' \
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
