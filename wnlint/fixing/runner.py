"""``wnlint fix`` over a run's paths: each file fixed once, in worker
processes when the run is large, and the notes one file's migration leaves
on the others.

Apart from the fix loop (:mod:`wnlint.fixing.fixer`), which fixes one
file's bytes and knows no other file: this module knows the run (which
files, in which order, how many processes). Every file is fixed against
the tree as the run found it, and only then are the fixed files written
(:mod:`wnlint.fixing.safe_write`), by the run's own process: a file's fix
never depends on whether a sibling it reads was rewritten first (the
order of the files, the timing of the workers), and ``fix`` writes what
``fix --diff`` shows. A run stopped before the writes writes nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from wnlint.engine.linter import Linter
from wnlint.engine.runner import can_fork, discover, guard_worker
from wnlint.facts import sources
from wnlint.fixing.elsewhere import apply_elsewhere
from wnlint.fixing.fixer import FileFix, fix_bytes, fix_file
from wnlint.fixing.migration_notes import (
    MIGRATION_CODES,
    migrates_weight_norm,
    waits_for_a_migration,
)
from wnlint.fixing.migration_notes import project_notes as notes_for_project
from wnlint.fixing.reexports import dropped_names, importer_notes
from wnlint.fixing.safe_write import WriteRefused, write_fixed

#: Below this many files, worker processes cost more than they save (lower
#: than ``check``'s: one libcst rewrite costs as much as linting hundreds).
_PARALLEL_MIN_FILES = 16


def fix_paths(
    paths: Sequence[str],
    linter: Linter,
    unsafe: bool,
    write: bool,
    jobs: int = 1,
    project_notes: bool = True,
) -> list[FileFix]:
    """Fix every file under ``paths``, in discovery order: each file once,
    however many links name it, and each failure a note of its own file.
    ``jobs > 1`` fixes in that many processes when the run is large enough
    to repay starting them; with ``write``, the fixed files are written once
    every file is fixed. ``project_notes=False`` leaves
    :func:`add_project_notes` to a caller that fixes in several runs."""
    files = []
    targets: set[str] = set()
    for path in discover(paths):
        target = os.path.realpath(path)
        if target not in targets:  # else another name of a file listed
            targets.add(target)
            files.append(path)
    task = _FixTask(linter, unsafe)
    if jobs > 1 and len(files) >= _PARALLEL_MIN_FILES and can_fork():
        results = _in_processes(task, files, jobs)
    else:
        results = [task(path) for path in files]
    if write:
        write_results(results, lambda path: linter)
    if project_notes:  # else the caller, across its runs

        def again(path: str, data: bytes) -> FileFix:
            return fix_bytes(data, path, linter, unsafe, removers_alone=True)

        fix_waiting(results, again, write)
        apply_elsewhere(results, write)
        add_project_notes(results)
    return results


def write_results(results: list[FileFix], linter_for: Callable[[str], Linter]) -> None:
    """Write each changed file, whole or not at all; a file that changed on
    disk since the run read it (or cannot be written) is left alone, with
    its findings as they stand there (found by ``linter_for(path)``)."""
    for result in results:
        if not result.changed:
            continue
        try:
            for note in write_fixed(result.path, result.original, result.fixed):
                result.note(note)
        except WriteRefused as exc:
            result.fail(f"not fixed: {exc}")
            linter = linter_for(result.path)
            result.unchanged(linter.lint_file_bytes(result.original, result.path))


#: Fixes a file's bytes again (a path and its current bytes), allowed to
#: migrate a file that only removes weight norm.
Refix = Callable[[str, bytes], FileFix]


def fix_waiting(results: list[FileFix], again: Refix, write: bool) -> None:
    """A file whose migration waited for the run's (it removes weight norm
    from modules that another file normalizes) is fixed again once the run
    has migrated weight norm somewhere, from the bytes the run left; the
    two fixes are one result. Without such a migration, the modules keep
    the legacy API and so does the remover."""
    waiting = [r for r in results if waits_for_a_migration(r.notes)]
    if waiting and migrates_weight_norm(r.applied_codes for r in results):
        for result in waiting:
            _fix_again(result, again, write)


def _fix_again(result: FileFix, again: Refix, write: bool) -> None:
    try:
        current = result.fixed if result.changed else sources.read_source(result.path)
    except OSError as exc:
        result.fail(f"not fixed: cannot read: {exc.strerror or exc}")
        return
    second = again(result.path, current)
    if write and second.changed:
        try:
            for note in write_fixed(result.path, current, second.fixed):
                result.note(note)
        except WriteRefused as exc:
            result.fail(f"not fixed: {exc}")
            return
    result.forget_declines()  # the second fix says what still declines
    if second.changed:
        if not result.changed:
            result.original = current
        result.fixed = second.fixed
    result.applied += second.applied
    result.applied_codes.update(second.applied_codes)
    for note in second.notes:
        result.note(note)
    result.failed = result.failed or second.failed
    result.remaining, result.hidden = second.remaining, second.hidden
    result.foreign = second.foreign


def add_project_notes(
    results: list[FileFix],
    beyond: Callable[[list[str]], Iterable[str]] | None = None,
) -> dict[str, list[str]]:
    """Warnings for what the run's migrations break in other files (see
    :mod:`wnlint.fixing.migration_notes`): those of the run become notes of
    their results; ``beyond(migrated)`` names more files to read (the rest
    of the project), whose notes are returned by file."""
    migrated = [
        r.path
        for r in results
        if r.changed and MIGRATION_CODES.intersection(r.applied_codes)
    ]
    if not migrated:
        return {}
    with sources.one_run():  # a project's files import the same modules
        return _project_notes(results, migrated, beyond)


def _project_notes(
    results: list[FileFix],
    migrated: list[str],
    beyond: Callable[[list[str]], Iterable[str]] | None,
) -> dict[str, list[str]]:
    by_path = {r.path: r for r in results}
    files = list(by_path)
    if beyond is not None:
        seen = {os.path.realpath(p) for p in files}
        for path in beyond(migrated):
            target = os.path.realpath(path)
            if target not in seen:  # a file of the run, or another name of one
                seen.add(target)
                files.append(path)
    outside: dict[str, list[str]] = {}
    found = notes_for_project(migrated, files)
    for path, notes in _importers(results, files).items():
        found.setdefault(path, []).extend(notes)
    for path, notes in found.items():
        owner = by_path.get(path)
        if owner is None:
            outside[path] = notes
            continue
        for text in notes:
            owner.note(text)
    return outside


def _importers(results: list[FileFix], files: list[str]) -> dict[str, list[str]]:
    """Notes on the files that still import a name a migrated module of the
    run no longer binds (:mod:`wnlint.fixing.reexports`)."""
    lost = {}
    for result in results:
        if result.changed and MIGRATION_CODES.intersection(result.applied_codes):
            names = dropped_names(result.original, result.fixed)
            if names:
                lost[os.path.realpath(result.path)] = names
    if not lost:
        return {}
    changed = {r.path: (r.original, r.fixed) for r in results if r.changed}
    return importer_notes(lost, files, changed)


@dataclass
class _FixTask:
    """One file's fix; what a worker process runs (it writes nothing)."""

    linter: Linter
    unsafe: bool

    def __call__(self, path: str) -> FileFix:
        result = fix_file(path, self.linter, self.unsafe)
        if not result.changed:
            result.original = result.fixed = b""  # nothing to show: keep it small
        return result


_TASK: _FixTask | None = None


def _start_worker(task: _FixTask, parent: int) -> None:
    global _TASK
    _TASK = task
    guard_worker(parent)


def _run_chunk(paths: list[str]) -> list[FileFix]:
    assert _TASK is not None
    return [_TASK(path) for path in paths]


def _in_processes(task: _FixTask, files: list[str], jobs: int) -> list[FileFix]:
    """Small chunks (a libcst rewrite costs seconds, most files nothing), so
    that one slow file does not leave the other workers idle."""
    size = max(4, len(files) // (jobs * 32))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    context = mp.get_context("fork")
    initargs = (task, os.getpid())
    with context.Pool(jobs, initializer=_start_worker, initargs=initargs) as pool:
        results = pool.imap(_run_chunk, chunks, chunksize=1)
        return [r for chunk in results for r in chunk]
