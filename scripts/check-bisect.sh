#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build every prefix of the applied series (x86_64, tinyconfig plus the
# guest options, without the debug options to keep it quick), so that the
# series stays bisectable. A prefix whose tree was built before is skipped.

. "$(dirname "$0")/lib.sh"

AM=$BUILD/wt/am
WT=$BUILD/wt/bisect
O=$BUILD/obj/bisect
need_base
git -C "$AM" rev-parse -q --verify HEAD >/dev/null || die "run scripts/apply-series.sh first"
make_worktree "$WT" base
mkdir -p "$O"
built=$O/.bus1-built-trees
touch "$built"
kmake() {
	make -s -C "$WT" O="$O" ARCH=x86_64 "$@"
}
CONF=$TOP/scripts/configs

for c in $(git -C "$AM" rev-list --reverse base..HEAD); do
	subject=$(git -C "$AM" log -1 --format=%s "$c")
	tree=$(git -C "$AM" rev-parse "$c^{tree}")
	if grep -qx "$tree" "$built"; then
		echo "built before: $subject"
		continue
	fi
	git -C "$WT" checkout -q -f --detach "$c"
	if [ ! -f "$O/.config" ]; then
		kmake tinyconfig >/dev/null
		(cd "$WT" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O "$O" \
			"$O/.config" "$CONF/x86_64.config" "$CONF/common.config" >/dev/null)
	fi
	# CONFIG_BUS1 exists only from the core patch on; enable it where it does.
	"$WT/scripts/config" --file "$O/.config" -e BUS1 -e KUNIT -e BUS1_KUNIT_TEST
	kmake olddefconfig >/dev/null
	start=$SECONDS
	if ! kmake -j"$JOBS" vmlinux >"$O/build.log" 2>&1; then
		tail -n 30 "$O/build.log"
		die "the series does not build after: $subject"
	fi
	echo "$tree" >>"$built"
	echo "builds ($((SECONDS - start)) s): $subject"
done
