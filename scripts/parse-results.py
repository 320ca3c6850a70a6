#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a test guest's console log.

  parse-results.py LOG LABEL --kunit SUITE... --selftests PROG... --samples PROG...
                   [--kselftest-runner PROG...] [--fuzz]

Prints one line per test, "PASS name" or "FAIL name: reason", for the
KUnit cases (KTAP on the console during boot) and the selftests (TAP
between BUS1-SUITE-BEGIN/END lines) and the samples (exit status on a
BUS1-SAMPLE line), and the programs run_kselftest.sh ran (its outer TAP,
one "ok N selftests: bus1: PROG" line each, between BUS1-KSELFTEST-BEGIN
and END lines), and the fuzzer (its exit status on a BUS1-FUZZ-END line). A failed, skipped or missing test fails; so does any
kernel splat in the log, a leak kmemleak reports, and a guest that did
not run to the end. Exits non-zero if anything failed.
"""

import argparse
import re
import sys

PREFIX = re.compile(r"^\[\s*\d+\.\d+\]\s?")
RESULT = re.compile(r"^(not ok|ok) (\d+) (.*?)(?:\s+#\s*(.*))?$")

# Anything the kernel prints when it found a bug in itself.
SPLATS = [
    r"\bBUG:", r"\bWARNING:", r"KASAN:", r"UBSAN:", r"\bOops\b",
    r"Kernel panic", r"general protection fault", r"kernel BUG at",
    r"possible circular locking", r"possible recursive locking",
    r"inconsistent lock state", r"DEADLOCK", r"INFO: task .* blocked",
    r"blocked for more than", r"rcu: INFO: .*stall", r"soft lockup", r"hard LOCKUP",
    r"unreferenced object", r"ODEBUG:", r"list_add corruption", r"list_del corruption",
    r"Call Trace:", r"double fault", r"Unable to handle kernel",
]
SPLAT = re.compile("|".join(SPLATS))


def parse(lines, kunit, selftests, samples=(), runner=(), fuzz=False):
    results = []  # (name, ok, reason)

    def add(name, ok, reason=""):
        results.append((name, ok, reason))

    # KUnit: a "# Subtest:" opens a suite, indented results are its cases.
    suite, plans, seen = None, {}, {}
    for line in lines:
        m = re.match(r"^    # Subtest: (\S+)", line)
        if m:
            suite = m.group(1)
            seen.setdefault(suite, 0)
            continue
        m = re.match(r"^    1\.\.(\d+)$", line)
        if m and suite:
            plans[suite] = int(m.group(1))
            continue
        m = RESULT.match(line[4:]) if line.startswith("    ") and suite else None
        if m and not line.startswith("     "):
            status, _, case, directive = m.groups()
            seen[suite] += 1
            name = f"kunit/{suite}/{case}"
            if directive and directive.upper().startswith("SKIP"):
                add(name, False, "skipped: " + directive)
            else:
                add(name, status == "ok", "" if status == "ok" else "failed")
            continue
        m = RESULT.match(line)
        if m and suite and m.group(3) == suite:
            suite = None
    for s in kunit:
        if s not in seen:
            add(f"kunit/{s}", False, "suite did not run")
        elif plans.get(s, -1) != seen[s]:
            add(f"kunit/{s}", False, f"{seen[s]} of {plans.get(s, '?')} cases reported")

    # Selftests: TAP of one program between its markers.
    current, plan, count, done = None, None, 0, set()
    for line in lines:
        m = re.match(r"^BUS1-SUITE-BEGIN (\S+)", line)
        if m:
            current, plan, count = m.group(1), None, 0
            continue
        if current is None:
            continue
        m = re.match(r"^BUS1-SUITE-END (\S+) rc=(\d+)", line)
        if m:
            if plan is None:
                add(f"{current}", False, "no TAP plan (crashed before the tests?)")
            elif count != plan:
                add(f"{current}", False, f"{count} of {plan} tests reported")
            if m.group(2) != "0":
                add(f"{current}", False, f"exit status {m.group(2)}")
            done.add(current)
            current = None
            continue
        m = re.match(r"^1\.\.(\d+)$", line)
        if m:
            plan = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            status, _, case, directive = m.groups()
            count += 1
            name = f"{current}/{case}"
            if directive and directive.upper().startswith("SKIP"):
                add(name, False, "skipped: " + directive)
            else:
                add(name, status == "ok", "" if status == "ok" else "failed")
    if current is not None:
        add(current, False, "did not finish")
    for s in selftests:
        if s not in done:
            add(s, False, "did not run")

    # The kernel's runner: one result per program, after the program's own
    # TAP, prefixed with "# ", which must hold a passed (not skipped) test.
    inside, ran_progs, passed = False, {}, 0
    for line in lines:
        if line.startswith("BUS1-KSELFTEST-BEGIN"):
            inside = True
        elif line.startswith("BUS1-KSELFTEST-END"):
            inside = False
        elif inside and re.match(r"^# selftests: bus1: ", line):
            passed = 0
        elif inside and re.match(r"^# ok \d+ (?!.*#\s*SKIP)", line):
            passed += 1
        elif inside:
            m = re.match(r"^(not ok|ok) \d+ selftests: bus1: (\S+)(?:\s+#\s*(.*))?$", line)
            if m:
                ran_progs[m.group(2)] = (m.group(1), m.group(3) or "", passed)
    for p in runner:
        status, directive, n = ran_progs.get(p, (None, "", 0))
        name = f"run_kselftest/{p}"
        if status is None:
            add(name, False, "did not run")
        elif directive.upper().startswith("SKIP"):
            add(name, False, "skipped")
        elif status != "ok":
            add(name, False, "not ok " + directive)
        else:
            add(name, n > 0, "" if n else "ran no test")

    # Samples: one line with the exit status of each.
    ran = dict(re.findall(r"^BUS1-SAMPLE (\S+) rc=(\d+)$", "\n".join(lines), re.M))
    for s in samples:
        rc = ran.get(s)
        add(f"sample/{s}", rc == "0", "did not run" if rc is None else f"exit status {rc}")

    if fuzz:
        m = re.search(r"^BUS1-FUZZ-END rc=(\d+)$", "\n".join(lines), re.M)
        add("fuzz", m is not None and m.group(1) == "0",
            "did not finish" if m is None else f"exit status {m.group(1)}")

    # The whole log: splats, leaks, and whether the guest got to the end.
    splats = [l for l in lines if SPLAT.search(l)]
    add("kernel-log-clean", not splats,
        "splat: " + splats[0].strip() if splats else "")
    scanned = "BUS1-KMEMLEAK-END" in lines
    add("kmemleak-scan", scanned, "" if scanned else "kmemleak did not run")
    up = any(l.startswith("BUS1-GUEST-UP") for l in lines)
    end = any(l.startswith("BUS1-GUEST-DONE") for l in lines)
    add("guest-ran-to-end", up and end,
        "" if up and end else ("guest never booted" if not up else "guest stopped early"))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("label")
    ap.add_argument("--kunit", nargs="*", default=[], help="expected KUnit suites")
    ap.add_argument("--selftests", nargs="*", default=[], help="expected selftest programs")
    ap.add_argument("--samples", nargs="*", default=[], help="expected sample programs")
    ap.add_argument("--kselftest-runner", nargs="*", default=[],
                    help="programs expected in run_kselftest.sh's TAP")
    ap.add_argument("--fuzz", action="store_true", help="expect a fuzzer run")
    a = ap.parse_args()
    with open(a.log, errors="replace") as f:
        lines = [PREFIX.sub("", l.rstrip("\r\n")) for l in f]
    failed = 0
    for name, ok, reason in parse(lines, a.kunit, a.selftests, a.samples,
                                  a.kselftest_runner, a.fuzz):
        print(f"PASS {a.label}/{name}" if ok else f"FAIL {a.label}/{name}: {reason}")
        failed += not ok
    sys.exit(1 if failed else 0)

if __name__ == "__main__":
    main()
