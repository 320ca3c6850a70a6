#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job: apply patches/ onto the base tree, build the x86_64 kernel
# and the guest, boot it and run the demo.
#
#   run.sh          run the demo, then power the guest off
#   run.sh shell    run the demo, then stay at a shell in the guest

. "$(dirname "$0")/lib.sh"

case ${1:-} in
"" | shell) ;;
*) die "usage: run.sh [shell]" ;;
esac
S=$TOP/scripts
bash "$S/setup.sh"
bash "$S/gen-series.sh" --check ||
	note "warning: patches/ is stale; the demo runs what patches/ holds"
bash "$S/apply-series.sh"
bash "$S/build-kernel.sh" x86_64
bash "$S/build-guest.sh" x86_64
bash "$S/boot.sh" x86_64 demo "${1:-}"
