#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the man pages in man/.

  check-man.py [--examples INCDIR]

Every page is linted with mandoc and must come out clean. Every system
call of arch-syscall-tables/bus1.tbl has a section 2 page whose SYNOPSIS
shows the call's arguments and whose ERRORS section lists, in
alphabetical order, exactly the errnos of the call's "Errors:" list in
Documentation/userspace-api/bus1.rst. Every function that
libbus1/include/libbus1.h declares has a section 3 page, its own or a
".so" link to the page of its group, whose SYNOPSIS shows the header's
declaration. Every name in the NAME section of a page has such a link,
every link goes to a page that lists it, and every bus1 page that a page
refers to exists. An errno item of bus1.rst outside any call's "Errors:"
list fails too: it belongs to no call.

With --examples INCDIR, the example programs of the pages (the text
between the ".\\" SRC BEGIN" and ".\\" SRC END" comments) are also
compiled, against the kernel's uapi headers installed in INCDIR (make
headers_install) and libbus1/include; gcc must accept them with -Wall
-Werror.

Prints one line per page, "ok PAGE" or "FAIL PAGE: reason" once per
problem, and exits non-zero if anything failed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN = os.path.join(TOP, "man")
RST = os.path.join(TOP, "Documentation", "userspace-api", "bus1.rst")
TBL = os.path.join(TOP, "arch-syscall-tables", "bus1.tbl")
LIBH = os.path.join(TOP, "libbus1", "include", "libbus1.h")

# mandoc is run at the STYLE level, the lowest one that man(7) pages get
# messages at, so that any message fails. Two are deliberate:
#  - the Linux man-pages project spells page titles as the names they
#    document, in lower case (".TH bus1_send 2"), which mandoc questions
#    at STYLE level on every page;
#  - a page for a further name of a group is a one-line ".so" link, as
#    in the man-pages project; man-db and mandoc both resolve it, and it
#    installs as a plain file. mandoc warns that .so is fragile: that is
#    accepted on link pages only, and their target is checked below.
MANDOC_LEVEL = "style"
ALLOWED_EVERYWHERE = ["STYLE: lower case character in document title: "]
ALLOWED_ON_LINKS = ["WARNING: .so is fragile, better use ln(1): "]

ERRNO = re.compile(r"\bE[A-Z0-9]{2,}\b")
RST_ERRNO_ITEM = re.compile(r"^``E[A-Z0-9]+``(?:,\s*``E[A-Z0-9]+``)*\s*$")
UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1+\s*$")
REF = re.compile(r"\b((?:lib)?bus1\w*)\s?\((\d)\)")
LINK = re.compile(r"^\.so\s+(man(\d)/([\w.-]+)\.(\d))\s*$")


def unescape(text):
    """A roff text line as it reads: escapes resolved, fonts dropped."""
    text = re.sub(r"\\f(?:\[[^]]*\]|\(..|.)", "", text)
    text = text.replace("\\(aq", "'").replace("\\(ti", "~")
    text = text.replace("\\[bu]", "*").replace("\\(dq", '"')
    text = text.replace("\\-", "-").replace("\\~", " ").replace("\\ ", " ")
    text = text.replace("\\&", "").replace("\\e", "\\")
    return text


def roff_args(rest):
    """The arguments of a macro line, split as roff splits them."""
    args, cur, quoted, started, i = [], "", False, False, 0
    while i < len(rest):
        c = rest[i]
        if quoted:
            if c == '"' and rest[i + 1:i + 2] == '"':
                cur += '"'
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur += c
        elif c == '"' and not started:
            quoted = started = True
        elif c in " \t":
            if started:
                args.append(cur)
                cur, started = "", False
        else:
            cur += c
            started = True
        i += 1
    if started:
        args.append(cur)
    return args


def roff_lines(path):
    """The lines of a page, continuation lines ("\\" at the end) joined."""
    out, cur = [], ""
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if line.endswith("\\") and not line.endswith("\\\\"):
                cur += line[:-1]
                continue
            out.append(cur + line)
            cur = ""
    return out


def sections(lines):
    """{name: [lines]} of the .SH sections of a page."""
    secs, name = {}, None
    for line in lines:
        m = re.match(r"^\.SH\s+(.*)$", line)
        if m:
            name = " ".join(roff_args(m.group(1)))
            secs[name] = []
        elif name is not None:
            secs[name].append(line)
    return secs


def render(lines):
    """Text of roff lines: fonts dropped, requests and comments blanked."""
    out = []
    for line in lines:
        if line.startswith(".\\\"") or line.startswith("'\\\""):
            continue
        m = re.match(r"^\.(B|I|BI|BR|IB|IR|RB|RI)(?:\s+(.*))?$", line)
        if m:
            args = roff_args(m.group(2) or "")
            joined = (" " if m.group(1) in ("B", "I") else "").join(args)
            out.append(unescape(joined))
        elif line.startswith("."):
            out.append("")
        else:
            out.append(unescape(line))
    return out


def prototypes(text):
    """{name: normalized declaration} of the C declarations in text."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    found = {}
    for decl in re.split(r"[;{}]", text):
        decl = " ".join(decl.split())
        m = re.search(r"(?:^|[\s*(])(\w+)\s*\((.*)\)$", decl)
        if not m or decl.startswith(("typedef", "struct", "#")):
            continue
        found[m.group(1)] = normalize(decl)
    return found


def normalize(decl):
    decl = " ".join(decl.replace("__user", "").split())
    return re.sub(r"\s*([(),*])\s*", r"\1", decl)


def mandoc_problems(pages, links):
    """{page: [problem]} of mandoc -Tlint, run where .so paths resolve."""
    if not shutil.which("mandoc"):
        return None
    rels = [os.path.relpath(p, MAN) for p in pages]
    r = subprocess.run(["mandoc", "-Tlint", "-W", MANDOC_LEVEL] + rels,
                       cwd=MAN, capture_output=True, text=True)
    problems = {p: [] for p in pages}
    for line in (r.stdout + r.stderr).splitlines():
        m = re.match(r"^mandoc: ([^:]+):(?:\d+:\d+:)? (.*)$", line)
        page = os.path.join(MAN, m.group(1)) if m else None
        if page not in problems:
            problems[pages[0]].append("mandoc: " + line)
            continue
        msg = m.group(2)
        allowed = ALLOWED_EVERYWHERE + (ALLOWED_ON_LINKS * (page in links))
        if not any(msg.startswith(a) for a in allowed):
            problems[page].append("mandoc: " + msg)
    # 5 and 6: bad arguments, system error; the levels below print a line.
    if r.returncode >= 5:
        problems[pages[0]].append(f"mandoc failed with status {r.returncode}")
    return problems


def rst_errors(path):
    """({call: [errno]} of the "Errors:" lists of bus1.rst, [warning]).

    A call's section is the one headed "bus1_xxx()", up to the next
    heading of any level; its list is the ``EXXX`` items after "Errors:".
    """
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    calls, warnings = {}, []
    call, in_list = None, False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (line.strip() and not UNDERLINE.match(line) and UNDERLINE.match(nxt)
                and len(nxt.rstrip()) >= len(line.rstrip())):
            m = re.match(r"^(bus1_\w+)\(\)\s*$", line)
            call = m.group(1) if m else None
            in_list = False
            if call:
                calls.setdefault(call, None)
            continue
        if line.strip() == "Errors:":
            in_list = call is not None
            if call:
                calls[call] = calls[call] or []
            continue
        if RST_ERRNO_ITEM.match(line):
            names = ERRNO.findall(line)
            if in_list:
                calls[call].extend(names)
            else:
                # Not fatal: bus1.rst is not this script's to fix, and the
                # cross-check below stays exact for every Errors: list.
                warnings.append(f"bus1.rst:{i + 1}: {', '.join(names)} is an "
                                "errno item outside any call's Errors: list")
    return calls, warnings


def man_errors(secs):
    """The errno names of the .TP/.TQ tags of an ERRORS section, in order."""
    names, tag = [], False
    for line in secs.get("ERRORS", []):
        if re.match(r"^\.(TP|TQ)\b", line):
            tag = True
        elif line.startswith(".\\\""):
            continue
        elif tag:
            names.extend(ERRNO.findall(" ".join(render([line]))))
            tag = False
    return names


def name_section(secs):
    text = " ".join(render(secs.get("NAME", [])))
    names = text.split(" - ", 1)[0]
    return [n.strip() for n in names.split(",") if n.strip()]


def check_syscall_page(page, call, args, rst_calls, problems):
    secs = sections(roff_lines(page))
    synopsis = "\n".join(render(secs.get("SYNOPSIS", [])))
    want = normalize(f"int syscall(SYS_{call}, {args})")
    got = [normalize(d) for d in prototypes(synopsis).values()]
    if want not in got:
        problems.append(f"SYNOPSIS does not show {want}")
    if "ERRORS" not in secs:
        problems.append("no ERRORS section")
        return
    listed = man_errors(secs)
    if not listed:
        problems.append("ERRORS lists no errno")
    if listed != sorted(listed):
        problems.append("ERRORS is not in alphabetical order")
    documented = rst_calls.get(call)
    if documented is None:
        problems.append(f"bus1.rst has no \"Errors:\" list for {call}()")
        return
    for e in sorted(set(documented) - set(listed)):
        problems.append(f"{e} is in bus1.rst's Errors of {call}() "
                        "but not in ERRORS")
    for e in sorted(set(listed) - set(documented)):
        problems.append(f"{e} is in ERRORS but not in bus1.rst's Errors "
                        f"of {call}()")


def extract_examples(page):
    """[(name, C source)] of the SRC BEGIN/END blocks of a page."""
    out, name, body = [], None, []
    for line in roff_lines(page):
        m = re.match(r"^\.\\\" SRC BEGIN \((\S+)\)", line)
        if m:
            name, body = m.group(1), []
        elif line.startswith(".\\\" SRC END") and name:
            out.append((name, "\n".join(body) + "\n"))
            name = None
        elif name and not re.match(r"^\.(EX|EE|in)\b", line):
            body.append(unescape(line))
    return out


def compile_examples(page, incdir, tmp):
    problems = []
    for name, src in extract_examples(page):
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(src)
        r = subprocess.run(["gcc", "-std=gnu11", "-Wall", "-Werror",
                            "-fsyntax-only", "-pthread", "-isystem", incdir,
                            "-I", os.path.join(TOP, "libbus1", "include"),
                            path], capture_output=True, text=True)
        if r.returncode:
            errs = [ln for ln in r.stderr.splitlines() if "error" in ln]
            first = (errs or r.stderr.splitlines() or ["?"])[0]
            first = first.replace(tmp + os.sep, "")
            problems.append(f"example does not compile: {first}")
    return problems


def find_links(pages, problems):
    """{link page: target page} of the one-line ".so" pages."""
    links = {}
    for p in pages:
        with open(p, encoding="utf-8") as f:
            text = f.read().strip()
        if not text.startswith(".so"):
            continue
        m = LINK.match(text)
        if not m or "\n" in text:
            problems[p].append("a link page is one line: .so manN/page.N")
            continue
        links[p] = os.path.join(MAN, m.group(1))
    return links


def check_names(pages, links, problems):
    """Links go to a page that lists them; every name listed has a link;
    every bus1 page referred to exists."""
    for p, target in links.items():
        name = os.path.basename(p).rsplit(".", 1)[0]
        rel = os.path.relpath(target, TOP)
        if target not in problems or target in links:
            problems[p].append(f"links to {rel}, which is not a page")
        elif name not in name_section(sections(roff_lines(target))):
            problems[p].append(f"{rel} does not list {name} in its NAME")
    for p in pages:
        if p in links:
            continue
        lines = roff_lines(p)
        sec = p.rsplit(".", 1)[1]
        for name in name_section(sections(lines)):
            other = os.path.join(os.path.dirname(p), f"{name}.{sec}")
            if other != p and links.get(other) != p:
                problems[p].append(f"NAME lists {name}, but man{sec}/{name}."
                                   f"{sec} is not a link to this page")
        for name, ref in sorted(set(REF.findall(" ".join(render(lines))))):
            if os.path.join(MAN, f"man{ref}", f"{name}.{ref}") not in problems:
                problems[p].append(f"refers to {name}({ref}), not a page")


def check_syscalls(pages, problems, general):
    """Section 2 against bus1.tbl and the Errors: lists of bus1.rst."""
    calls = []
    with open(TBL, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, args = re.split(r"\s+", line.strip(), maxsplit=1)
                calls.append((name, args))
    rst_calls, strays = rst_errors(RST)
    general += strays
    for call, args in calls:
        page = os.path.join(MAN, "man2", f"{call}.2")
        if page not in problems:
            general.append(f"{call} of bus1.tbl has no page man/man2/{call}.2")
            continue
        check_syscall_page(page, call, args, rst_calls, problems[page])
    known = {c for c, _ in calls}
    for p in pages:
        if (p.startswith(os.path.join(MAN, "man2", ""))
                and os.path.basename(p)[:-2] not in known):
            problems[p].append("no system call of bus1.tbl has this name")
    for call in sorted(set(rst_calls) - known):
        general.append(f"bus1.rst documents {call}(), not in bus1.tbl")


def check_library(pages, links, problems, general):
    """Section 3 against the declarations of libbus1.h."""
    with open(LIBH, encoding="utf-8") as f:
        declared = prototypes(f.read())
    for fn, decl in sorted(declared.items()):
        page = os.path.join(MAN, "man3", f"{fn}.3")
        if page not in problems:
            general.append(f"{fn}() of libbus1.h has no page man/man3/{fn}.3")
            continue
        page = links.get(page, page)
        if page not in problems:
            continue        # a link to nothing, reported already
        synopsis = render(sections(roff_lines(page)).get("SYNOPSIS", []))
        if decl not in prototypes("\n".join(synopsis)).values():
            problems[page].append(f"SYNOPSIS does not show {fn}() as "
                                  f"libbus1.h declares it: {decl}")
    for p in pages:
        base = os.path.basename(p)
        if (p.startswith(os.path.join(MAN, "man3", "")) and p not in links
                and base != "libbus1.3" and base[:-2] not in declared):
            problems[p].append("libbus1.h declares no function of this name")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", metavar="INCDIR",
                    help="also compile the example programs against INCDIR")
    opts = ap.parse_args()

    pages = sorted(os.path.join(d, f) for d, _, fs in os.walk(MAN) for f in fs
                   if re.search(r"\.\d$", f))
    problems = {p: [] for p in pages}
    general = []
    if not pages:
        general.append("no pages under man/")

    links = find_links(pages, problems)
    lint = mandoc_problems(pages, links) if pages else {}
    if lint is None:
        general.append("mandoc is missing: run 'make setup'")
    else:
        for p, msgs in lint.items():
            problems[p].extend(msgs)
    check_names(pages, links, problems)
    check_syscalls(pages, problems, general)
    check_library(pages, links, problems, general)
    if opts.examples:
        with tempfile.TemporaryDirectory() as tmp:
            for p in pages:
                if p not in links:
                    problems[p].extend(compile_examples(p, opts.examples, tmp))

    for p in pages:
        rel = os.path.relpath(p, TOP)
        for msg in problems[p]:
            print(f"FAIL {rel}: {msg}")
        if not problems[p]:
            print(f"ok {rel}")
    for msg in general:
        print(f"FAIL {msg}")
    return 1 if general or any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
