#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Apply patches/ with git am onto the pristine base tree, as a user would,
# and check the result out in the test worktree that the kernels are built
# from. Files the series did not change keep their timestamps, so the
# incremental builds stay incremental.

. "$(dirname "$0")/lib.sh"

need_base
AM=$BUILD/wt/am
make_worktree "$AM" base
make_worktree "$WT_TEST" base

shopt -s nullglob
# Exactly what a user applies: git am patches/*.patch
patches=("$TOP"/patches/*.patch)
[ ${#patches[@]} -gt 0 ] || die "patches/ holds no patch: run 'make series'"

git -C "$AM" am --abort >/dev/null 2>&1 || true
git -C "$AM" checkout -q -f --detach base
git -C "$AM" clean -q -fdx
for p in "${patches[@]}"; do
	if ! log=$(git -C "$AM" am -q --whitespace=error-all "$p" 2>&1); then
		git -C "$AM" am --abort >/dev/null 2>&1 || true
		echo "$log" | grep -vE '^(hint:|Patch failed at|When you have|If you prefer|To restore)' |
			sed 's/^/    /' >&2
		die "patches/$(basename "$p") does not apply to the base tree"
	fi
done

git -C "$WT_TEST" checkout -q -f --detach "$(git -C "$AM" rev-parse HEAD)"
git -C "$WT_TEST" clean -q -fdx
note "applied ${#patches[@]} patches onto $(git -C "$BASE" log -1 --format=%s base)"
