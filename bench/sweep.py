#!/usr/bin/env python3
"""Sweep ``wnlint check`` and ``wnlint fix --unsafe-fixes --diff`` over trees.

A linter that crashes on real code is worse than one that misses a finding:
the crash hides every other finding in the file (or the whole run), and a
fixer that fails quietly looks like "nothing to fix". The test suite only
sees the code its authors thought of, so this script runs both commands over
large third-party trees (the standard library, unpacked wheels) and counts
what went wrong, with the time and memory each run took.

    python bench/sweep.py /usr/lib/python3.11 ../corpus/transformers ...
    python bench/sweep.py --jobs 4 --timeout 900 --out /tmp/sweep TREE ...

Each tree gets two commands, run as ``sys.executable -m wnlint`` from the
repository root (the parent of ``bench/``), so the checkout is what runs:

* ``check [--jobs N] TREE``: findings ``path:line:col: CODE message`` on
  stdout are counted by code and by file;
* ``fix --unsafe-fixes --diff TREE``: ``+++`` headers of the unified diff on
  stdout count the files that would change; the ``path: text`` lines on
  stderr are split into applied-fix lines (``path: WN101 x2: title``) and
  notes, and notes are grouped by their text with the path and numbers
  taken out, so one cause shows up as one line with a count.

What counts as an internal error (a bug in wnlint, never in the tree):

* a ``WN003`` finding from ``check`` (a rule failed on the file);
* a ``fix`` note that contains ``internal error`` (a fixer failed);
* ``Traceback (most recent call last)`` anywhere on either command's stderr;
* an exit status other than 0 or 1 (2 is an internal or usage error; a
  negative status is a signal), or a command killed by ``--timeout``.

``WN001`` (the file does not parse) and ``WN002`` (it cannot be read) are
the tree's problems, not wnlint's; they are counted with the other codes.
The script exits 1 when anything above was seen, so it can gate a release,
and prints every internal error with its file and message.

"py files" counts every ``*.py`` under the tree; "checked" is the count from
``check``'s summary line, smaller where wnlint skips directories such as
``site-packages`` or ``build``. Wall time is measured around each command;
peak RSS is ``ru_maxrss`` from ``os.wait4``, which on Linux is the largest
single process among the command and the workers it waited for, not a sum.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TRACEBACK = "Traceback (most recent call last)"
FINDING = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<msg>.*)$"
)
# `path: text`; the path is the first run ending in .py/.pyi before ": ".
FILE_LINE = re.compile(r"^(?P<path>.+?\.pyi?): (?P<text>.*)$")
APPLIED = re.compile(r"^(?P<code>[A-Z]+\d+) x(?P<count>\d+): ")
# Numbers that are not part of a code such as WN101 or a name such as conv1d.
NUMBER = re.compile(r"(?<![A-Za-z_\d])\d+")


@dataclass
class Run:
    """One command's outcome: exit status, cost and raw output."""

    argv: list[str]
    status: int | None = None  # None: killed by the timeout
    wall: float = 0.0
    rss_mib: float = 0.0
    stdout: str = ""
    stderr: str = ""

    @property
    def status_text(self) -> str:
        return "timeout" if self.status is None else str(self.status)

    @property
    def bad_status(self) -> bool:
        return self.status not in (0, 1)

    @property
    def tracebacks(self) -> int:
        return self.stderr.count(TRACEBACK)

    def summary_line(self) -> str:
        lines = [x for x in self.stderr.splitlines() if x.startswith("wnlint:")]
        return lines[-1] if lines else ""

    def other_stderr(self) -> list[str]:
        """stderr lines that are neither the summary, a ``path: text`` line,
        nor part of a traceback: unexpected output worth a look."""
        out = []
        in_traceback = False
        for line in self.stderr.splitlines():
            if line.startswith(TRACEBACK):
                in_traceback = True
            if in_traceback:
                if line and not line.startswith(" ") and not line.startswith("Trace"):
                    in_traceback = False  # the exception line ends it
                continue
            if line.startswith("wnlint:") or FILE_LINE.match(line) or not line:
                continue
            out.append(line)
        return out


@dataclass
class Problem:
    """An internal error, with where it was seen."""

    command: str  # "check" or "fix"
    kind: str  # "WN003", "note", "traceback" or "exit"
    path: str
    message: str


@dataclass
class TreeResult:
    """Both commands' runs over one tree and what was counted in them."""

    label: str
    tree: str
    py_files: int
    check: Run
    fix: Run
    checked: int | None = None
    findings: Counter[str] = field(default_factory=Counter)
    files_with_findings: int = 0
    unparsed_stdout: int = 0
    notes: int = 0
    note_groups: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    diff_files: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def wn003(self) -> int:
        return self.findings["WN003"]

    @property
    def internal_notes(self) -> int:
        return sum(1 for p in self.problems if p.kind == "note")

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def count_py_files(tree: str) -> int:
    if os.path.isfile(tree):
        return 1 if tree.endswith(".py") else 0
    return sum(
        1 for _, _, files in os.walk(tree) for name in files if name.endswith(".py")
    )


def run_command(argv: list[str], timeout: float, out_dir: Path, name: str) -> Run:
    """Run ``argv`` from the repository root with stdout and stderr going to
    files (no pipe can fill up and stall it), and reap it with ``os.wait4``
    to get its peak RSS. On timeout the whole process group is killed, so
    ``--jobs`` workers go too."""
    run = Run(argv)
    out_path = out_dir / f"{name}.stdout"
    err_path = out_dir / f"{name}.stderr"
    killed = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        run.wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap
    run.status = None if killed.is_set() else proc.returncode
    run.rss_mib = usage.ru_maxrss / 1024  # KiB on Linux
    run.stdout = out_path.read_text(encoding="utf-8", errors="replace")
    run.stderr = err_path.read_text(encoding="utf-8", errors="replace")
    return run


def normalize(text: str, path: str) -> str:
    """A note's text without its file's path and without line numbers and
    other counts, so that notes with one cause group together."""
    text = text.replace(path, "<path>")
    return NUMBER.sub("N", text)


def traceback_problems(command: str, stderr: str) -> list[Problem]:
    """One problem per traceback: the exception line, and the last frame
    that names a file (the place it was raised)."""
    problems = []
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(TRACEBACK):
            continue
        frame = ""
        message = "(traceback with no exception line)"
        for follow in lines[i + 1 :]:
            if follow.startswith('  File "'):
                frame = follow.strip()
            elif follow and not follow.startswith(" "):
                message = follow
                break
        problems.append(Problem(command, "traceback", frame or "?", message))
    return problems


def analyse_check(result: TreeResult) -> None:
    run = result.check
    files: set[str] = set()
    for line in run.stdout.splitlines():
        match = FINDING.match(line)
        if not match:
            result.unparsed_stdout += 1
            continue
        files.add(match["path"])
        result.findings[match["code"]] += 1
        if match["code"] == "WN003":
            where = f"{match['path']}:{match['line']}"
            result.problems.append(Problem("check", "WN003", where, match["msg"]))
    result.files_with_findings = len(files)
    summary = re.search(r"in (\d+) files checked|(\d+) files checked", run.stderr)
    if summary:
        result.checked = int(summary.group(1) or summary.group(2))
    result.problems.extend(traceback_problems("check", run.stderr))
    if run.bad_status:
        result.problems.append(
            Problem("check", "exit", "-", f"exit status {run.status_text}")
        )


def analyse_fix(result: TreeResult) -> None:
    run = result.fix
    result.diff_files = sum(1 for x in run.stdout.splitlines() if x.startswith("+++ "))
    for line in run.stderr.splitlines():
        match = FILE_LINE.match(line)
        if not match or line.startswith("wnlint:"):
            continue
        path, text = match["path"], match["text"]
        applied = APPLIED.match(text)
        if applied:
            result.applied[applied["code"]] += int(applied["count"])
            continue
        result.notes += 1
        result.note_groups[normalize(text, path)] += 1
        if "internal error" in text:
            result.problems.append(Problem("fix", "note", path, text))
    result.problems.extend(traceback_problems("fix", run.stderr))
    if run.bad_status:
        result.problems.append(
            Problem("fix", "exit", "-", f"exit status {run.status_text}")
        )


def sweep_tree(
    tree: str, label: str, jobs: int | None, timeout: float, out_dir: Path
) -> TreeResult:
    base = [sys.executable, "-m", "wnlint"]
    check_argv = [*base, "check", *(["--jobs", str(jobs)] if jobs else []), tree]
    fix_argv = [*base, "fix", "--unsafe-fixes", "--diff", tree]
    print(f"sweeping {label}: {tree}", file=sys.stderr, flush=True)
    check = run_command(check_argv, timeout, out_dir, f"{label}.check")
    print(
        f"  check  {check.wall:7.1f} s  exit {check.status_text}",
        file=sys.stderr,
        flush=True,
    )
    fix = run_command(fix_argv, timeout, out_dir, f"{label}.fix")
    print(
        f"  fix    {fix.wall:7.1f} s  exit {fix.status_text}",
        file=sys.stderr,
        flush=True,
    )
    result = TreeResult(label, tree, count_py_files(tree), check, fix)
    analyse_check(result)
    analyse_fix(result)
    return result


def labels_for(trees: Sequence[str]) -> list[str]:
    """Each tree's base name, or its whole path where two share a name;
    also safe to use as a file name under ``--out``."""
    names = [os.path.basename(os.path.normpath(t)) or t for t in trees]
    counts = Counter(names)
    labels = []
    for tree, name in zip(trees, names):
        label = name if counts[name] == 1 else os.path.normpath(tree)
        labels.append(re.sub(r"[^\w.-]+", "_", label).strip("_") or "tree")
    return labels


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns right-aligned except the first."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def fmt(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])]
        parts += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [fmt(cells[0]), rule, *(fmt(r) for r in cells[1:-1])]
    return "\n".join([*lines, rule, fmt(cells[-1])])


def check_table(results: Sequence[TreeResult]) -> str:
    rows: list[list[object]] = []
    for r in results:
        rows.append(
            [
                r.label,
                r.py_files,
                "?" if r.checked is None else r.checked,
                r.files_with_findings,
                sum(r.findings.values()),
                r.findings["WN001"],
                r.findings["WN002"],
                r.wn003,
                r.check.tracebacks,
                r.check.status_text,
                f"{r.check.wall:.1f}",
                f"{r.check.rss_mib:.0f}",
            ]
        )
    rows.append(
        [
            "total",
            sum(r.py_files for r in results),
            sum(r.checked or 0 for r in results),
            sum(r.files_with_findings for r in results),
            sum(sum(r.findings.values()) for r in results),
            sum(r.findings["WN001"] for r in results),
            sum(r.findings["WN002"] for r in results),
            sum(r.wn003 for r in results),
            sum(r.check.tracebacks for r in results),
            "",
            f"{sum(r.check.wall for r in results):.1f}",
            f"{max(r.check.rss_mib for r in results):.0f}",
        ]
    )
    headers = [
        "check",
        "py files",
        "checked",
        "w/ findings",
        "findings",
        "WN001",
        "WN002",
        "WN003",
        "tracebacks",
        "exit",
        "wall s",
        "peak MiB",
    ]
    return table(headers, rows)


def fix_table(results: Sequence[TreeResult]) -> str:
    rows: list[list[object]] = []
    for r in results:
        rows.append(
            [
                r.label,
                r.diff_files,
                sum(r.applied.values()),
                r.notes,
                r.internal_notes,
                r.fix.tracebacks,
                r.fix.status_text,
                f"{r.fix.wall:.1f}",
                f"{r.fix.rss_mib:.0f}",
            ]
        )
    rows.append(
        [
            "total",
            sum(r.diff_files for r in results),
            sum(sum(r.applied.values()) for r in results),
            sum(r.notes for r in results),
            sum(r.internal_notes for r in results),
            sum(r.fix.tracebacks for r in results),
            "",
            f"{sum(r.fix.wall for r in results):.1f}",
            f"{max(r.fix.rss_mib for r in results):.0f}",
        ]
    )
    headers = [
        "fix --unsafe-fixes --diff",
        "diff files",
        "fixes",
        "notes",
        "internal",
        "tracebacks",
        "exit",
        "wall s",
        "peak MiB",
    ]
    return table(headers, rows)


def codes_table(results: Sequence[TreeResult]) -> str:
    codes = sorted({c for r in results for c in r.findings})
    rows: list[list[object]] = [
        [
            code,
            *(r.findings[code] for r in results),
            sum(r.findings[code] for r in results),
        ]
        for code in codes
    ]
    rows.append(
        [
            "total",
            *(sum(r.findings.values()) for r in results),
            sum(sum(r.findings.values()) for r in results),
        ]
    )
    return table(["findings by code", *(r.label for r in results), "total"], rows)


def counts_section(title: str, counts: Counter[str], by_count: bool) -> list[str]:
    if not counts:
        return []
    items = counts.most_common() if by_count else sorted(counts.items())
    return ["", title, *(f"  {n:6}  {text}" for text, n in items)]


def summaries_section(results: Sequence[TreeResult]) -> list[str]:
    """wnlint's own summary lines, to compare with the counts above."""
    out = ["", "wnlint's own summary lines:"]
    width = max(len(r.label) for r in results)
    for r in results:
        for command, run in (("check", r.check), ("fix", r.fix)):
            line = run.summary_line() or "(none)"
            out.append(f"  {r.label:<{width}}  {command:<5}  {line}")
    return out


def strays_section(results: Sequence[TreeResult], limit: int = 50) -> list[str]:
    strays = [(r.label, c, line) for r in results for c, line in _strays(r)]
    if not strays:
        return []
    out = ["", "unexpected output (not a finding, note or summary):"]
    out += [f"  {label} {cmd}: {line}" for label, cmd, line in strays[:limit]]
    if len(strays) > limit:
        out.append(f"  ... and {len(strays) - limit} more")
    return out


def problems_section(results: Sequence[TreeResult]) -> list[str]:
    """Internal errors grouped by command, kind and message without paths
    and numbers, each with the places it was seen; a group of one shows its
    message as it was."""
    problems = [(r.label, p) for r in results for p in r.problems]
    if not problems:
        return ["", "internal errors: none"]
    out = ["", f"internal errors: {len(problems)}"]
    groups: dict[tuple[str, str, str], list[tuple[str, Problem]]] = {}
    for label, p in problems:
        key = (p.command, p.kind, normalize(p.message, p.path.split(":")[0]))
        groups.setdefault(key, []).append((label, p))
    for (command, kind, message), members in sorted(
        groups.items(), key=lambda kv: -len(kv[1])
    ):
        shown = members[0][1].message if len(members) == 1 else message
        out.append(f"  [{command} {kind}] x{len(members)}  {shown}")
        out += [f"      {label}: {p.path}" for label, p in members]
    return out


def report(results: Sequence[TreeResult]) -> str:
    out = [check_table(results), "", fix_table(results)]
    if any(r.findings for r in results):
        out += ["", codes_table(results)]
    applied: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for r in results:
        applied.update(r.applied)
        notes.update(r.note_groups)
    out += counts_section("fixes the diff would apply, by code:", applied, False)
    out += counts_section("fix notes, grouped (path and numbers removed):", notes, True)
    out += summaries_section(results)
    out += strays_section(results)
    out += problems_section(results)
    return "\n".join(out)


def _strays(result: TreeResult) -> list[tuple[str, str]]:
    out = [("check", line) for line in result.check.other_stderr()]
    out += [("fix", line) for line in result.fix.other_stderr()]
    if result.unparsed_stdout:
        out.append(("check", f"{result.unparsed_stdout} stdout lines not findings"))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run wnlint check and fix --unsafe-fixes --diff over trees "
        "and report files, findings, notes, internal errors, time and memory. "
        "Exits 1 if any internal error, traceback, exit status 2 or timeout "
        "was seen."
    )
    parser.add_argument("trees", nargs="+", metavar="TREE", help="directories")
    parser.add_argument(
        "--jobs", type=int, help="passed to check as --jobs (default: its own)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds per command before it is killed (default 1800)",
    )
    parser.add_argument(
        "--out", type=Path, help="keep each command's raw stdout and stderr here"
    )
    args = parser.parse_args(argv)
    missing = [t for t in args.trees if not os.path.exists(t)]
    if missing:
        parser.error("no such file or directory: " + ", ".join(missing))
    trees = [os.path.abspath(t) for t in args.trees]

    with tempfile.TemporaryDirectory(prefix="wnlint-sweep-") as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        results = [
            sweep_tree(tree, label, args.jobs, args.timeout, out_dir)
            for tree, label in zip(trees, labels_for(trees))
        ]
        total = time.perf_counter() - start

    print(report(results))
    failed = [r.label for r in results if r.failed]
    print(
        f"\nsweep: {len(results)} trees in {total:.1f} s: "
        + (f"FAILED ({', '.join(failed)})" if failed else "no internal errors")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
