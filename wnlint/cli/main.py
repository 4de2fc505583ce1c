"""``wnlint`` on the command line: ``check``, ``fix``, ``rule`` and ``clean``.

The entry point (``wnlint.cli.main:main``, ``python -m wnlint``): it
builds the parser of the command asked for (:mod:`.parser`), runs the
command (:mod:`.commands`, :mod:`.fix_command`) and turns what goes wrong
into an exit status and a line on stderr. It also sets the process up for
a run: printable streams, SIGTERM as Ctrl-C, a slower cycle collector.

Exit status follows ruff: 0 clean, 1 findings, 2 usage or internal errors
(so that CI can tell a crash from a lint failure).
Findings go to stdout in flake8's layout; the summary and errors go to
stderr, so ``wnlint check | ...`` pipes only findings.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from wnlint.cli.commands import OutputError, _check, _clean, _rule, _show
from wnlint.cli.parser import (
    _COMMAND_PARSERS,
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_USAGE,
    FORMAT_ALIASES,
    build_parser,
)
from wnlint.engine.linter import UsageError


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


def run() -> int:
    """The ``wnlint`` command: :func:`main`, in a process that ends with it.
    What the run left alive is frozen, so that the interpreter's last
    collection at exit does not walk it (a tenth of a second per million
    objects, for nothing: the process is ending)."""
    import gc

    status = main()
    gc.freeze()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    _printable_streams()
    with _stopped_by_sigterm(), _fewer_collections():
        return _main(argv)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """A run allocates parse trees by the million and frees them by
    reference count: the analysis holds no reference cycle (a test checks),
    so the cycle collector finds nothing, yet each of its passes walks every
    live object, the run's caches included: a third of the time on the 19
    wheels. It is off for the run, and what was imported is frozen out of
    its scans (unless the calling program froze objects of its own); both
    are restored afterwards (``main`` also runs inside other programs)."""
    import gc

    enabled = gc.isenabled()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
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


def _fix(args: argparse.Namespace, *, from_check: bool = False) -> int:
    """``fix``, or ``check --fix``/``check --diff`` as the ``fix`` they
    mean: its module is imported here, so that a ``check`` run skips it."""
    from wnlint.cli import fix_command

    return fix_command._fix(fix_command._as_fix(args) if from_check else args)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": lambda args: _check(args),
    "check-fix": lambda args: _fix(args, from_check=True),
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
