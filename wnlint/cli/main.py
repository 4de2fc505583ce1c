"""``wnlint`` on the command line: ``check``, ``fix`` and ``rule``.

Exit status follows ruff: 0 clean, 1 findings, 2 usage or internal errors
(so that CI can tell a crash from a lint failure).
Findings go to stdout in flake8's layout; the summary and errors go to
stderr, so ``wnlint check | ...`` pipes only findings.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from wnlint import __version__
from wnlint import rules as registry  # the rules load when first used
from wnlint.cli.config import Resolved, Resolver, check_codes, overrides_from_args
from wnlint.engine.linter import (
    SYSTEM_CODES,
    Linter,
    Report,
    UsageError,
    default_jobs,
    lint_files,
)

if TYPE_CHECKING:  # libcst is imported only when fixing
    from wnlint.engine.linter import Diagnostic
    from wnlint.fixing.fixer import FileFix

#: ``wnlint.cli.output.FORMATS``, spelled here so that building the parser does
#: not import the formatters (a test keeps the two equal).
OUTPUT_FORMATS = ("text", "full", "json", "sarif", "github")
#: ruff's names for wnlint's formats.
FORMAT_ALIASES = {"concise": "text"}

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
#: wnlint failed somewhere (an internal error, a file it could not write):
#: distinct from 1 so that CI can tell a crash from a lint failure.
EXIT_ERROR = 2
INTERNAL_ERROR = "WN003"

_DESCRIPTION = """\
Find weight-normalization bugs in PyTorch code without importing torch.

commands:
  check [PATH ...]   lint files and directories (default: .)
  fix [PATH ...]     rewrite findings in place (--diff to preview)
  rule [CODE]        print a rule's documentation, or list every rule
                     (--all: every rule's documentation)
"""

_EPILOG = """\
exit status: 0 no findings, 1 findings, 2 usage or internal error
(`check`: a WN003 finding; `fix`: a file it could not fix for a reason of
its own, or could not write).
Lines ending in `# noqa` or `# noqa: WN301` are skipped, as under flake8.
The same rules run as a flake8 plugin: flake8 --extend-select WN
"""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        layout = kwargs.get("formatter_class", argparse.HelpFormatter)
        kwargs["formatter_class"] = functools.partial(layout, width=_help_width())
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _help_width() -> int:
    """The width argparse would find (the terminal's, less 2), found as
    ``shutil.get_terminal_size`` does: left to find it, argparse imports
    ``shutil``, which costs a one-file ``check`` more than the check."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    stream = sys.__stdout__
    if columns <= 0 and stream is not None:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return jobs


def _codes(value: str) -> list[str]:
    return [part.strip().upper() for part in value.split(",") if part.strip()]


def _patterns(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _selection_options(command: argparse.ArgumentParser) -> None:
    """The options ``check`` and ``fix`` share: which rules, which files,
    which configuration (each overrides its ``[tool.wnlint]`` key)."""
    command.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or directories (default: .), or - for stdin; directories "
        "are searched for *.py and *.ipynb, skipping the excluded paths",
    )
    codes = command.add_argument_group("rule selection")
    codes.add_argument(
        "--select",
        type=_codes,
        metavar="CODES",
        help="comma-separated code prefixes to enable, e.g. WN301,WN1 "
        "(default: every rule that is on by default)",
    )
    codes.add_argument(
        "--extend-select",
        type=_codes,
        default=[],
        metavar="CODES",
        help="code prefixes to enable on top of the selection",
    )
    codes.add_argument(
        "--ignore",
        type=_codes,
        default=[],
        metavar="CODES",
        help="comma-separated code prefixes to disable",
    )
    codes.add_argument(
        "--extend-ignore",
        type=_codes,
        default=[],
        metavar="CODES",
        help="code prefixes to disable, on top of --ignore",
    )
    files = command.add_argument_group("file selection")
    files.add_argument(
        "--exclude",
        type=_patterns,
        metavar="PATTERNS",
        help="comma-separated globs to skip while walking (replaces the "
        "configured and default excludes)",
    )
    files.add_argument(
        "--extend-exclude",
        type=_patterns,
        default=[],
        metavar="PATTERNS",
        help="globs to skip on top of the excludes",
    )
    files.add_argument(
        "--respect-gitignore",
        action=argparse.BooleanOptionalAction,
        help="skip files ignored by git (default: on)",
    )
    files.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply the excludes to files named on the command line and to "
        "--stdin-filename too",
    )
    files.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="read the source from stdin (PATH - or no PATH) and report it "
        "as PATH, with PATH's configuration",
    )
    config = command.add_argument_group("configuration").add_mutually_exclusive_group()
    config.add_argument(
        "--config",
        metavar="PATH",
        help="use this pyproject.toml's [tool.wnlint] for every file",
    )
    config.add_argument(
        "--isolated",
        action="store_true",
        help="ignore every configuration file",
    )


def _run_options(command: argparse.ArgumentParser, serial: str) -> None:
    command.add_argument(
        "--show-settings",
        action="store_true",
        help="print the settings the first path (or the working directory) "
        "is checked with, and exit",
    )
    command.add_argument(
        "--show-files",
        action="store_true",
        help="print the files that would be checked, and exit",
    )
    command.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help="processes to use for large runs (default: the configuration's "
        f"jobs, else the available CPUs; {serial})",
    )


def _add_output_options(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--output-format",
        choices=(*OUTPUT_FORMATS, *FORMAT_ALIASES),
        default="text",
        help=f"how {what} are written: text (flake8's layout, the default; "
        "concise is ruff's name for it), "
        "full (with the source line and the fix), json, sarif (SARIF 2.1.0 "
        "for code scanning) or github (GitHub Actions annotations)",
    )
    command.add_argument(
        "--output-file",
        metavar="PATH",
        help=f"write {what} to PATH instead of stdout",
    )
    command.add_argument(
        "--show-fixes",
        action="store_true",
        help="check: list the findings that `wnlint fix` can repair; "
        "fix: list the fixes applied, per file and code",
    )


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, the parser of that command alone
    (what a run of it needs: building the others costs more than checking
    a file), which parses its arguments exactly as the whole one does."""
    parser = _Parser(
        prog="wnlint",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-V", "--version", action="version", version=f"wnlint {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )

    for name, add in _COMMAND_PARSERS.items():
        if only is None or name == only:
            add(commands)
    return parser


def _check_command(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="lint files and directories",
        description="Lint Python files for weight-normalization bugs.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _selection_options(check)
    check.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when there are findings",
    )
    check.add_argument(
        "-q", "--quiet", action="store_true", help="do not print the summary line"
    )
    _run_options(check, "1 checks in this process")
    check.add_argument(
        "--fix",
        action="store_true",
        help="apply the fixes, as `wnlint fix` does (ruff's spelling)",
    )
    check.add_argument(
        "--unsafe-fixes",
        action=argparse.BooleanOptionalAction,
        help="with --fix or --diff: apply unsafe fixes too, as `wnlint fix "
        "--unsafe-fixes` does",
    )
    check.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes as a unified diff and write nothing, as `wnlint "
        "fix --diff` does",
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="read and analyse every file, and write no cache",
    )
    check.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="the cache's directory (default: WNLINT_CACHE_DIR, the "
        "configuration's cache-dir, else .wnlint_cache in the project root)",
    )
    _add_output_options(check, "findings")
    check.add_argument(
        "--statistics",
        action="store_true",
        help="print a count per code instead of the findings "
        "(json with --output-format json)",
    )
    check.add_argument(
        "--add-noqa",
        action="store_true",
        help="append `# noqa: CODE` comments to the lines of the findings, so "
        "that check passes now and they can be fixed later; then report what "
        "remains (files that do not parse; notebooks, which are not edited)",
    )


def _fix_command(commands: argparse._SubParsersAction) -> None:
    fix = commands.add_parser(
        "fix",
        help="rewrite findings in place",
        description="Apply the fixes of findings in place: safe fixes by "
        "default, unsafe ones with --unsafe-fixes (each rule's 'Fix safety' "
        "says which). Findings without a fix are still reported. Fixes exist for "
        "WN101-WN105, WN202, and WN301+WN302 together.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _selection_options(fix)
    fix.add_argument(
        "--unsafe-fixes",
        action=argparse.BooleanOptionalAction,
        help="also apply fixes that may change behaviour or the state_dict "
        "(default: the configuration's unsafe-fixes, else off)",
    )
    fix.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff and write nothing (exit 1 when it would change)",
    )
    fix.add_argument(
        "--leftovers",
        choices=("report", "restore", "remove"),
        default="report",
        help="what to do with the files an interrupted fix left beside the "
        "files of this run: report them (default), restore the originals "
        "they hold (in-place rewrites) and remove the rest, or remove them all",
    )
    fix.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when findings remain (or, with --diff, would change)",
    )
    fix.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit 1 when a file was fixed, even if no finding remains",
    )
    fix.add_argument(
        "--statistics",
        action="store_true",
        help="print a count per code of the findings that remain instead of "
        "the findings",
    )
    fix.add_argument(
        "-q", "--quiet", action="store_true", help="do not print the summary line"
    )
    _run_options(fix, "1 fixes in this process")
    _add_output_options(fix, "the findings that remain")


def _clean_command(commands: argparse._SubParsersAction) -> None:
    clean = commands.add_parser(
        "clean",
        help="remove the cache",
        description="Remove the cache directory that `check` would use here "
        "(see --cache-dir).",
    )
    clean.add_argument("--cache-dir", metavar="DIR", help="the cache's directory")
    clean.add_argument("--config", help=argparse.SUPPRESS)
    clean.add_argument("--isolated", action="store_true", help=argparse.SUPPRESS)


def _rule_command(commands: argparse._SubParsersAction) -> None:
    rule = commands.add_parser(
        "rule",
        help="print a rule's documentation",
        description="Print a rule's documentation; without CODE, list all "
        "rules; with --all, print every rule's documentation.",
    )
    rule.add_argument("code", nargs="?", metavar="CODE", help="e.g. WN301")
    rule.add_argument(
        "--all",
        action="store_true",
        help="print every rule's documentation (the page docs/rules.md)",
    )


_COMMAND_PARSERS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "check": _check_command,
    "fix": _fix_command,
    "clean": _clean_command,
    "rule": _rule_command,
}


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


def _as_fix(args: argparse.Namespace) -> argparse.Namespace:
    """``check --fix``/``check --diff`` as the ``fix`` command they mean."""
    defaults = build_parser().parse_args(["fix"])
    merged = argparse.Namespace(**{**vars(defaults), **vars(args)})
    merged.command = "fix"
    return merged


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


def _fix(args: argparse.Namespace) -> int:
    resolver = _resolver(args)
    stdin_name = _stdin_name(args)
    if stdin_name is not None:
        return _fix_stdin(args, resolver, stdin_name)
    results = _fix_files(args, resolver, _files(args, resolver))
    out = sys.stdout
    hidden = 0
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
        hidden += result.hidden
        left.extend(result.remaining)
    out.flush()
    remaining = len(left)
    if not args.diff:
        # Positions of what remains are in the fixed text, on disk now.
        with _output(args.output_file) as stream:
            _report(left, args, stream, resolver.linter_for)
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


def _unsafe(args: argparse.Namespace, resolved: Resolved) -> bool:
    return resolved.unsafe_fixes if args.unsafe_fixes is None else args.unsafe_fixes


def _fix_files(
    args: argparse.Namespace, resolver: Resolver, files: list[str]
) -> list[FileFix]:
    """Fix ``files``, each with its own configuration's rules and fix
    safety: files that share both are fixed together (in processes when
    there are many), and the results come back in ``files``' order."""
    from wnlint.fixing.fixer import (  # libcst only when fixing
        add_project_notes,
        fix_paths,
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
            write=not args.diff,
            jobs=jobs,
            project_notes=False,
        )
    results.sort(key=lambda result: order[result.path])
    add_project_notes(results)  # across the groups: a loader may be in any
    return results


def _fix_stdin(args: argparse.Namespace, resolver: Resolver, name: str) -> int:
    """``fix -``: the fixed source (or, with ``--diff``, the diff) on stdout,
    the findings that remain and any notes on stderr, nothing written; an
    excluded ``--stdin-filename`` (with ``--force-exclude``) passes through."""
    from wnlint.fixing.fixer import fix_bytes  # libcst only when fixing

    data = _read_stdin()
    if args.force_exclude and resolver.excluded_named(name):
        if not args.diff:
            sys.stdout.buffer.write(data)
        return EXIT_CLEAN
    unsafe = _unsafe(args, resolver.for_path(name))
    result = fix_bytes(data, name, resolver.linter_for(name), unsafe)
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


def _fix_status(results: list[FileFix], changed: int) -> int:
    """2 when wnlint failed on a file, else 1 when ``changed`` (what
    ``--diff`` would change, or what remains after fixing) is not zero."""
    if any(r.failed for r in results) or any(
        d.code == INTERNAL_ERROR for r in results for d in r.remaining
    ):
        return EXIT_ERROR
    return EXIT_FINDINGS if changed else EXIT_CLEAN


def _rule(args: argparse.Namespace) -> int:
    if args.all:
        if args.code is not None:
            raise UsageError("give a CODE or --all, not both")
        from wnlint.cli.docs import rules_page

        sys.stdout.write(rules_page())
        return EXIT_CLEAN
    if args.code is None:
        for rule in registry.ALL_RULES:
            state = "" if registry.default_enabled(rule.code) else "  (opt-in)"
            sys.stdout.write(f"{rule.code}  {rule.name:32} {state}\n")
        for code, (name, _) in SYSTEM_CODES.items():
            sys.stdout.write(f"{code}  {name}\n")
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


def _printable_streams() -> None:
    """Paths that are not valid UTF-8 (``os.fsdecode`` turns their bytes
    into surrogates) print as their bytes on a UTF-8 stream and escaped on
    any other, instead of raising ``UnicodeEncodeError`` mid-report."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        encoding = (getattr(stream, "encoding", None) or "").lower()
        if reconfigure is not None:
            utf8 = encoding.replace("-", "") == "utf8"
            reconfigure(errors="surrogateescape" if utf8 else "backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _printable_streams()
    with _stopped_by_sigterm(), _fewer_collections():
        return _main(argv)


#: Allocations between two young-generation collections during a run.
_YOUNG_COLLECTION_EVERY = 20_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """A run allocates parse trees by the million and frees them by
    reference count: the analysis holds no reference cycle (a test checks),
    so the cycle collector finds next to nothing, yet at Python's default
    pace it costs about a tenth of the run. What was imported is frozen out
    of its scans (unless the calling program froze objects of its own) and
    the young generation is collected less often; both are restored
    afterwards (``main`` also runs inside other programs)."""
    import gc

    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION_EVERY, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM (``timeout``, a CI cancel, a supervisor) ends the run as
    Ctrl-C does: worker pools are stopped on the way out, and the exit
    status is 143, without a traceback."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding program's worker)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


def _command_of(args: argparse.Namespace) -> str | None:
    """What the arguments ask for: ruff's spellings (``check --fix``,
    ``--output-format concise``, ``--show-files``) mapped to wnlint's."""
    if hasattr(args, "output_format"):
        args.output_format = FORMAT_ALIASES.get(args.output_format, args.output_format)
    if getattr(args, "show_settings", False) or getattr(args, "show_files", False):
        return "show"
    if args.command == "check" and (args.fix or args.diff):
        return "check-fix"
    return args.command


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": lambda args: _check(args),
    "check-fix": lambda args: _fix(_as_fix(args)),
    "fix": lambda args: _fix(args),
    "rule": lambda args: _rule(args),
    "clean": lambda args: _clean(args),
    "show": lambda args: _show(args),
}


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and argv[0] in _COMMAND_PARSERS else None)
    try:
        args = parser.parse_args(argv)
        command = _COMMANDS.get(_command_of(args) or "")
        if command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return command(args)
    except UsageError as exc:
        sys.stderr.write(f"wnlint: error: {exc}\n")
        return EXIT_USAGE
    except OutputError as exc:
        sys.stderr.write(f"wnlint: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wnlint check | head`: the reader left; say nothing more.
        _drop_stdout()
        return EXIT_FINDINGS
    except OSError as exc:
        if exc.errno not in _WRITE_FAILURES:
            raise
        # stdout on a full disk or a failing device: said, not a traceback.
        _drop_stdout()
        sys.stderr.write(f"wnlint: error: cannot write the output: {exc.strerror}\n")
        return EXIT_ERROR


#: Why writing the report can fail: the disk or the device, not wnlint.
_WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT})


def _drop_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last
    flush of what could not be written raises nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
