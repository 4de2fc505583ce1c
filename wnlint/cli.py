"""``wnlint`` on the command line: ``check``, ``fix`` and ``rule``.

Exit status follows ruff: 0 clean, 1 findings, 2 usage or internal errors
(so that CI can tell a crash from a lint failure).
Findings go to stdout in flake8's layout; the summary and errors go to
stderr, so ``wnlint check | ...`` pipes only findings.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from wnlint import __version__
from wnlint.engine import (
    SYSTEM_CODES,
    Linter,
    UsageError,
    default_jobs,
    select_rules,
)
from wnlint.rules import ALL_RULES, RULES_BY_CODE

if TYPE_CHECKING:  # libcst is imported only when fixing
    from wnlint.fix import FileFix

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
"""

_EPILOG = """\
exit status: 0 no findings, 1 findings, 2 usage or internal error
(`check`: a WN003 finding; `fix`: a file it could not fix for a reason of
its own, or could not write).
Lines ending in `# noqa` or `# noqa: WN301` are skipped, as under flake8.
The same rules run as a flake8 plugin: flake8 --select WN
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wnlint",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wnlint {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )

    check = commands.add_parser(
        "check",
        help="lint files and directories",
        description="Lint Python files for weight-normalization bugs.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or directories (default: .); directories are searched "
        "for *.py and *.ipynb, skipping .git, virtualenvs, caches and build "
        "directories",
    )
    check.add_argument(
        "--select",
        type=_codes,
        metavar="CODES",
        help="comma-separated code prefixes to enable, e.g. WN301,WN1 "
        "(default: every rule that is on by default)",
    )
    check.add_argument(
        "--ignore",
        type=_codes,
        default=[],
        metavar="CODES",
        help="comma-separated code prefixes to disable",
    )
    check.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when there are findings",
    )
    check.add_argument(
        "-q", "--quiet", action="store_true", help="do not print the summary line"
    )
    check.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=default_jobs(),
        metavar="N",
        help="processes to use for large runs (default: the available CPUs; "
        "1 checks in this process)",
    )

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
    fix.add_argument("paths", nargs="*", metavar="PATH", help="as for check")
    fix.add_argument("--select", type=_codes, metavar="CODES", help="as for check")
    fix.add_argument(
        "--ignore", type=_codes, default=[], metavar="CODES", help="as for check"
    )
    fix.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="also apply fixes that may change behaviour or the state_dict",
    )
    fix.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff and write nothing (exit 1 when it would change)",
    )
    fix.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=default_jobs(),
        metavar="N",
        help="processes to use for large runs (default: the available CPUs; "
        "1 fixes in this process)",
    )
    fix.add_argument(
        "-q", "--quiet", action="store_true", help="do not print the summary line"
    )

    rule = commands.add_parser(
        "rule",
        help="print a rule's documentation",
        description="Print a rule's documentation; without CODE, list all rules.",
    )
    rule.add_argument("code", nargs="?", metavar="CODE", help="e.g. WN301")
    return parser


def _check(args: argparse.Namespace) -> int:
    rules = select_rules(args.select, args.ignore)
    paths = args.paths or ["."]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError("no such file or directory: " + ", ".join(missing))
    report = Linter(rules, ignore=args.ignore).lint_paths(paths, jobs=args.jobs)
    out = sys.stdout
    for diagnostic in report.diagnostics:
        out.write(diagnostic.format() + "\n")
    out.flush()
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
    if any(d.code == INTERNAL_ERROR for d in report.diagnostics):
        return EXIT_ERROR
    if report.diagnostics and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _fix(args: argparse.Namespace) -> int:
    from wnlint.fix import fix_paths  # libcst only when fixing

    rules = select_rules(args.select, args.ignore)
    paths = args.paths or ["."]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError("no such file or directory: " + ", ".join(missing))
    linter = Linter(rules, ignore=args.ignore)
    results = fix_paths(
        paths, linter, unsafe=args.unsafe_fixes, write=not args.diff, jobs=args.jobs
    )
    out = sys.stdout
    remaining = 0
    hidden = 0
    for result in results:
        if args.diff and result.changed:
            out.write(result.diff())
            if not args.quiet:
                for code, count in sorted(result.applied_codes.items()):
                    title = RULES_BY_CODE[code].fix_title
                    sys.stderr.write(f"{result.path}: {code} x{count}: {title}\n")
        for note in result.notes:
            sys.stderr.write(f"{result.path}: {note}\n")
        hidden += result.hidden
        for diagnostic in result.remaining:
            remaining += 1
            if not args.diff:
                out.write(diagnostic.format() + "\n")
    out.flush()
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
    return _fix_status(results, changed=files if args.diff else remaining)


def _fix_status(results: list[FileFix], changed: int) -> int:
    """2 when wnlint failed on a file, else 1 when ``changed`` (what
    ``--diff`` would change, or what remains after fixing) is not zero."""
    if any(r.failed for r in results) or any(
        d.code == INTERNAL_ERROR for r in results for d in r.remaining
    ):
        return EXIT_ERROR
    return EXIT_FINDINGS if changed else EXIT_CLEAN


def _rule(args: argparse.Namespace) -> int:
    if args.code is None:
        for rule in ALL_RULES:
            state = "" if rule.default_enabled else "  (opt-in)"
            sys.stdout.write(f"{rule.code}  {rule.name:32} {state}\n")
        for code, (name, _) in SYSTEM_CODES.items():
            sys.stdout.write(f"{code}  {name}\n")
        return EXIT_CLEAN
    code = args.code.upper()
    if code in RULES_BY_CODE:
        sys.stdout.write(RULES_BY_CODE[code].documentation())
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "check":
            return _check(args)
        if args.command == "rule":
            return _rule(args)
        if args.command == "fix":
            return _fix(args)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        sys.stderr.write(f"wnlint: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wnlint check | head`: the reader left; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
