"""What ``check``, ``rule``, ``clean`` and ``--show-settings``/``--show-files``
do with their parsed arguments, and what every command shares: the run's
configuration, the files it walks (and what an interrupted fix left beside
them), stdin, and the report and where it is written.

Fixing (``fix``, ``check --fix``) builds on these in :mod:`.fix_command`;
:mod:`.main` picks the command and turns its errors into exit statuses.
Findings go to stdout (or ``--output-file``), the summary and warnings to
stderr, so ``wnlint check | ...`` pipes only findings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from wnlint import rules as registry  # the rules load when first used
from wnlint.cli.config import check_codes, overrides_from_args
from wnlint.cli.parser import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, INTERNAL_ERROR
from wnlint.cli.selection import Resolver
from wnlint.engine.linter import (
    SYSTEM_CODES,
    Linter,
    Report,
    UsageError,
    severity_of,
)
from wnlint.engine.runner import default_jobs, lint_files

if TYPE_CHECKING:
    from wnlint.engine.linter import Diagnostic


def _resolver(args: argparse.Namespace) -> Resolver:
    """The run's configuration: the files', with the command line over them."""
    for option in ("select", "extend_select", "ignore", "extend_ignore"):
        check_codes(getattr(args, option) or (), "--" + option.replace("_", "-"))
    return Resolver(
        overrides_from_args(args), config=args.config, isolated=args.isolated
    )


def _stdin_name(args: argparse.Namespace) -> str | None:
    """The name stdin's source is reported under, or None when not reading
    stdin (``-`` as the only path, or ``--stdin-filename`` without paths)."""
    if "-" in args.paths:
        if args.paths != ["-"]:
            raise UsageError("'-' (stdin) cannot be combined with other paths")
        return args.stdin_filename or "-"
    if args.stdin_filename is not None and not args.paths:
        return args.stdin_filename
    return None


def _files(args: argparse.Namespace, resolver: Resolver) -> list[str]:
    paths = args.paths or ["."]
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise UsageError("no such file or directory: " + ", ".join(missing))
    sidecars: list[str] = []
    files = list(resolver.files(paths, warn=_warn, sidecar=sidecars.append))
    if not files:
        sys.stderr.write(
            "wnlint: warning: no Python files found under " + ", ".join(paths) + "\n"
        )
    resolver.prepare(files)
    _leftovers(files, paths, sidecars, getattr(args, "leftovers", "check"))
    return files


def _leftovers(
    files: list[str], paths: list[str], sidecars: list[str], action: str
) -> None:
    """Say what an interrupted ``fix`` left beside these files (or, on
    ``fix --leftovers``, restore or remove it). ``check`` reads what the
    walk saw and lists only the directories of files named on the command
    line; ``fix`` also looks beside the targets of symlinks."""
    from wnlint.fixing.safe_write import (
        kept_elsewhere,
        leftovers,
        leftovers_among,
        settle,
    )

    if action == "check":
        named = [p for p in paths if not os.path.isdir(p)]
        found = leftovers_among(sidecars) + leftovers(named, follow_links=False)
        found += kept_elsewhere(files)
    else:
        found = leftovers(files)
    for item in sorted(set(found), key=lambda item: item.path):
        if action in ("report", "check"):
            sys.stderr.write(f"wnlint: warning: {item.describe()}\n")
            continue
        try:
            done = settle(item, action)
        except OSError as exc:
            raise UsageError(f"{item.path}: cannot {action}: {exc.strerror}") from None
        sys.stderr.write(f"wnlint: {done}\n")


def _warn(message: str) -> None:
    sys.stderr.write(f"wnlint: warning: {message} (skipped)\n")


def _jobs_for(args: argparse.Namespace, resolver: Resolver) -> int:
    return args.jobs or resolver.root.jobs or default_jobs()


def _show(args: argparse.Namespace) -> int:
    """``--show-files`` and ``--show-settings``, as ruff has them."""
    resolver = _resolver(args)
    if args.show_files:
        for path in _files(args, resolver):
            sys.stdout.write(f"{path}\n")
        return EXIT_CLEAN
    first = (args.paths or ["."])[0]
    resolved = (
        resolver.for_directory(os.path.abspath(first))
        if os.path.isdir(first)
        else resolver.for_path(first)
    )
    settings = resolved.settings
    rows = [
        ("configuration", settings.path or "(none: the defaults)"),
        ("enabled codes", ", ".join(sorted(resolved.codes))),
        (
            "per-file-ignores",
            ", ".join(
                f"{pattern}: {','.join(codes)}"
                for pattern, codes in settings.per_file_ignores
            )
            or "(none)",
        ),
        ("exclude", ", ".join(p for p, _ in resolved.exclude.patterns) or "(none)"),
        ("respect-gitignore", str(resolved.respect_gitignore).lower()),
        ("unsafe-fixes", str(resolved.unsafe_fixes).lower()),
        ("jobs", str(_jobs_for(args, resolver))),
    ]
    if args.command == "check":
        cache = "off" if args.no_cache else resolver.cache_dir(args.cache_dir)
        rows.append(("cache", cache))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        sys.stdout.write(f"{key:<{width}}  {value}\n")
    return EXIT_CLEAN


def _clean(args: argparse.Namespace) -> int:
    """``wnlint clean``: remove the cache directory."""
    from wnlint.cli.cache import clean

    resolver = Resolver(config=args.config, isolated=args.isolated)
    directory = resolver.cache_dir(args.cache_dir)
    if clean(directory):
        sys.stderr.write(f"wnlint: removed {directory}\n")
    return EXIT_CLEAN


def _read_stdin() -> bytes:
    """stdin's bytes, bounded as a file's are (``check - < /dev/zero``)."""
    from wnlint.facts.sources import read_stream

    try:
        return read_stream(sys.stdin.buffer)
    except OSError as exc:
        raise UsageError(f"cannot read stdin: {exc.strerror or exc}") from None


def _check(args: argparse.Namespace) -> int:
    resolver = _resolver(args)
    stdin_name = _stdin_name(args)
    if stdin_name is not None and args.add_noqa:
        raise UsageError("--add-noqa edits files in place; it cannot read stdin")
    if stdin_name is not None:
        data = _read_stdin()
        report = Report(files_checked=1)
        if not (args.force_exclude and resolver.excluded_named(stdin_name)):
            report.diagnostics = resolver.lint_bytes(data, stdin_name)
    else:
        files = _files(args, resolver)
        jobs = _jobs_for(args, resolver)
        if args.no_cache:
            report = lint_files(resolver, files, jobs=jobs)
        else:
            from wnlint.cli.cache import CachingLinter

            cache = CachingLinter(resolver, resolver.cache_dir(args.cache_dir))
            report = cache.lint_files(files, jobs)
            cache.save()
    if any(d.with_migration for d in report.diagnostics):
        from wnlint.cli.findings import settle_fixes

        report.diagnostics = settle_fixes(report.diagnostics)
    if args.add_noqa:
        return _add_noqa(args, resolver, report)
    with _output(args.output_file) as out:
        _report(report.diagnostics, args, out, resolver.linter_for)
    if not args.quiet:
        n = len(report.diagnostics)
        if n:
            noun = "finding" if n == 1 else "findings"
            sys.stderr.write(
                f"wnlint: {n} {noun} in {report.files_with_findings} of "
                f"{report.files_checked} files checked\n"
            )
        else:
            sys.stderr.write(
                f"wnlint: no findings in {report.files_checked} files checked\n"
            )
        if args.output_format == "text":  # what the [*] marks add up to
            from wnlint.cli.output import write_fixable_summary

            write_fixable_summary(report.diagnostics, sys.stderr)
    if any(d.code == INTERNAL_ERROR for d in report.diagnostics):
        return EXIT_ERROR
    if report.diagnostics and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _add_noqa(args: argparse.Namespace, resolver: Resolver, report: Report) -> int:
    """``check --add-noqa``: silence the findings in their files, then
    report what remains as ``check`` would (exit 1 if anything does)."""
    from wnlint.cli.add_noqa import add_noqa
    from wnlint.facts.sources import read_source

    results = add_noqa(report.diagnostics, resolver.linter_for, read_source)
    left = [d for result in results for d in result.remaining]
    with _output(args.output_file) as out:
        _report(left, args, out, resolver.linter_for)
    for result in results:
        for note in result.notes:
            sys.stderr.write(f"{result.path}: {note}\n")
    if not args.quiet:
        added = sum(result.directives for result in results)
        files = sum(1 for result in results if result.directives)
        noun = "directive" if added == 1 else "directives"
        sys.stderr.write(f"wnlint: added {added} noqa {noun} in {files} files\n")
    if any(r.failed for r in results) or any(d.code == INTERNAL_ERROR for d in left):
        return EXIT_ERROR
    return _exit_zero(args, EXIT_FINDINGS if left else EXIT_CLEAN)


def _exit_zero(args: argparse.Namespace, status: int) -> int:
    """``--exit-zero``: findings do not fail the run; errors still do."""
    return EXIT_CLEAN if status == EXIT_FINDINGS and args.exit_zero else status


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """stdout, or the ``--output-file`` (its directory made if need be); a
    file that cannot be written is an error of its own (exit 2)."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        stream = open(path, "w", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with stream:
            yield stream
    except OSError as exc:  # a full disk, a vanished mount
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


class OutputError(Exception):
    """The report could not be written (exit status 2)."""


def _report(
    diagnostics: list[Diagnostic],
    args: argparse.Namespace,
    out: TextIO,
    linter_for: Callable[[str], Linter],
) -> None:
    """Write findings as ``--output-format``, ``--statistics`` and
    ``--show-fixes`` ask; fixes are built only for the formats that show
    them."""
    from wnlint.cli import output

    fmt = args.output_format
    statistics = getattr(args, "statistics", False)
    # `check --show-fixes` lists the available fixes after text and full.
    listed = args.command == "check" and args.show_fixes and fmt in ("text", "full")
    fixes = None
    if (fmt in output.FORMATS_WITH_EDITS and not statistics) or listed:
        fixes = output.offered_fixes(diagnostics, linter_for)
    if statistics:
        output.write_statistics(diagnostics, fmt, out)
    else:
        color = fmt in ("text", "full") and output.use_color(out)
        output.write_report(diagnostics, fmt, out, color=color, fixes=fixes)
    if listed:
        output.write_available_fixes(diagnostics, fixes or {}, out)


def _rule(args: argparse.Namespace) -> int:
    if args.all:
        if args.code is not None:
            raise UsageError("give a CODE or --all, not both")
        from wnlint.cli.docs import rules_page

        sys.stdout.write(rules_page())
        return EXIT_CLEAN
    if args.code is None:
        # From the catalog: listing the rules imports none of them.
        for code, info in registry.infos().items():
            notes = [f"{info.severity:8}"]
            if info.fix_safety is not None:
                mixed = info.fix_safety == "mixed"
                notes.append(f"fix: {'safe/unsafe' if mixed else info.fix_safety}")
            if not registry.default_enabled(code):
                notes.append("(opt-in)")
            sys.stdout.write(f"{code}  {info.name:32} {' '.join(notes).rstrip()}\n")
        for code, (name, _) in SYSTEM_CODES.items():
            sys.stdout.write(f"{code}  {name:32} {severity_of(code)}\n")
        return EXIT_CLEAN
    code = args.code.upper()
    if code in registry.RULES_BY_CODE:
        sys.stdout.write(registry.RULES_BY_CODE[code].documentation())
        return EXIT_CLEAN
    if code in SYSTEM_CODES:
        name, text = SYSTEM_CODES[code]
        sys.stdout.write(f"# {code} {name}\n\n{text}\n")
        return EXIT_CLEAN
    raise UsageError(f"unknown rule code: {args.code!r} (see 'wnlint rule')")
