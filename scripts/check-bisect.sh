#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build every prefix of the applied series, so that it stays bisectable.
#
# Each prefix has a worktree and an object folder of its own, so a re-run
# after a small change rebuilds only what changed. The kernel is x86_64
# tinyconfig with bus1 and its KUnit tests, to keep it quick. A patch that
# touches only what the kernel build never reads (Documentation/, tools/,
# MAINTAINERS) builds exactly like its parent and is not built again; nor
# does the sample's (samples/), which tinyconfig leaves off: the test
# kernels build that tree, the whole series but the documentation, with
# the sample on.

. "$(dirname "$0")/lib.sh"

need_base
git -C "$WT_TEST" rev-parse -q --verify HEAD >/dev/null || die "run scripts/apply-series.sh first"

k=0
for c in $(git -C "$WT_TEST" rev-list --reverse base..HEAD); do
	k=$((k + 1))
	subject=$(git -C "$WT_TEST" log -1 --format=%s "$c")
	if [ -z "$(git -C "$WT_TEST" diff --name-only "$c^" "$c" -- . \
			':!Documentation' ':!tools' ':!MAINTAINERS' ':!samples')" ]; then
		echo "nothing the kernel build reads: $subject"
		continue
	fi
	WT=$BUILD/wt/bisect-$k
	O=$BUILD/obj/bisect-$k
	tree=$(git -C "$WT_TEST" rev-parse "$c^{tree}")
	if [ "$(cat "$O/.bus1-built-tree" 2>/dev/null)" = "$tree" ]; then
		echo "built before: $subject"
		continue
	fi
	make_worktree "$WT" base
	git -C "$WT" checkout -q -f --detach "$c"
	mkdir -p "$O"
	kmake() {
		make -s -C "$WT" O="$O" ARCH=x86_64 "$@"
	}
	[ -f "$O/.config" ] || kmake tinyconfig >/dev/null
	# CONFIG_BUS1 exists only from the core patch on; enable it where it does.
	"$WT/scripts/config" --file "$O/.config" -e 64BIT -e SHMEM -e KUNIT \
		-e BUS1 -e BUS1_KUNIT_TEST
	kmake olddefconfig >/dev/null
	start=$SECONDS
	if ! kmake -j"$JOBS" vmlinux >"$O/build.log" 2>&1; then
		tail -n 30 "$O/build.log"
		die "the series does not build after: $subject"
	fi
	echo "$tree" >"$O/.bus1-built-tree"
	echo "builds ($((SECONDS - start)) s): $subject"
done
