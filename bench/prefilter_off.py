#!/usr/bin/env python3
"""The prefilters only save work: check a tree with them on and off (every
rule on every file, parsed whole) and print any finding that differs.

    python bench/prefilter_off.py ../corpus      # the 19 pinned wheels

Exits 1 when the two disagree. Slow by design (nothing is skipped): the
wheels take a few minutes in one process.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wnlint.engine.linter import Linter, select_rules
from wnlint.engine.runner import discover


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    on = Linter(select_rules())
    off = Linter(select_rules(), prefilter=False)
    files = list(discover([str(p) for p in args.paths]))
    start = time.perf_counter()
    differ = 0
    for path in files:
        a = {d.format() for d in on.lint_file(path)}
        b = {d.format() for d in off.lint_file(path)}
        for line in sorted(a - b):
            print(f"only with the prefilters: {line}")
        for line in sorted(b - a):
            print(f"only without them: {line}")
        differ += a != b
    seconds = time.perf_counter() - start
    print(f"{len(files)} files, {differ} differ ({seconds:.0f} s)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
