# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers for the scripts in scripts/. Sourced, not run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUS1_BUILD:-$TOP/build}
BASE=$BUILD/linux		# pristine base tree, a git repo, tag "base"
WT_SERIES=$BUILD/wt/series	# worktree the series is generated in
WT_TEST=$BUILD/wt/test		# worktree that holds base + git am patches/
JOBS=${JOBS:-$(nproc)}

# Fixed identity and dates make the generated series reproducible.
export GIT_AUTHOR_NAME="bus1 developers"
export GIT_AUTHOR_EMAIL="bus1-devel@lists.example.org"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00+0000"
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME
export GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE

die() {
	echo "error: $*" >&2
	exit 1
}

note() {
	echo "==> $*" >&2
}

need_base() {
	git -C "$BASE" rev-parse -q --verify base >/dev/null 2>&1 ||
		die "no base tree in ${BASE#"$TOP"/}: run 'make setup' first"
}

# make_worktree DIR REV: (re)create a detached worktree of the base repo.
make_worktree() {
	local dir=$1 rev=$2
	if [ ! -e "$dir/.git" ]; then
		rm -rf "$dir"
		git -C "$BASE" worktree prune
		git -C "$BASE" worktree add -q --detach "$dir" "$rev"
	fi
}

# The C program under the "readme-example" marker of README.md.
readme_example() {
	awk '/<!-- readme-example/ { m = 1; next }
	     m && /^```c$/ { p = 1; next }
	     p && /^```$/ { exit }
	     p' "$TOP/README.md"
}
