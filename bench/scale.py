#!/usr/bin/env python3
"""How ``wnlint check`` grows with the shapes that once broke it.

Generates each shape of ``bench/shapes.py`` at 1x, 2x, 4x and 8x a base size
(many weight-norm calls in one scope from 2,000; an ``elif`` chain of them
from 100 arms; conditional expressions nested from 250 deep; a model file
of 400 helper-and-module blocks, about 6,800 lines) and times
``python -m wnlint check`` on each in its own process, from the repository
root so that this checkout is measured. It prints the user+system CPU
seconds (steadier than wall time on a busy machine) of the median of
``--runs`` runs, and each size's ratio to the size half as large. Linear
growth shows as ratios near 2; the target is under 3 at every doubling.

    python bench/scale.py
    python bench/scale.py --runs 5 --shapes calls chain
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shapes import (  # noqa: E402
    elif_chain,
    many_calls,
    many_classes,
    nested_conditionals,
)

SHAPES = {
    "calls": (many_calls, 2_000),
    "chain": (elif_chain, 100),
    "nested": (nested_conditionals, 250),
    "classes": (many_classes, 400),
}


def cpu_seconds(path: Path, timeout: float) -> float:
    """User+system CPU of one ``check`` process on ``path``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "wnlint", "check", "--exit-zero", "-q", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES)
    )
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.shapes:
            make, base = SHAPES[name]
            previous = None
            for factor in (1, 2, 4, 8):
                size = base * factor
                path = Path(tmp) / f"{name}_{size}.py"
                path.write_text(make(size))
                times = [cpu_seconds(path, args.timeout) for _ in range(args.runs)]
                median = statistics.median(times)
                ratio = f"{median / previous:.2f}x" if previous else "-"
                print(f"{name:7} {size:>7}  {median:7.2f} s CPU  vs half: {ratio}")
                previous = median
                os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
