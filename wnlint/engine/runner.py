"""Running a linter over many files: finding them under the paths a run
names, and linting them in worker processes when there are many.

Apart from :mod:`wnlint.engine.linter`, which lints one file, because this
is about directories and processes, never a file's text: it reads no
source, imports no rule (until a parallel run imports them once for its
workers) and takes any :class:`FileLinter` (the CLI's per-file resolver
and its cache run here as a :class:`~wnlint.engine.linter.Linter` does).
:mod:`wnlint.fixing.runner` forks its workers with the same guards.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from wnlint.engine.diagnostics import Diagnostic, Report
from wnlint.facts.sources import NOTEBOOK_SUFFIX, one_run

#: Directories never descended into (explicitly named files are always read).
EXCLUDED_DIRS = frozenset(
    {
        ".bzr",
        ".direnv",
        ".eggs",
        ".git",
        ".hg",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".nox",
        ".pytest_cache",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        "__pycache__",
        "__pypackages__",
        "_build",
        "build",
        "buck-out",
        "dist",
        "node_modules",
        "site-packages",
        "venv",
    }
)


class FileLinter(Protocol):
    """What :func:`lint_files` runs on each file: a :class:`Linter`, or one
    that picks a linter per file (``wnlint.cli.selection.Resolver``). One may also
    have ``drain()`` (in a worker: what it gathered, for the parent) and
    ``absorb(gathered)`` (in the parent), as the cache does."""

    def lint_file(self, path: str) -> list[Diagnostic]: ...


def lint_files(linter: FileLinter, files: list[str], jobs: int = 1) -> Report:
    """Lint ``files`` in order; ``jobs > 1`` uses that many processes when
    the run is large enough to repay starting them (workers inherit
    ``linter`` by fork)."""
    report = Report(files_checked=len(files))
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES and can_fork():
        report.diagnostics = _lint_in_processes(linter, files, jobs)
    else:
        with one_run():
            for path in files:
                report.diagnostics.extend(linter.lint_file(path))
    return report


#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 200
_WORKER: FileLinter | None = None


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    # Workers inherit the linter by forking; elsewhere the run stays serial.
    import multiprocessing as mp  # only where a run may use processes

    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


def _init_worker(linter: FileLinter, parent: int) -> None:
    global _WORKER
    _WORKER = linter
    guard_worker(parent)


def guard_worker(parent: int) -> None:
    """Set up a forked worker to end with its parent: Ctrl-C is the
    parent's to handle (it stops the pool), SIGTERM ends the worker at
    once, and on Linux the kernel sends it SIGTERM when the parent dies,
    even by SIGKILL, so that no worker goes on working alone."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # a worker writes nothing: what it finds goes to its parent
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the request took effect


def _lint_chunk(paths: list[str]) -> tuple[list[Diagnostic], object]:
    """A chunk's findings, and what the linter gathered on the way for the
    parent (:meth:`FileLinter.drain`: the cache's new entries)."""
    assert _WORKER is not None
    found: list[Diagnostic] = []
    with one_run():
        for path in paths:
            found.extend(_WORKER.lint_file(path))
    drain = getattr(_WORKER, "drain", None)
    return found, drain() if drain is not None else None


def _lint_in_processes(
    linter: FileLinter, files: list[str], jobs: int
) -> list[Diagnostic]:
    """Files in contiguous chunks, results in file order."""
    size = max(16, len(files) // (jobs * 8))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    import multiprocessing as mp

    from wnlint import rules

    # A run this large parses files: the rules (and the analysis) are
    # imported once here, for every worker, rather than in each of them.
    assert rules.ALL_RULES
    context = mp.get_context("fork")
    initargs = (linter, os.getpid())
    with context.Pool(jobs, initializer=_init_worker, initargs=initargs) as pool:
        results = pool.map(_lint_chunk, chunks, chunksize=1)
    absorb = getattr(linter, "absorb", None)
    found: list[Diagnostic] = []
    for chunk, gathered in results:
        found.extend(chunk)
        if absorb is not None and gathered is not None:
            absorb(gathered)
    return found


#: What directories are searched for: Python files and Jupyter notebooks.
SOURCE_SUFFIXES = (".py", NOTEBOOK_SUFFIX)


def discover(
    paths: Sequence[str],
    skip: Callable[[str, bool], bool] | None = None,
    warn: Callable[[str], None] | None = None,
    sidecar: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """Python files and notebooks under ``paths``, in a stable order.

    Named files are always yielded; directories are walked for ``*.py`` and ``*.ipynb``,
    skipping virtualenvs and what ``skip(path, is_dir)`` says (by default
    version-control, cache and build directories; ``wnlint.cli.config`` passes
    the configured excludes). Directories that cannot be read and entries
    that cannot be examined (a symlink loop) are skipped, and told to
    ``warn`` when given, never silently dropped by the CLI. Symlinked
    directories are not followed. ``sidecar`` is told of every entry named
    like a file :mod:`wnlint.fixing.safe_write` leaves (the walk lists each
    directory anyway).
    """
    excluded = skip or _excluded_by_default
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        stack = [path]
        while stack:
            found, subdirs = _scan(stack.pop(), excluded, warn, sidecar)
            yield from found
            stack.extend(reversed(subdirs))


def _scan(
    current: str,
    excluded: Callable[[str, bool], bool],
    warn: Callable[[str], None] | None,
    sidecar: Callable[[str], None] | None,
) -> tuple[list[str], list[str]]:
    """One directory of :func:`discover`'s walk: its files to check and its
    subdirectories to walk, in name order."""
    try:
        entries = sorted(os.scandir(current), key=lambda e: e.name)
    except OSError as exc:
        if warn is not None:
            warn(f"{current}: cannot read directory: {_reason(exc)}")
        return [], []
    files, subdirs = [], []
    for entry in entries:
        if sidecar is not None and ".wnlint-" in entry.name:
            sidecar(entry.path)  # what an interrupted fix left
        try:
            if entry.is_dir(follow_symlinks=False):
                if not excluded(entry.path, True) and not _is_virtualenv(entry.path):
                    subdirs.append(entry.path)
            elif (
                entry.name.endswith(SOURCE_SUFFIXES)
                and entry.is_file()
                and not excluded(entry.path, False)
            ):
                files.append(entry.path)
        except OSError as exc:
            if warn is not None:
                warn(f"{entry.path}: cannot examine: {_reason(exc)}")
    return files, subdirs


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return exc.strerror or exc.__class__.__name__


def _excluded_by_default(path: str, is_dir: bool) -> bool:
    name = os.path.basename(path)
    return is_dir and (name in EXCLUDED_DIRS or name.endswith(".egg-info"))


def _is_virtualenv(path: str) -> bool:
    """A virtualenv under any name."""
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))
