#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the kernel's /proc/profile, as the bench guest prints it
("PROF,BUCKET,COUNT" lines on stdin, bucket 0 holding the bucket size),
into time per kernel function.

    profile-report.py System.map CONFIG RUN.csv

A sample is one timer tick that found the CPU in the kernel. Under
-icount shift=0 a tick is 1/HZ s of guest instructions, so COUNT / HZ
seconds are instructions too; divided by the iterations of the CSV's
point (every repetition, and the warm-up) that is the kernel's path
length per iteration (a round trip, or a message), by function. Ticks that found the CPU in user
space are not counted by the kernel.
"""

import bisect
import re
import sys


def symbols(path):
    syms = []
    with open(path) as f:
        for line in f:
            addr, kind, name = line.split()[:3]
            if kind in "tTwW":
                syms.append((int(addr, 16), name))
    syms.sort()
    return syms


def main():
    smap, config, csv = sys.argv[1:4]
    syms = symbols(smap)
    addrs = [a for a, _ in syms]
    stext = next(a for a, n in syms if n == "_stext")
    hz = int(re.search(r"^CONFIG_HZ=(\d+)$", open(config).read(), re.M).group(1))

    step, per_func = None, {}
    for line in sys.stdin:
        _, bucket, count = line.strip().split(",")
        bucket, count = int(bucket), int(count)
        if bucket == 0:
            step = count
            continue
        addr = stext + (bucket - 1) * step
        i = bisect.bisect_right(addrs, addr) - 1
        name = syms[i][1] if i >= 0 else "?"
        per_func[name] = per_func.get(name, 0) + count
    total = sum(per_func.values())

    # A point measures its iterations REPS times after one warm-up of a
    # tenth as many (stream and mcast warm up at least a window's worth).
    reps = {"stream": 5, "stream-read": 5, "mcast": 3}
    iters = 0
    for line in open(csv):
        f = line.strip().split(",")
        if f[0] == "CSV" and f[1] != "run" and f[-1] == "ok":
            n, depth = int(f[8]), int(f[7])
            iters += reps.get(f[2], 1) * n + max(n // 10, depth)
    print(f"# {total} kernel samples at HZ={hz}, {iters} iterations "
          f"(warm-up included); ns = guest ns per iteration")
    print(f"{'samples':>8} {'%':>6} {'ns':>8}  function")
    for name, n in sorted(per_func.items(), key=lambda x: -x[1]):
        ns = n * 1e9 / hz / iters if iters else 0
        print(f"{n:8d} {100.0 * n / total:6.2f} {ns:8.1f}  {name}")


if __name__ == "__main__":
    main()
