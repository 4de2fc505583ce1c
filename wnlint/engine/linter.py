"""The one engine behind every front end.

A file goes through: a textual prefilter on its raw bytes (most files cannot
match and are never parsed), one ``ast.parse``, one shared
:class:`~wnlint.facts.analysis.FileAnalysis`, the enabled rules, and (for the CLI)
flake8's ``# noqa`` handling. The flake8 plugin enters at
:meth:`Linter.lint_tree` with the tree flake8 already parsed. A notebook's
code cells are joined into one source first (:mod:`wnlint.engine.notebook`), so
the prefilter reads the cells, never the JSON.

Nothing here raises on user input: a file that cannot be read, decoded or
parsed becomes a diagnostic, and so does a rule that fails on a file.

A run over many files (finding them, worker processes) is
:mod:`wnlint.engine.runner`'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from wnlint.engine.diagnostics import Diagnostic, Report, decode_source, source_lines
from wnlint.facts import cutting, prefilter, sources
from wnlint.facts.sources import NOTEBOOK_SUFFIX
from wnlint.rules import CODES, default_enabled

# What only a file some rule may match needs (parsing, the analysis, noqa
# comments, deep stacks) is imported where it is used: a run over files
# that cannot match, or over a warm cache, never loads it.
if TYPE_CHECKING:
    import ast

    from wnlint.rules.base import Rule, Severity

#: ``ast.PyCF_ONLY_AST``, without importing ``ast`` for it.
_ONLY_AST = 0x400

#: Codes the engine itself reports, documented like rules.

SYSTEM_CODES: dict[str, tuple[str, str]] = {
    "WN001": (
        "syntax-error",
        "The file could not be parsed (a syntax error, an undecodable byte, a "
        "null byte, or a .ipynb file that is not a Jupyter notebook). It is "
        "reported once, at the parser's position, and "
        "skipped; the other files are still checked. Files that the textual "
        "prefilter rules out (they cannot contain a finding) are not parsed, "
        "so their syntax errors are not reported.",
    ),
    "WN002": (
        "unreadable-file",
        "The file could not be read (permissions, a vanished file). It is "
        "reported and skipped; the other files are still checked.",
    ),
    "WN003": (
        "internal-error",
        "A rule failed on this file. The other rules' findings on the file "
        "are still reported. Please report the file that triggers it.",
    ),
}


class UsageError(Exception):
    """A mistake on the command line: reported as a message, exit status 2."""


def known_codes() -> list[str]:
    return sorted([*SYSTEM_CODES, *CODES])


def severity_of(code: str) -> Severity:
    """A code's severity: its rule's declared one; the engine's own codes
    are errors, since each means a file was not (fully) checked."""
    from wnlint.rules import info

    rule = info(code)
    return "error" if rule is None else rule.severity


def select_rules(
    select: Sequence[str] | None = None, ignore: Sequence[str] = ()
) -> list[type[Rule]]:
    """The rules that ``--select``/``--ignore`` code prefixes leave enabled.

    Without ``select`` every default rule runs; a prefix that names no code
    is a usage error rather than a silent no-op.
    """
    codes = known_codes()
    for prefix in [*(select or ()), *ignore]:
        if not any(code.startswith(prefix) for code in codes):
            raise UsageError(f"unknown rule code or prefix: {prefix!r}")
    from wnlint.rules import RULES_BY_CODE

    if select is None:
        chosen = [code for code in CODES if default_enabled(code)]
    else:
        chosen = [code for code in CODES if code.startswith(tuple(select))]
    return [RULES_BY_CODE[c] for c in chosen if not c.startswith(tuple(ignore))]


class Linter:
    """Runs a fixed set of rules over sources, trees and paths.

    ``rules`` are rule classes or their codes; codes are imported (with
    the analysis they need) only when a file some rule's prefilter admits
    comes, so a run over files that cannot match never pays for them.
    ``reduce=False`` parses whole files even where the module-class
    prefilter could skip definitions; ``prefilter=False`` also runs every
    rule on every file, whatever its text (the tests compare all three:
    a prefilter may only save work, never lose a finding).
    """

    def __init__(
        self,
        rules: Iterable[type[Rule] | str],
        ignore: Sequence[str] = (),
        reduce: bool = True,
        prefilter: bool = True,
    ) -> None:
        self._chosen = list(rules)
        self._rules: list[Rule] | None = None
        self._ignore = tuple(ignore)
        self._reduce = reduce and prefilter
        self._prefilter = prefilter
        self._filters: tuple[Any, ...] | None = None

    @property
    def rules(self) -> list[Rule]:
        """The rules, instantiated (and imported) on first use."""
        if self._rules is None:
            from wnlint.rules import RULES_BY_CODE

            self._rules = [
                (RULES_BY_CODE[rule] if isinstance(rule, str) else rule)()
                for rule in self._chosen
            ]
        return self._rules

    # -- entry points ----------------------------------------------------
    def lint_tree(
        self, tree: ast.Module, source: str, path: str = "<string>"
    ) -> list[Diagnostic]:
        """Findings in an already parsed module (no ``# noqa`` applied)."""
        data = source.encode("utf-8", "surrogatepass")
        rules = self._admitted(data, _disk_path(path))
        if not rules:
            return []
        try:
            return self._run(rules, tree, source_lines(source), path)
        except _TooDeep:
            from wnlint.engine import deepstack

            return deepstack.run(self.lint_tree, tree, source, path)

    def lint_bytes(
        self, data: bytes, path: str, honor_noqa: bool = True, fixes: bool = False
    ) -> list[Diagnostic]:
        """Findings in one file's raw bytes, parse errors included; with
        ``fixes``, each diagnostic carries its rule's fix (unbuilt). Code
        nested deeper than the recursion limit allows is linted again on a
        deep stack (:mod:`wnlint.engine.deepstack`)."""
        try:
            return self._lint_bytes(data, path, honor_noqa, fixes)
        except _TooDeep:
            from wnlint.engine import deepstack

            return deepstack.run(self._lint_bytes, data, path, honor_noqa, fixes)

    def _lint_bytes(
        self, data: bytes, path: str, honor_noqa: bool, fixes: bool
    ) -> list[Diagnostic]:
        if b"\x00" in data:  # Python reads no NUL byte: a binary file
            reason = "cannot parse: the file holds null bytes (not Python source)"
            return self._system(Diagnostic(path, 1, 1, "WN001", reason))
        rules = self._admitted(data, _disk_path(path))
        if not rules:
            return []
        try:
            parsed = self._parse(data, rules, path)
            if parsed is None:
                return []
            tree, reduced, plan = parsed
            text = decode_source(data)
            # Fixes edit ``text`` at positions read from the cut: they are
            # checked against it (fix.mismatch) before they apply.
            seen = decode_source(reduced) if fixes and reduced is not data else None
        except (SyntaxError, ValueError, UnicodeError) as exc:
            return self._system(_parse_error(path, exc))
        except (RecursionError, MemoryError):
            error = Diagnostic(path, 1, 1, "WN001", "cannot parse: nested too deeply")
            return self._system(error)
        lines = source_lines(text)
        found = self._run(rules, tree, lines, path, fixes, seen)
        if found and reduced is not data:
            # Findings in a cut of a file that does not parse whole would be
            # findings flake8 never reports (it runs no plugin on such a
            # file): the parse error is the answer, as there. Only files
            # with findings pay for learning it.
            whole = _whole_file_error(data, plan, path)
            if whole is not None:
                return self._system(whole)
        if honor_noqa and found:
            # Asked only of files with findings: most parsed files have none.
            from wnlint.engine import noqa

            if noqa.file_is_ignored(lines):
                return []
            found = _drop_suppressed(found, lines)
        return found

    def _admitted(self, data: bytes, path: str | None = None) -> list[Rule]:
        """Rules whose prefilter admits ``data`` (each prefilter asked once);
        ``path`` is the file on disk, when there is one."""
        if not self._prefilter:
            return self.rules
        if self._rules is None and not prefilter.any_admits(
            data, path, self._declared_filters()
        ):
            return []  # settled before any rule is imported
        verdicts: dict[int, bool] = {}
        admitted = []
        for rule in self.rules:
            key = id(rule.prefilter)
            if key not in verdicts:
                verdicts[key] = rule.prefilter.file_may_match(data, path)
            if verdicts[key]:
                admitted.append(rule)
        return admitted

    def _declared_filters(self) -> tuple[Any, ...]:
        """The prefilters the chosen rules declare, each once: read from the
        catalog for rules chosen by code, so no rule is imported."""
        if self._filters is None:
            from wnlint.rules import info

            found: dict[int, Any] = {}
            for rule in self._chosen:
                if isinstance(rule, str):
                    described = info(rule)
                    if described is None:
                        raise KeyError(rule)
                    chosen = getattr(prefilter, described.prefilter)
                else:
                    chosen = rule.prefilter
                found.setdefault(id(chosen), chosen)
            self._filters = tuple(found.values())
        return self._filters

    def _parse(
        self, data: bytes, rules: list[Rule], path: str
    ) -> tuple[ast.Module, bytes, _Plan | None] | None:
        """Parse only what the rules can use (None: nothing can match); the
        whole file when in doubt. Returns the tree, the bytes parsed and,
        for a cut, what was kept."""
        filters = {id(r.prefilter): r.prefilter for r in rules}.values()
        if self._reduce:
            segments = cutting.split(data)
            plans = [f.keep(data, segments, _disk_path(path)) for f in filters]
            plans = [plan for plan in plans if plan is not None]
            if not plans:
                return None
            keep = [any(flags) for flags in zip(*plans)]
            reduced = cutting.reduce_source(data, keep, segments)
            if reduced is not data:
                try:
                    return _parsed(reduced, path), reduced, (keep, segments)
                except (SyntaxError, ValueError):
                    pass  # a cut inside a string: parse the whole file
        return _parsed(data, path), data, None

    def lint_file(self, path: str) -> list[Diagnostic]:
        try:
            data = sources.read_source(path)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            return self._system(
                Diagnostic(path, 1, 1, "WN002", f"cannot read: {reason}")
            )
        return self.lint_file_bytes(data, path)

    def lint_file_bytes(self, data: bytes, path: str) -> list[Diagnostic]:
        """Findings in a file's bytes as stored at ``path``: a Jupyter
        notebook's code cells when ``path`` ends in ``.ipynb`` (a file that
        is not one is a WN001), else Python source."""
        if not path.endswith(NOTEBOOK_SUFFIX):
            return self.lint_bytes(data, path)  # without importing json
        from wnlint.engine import notebook  # it imports this module

        try:
            return notebook.lint(self, data, path)
        except notebook.NotebookError as exc:
            return self._system(exc.diagnostic(path))

    def lint_paths(self, paths: Sequence[str], jobs: int = 1) -> Report:
        """Lint every file under ``paths``; ``jobs > 1`` uses that many
        processes when the run is large enough to repay starting them."""
        # Here only: linting one file (flake8's plugin) never loads it.
        from wnlint.engine.runner import discover, lint_files

        return lint_files(self, list(discover(paths)), jobs)

    # -- internals -------------------------------------------------------
    def _run(
        self,
        rules: list[Rule],
        tree: ast.Module,
        lines: list[str],
        path: str,
        fixes: bool = False,
        seen: str | None = None,
    ) -> list[Diagnostic]:
        import dataclasses  # loaded with the rules: LazyFix is one

        from wnlint.engine import deepstack
        from wnlint.facts.analysis import FileAnalysis

        try:
            analysis = FileAnalysis(tree, _disk_path(path))
        except RecursionError:
            if not deepstack.active():
                raise _TooDeep from None
            error = Diagnostic(path, 1, 1, "WN003", "internal error: nested too deeply")
            return self._system(error)
        out: list[Diagnostic] = []
        for rule in rules:
            try:
                findings = list(rule.check(analysis))
            except RecursionError:
                if not deepstack.active():
                    raise _TooDeep from None
                message = f"internal error in {rule.code}: nested too deeply"
                out.extend(self._system(Diagnostic(path, 1, 1, "WN003", message)))
                continue
            except Exception as exc:  # a rule bug must not end the run
                message = (
                    f"internal error in {rule.code}: {exc.__class__.__name__}: {exc}"
                )
                out.extend(self._system(Diagnostic(path, 1, 1, "WN003", message)))
                continue
            for f in findings:
                col = _char_col(lines, f.line, f.col) + 1
                fix = f.fix if fixes else None
                if fix is not None and seen is not None:
                    fix = dataclasses.replace(fix, seen=seen)
                end_col = None
                if f.end_line is not None and f.end_col is not None:
                    end_col = _char_col(lines, f.end_line, f.end_col) + 1
                out.append(
                    Diagnostic(
                        path,
                        f.line,
                        col,
                        rule.code,
                        f.message,
                        fix,
                        end_line=f.end_line if end_col is not None else None,
                        end_col=end_col,
                        cites=f.cites,
                        unfixable=f.fix is None or f.fix.declines,
                        with_migration=f.fix is not None and f.fix.with_migration,
                    )
                )
        out.sort(key=lambda d: (d.line, d.col, d.code))
        return out

    def _system(self, diagnostic: Diagnostic) -> list[Diagnostic]:
        if diagnostic.code.startswith(self._ignore) and self._ignore:
            return []
        return [diagnostic]


class _TooDeep(Exception):
    """A walk ran out of recursion on the default stack: lint on a deep one."""


def _disk_path(path: str) -> str | None:
    """``path`` when it names a file (not ``<string>`` or stdin)."""
    return path if os.path.isfile(path) else None


def _char_col(lines: list[str], line: int, byte_col: int) -> int:
    """``ast`` columns count UTF-8 bytes; editors and flake8 users count characters."""
    from wnlint.facts.syntax import char_col

    if not 0 < line <= len(lines):
        return byte_col
    return char_col(lines[line - 1], byte_col)


#: What a cut kept: per segment, and the segments.
_Plan = tuple[list[bool], list[cutting.Segment]]


def _parsed(data: bytes, path: str) -> ast.Module:
    from wnlint.facts.syntax import parse_quietly

    return parse_quietly(data, path)


def _whole_file_error(data: bytes, plan: _Plan | None, path: str) -> Diagnostic | None:
    """The WN001 of a file whose cut parsed, if the whole file does not.

    What the cut left out is compiled on its own (:func:`cutting.cut_out`),
    to bytecode, which builds no tree: a fraction of parsing the whole. Only
    where that fails is the whole file parsed, for the error flake8 would
    give: the compiler refuses some code that parses (``break`` outside a
    loop), and flake8 reports only what the parser refuses."""
    rest = None if plan is None else cutting.cut_out(data, *plan)
    if rest is not None and _compile_error(rest, path, 0) is None:
        return None
    exc = _compile_error(data, path, _ONLY_AST)
    if isinstance(exc, (SyntaxError, ValueError)):
        return _parse_error(path, exc)
    return None  # it parses, or hit Python's own limits (the cut parsed)


def _compile_error(data: bytes, path: str, flags: int) -> Exception | None:
    """What compiling ``data`` raises (None: it compiles), without the
    compiler's warnings about the checked code (see :func:`_parsed`)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, path, "exec", flags, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return exc
    return None


def _parse_error(path: str, exc: Exception) -> Diagnostic:
    if isinstance(exc, SyntaxError):
        line = exc.lineno or 1
        col = exc.offset or 1
        return Diagnostic(
            path, max(line, 1), max(col, 1), "WN001", f"cannot parse: {exc.msg}"
        )
    return Diagnostic(path, 1, 1, "WN001", f"cannot parse: {exc}")


def _drop_suppressed(found: list[Diagnostic], lines: list[str]) -> list[Diagnostic]:
    from wnlint.engine import noqa

    if not noqa.may_suppress(lines, {d.code for d in found}):
        return found  # the common case, and tokenizing is the slow part
    by_line = noqa.noqa_text_by_line(lines, upto=max(d.line for d in found))
    kept = []
    for d in found:
        text = by_line.get(d.line)
        if text is None:
            text = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
        if not noqa.is_suppressed(d.code, text):
            kept.append(d)
    return kept
