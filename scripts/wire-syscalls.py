#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Wire the bus1 system calls into a Linux 6.12 tree.

  wire-syscalls.py kconfig TREE   CONFIG_BUS1 and the build glue
  wire-syscalls.py decls TREE     the declarations and COND_SYSCALL()s
  wire-syscalls.py x86 TREE       the x86 syscall tables (32 and 64 bit)
  wire-syscalls.py others TREE    every other architecture's syscall table
  wire-syscalls.py generic TREE   kconfig and decls
  wire-syscalls.py tables TREE    x86 and others

The calls come from arch-syscall-tables/bus1.tbl. Each table gets them at
its own next free number, so nothing here depends on the kernel's sublevel.
"""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST = os.path.join(TOP, "arch-syscall-tables", "bus1.tbl")

# (table, ABI of new entries, numbers at or above this belong to another
# ABI, entry columns). s390 names the 64-bit and the compat entry point.
# arch/arm64/tools/syscall_64.tbl is a link to scripts/syscall.tbl, which
# also serves arm64, riscv, loongarch and the other generic architectures.
TABLES = [
    ("arch/alpha/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/arm/tools/syscall.tbl", "common", None, 1),
    ("arch/arm64/tools/syscall_32.tbl", "common", None, 1),
    ("arch/m68k/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/microblaze/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/mips/kernel/syscalls/syscall_n32.tbl", "n32", None, 1),
    ("arch/mips/kernel/syscalls/syscall_n64.tbl", "n64", None, 1),
    ("arch/mips/kernel/syscalls/syscall_o32.tbl", "o32", None, 1),
    ("arch/parisc/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/powerpc/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/s390/kernel/syscalls/syscall.tbl", "common", None, 2),
    ("arch/sh/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/sparc/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("arch/x86/entry/syscalls/syscall_32.tbl", "i386", None, 1),
    ("arch/x86/entry/syscalls/syscall_64.tbl", "common", 512, 1),
    ("arch/xtensa/kernel/syscalls/syscall.tbl", "common", None, 1),
    ("scripts/syscall.tbl", "common", None, 1),
]

KCONFIG = """\
config BUS1
	bool "bus1 capability-based IPC"
	depends on SHMEM
	help
	  bus1 is a machine-local, capability-based IPC bus: peers send
	  unicast and multicast messages to nodes they hold handles for,
	  in one global order, copied once into the receiver's pool.
	  See Documentation/userspace-api/bus1.rst.

	  If unsure, say N.

config BUS1_KUNIT_TEST
	bool "KUnit tests for bus1" if !KUNIT_ALL_TESTS
	depends on BUS1 && KUNIT=y
	default KUNIT_ALL_TESTS
	help
	  Unit tests for the internals of bus1, run at boot by KUnit.

	  If unsure, say N.

"""


def die(msg):
    sys.exit("wire-syscalls: " + msg)


def read_list():
    calls = []
    with open(LIST) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, args = line.partition("\t")
            args = args.strip()
            if not re.fullmatch(r"[a-z0-9_]+", name) or not args:
                die(f"{LIST}: bad line: {line}")
            calls.append((name, args))
    if not calls:
        die(f"{LIST} lists no system call")
    return calls


def edit(tree, path, fn):
    full = os.path.join(tree, path)
    if os.path.islink(full):
        die(f"{path} is a link; wire the file it points to")
    try:
        with open(full) as f:
            old = f.read()
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}")
    new = fn(old, path)
    with open(full, "w") as f:
        f.write(new)


def insert_before(text, anchor, block, path):
    if anchor not in text:
        die(f"{path}: anchor not found: {anchor.strip()!r}")
    return text.replace(anchor, block + anchor, 1)


def last_entry(lines, limit, path, names=()):
    """Index and number of the highest entry of a table below @limit."""
    last, top = None, -1
    for i, line in enumerate(lines):
        fields = line.split()
        if not fields or line.startswith("#"):
            continue
        nr = int(fields[0])
        if fields[2:3] and fields[2] in names:
            die(f"{path}: {fields[2]} is already wired")
        if (limit is None or nr < limit) and nr >= top:
            last, top = i, nr
    if last is None:
        die(f"{path}: no entries")
    return last, top


def next_free(text, limit, path):
    """The number the first bus1 call gets in a table (libbus1 uses it)."""
    return last_entry(text.splitlines(), limit, path)[1] + 1


def wire_table(calls, abi, limit, columns):
    def fn(text, path):
        lines = text.splitlines(keepends=True)
        last, top = last_entry(lines, limit, path, names)
        new = []
        for k, (name, _) in enumerate(calls):
            entry = "\t".join([f"sys_{name}"] * columns)
            new.append(f"{top + 1 + k}\t{abi}\t{name}\t{entry}\n")
        lines[last + 1:last + 1] = new
        return "".join(lines)
    names = {name for name, _ in calls}
    return fn


def wire_unistd(calls):
    def fn(text, path):
        m = re.search(r"^#define __NR_syscalls (\d+)$", text, re.M)
        if not m:
            die(f"{path}: no __NR_syscalls")
        nr = int(m.group(1))
        block = "".join(f"#define __NR_{name} {nr + k}\n"
                        f"__SYSCALL(__NR_{name}, sys_{name})\n"
                        for k, (name, _) in enumerate(calls))
        text = insert_before(text, "\n#undef __NR_syscalls\n",
                             "\n" + block.rstrip("\n") + "\n", path)
        return text.replace(m.group(0),
                            f"#define __NR_syscalls {nr + len(calls)}", 1)
    return fn


def prototype(name, args):
    """The declaration of sys_NAME, wrapped at 80 columns, continuation
    lines aligned with the opening parenthesis."""
    head = f"asmlinkage long sys_{name}("
    indent = "\t" * (len(head) // 8) + " " * (len(head) % 8)
    parts = [a.strip() for a in args.split(",")]
    parts = [p + "," for p in parts[:-1]] + [parts[-1] + ");"]
    lines, line = [], head + parts[0]
    for part in parts[1:]:
        if len(line.expandtabs()) + 1 + len(part) > 80:
            lines.append(line)
            line = indent + part
        else:
            line += " " + part
    return "\n".join(lines + [line]) + "\n"


def wire_kconfig(tree, calls):
    edit(tree, "init/Kconfig", lambda t, p: insert_before(
        t, "config WATCH_QUEUE\n", KCONFIG, p))
    edit(tree, "ipc/Makefile", lambda t, p: t + "obj-$(CONFIG_BUS1) += bus1/\n")


def wire_decls(tree, calls):
    structs = sorted(set(re.findall(r"struct (\w+)",
                                    " ".join(a for _, a in calls))))
    decl = "".join(f"struct {s};\n" for s in structs)
    protos = "".join(prototype(n, a) for n, a in calls)
    conds = "".join(f"COND_SYSCALL({n});\n" for n, _ in calls)

    edit(tree, "include/linux/syscalls.h", lambda t, p: insert_before(
        t, "\n/*\n * Architecture-specific system calls\n */\n",
        "\n/* ipc/bus1 */\n" + decl + protos, p))
    edit(tree, "kernel/sys_ni.c", lambda t, p: insert_before(
        t, "\n/*\n * Architecture specific syscalls: see further below\n */\n",
        "\n/* ipc/bus1 */\n" + conds, p))


def is_x86(path):
    return path.startswith("arch/x86/")


def wire_x86(tree, calls):
    for path, abi, limit, columns in TABLES:
        if is_x86(path):
            edit(tree, path, wire_table(calls, abi, limit, columns))


def wire_others(tree, calls):
    for path, abi, limit, columns in TABLES:
        if not is_x86(path):
            edit(tree, path, wire_table(calls, abi, limit, columns))
    edit(tree, "include/uapi/asm-generic/unistd.h", wire_unistd(calls))


MODES = {
    "kconfig": (wire_kconfig,),
    "decls": (wire_decls,),
    "x86": (wire_x86,),
    "others": (wire_others,),
    "generic": (wire_kconfig, wire_decls),
    "tables": (wire_x86, wire_others),
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        sys.exit(__doc__.strip())
    tree = sys.argv[2]
    calls = read_list()
    for wire in MODES[sys.argv[1]]:
        wire(tree, calls)


if __name__ == "__main__":
    main()
