"""``wnlint fix``, and ``check --fix``/``check --diff``, which mean it: the
fixes applied with each file's own rules and fix safety, to files or to
stdin, and the exit status of what was fixed, would change, or remains.

A module of its own so that a ``check`` run does not load it (:mod:`.main`
imports it when fixing); libcst and the fixer load only once a fix runs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from wnlint import rules as registry  # the rules load when first used
from wnlint.cli.commands import (
    _exit_zero,
    _files,
    _jobs_for,
    _output,
    _read_stdin,
    _report,
    _resolver,
    _stdin_name,
)
from wnlint.cli.findings import settle_fixes
from wnlint.cli.parser import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    INTERNAL_ERROR,
    build_parser,
)
from wnlint.cli.selection import Resolved, Resolver
from wnlint.engine.linter import Linter

if TYPE_CHECKING:  # libcst is imported only when fixing
    from wnlint.engine.linter import Diagnostic
    from wnlint.fixing.fixer import FileFix


def _as_fix(args: argparse.Namespace) -> argparse.Namespace:
    """``check --fix``/``check --diff`` as the ``fix`` command they mean."""
    defaults = build_parser().parse_args(["fix"])
    merged = argparse.Namespace(**{**vars(defaults), **vars(args)})
    merged.command = "fix"
    return merged


def _fix(args: argparse.Namespace) -> int:
    resolver = _resolver(args)
    stdin_name = _stdin_name(args)
    if stdin_name is not None:
        return _fix_stdin(args, resolver, stdin_name)
    results, elsewhere = _fix_files(args, resolver, _files(args, resolver))
    # A remover's fix that waits for a migration the run did not make is no
    # fix, as `check` counts it.
    left = settle_fixes(_show(args, results, elsewhere))
    remaining = len(left)
    if not args.diff:
        # Positions of what remains are in the fixed text, on disk now.
        with _output(args.output_file) as stream:
            _report(left, args, stream, resolver.linter_for)
    hidden = sum(r.hidden for r in results)
    if args.show_fixes:
        from wnlint.cli.output import write_applied_fixes

        applied = [(r.path, r.applied_codes) for r in results]
        write_applied_fixes(applied, sys.stderr, would=args.diff)
    fixed = sum(r.applied for r in results)
    files = sum(1 for r in results if r.changed)
    if not args.quiet:
        verb = "would fix" if args.diff else "fixed"
        line = (
            f"wnlint: {verb} {fixed} findings in {files} files, {remaining} remaining"
        )
        if hidden:
            line += f" ({hidden} fixable with --unsafe-fixes)"
        sys.stderr.write(line + "\n")
    status = _fix_status(results, changed=files if args.diff else remaining)
    if status == EXIT_CLEAN and files and args.exit_non_zero_on_fix:
        status = EXIT_FINDINGS  # something was fixed: a pre-commit hook fails
    return _exit_zero(args, status)


def _show(
    args: argparse.Namespace,
    results: list[FileFix],
    elsewhere: dict[str, list[str]],
) -> list[Diagnostic]:
    """Each file's diff (``--diff``) and fixes applied on stdout, its notes
    on stderr, then the notes on the project's files beyond the run; the
    findings that remain."""
    out = sys.stdout
    left: list[Diagnostic] = []
    for result in results:
        if args.diff and result.changed:
            out.write(result.diff())
            if not args.quiet and not args.show_fixes:
                for code, count in sorted(result.applied_codes.items()):
                    title = registry.RULES_BY_CODE[code].fix_title
                    sys.stderr.write(f"{result.path}: {code} x{count}: {title}\n")
        for note in result.notes:
            sys.stderr.write(f"{result.path}: {note}\n")
        left.extend(result.remaining)
    for path, notes in elsewhere.items():
        for note in notes:
            sys.stderr.write(f"{path}: {note}\n")
    out.flush()
    return left


def _unsafe(args: argparse.Namespace, resolved: Resolved) -> bool:
    return resolved.unsafe_fixes if args.unsafe_fixes is None else args.unsafe_fixes


def _fix_files(
    args: argparse.Namespace, resolver: Resolver, files: list[str]
) -> tuple[list[FileFix], dict[str, list[str]]]:
    """Fix ``files``, each with its own configuration's rules and fix
    safety: files that share both are fixed together (in processes when
    there are many), and the results come back in ``files``' order, with
    the notes of the migration on the project's files beyond the run."""
    from wnlint.fixing.fixer import fix_bytes
    from wnlint.fixing.runner import (  # libcst only when fixing
        add_project_notes,
        apply_elsewhere,
        fix_paths,
        fix_waiting,
        write_results,
    )

    groups: dict[tuple[int, bool], tuple[Linter, bool, list[str]]] = {}
    seen: set[str] = set()
    order: dict[str, int] = {}
    for path in files:
        target = os.path.realpath(path)
        if target in seen:  # another name of a file already listed
            continue
        seen.add(target)
        order[path] = len(order)
        linter = resolver.linter_for(path)
        unsafe = _unsafe(args, resolver.for_path(path))
        key = (id(linter), unsafe)
        groups.setdefault(key, (linter, unsafe, []))[2].append(path)
    jobs = _jobs_for(args, resolver)
    results: list[FileFix] = []
    for linter, unsafe, group in groups.values():
        results += fix_paths(
            group,
            linter,
            unsafe=unsafe,
            write=False,  # below, once every group is fixed
            jobs=jobs,
            project_notes=False,
        )
    if not args.diff:
        write_results(results, resolver.linter_for)

    def again(path: str, data: bytes) -> FileFix:
        linter = resolver.linter_for(path)
        unsafe = _unsafe(args, resolver.for_path(path))
        return fix_bytes(data, path, linter, unsafe, removers_alone=True)

    fix_waiting(results, again, write=not args.diff)  # across the groups too
    apply_elsewhere(results, write=not args.diff)
    results.sort(key=lambda result: order[result.path])
    # Across the groups, and the project's files beyond the run: a loader
    # may be in any.
    elsewhere = add_project_notes(results, lambda done: _project_files(resolver, done))
    return results, elsewhere


def _project_files(resolver: Resolver, migrated: list[str]) -> Iterator[str]:
    """The Python files of the migrated files' projects that can use them
    (:func:`related_files`), with the configured excludes, of at most
    :data:`PROJECT_FILES_READ` read (named relative to the working
    directory where they lie under it)."""
    from wnlint.facts.sources import shown_path
    from wnlint.fixing.migration_notes import (
        PROJECT_FILES_READ,
        project_directories,
        related_files,
    )

    named = [
        shown_path(d, resolver.cwd) for d in project_directories(migrated, resolver.cwd)
    ]
    found = itertools.islice(resolver.files(named), PROJECT_FILES_READ)
    files = (os.path.normpath(path) for path in found)
    return related_files(files, migrated, resolver.cwd)


def _fix_stdin(args: argparse.Namespace, resolver: Resolver, name: str) -> int:
    """``fix -``: the fixed source (or, with ``--diff``, the diff) on stdout,
    the findings that remain and any notes on stderr, nothing written; an
    excluded ``--stdin-filename`` (with ``--force-exclude``) passes through."""
    from wnlint.fixing.elsewhere import apply_elsewhere  # libcst only when fixing
    from wnlint.fixing.fixer import fix_bytes

    data = _read_stdin()
    if args.force_exclude and resolver.excluded_named(name):
        if not args.diff:
            sys.stdout.buffer.write(data)
        return EXIT_CLEAN
    unsafe = _unsafe(args, resolver.for_path(name))
    result = fix_bytes(data, name, resolver.linter_for(name), unsafe)
    apply_elsewhere([result], write=False)  # only notes: no other file is fixed
    if args.diff:
        sys.stdout.write(result.diff() if result.changed else "")
        sys.stdout.flush()
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(result.fixed)
        sys.stdout.buffer.flush()
    for note in result.notes:
        sys.stderr.write(f"{name}: {note}\n")
    for diagnostic in result.remaining:
        sys.stderr.write(diagnostic.format() + "\n")
    if not args.quiet:
        verb = "would fix" if args.diff else "fixed"
        left = len(result.remaining)
        line = f"wnlint: {verb} {result.applied} findings, {left} remaining"
        if result.hidden:
            line += f" ({result.hidden} fixable with --unsafe-fixes)"
        sys.stderr.write(line + "\n")
    changed = int(result.changed) if args.diff else len(result.remaining)
    return _exit_zero(args, _fix_status([result], changed=changed))


def _fix_status(results: list[FileFix], changed: int) -> int:
    """2 when wnlint failed on a file, else 1 when ``changed`` (what
    ``--diff`` would change, or what remains after fixing) is not zero."""
    if any(r.failed for r in results) or any(
        d.code == INTERNAL_ERROR for r in results for d in r.remaining
    ):
        return EXIT_ERROR
    return EXIT_FINDINGS if changed else EXIT_CLEAN
