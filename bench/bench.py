#!/usr/bin/env python3
"""Benchmark wnlint on the transformers wheel (2,860 files).

Targets: ``wnlint check`` within 2x the wall time of ``ruff check --select
F`` on the same tree (both without caches); in one process against ruff's
one thread, CPU time, at most 1.0x on transformers and 1.5x on the 19
pinned wheels (``--corpus``); with warm caches, within 1.5x ruff's CPU
time; ``wnlint check`` of one file within 2.5x the CPU time of ``python -c
pass``; and the flake8 plugin adding under 10% to flake8's own time.
Commands run alternately (A B A B ...) after a warm-up, so drift
in the machine's speed hits both sides; the script prints medians, the
median of the pairwise ratios, and each process's peak memory.

    python bench/bench.py                 # wnlint vs ruff, flake8 overhead
    python bench/bench.py --runs 9 --skip-flake8

The first run downloads the wheel (``pip download --no-deps``) into
``bench/.corpus``; the flake8 comparison also builds a virtualenv there with
the same flake8 and no wnlint, so the only difference is the plugin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".corpus"
WHEEL = "transformers==5.23.0"


def prepare_corpus() -> Path:
    target = CACHE / "transformers-5.23.0"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                tmp,
                WHEEL,
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
    return target


def bare_flake8() -> Path:
    """A virtualenv with this flake8 version and without wnlint."""
    venv = CACHE / "flake8-bare"
    exe = venv / "bin" / "flake8"
    if not exe.exists():
        from importlib.metadata import version

        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                f"flake8=={version('flake8')}",
            ],
            check=True,
        )
    return exe


def compile_bytecode() -> None:
    """Write the ``.pyc`` files of the wnlint that ``python -m wnlint``
    imports here, as ``pip install`` does. Without them (an editable install
    under ``PYTHONDONTWRITEBYTECODE``) every timed run would first compile
    the package, which no installed copy does."""
    code = (
        "import compileall, os, wnlint; "
        "compileall.compile_dir(os.path.dirname(wnlint.__file__), quiet=1)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


#: What :func:`compare` measures: "wall" seconds, or "cpu" (user + system).
CLOCK = {"mode": "wall"}


def timed(command: list[str]) -> tuple[float, float]:
    """Seconds (wall, or CPU with ``CLOCK["mode"] == "cpu"``) and peak RSS
    (MiB) of one run of ``command``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} exited {proc.returncode}: {' '.join(command)}")
    if CLOCK["mode"] == "cpu":
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    return wall, usage.ru_maxrss / 1024


def compare(label_a: str, a: list[str], label_b: str, b: list[str], runs: int) -> float:
    timed(a), timed(b)  # warm-up: the page cache (and each tool's own cache)
    walls_a, walls_b, mem_a, mem_b, ratios = [], [], [], [], []
    for _ in range(runs):
        wa, ma = timed(a)
        wb, mb = timed(b)
        walls_a.append(wa)
        walls_b.append(wb)
        mem_a.append(ma)
        mem_b.append(mb)
        ratios.append(wa / wb)
    width = max(len(label_a), len(label_b))
    for label, walls, mem in ((label_a, walls_a, mem_a), (label_b, walls_b, mem_b)):
        print(
            f"  {label:<{width}}  median {statistics.median(walls):7.3f} s"
            f"  (min {min(walls):.3f}, max {max(walls):.3f})"
            f"  peak {max(mem):6.1f} MiB"
        )
    ratio = statistics.median(ratios)
    print(f"  median ratio {label_a} / {label_b}: {ratio:.2f}  ({runs} pairs)")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed pairs (default 7)")
    parser.add_argument(
        "--flake8-runs", type=int, default=3, help="flake8 pairs (default 3)"
    )
    parser.add_argument(
        "--skip-flake8", action="store_true", help="skip the flake8 comparison"
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="lint this tree instead of transformers (the pinned wheels: "
        "python bench/corpus.py DIR)",
    )
    args = parser.parse_args()

    corpus = args.corpus or prepare_corpus()
    files = sum(1 for _ in corpus.rglob("*.py"))
    ruff = shutil.which("ruff") or sys.exit("ruff is not installed: pip install ruff")
    print(f"corpus: {corpus} ({files} files), {os.cpu_count()} CPUs")
    compile_bytecode()

    print("wnlint check vs ruff check --select F, no caches (target: ratio <= 2.0)")
    wnlint = [sys.executable, "-m", "wnlint", "check", "-q"]
    ratio = compare(
        "wnlint",
        [*wnlint, "--no-cache", str(corpus)],
        "ruff",
        [ruff, "check", "--select", "F", "--no-cache", "-q", str(corpus)],
        args.runs,
    )
    verdict = [f"wnlint/ruff {ratio:.2f} ({'met' if ratio <= 2.0 else 'MISSED'})"]

    # The work itself: one wnlint process against one ruff thread, CPU time.
    CLOCK["mode"] = "cpu"
    one_bound = 1.0 if args.corpus is None else 1.5
    print(
        f"one process, CPU: wnlint -j 1 vs ruff on one thread (target <= {one_bound})"
    )
    one_thread = ["env", "RAYON_NUM_THREADS=1", ruff, "check", "--select", "F"]
    ratio = compare(
        "wnlint",
        [*wnlint, "--no-cache", "-j", "1", str(corpus)],
        "ruff",
        [*one_thread, "--no-cache", "-q", str(corpus)],
        args.runs,
    )
    met = "met" if ratio <= one_bound else "MISSED"
    verdict.append(f"one process {ratio:.2f} ({met})")

    # The run users repeat: both tools with a warm cache, CPU time.
    with tempfile.TemporaryDirectory() as caches:
        print("warm caches, CPU: wnlint check vs ruff check --select F (target <= 1.5)")
        ruff_warm = [ruff, "check", "--select", "F", "-q", "--cache-dir"]
        ruff_warm += [f"{caches}/ruff", str(corpus)]
        ratio = compare(
            "wnlint",
            [*wnlint, "--cache-dir", f"{caches}/wnlint", str(corpus)],
            "ruff",
            ruff_warm,
            args.runs,
        )
        verdict.append(f"warm {ratio:.2f} ({'met' if ratio <= 1.5 else 'MISSED'})")
        one = str(min(corpus.rglob("*.py")))
        print("one file, CPU: wnlint check vs python -c pass (target <= 2.5)")
        ratio = compare(
            "wnlint",
            [*wnlint, "--no-cache", one],
            "python",
            [sys.executable, "-c", "pass"],
            args.runs,
        )
        verdict.append(f"one file {ratio:.2f} ({'met' if ratio <= 2.5 else 'MISSED'})")
    CLOCK["mode"] = "wall"

    if not args.skip_flake8:
        print("flake8 --select F,WN with the plugin vs without (target: ratio < 1.10)")
        ratio = compare(
            "with wnlint",
            [sys.executable, "-m", "flake8", "--select", "F,WN", str(corpus)],
            "without",
            [str(bare_flake8()), "--select", "F,WN", str(corpus)],
            args.flake8_runs,
        )
        verdict.append(
            f"flake8 overhead {ratio:.2f} ({'met' if ratio < 1.10 else 'MISSED'})"
        )
    print("; ".join(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
