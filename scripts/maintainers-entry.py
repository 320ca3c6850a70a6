#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Put the bus1 entry from MAINTAINERS.fragment into TREE/MAINTAINERS.

  maintainers-entry.py TREE

Only the F: lines whose path exists in TREE are kept, so each patch of the
series adds the entry's lines for the files it creates. The entry goes after
the greatest title below its own, replacing an earlier version of itself.
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    tree = sys.argv[1]
    with open(os.path.join(TOP, "MAINTAINERS.fragment")) as f:
        entry = [l for l in f.read().splitlines() if l.strip()]
    title = entry[0]
    keep = [l for l in entry[1:] if not l.startswith("F:")
            or os.path.exists(os.path.join(tree, l[2:].strip()))]
    block = [title] + keep

    path = os.path.join(tree, "MAINTAINERS")
    with open(path) as f:
        lines = f.read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("Maintainers List"))

    def is_title(i):
        return (lines[i - 1] == "" and lines[i] != "" and lines[i][1:2] != ":"
                and i + 1 < len(lines) and lines[i + 1][1:2] == ":")

    # Drop an earlier version of the entry, with its blank line.
    for i in range(start, len(lines)):
        if lines[i] == title and is_title(i):
            del lines[i:lines.index("", i) + 1]
            break

    # The file is sorted only mostly: go after the greatest title below ours.
    titles = [(lines[i], i) for i in range(start, len(lines)) if is_title(i)]
    before = [t for t in titles if t[0] < title]
    if not before:
        sys.exit("maintainers-entry: no place found for " + title)
    at = lines.index("", max(before)[1]) + 1
    lines[at:at] = block + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))

if __name__ == "__main__":
    main()
