#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the bench CSV of one or more runs into tables.

    report.py CSV META MD PLOTDIR

CSV is what the guests printed ("CSV,..." rows, plus "MECH,..." and
"GROUP,..." descriptions), all runs together. META holds "key=value"
lines about the runs (date, kernel, QEMU flags). Prints the tables as
text, writes them as Markdown to MD with method.md (beside this script)
as its method section, and the series to plot to PLOTDIR.

Every ratio is the mechanism's time divided by bus1's time in the same
run, workload, size and fan-out: above 1, bus1 is faster. In the svc-*
workloads (svcbench) the base is bus1-svc, the service bus on bus1.
"""

import csv
import math
import os
import sys

RUN_ORDER = ["icount-smp2", "icount-smp1", "wall"]
RUN_WHAT = {
    "icount-smp2": "icount, 2 vCPUs, client and server pinned to different CPUs "
                   "(cross-CPU path length; repeatable for one kernel build)",
    "icount-smp1": "icount, 1 vCPU (same-CPU path length; repeatable for one "
                   "kernel build)",
    "wall": "wall clock, TCG multi-threaded, 4 vCPUs, pinned as for smp2 (noisy)",
}
RT_MECHS = ["bus1", "bus1+creds", "bus1-lib", "unix-seqpacket", "unix-stream", "pipe", "broker",
            "binder", "futex"]
STREAM_MECHS = ["bus1", "bus1-lib", "unix-seqpacket", "unix-stream", "pipe", "broker",
                "binder-oneway", "futex"]
PASS_MECHS = ["bus1", "bus1+handle", "bus1+fd", "unix-seqpacket", "unix+fd"]
PASS_BASE = {"bus1+handle": "bus1", "bus1+fd": "bus1", "unix+fd": "unix-seqpacket"}
PAIRS_MECHS = ["bus1", "bus1-uids", "unix-seqpacket", "unix-stream", "pipe", "futex"]
PATH_MECHS = ["bus1", "bus1+creds", "bus1-lib", "unix-seqpacket", "unix-stream", "pipe"]
# svcbench: the service bus on bus1 against D-Bus; ratios to bus1-svc.
SVC_MECHS = ["bus1-svc", "dbus-broker", "dbus-daemon"]
SVC_BASE = "bus1-svc"


def size_name(size):
    size = int(size)
    if size >= 1 << 20:
        return "%d MiB" % (size >> 20)
    if size >= 1 << 10:
        return "%d KiB" % (size >> 10)
    return "%d B" % size


def us(ns):
    """Nanoseconds as microseconds with three significant digits."""
    v = ns / 1000.0
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def rate(per_s):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_s >= div:
            return "%.3g%s" % (per_s / div, unit)
    return "%.3g" % per_s


def load(path):
    rows, mechs = [], {}
    with open(path) as f:
        for rec in csv.reader(f):
            if not rec:
                continue
            if rec[0] in ("MECH", "GROUP") and len(rec) >= 3:
                mechs.setdefault((rec[0], rec[1]), ",".join(rec[2:]))
            elif rec[0] == "CSV" and rec[1] != "run" and len(rec) == 12:
                r = dict(zip(["run", "workload", "mech", "size", "k", "touch", "depth",
                              "iters", "median", "p99", "status"], rec[1:]))
                for key in ("size", "k", "depth", "iters"):
                    r[key] = int(r[key])
                r["median"] = float(r["median"])
                r["p99"] = float(r["p99"])
                rows.append(r)
    return rows, mechs


class Table:
    """A table printed as text and written as Markdown."""

    def __init__(self, title, head):
        self.title, self.head, self.rows = title, head, []

    def add(self, row):
        self.rows.append([str(c) for c in row])

    def text(self):
        cols = [self.head] + self.rows
        width = [max(len(r[i]) for r in cols) for i in range(len(self.head))]
        out = [self.title]
        for n, r in enumerate(cols):
            out.append("  ".join(c.ljust(width[i]) if i == 0 else c.rjust(width[i])
                                 for i, c in enumerate(r)).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in width))
        return "\n".join(out) + "\n"

    def markdown(self):
        out = ["**%s**" % self.title, "",
               "| " + " | ".join(self.head) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.head))) + "|"]
        for r in self.rows:
            out.append("| " + " | ".join(r) + " |")
        return "\n".join(out) + "\n"


class Report:
    def __init__(self, rows):
        self.rows = rows
        self.index = {}
        for r in rows:
            self.index[(r["run"], r["workload"], r["mech"], r["size"], r["k"])] = r
        self.runs = [x for x in RUN_ORDER if any(r["run"] == x for r in rows)]
        self.runs += sorted({r["run"] for r in rows} - set(self.runs))
        self.tables = []

    def get(self, run, work, mech, size, k=1):
        r = self.index.get((run, work, mech, size, k))
        return r if r and r["status"] == "ok" else None

    def status(self, run, work, mech, size, k=1):
        r = self.index.get((run, work, mech, size, k))
        return "n/a" if not r else r["status"]

    def sizes(self, run, work):
        return sorted({r["size"] for r in self.rows if r["run"] == run and r["workload"] == work})

    def ratio(self, r, base):
        if not base or not base["median"]:
            return ""
        return "x%.2f" % (r["median"] / base["median"])

    def latency(self, run, work, mechs, what):
        sizes = self.sizes(run, work)
        if not sizes:
            return
        t = Table("%s, %s: median / p99 in us, xN = time / bus1's" % (what, run),
                  ["mechanism"] + [size_name(s) for s in sizes])
        for m in mechs:
            if not any(self.index.get((run, work, m, s, 1)) for s in sizes):
                continue
            cells = []
            for s in sizes:
                r = self.get(run, work, m, s)
                if not r:
                    cells.append(self.status(run, work, m, s))
                    continue
                base = self.get(run, work, "bus1", s)
                cells.append("%s / %s %s" % (us(r["median"]), us(r["p99"]),
                                             self.ratio(r, base)))
            t.add([m] + cells)
        self.tables.append(t)

    def stream(self, run, work, what):
        sizes = self.sizes(run, work)
        if not sizes:
            return
        t = Table("%s, %s: messages/s, bytes/s (median of 5 runs), "
                  "xN = time / bus1's" % (what, run),
                  ["mechanism"] + [size_name(s) for s in sizes])
        for m in STREAM_MECHS:
            cells = []
            for s in sizes:
                r = self.get(run, work, m, s)
                if not r:
                    cells.append(self.status(run, work, m, s))
                    continue
                base = self.get(run, work, "bus1", s)
                per_s = 1e9 / r["median"]
                cells.append("%s/s %sB/s %s" % (rate(per_s), rate(per_s * s),
                                                self.ratio(r, base)))
            if any(self.index.get((run, work, m, s, 1)) for s in sizes):
                t.add([m] + cells)
        # The window: messages in flight, where a mechanism has its own.
        cells = []
        for s in sizes:
            ds = {r["mech"]: r["depth"] for r in self.rows
                  if r["run"] == run and r["workload"] == work and r["size"] == s}
            common = ds.get("bus1", 0)
            cells.append(" ".join([str(common)] + ["%s %d" % (m, d) for m, d in sorted(ds.items())
                                                   if d != common]))
        t.add(["(window, msgs)"] + cells)
        self.tables.append(t)

    def mcast(self, run, work, what, unit):
        rows = [r for r in self.rows if r["run"] == run and r["workload"] == work]
        if not rows:
            return
        ks = sorted({r["k"] for r in rows})
        t = Table("%s, %s: %s (median of 3 runs), xN = time / bus1's" % (what, run, unit),
                  ["mechanism, size"] + ["k=%d" % k for k in ks])
        for s in sorted({r["size"] for r in rows}):
            for m in ("bus1", "unix-seqpacket"):
                cells = []
                for k in ks:
                    r = self.get(run, work, m, s, k)
                    if not r:
                        cells.append(self.status(run, work, m, s, k))
                        continue
                    cells.append("%s %s" % (us(r["median"]),
                                            self.ratio(r, self.get(run, work, "bus1", s, k))))
                t.add(["%s, %s" % (m, size_name(s))] + cells)
        self.tables.append(t)

    def passing(self, run):
        if not self.sizes(run, "pass"):
            return
        t = Table("Passing one handle or fd per request (8 B round trip), %s" % run,
                  ["mechanism", "median us", "p99 us", "x bus1", "cost of passing us"])
        for m in PASS_MECHS:
            r = self.get(run, "pass", m, 8)
            if not r:
                if self.index.get((run, "pass", m, 8, 1)):
                    t.add([m, self.status(run, "pass", m, 8), "", "", ""])
                continue
            base = self.get(run, "pass", PASS_BASE.get(m, m), 8)
            extra = us(r["median"] - base["median"]) if base and m in PASS_BASE else ""
            t.add([m, us(r["median"]), us(r["p99"]),
                   self.ratio(r, self.get(run, "pass", "bus1", 8)), extra])
        self.tables.append(t)

    def pairs(self, run):
        rows = [r for r in self.rows if r["run"] == run and r["workload"] == "pairs"]
        if not rows:
            return
        ks = sorted({r["k"] for r in rows})
        t = Table("Independent pairs, %s: aggregate 8 B round trips/s (median of 3 runs), "
                  "scaling over 1 pair, xN = time / bus1's" % run,
                  ["mechanism"] + ["%d pair%s" % (k, "s" if k > 1 else "") for k in ks])
        for m in PAIRS_MECHS:
            one = self.get(run, "pairs", m, 8, 1)
            cells = []
            for k in ks:
                r = self.get(run, "pairs", m, 8, k)
                if not r:
                    cells.append(self.status(run, "pairs", m, 8, k))
                    continue
                scale = " (%.2fx)" % (one["median"] / r["median"]) if one else ""
                cells.append("%s/s%s %s" % (rate(1e9 / r["median"]), scale,
                                            self.ratio(r, self.get(run, "pairs", "bus1", 8, k))))
            if any(self.index.get((run, "pairs", m, 8, k)) for k in ks):
                t.add([m] + cells)
        self.tables.append(t)

    def svc(self, run):
        """The service workload on three buses: calls, an fd, a start; signals."""
        rows = [r for r in self.rows if r["run"] == run and r["workload"].startswith("svc-")]
        if not rows:
            return
        cols = [("svc-call", s, 1, "call %s" % size_name(s)) for s in self.sizes(run, "svc-call")]
        cols += [("svc-fd", 8, 1, "call + fd"), ("svc-start", 8, 1, "start + 1st call")]
        t = Table("Service bus against D-Bus, %s: median / p99 in us, "
                  "xN = time / bus1-svc's" % run, ["bus"] + [c[3] for c in cols])
        for m in SVC_MECHS:
            if not any(r["mech"] == m for r in rows):
                continue
            cells = []
            for work, size, k, _ in cols:
                r = self.get(run, work, m, size, k)
                if not r:
                    cells.append(self.status(run, work, m, size, k))
                    continue
                cells.append("%s / %s %s" % (us(r["median"]), us(r["p99"]),
                                             self.ratio(r, self.get(run, work, SVC_BASE,
                                                                    size, k))))
            t.add([m] + cells)
        self.tables.append(t)
        ks = sorted({r["k"] for r in rows if r["workload"] == "svc-signal"})
        if not ks:
            return
        t = Table("Service bus against D-Bus, %s: one 8 B signal until every subscriber "
                  "has it, median / p99 in us, xN = time / bus1-svc's" % run,
                  ["bus"] + ["k=%d" % k for k in ks])
        for m in SVC_MECHS:
            if not any(r["mech"] == m for r in rows):
                continue
            cells = []
            for k in ks:
                r = self.get(run, "svc-signal", m, 8, k)
                if not r:
                    cells.append(self.status(run, "svc-signal", m, 8, k))
                    continue
                cells.append("%s / %s %s" % (us(r["median"]), us(r["p99"]),
                                             self.ratio(r, self.get(run, "svc-signal",
                                                                    SVC_BASE, 8, k))))
            t.add([m] + cells)
        self.tables.append(t)

    def targets(self, run):
        """The targets of the bench issue, met or not, from this run's figures."""
        sizes = [8, 4096, 65536, 1 << 20]
        t = Table("Targets, %s: the measured ratio, and whether it meets the target"
                  % run, ["target", "workload"] + [size_name(s) for s in sizes])

        def cell(value, ok):
            return "" if value is None else "%.2f %s" % (value, "yes" if ok else "no")

        def time_ratio(work, num, den, size, k=1):
            a, b = self.get(run, work, num, size, k), self.get(run, work, den, size, k)
            return a["median"] / b["median"] if a and b and b["median"] else None

        for what, other, limit in (("bus1 / AF_UNIX seqpacket <= 1", "unix-seqpacket", 1.0),
                                   ("bus1 / broker <= 0.6", "broker", 0.6),
                                   ("bus1 / Binder <= 1", "binder", 1.0)):
            for work in ("rt", "rt-read"):
                vals = [time_ratio(work, "bus1", other, s) for s in sizes]
                if any(v is not None for v in vals):
                    t.add([what, work] + [cell(v, v is not None and v <= limit)
                                          for v in vals])
        # Delivery: bus1's throughput over the faster AF_UNIX socket's.
        for work in ("stream", "stream-read"):
            ratios = [time_ratio(work, m, "bus1", 1 << 20)
                      for m in ("unix-seqpacket", "unix-stream")]
            ratios = [v for v in ratios if v is not None]
            if ratios:
                v = min(ratios)
                t.add(["1 MiB delivery, bus1 / AF_UNIX >= 1.5", work, "", "", "",
                       cell(v, v >= 1.5)])
        for work, what in (("mcast", "everyone's time"), ("mcast-send", "sender's CPU time")):
            vals = [time_ratio(work, "unix-seqpacket", "bus1", s, 64) for s in sizes[:3]]
            if any(v is not None for v in vals):
                t.add(["64 AF_UNIX sends / multicast to 64 >= 4 (%s)" % what, work] +
                      [cell(v, v is not None and v >= 4) for v in vals] + [""])
        if t.rows:
            self.tables.append(t)
        # The service bus: at least 10x faster than through dbus-broker.
        t = Table("Service bus target, %s: dbus-broker's time / bus1-svc's, "
                  "and whether it is at least 10" % run,
                  ["workload"] + [size_name(s) for s in sizes[:3]] + ["k=64"])
        vals = [time_ratio("svc-call", "dbus-broker", SVC_BASE, s) for s in sizes[:3]]
        if any(v is not None for v in vals):
            t.add(["method call round trip"] + [cell(v, v is not None and v >= 10)
                                                for v in vals] + [""])
        v = time_ratio("svc-signal", "dbus-broker", SVC_BASE, 8, 64)
        if v is not None:
            t.add(["signal to 64 subscribers (8 B)", "", "", "", cell(v, v >= 10)])
        if t.rows:
            self.tables.append(t)

    def build(self):
        for run in self.runs:
            self.targets(run)
            self.latency(run, "rt", RT_MECHS,
                         "Round trip, receiver copies the payload out")
            self.latency(run, "rt-read", RT_MECHS,
                         "Round trip, receiver reads the payload once (in place where it can)")
            self.stream(run, "stream", "One-way stream")
            self.stream(run, "stream-read", "One-way stream, receiver reads the payload once "
                        "(in place where it can)")
            self.mcast(run, "mcast", "Multicast", "us per message to all k receivers")
            # Meaningful with one vCPU only: see method.md.
            self.mcast(run, "mcast-send",
                       "Multicast, sender's CPU time per message (thread CPU time)",
                       "us per message")
            self.latency(run, "path", PATH_MECHS,
                         "Path: a round trip in one thread holding both ends, "
                         "nobody waiting (no wake-up, no context switch)")
            self.passing(run)
            self.pairs(run)
            self.svc(run)

    def plot_data(self, outdir):
        """One file per run and workload: size, then a column per mechanism."""
        os.makedirs(outdir, exist_ok=True)
        for run in self.runs:
            for work, mechs, conv in (
                    ("rt", RT_MECHS, lambda r: r["median"] / 1000.0),
                    ("stream", STREAM_MECHS, lambda r: r["size"] * 1e9 / r["median"] / 2**20)):
                sizes = self.sizes(run, work)
                with open(os.path.join(outdir, "%s-%s.dat" % (work, run)), "w") as f:
                    f.write("size " + " ".join(mechs) + "\n")
                    for s in sizes:
                        vals = []
                        for m in mechs:
                            r = self.get(run, work, m, s)
                            vals.append("%.6g" % conv(r) if r else "?")
                        f.write("%d %s\n" % (s, " ".join(vals)))
            # Round-trip time relative to bus1's, mechanisms other than bus1.
            with open(os.path.join(outdir, "rt-ratio-%s.dat" % run), "w") as f:
                f.write("size " + " ".join(RT_MECHS[1:]) + "\n")
                for s in self.sizes(run, "rt"):
                    base = self.get(run, "rt", "bus1", s)
                    vals = []
                    for m in RT_MECHS[1:]:
                        r = self.get(run, "rt", m, s)
                        vals.append("%.4g" % (r["median"] / base["median"])
                                    if r and base else "?")
                    f.write("%d %s\n" % (s, " ".join(vals)))
            # The service bus: call time by size, signal time by subscribers.
            with open(os.path.join(outdir, "svc-call-%s.dat" % run), "w") as f:
                f.write("size " + " ".join(SVC_MECHS) + "\n")
                for s in self.sizes(run, "svc-call"):
                    vals = []
                    for m in SVC_MECHS:
                        r = self.get(run, "svc-call", m, s)
                        vals.append("%.6g" % (r["median"] / 1000.0) if r else "?")
                    f.write("%d %s\n" % (s, " ".join(vals)))
            with open(os.path.join(outdir, "svc-signal-%s.dat" % run), "w") as f:
                f.write("k " + " ".join(SVC_MECHS) + "\n")
                for k in sorted({r["k"] for r in self.rows if r["run"] == run
                                 and r["workload"] == "svc-signal"}):
                    vals = []
                    for m in SVC_MECHS:
                        r = self.get(run, "svc-signal", m, 8, k)
                        vals.append("%.6g" % (r["median"] / 1000.0) if r else "?")
                    f.write("%d %s\n" % (k, " ".join(vals)))
            rows = [r for r in self.rows if r["run"] == run and r["workload"] == "mcast"
                    and r["size"] == 4096]
            with open(os.path.join(outdir, "mcast-%s.dat" % run), "w") as f:
                f.write("k bus1 unix-seqpacket\n")
                for k in sorted({r["k"] for r in rows}):
                    vals = []
                    for m in ("bus1", "unix-seqpacket"):
                        r = self.get(run, "mcast", m, 4096, k)
                        vals.append("%.6g" % (r["median"] / 1000.0) if r else "?")
                    f.write("%d %s\n" % (k, " ".join(vals)))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    rows, mechs = load(sys.argv[1])
    meta = {}
    with open(sys.argv[2]) as f:
        for line in f:
            if "=" in line:
                key, val = line.rstrip("\n").split("=", 1)
                meta[key] = val
    rep = Report(rows)
    rep.build()

    text = "".join(t.text() + "\n" for t in rep.tables)
    print(text, end="")
    failed = [r for r in rows if r["status"] not in ("ok", "unavailable")]
    for r in failed:
        print("FAILED: %(run)s %(workload)s %(mech)s %(size)d k=%(k)d: %(status)s" % r)

    md = ["# bus1 bench, %s" % meta.get("date", "?"), ""]
    md += ["Made by `make bench` (scripts/bench.sh); the CSV beside this file holds every "
           "number, the PNG plots them.", ""]
    md += ["| | |", "|---|---|"]
    for key, what in (("kernel", "guest kernel (uname -r)"), ("series", "series"),
                      ("config", "kernel config"), ("qemu", "QEMU"), ("host", "host CPU"),
                      ("scale", "iteration scale"), ("elapsed", "time of the bench runs")):
        if key in meta:
            md.append("| %s | %s |" % (what, meta[key]))
    md += ["", "Runs, all mechanisms in the same boot per run:", "",
           "| run | QEMU flags | what it measures | guest clocksource | host at its start |",
           "|---|---|---|---|---|"]
    for run in rep.runs:
        md.append("| %s | `%s` | %s | %s | %s |" % (run, meta.get("flags-" + run, ""),
                                                    RUN_WHAT.get(run, ""),
                                                    meta.get("clocksource-" + run, ""),
                                                    meta.get("host-" + run, "")))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "method.md")) as f:
        method = f.read().strip()
    md += ["", method, "", "## Mechanisms", ""]
    for (kind, name), what in sorted(mechs.items(), key=lambda x: (x[0][0] == "GROUP", x[0][1])):
        md.append("- `%s`%s: %s" % (name, " (multicast)" if kind == "GROUP" else "", what))
    md += ["", "## Results", "",
           "Times in microseconds of guest time; `xN` is the mechanism's time divided by "
           "bus1's in the same run and column (above 1, bus1 is faster). Under icount a "
           "microsecond is 1000 guest instructions.", ""]
    for t in rep.tables:
        md += [t.markdown()]
    if failed:
        md += ["## Failed points", ""]
        md += ["- %(run)s %(workload)s %(mech)s %(size)d k=%(k)d: %(status)s" % r for r in failed]
        md += [""]
    with open(sys.argv[3], "w") as f:
        f.write("\n".join(md))
    rep.plot_data(sys.argv[4])


if __name__ == "__main__":
    main()
