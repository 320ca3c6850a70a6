# SPDX-License-Identifier: GPL-2.0
#
# The one entry point of the bus1 tree. See README.md.
#
#   make setup         install what is needed, prepare the base tree
#   make run           build the patched kernel, boot it, run the demo
#   make shell         the same, then stay at a shell in the guest
#   make test          every gate and test; ONLY=... runs one part
#   make fuzz          the fuzzer in the x86_64 test guest for
#                      FUZZ_SECONDS (600)
#   make bench         build the bench kernel, run bench/ in QEMU, write
#                      bench/results/DATE.{md,csv,png}
#   make series        regenerate patches/ from the overlay
#   make check-series  fail if patches/ is stale
#   make clean         drop the build products, keep the base tree

ONLY ?=
FUZZ_SECONDS ?= 600

.PHONY: setup run shell test fuzz bench series check-series clean

setup:
	bash scripts/setup.sh

run:
	bash scripts/run.sh

shell:
	bash scripts/run.sh shell

test:
	bash scripts/test.sh $(ONLY)

fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench:
	bash scripts/bench.sh

series:
	bash scripts/gen-series.sh

check-series:
	bash scripts/gen-series.sh --check

clean:
	rm -rf build/obj build/guest build/logs build/results.txt build/guest-bench build/bench \
		build/libbus1-check libbus1/build
