#!/usr/bin/env python3
"""What a check in Python cannot avoid, against ruff's one-thread CPU time.

``bench/bench.py`` compares ``wnlint check`` (one process) with ``ruff check
--select F`` (one thread). This script splits that comparison: it measures
the work any checker written in Python must do on a tree to report what
wnlint reports, however clever its prefilter, and says how much of ruff's
time is left for the rest.

The floor, in CPU seconds:

* starting the interpreter (``python -c pass``);
* reading every file;
* one substring test per trigger word per file (the gate: a file with none
  of the words is never looked at again; a real prefilter also needs a test
  for a class deriving from a torch layer, so the gate only errs cheap);
* parsing whole, with ``ast.parse``, the files ``check`` reports findings in.

What it does not count: looking further at the files the gate lets through
but that have no finding, and analysing the files that do. The script
prints how much time per such file the bound leaves, next to what ``check``
spends on them now.

    python bench/floor.py                          # transformers (bench.py's)
    python bench/floor.py --corpus ../corpus --bound 1.5   # the 19 wheels
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

from bench import prepare_corpus  # bench.py: run as a script, its folder is on sys.path
from wnlint.engine.linter import Linter, select_rules
from wnlint.engine.runner import discover
from wnlint.facts.sources import one_run, read_source

#: Words without one of which no rule can fire (each prefilter needs one).
GATE = (
    b"weight_norm",
    b"Parameter",
    b"register_parameter",
    b"optim",
    b".apply(",
    b"isinstance(",
    b"save",
    b"dump",
    b"remove_parametrizations",
)


def child_cpu(command: list[str]) -> float:
    """User plus system CPU seconds of one run of ``command``."""
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def median_cpu(command: list[str], runs: int) -> float:
    child_cpu(command)  # warm-up: the page cache
    return statistics.median(child_cpu(command) for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="a tree (default: transformers)")
    parser.add_argument("--bound", type=float, default=1.0, help="the target ratio")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    args = parser.parse_args()
    corpus = args.corpus or prepare_corpus()
    ruff = shutil.which("ruff") or sys.exit("ruff is not installed: pip install ruff")
    one_thread = ["env", "RAYON_NUM_THREADS=1", ruff, "check", "--select", "F"]
    ruff_cpu = median_cpu([*one_thread, "--no-cache", "-q", str(corpus)], args.runs)
    wnlint = [sys.executable, "-m", "wnlint", "check", "-q", "--no-cache", "-j", "1"]
    wnlint_cpu = median_cpu([*wnlint, str(corpus)], args.runs)
    start_cpu = median_cpu([sys.executable, "-c", "pass"], args.runs)

    # What check reports, and what it spends on the files the gate passes.
    paths = list(discover([str(corpus)]))
    linter = Linter(select_rules())
    found: set[str] = set()
    spent_gated = 0.0
    with one_run():
        for path in paths:
            data = read_source(path)
            began = time.process_time()
            if linter.lint_bytes(data, path):
                found.add(path)
            elif any(word in data for word in GATE):
                spent_gated += time.process_time() - began

    began = time.process_time()
    datas = [read_source(path) for path in paths]
    read = time.process_time() - began
    began = time.process_time()
    gated = [any(word in data for word in GATE) for data in datas]
    gate = time.process_time() - began
    began = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, data in zip(paths, datas):
            if path in found:
                ast.parse(data)
    parse = time.process_time() - began

    floor = start_cpu + read + gate + parse
    budget = args.bound * ruff_cpu
    passed = sum(gated) - len(found)
    print(f"corpus: {corpus} ({len(paths)} files)")
    print(
        f"  ruff, one thread       {ruff_cpu:7.3f} s"
        f"  (bound {args.bound}x: {budget:.3f} s)"
    )
    print(
        f"  wnlint check, -j 1     {wnlint_cpu:7.3f} s  ({wnlint_cpu / ruff_cpu:.2f}x)"
    )
    print(f"  floor                  {floor:7.3f} s  ({floor / ruff_cpu:.2f}x of ruff)")
    print(f"    interpreter start    {start_cpu:7.3f} s")
    print(f"    read every file      {read:7.3f} s")
    print(f"    gate ({len(GATE)} words)        {gate:7.3f} s")
    print(
        f"    parse {len(found):4d} files      {parse:7.3f} s"
        "  (the files with findings)"
    )
    left = budget - floor
    print(
        f"  left by the bound: {left:.3f} s to analyse the {len(found)} files with "
        f"findings and to turn away the {passed} files the gate passes without one"
    )
    if passed:
        print(
            f"    per file turned away: at most {1e6 * max(left, 0) / passed:.0f} us;"
            f" check spends {1e6 * spent_gated / passed:.0f} us now"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
