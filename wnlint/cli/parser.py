"""The ``wnlint`` command line's grammar: each command's parser, its
options and their help, and the constants that the help and the commands
share (the output formats, the exit statuses).

Kept apart from what the commands do, so that what the command line
accepts reads in one place. A run builds the parser of its own command
alone (``build_parser(only=...)``): building them all costs more than
checking a file, and this module imports nothing the parser does not need.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from wnlint import __version__
from wnlint.engine.linter import UsageError

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


def _fixable() -> str:
    """The codes whose rules have a fix, from the catalog (the legacy-API
    pair is one migration)."""
    from wnlint.rules import infos

    codes = [code for code, info in infos().items() if info.fix_safety]
    pair = [c for c in codes if c in ("WN301", "WN302")]
    codes = [c for c in codes if c not in pair]
    if len(pair) == 2:
        codes.append("WN301+WN302 together")
    return ", ".join(codes)


def _fix_command(commands: argparse._SubParsersAction) -> None:
    fix = commands.add_parser(
        "fix",
        help="rewrite findings in place",
        description="Apply the fixes of findings in place: safe fixes by "
        "default, unsafe ones with --unsafe-fixes (each rule's 'Fix safety' "
        "says which). Findings without a fix are still reported. Fixes exist for "
        f"{_fixable()}.",
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
