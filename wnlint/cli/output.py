"""How findings are written: ``--output-format`` and ``--statistics``.

The command line parses options and hands a list of
:class:`~wnlint.engine.linter.Diagnostic` to :func:`write_report`; every layout
is reached from here, so the front ends stay thin and never disagree on a
position. The human layouts (``text``, ``full``), ``--statistics`` and the
fix summaries are written here; the machine formats (``json``, ``sarif``,
``github``) in :mod:`wnlint.cli.formats`, imported only when one is asked
for; what every format reads of a finding (its rule's name, cell, end and
fix) is in :mod:`wnlint.cli.findings`.

* ``text``: flake8's ``path:line:col: CODE message`` (colours only on a
  terminal), with ``[*]`` between the code and the message when the finding
  has a fix (ruff's mark; otherwise the bytes flake8 prints for the plugin);
  ``check`` ends its summary with how many ``wnlint fix`` can repair
  (:func:`write_fixable_summary`);
* ``full``: ``text`` plus the source lines with a caret under the finding
  and, when the finding has a fix, its title (ruff's ``full``);
* ``json``: a list of objects, one per finding (the schema is in the
  README, and :func:`~wnlint.cli.formats.json_object` builds one);
* ``sarif``: a SARIF 2.1.0 log for code-scanning services;
* ``github``: GitHub Actions workflow commands, one annotation per finding.

Every format that grades findings takes the grade from the code's severity
(:func:`wnlint.engine.linter.severity_of`): a bug is an ``error`` and a deprecation
(WN301, WN302) a ``warning``, as SARIF's ``level``, as GitHub's
``::error``/``::warning``, and as JSON's ``severity``.

Positions are 1-based lines and 1-based character columns, as in ``text``;
end columns are exclusive (the character after the finding), as in SARIF
and ruff's JSON.

Fixes for ``json`` and ``sarif`` (and ``--show-fixes``) are built by
:func:`offered_fixes`, which needs libcst: it is imported only then, and
only files with a finding of a rule that has a fix are rebuilt.

Notebooks: a diagnostic may carry a ``cell`` attribute (the 1-based cell
its line counts from). Every layout reads it through
:func:`~wnlint.cli.findings.cell_of`:
``text`` prints ``path:cell N:line:col``, ``full`` shows that cell's lines,
``json`` fills ``cell`` (null for a ``.py`` file), SARIF puts it in the
result's ``properties``, and ``github`` prefixes the message with
``cell N: ``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TextIO

from wnlint.cli.findings import (
    Fixes,
    FixInfo,
    Offsets,
    Reader,
    cell_of,
    decode_or_none,
    end_of,
    finding_fix_level,
    fix_key,
    fix_title,
    fixable,
    read_file,
    rule_name,
)
from wnlint.engine.linter import Diagnostic, source_lines

if TYPE_CHECKING:  # libcst is imported only when fixes are asked for
    from wnlint.engine.linter import Linter

FORMATS = ("text", "full", "json", "sarif", "github")
#: The formats whose findings carry their fixes' edits.
FORMATS_WITH_EDITS = frozenset({"json", "sarif"})


# -- colours ---------------------------------------------------------------
def use_color(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Colour only on a terminal: never when ``NO_COLOR`` is set (and not
    empty, as no-color.org says), always when ``FORCE_COLOR`` is."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def path(self, text: str) -> str:
        return self._wrap(text, "1")

    def sep(self, text: str) -> str:
        return self._wrap(text, "36")

    def code(self, text: str) -> str:
        return self._wrap(text, "1;31")

    def caret(self, text: str) -> str:
        return self._wrap(text, "1;31")

    def gutter(self, text: str) -> str:
        return self._wrap(text, "34")

    def help(self, text: str) -> str:
        return self._wrap(text, "1;36")


# -- fixes -------------------------------------------------------------------
def offered_fixes(
    diagnostics: Sequence[Diagnostic],
    linter: Linter | Callable[[str], Linter],
    read: Reader = read_file,
) -> Fixes:
    """Each finding's fix as it stands in the file ``read`` returns (None:
    no fix there, or the rule declined), without applying anything.

    Only files with a finding of a rule that has a fix are linted again and
    their fixes built (libcst is imported here, not before); a file whose
    fixes fail to build simply shows none.
    """
    from wnlint.fixing.fixer import offered_fixes as build_fixes
    from wnlint.fixing.migration_notes import would_migrate_weight_norm
    from wnlint.rules.fixes import Fix

    linter_for = linter if callable(linter) else (lambda _: linter)
    fixes: Fixes = {}
    # A notebook's positions are in its cells, not in the file's JSON text:
    # its findings are shown without edits (``wnlint fix`` rewrites cells).
    paths = list(
        dict.fromkeys(d.path for d in diagnostics if fixable(d) and d.cell is None)
    )
    # As `fix` would: a file that only removes weight norm is migrated in
    # a run that migrates weight norm too.
    alone = would_migrate_weight_norm(d.code for d in diagnostics if fixable(d))
    for path in paths:
        data = read(path)
        text = None if data is None else decode_or_none(data)
        if data is None or text is None:
            continue
        try:
            built = build_fixes(data, path, linter_for(path), alone)
        except Exception:  # shown without a fix; `fix` reports the failure
            continue
        source = Offsets(text)
        for d, fix in built:
            # A fix that edits another file (a sibling's helper) is not
            # one these formats can carry: its edits are not to `path`.
            if isinstance(fix, Fix) and fix.edits and fix.path is None:
                fixes[fix_key(d)] = FixInfo(
                    fix.applicability.value,
                    fix_title(d.code),
                    source.edits(fix.edits, whole=fix.alone),
                    whole_file=fix.alone,
                )
    return fixes


# -- the formats ---------------------------------------------------------------
def write_report(
    diagnostics: Sequence[Diagnostic],
    fmt: str,
    stream: TextIO,
    *,
    color: bool = False,
    fixes: Fixes | None = None,
    read: Reader = read_file,
    cwd: str | None = None,
) -> None:
    """Write ``diagnostics`` to ``stream`` in format ``fmt``.

    ``fixes`` (from :func:`offered_fixes`) fills the ``fix`` of ``json`` and
    the ``fixes`` of ``sarif``; ``read`` gives ``full`` the source lines;
    ``cwd`` is what SARIF's artifact URIs are relative to.
    """
    if fmt == "text":
        style = _Style(color)
        for d in diagnostics:
            stream.write(_headline(d, style, mark=True) + "\n")
    elif fmt == "full":
        _write_full(diagnostics, stream, _Style(color), read)
    elif fmt == "json":
        from wnlint.cli.formats import json_object, to_json

        objects = [json_object(d, fixes) for d in diagnostics]
        stream.write(to_json(objects) + "\n")
    elif fmt == "sarif":
        from wnlint.cli.formats import sarif_log, to_json

        log = sarif_log(diagnostics, fixes, cwd or os.getcwd())
        stream.write(to_json(log) + "\n")
    elif fmt == "github":
        from wnlint.cli.formats import github_annotation

        for d in diagnostics:
            stream.write(github_annotation(d) + "\n")
    else:
        raise ValueError(f"unknown output format: {fmt!r}")


def _where(d: Diagnostic) -> str:
    cell = cell_of(d)
    where = d.path if cell is None else f"{d.path}:cell {cell}"
    return f"{where}:{d.line}:{d.col}"


#: Between the code and the message in ``text``: the finding has a fix.
FIXABLE_MARK = "[*]"


def _headline(d: Diagnostic, style: _Style, mark: bool = False) -> str:
    """``path:line:col: CODE message``; with ``mark`` (``text`` only, so
    that other one-line layouts stay flake8's), ``[*]`` before the message
    of a finding that has a fix (:func:`fixable`)."""
    code = style.code(d.code)
    if mark and fixable(d):
        code += " " + style.help(FIXABLE_MARK)
    if not style.color:
        return f"{_where(d)}: {code} {d.message}"
    cell = cell_of(d)
    sep = style.sep(":")
    parts = [style.path(d.path)]
    if cell is not None:
        parts.append(f"cell {cell}")
    parts += [str(d.line), str(d.col)]
    return f"{sep.join(parts)}{sep} {code} {d.message}"


#: Lines of context above and below a finding in ``full``, as ruff shows.
_CONTEXT = 2


def _write_full(
    diagnostics: Sequence[Diagnostic], stream: TextIO, style: _Style, read: Reader
) -> None:
    sources = _Sources(read)
    for i, d in enumerate(diagnostics):
        if i:
            stream.write("\n")
        stream.write(_headline(d, style) + "\n")
        lines = sources.lines(d)
        if lines and 0 < d.line <= len(lines):
            stream.write(_snippet(d, lines, style))
        if fixable(d):
            title = fix_title(d.code)
            stream.write(f"  {style.gutter('=')} {style.help('help')}: {title}\n")


class _Sources:
    """The lines a finding's position counts in, each file read once: the
    file's own lines or, for a notebook finding (one with a cell), its
    cell's source as the notebook holds it, escapes and all."""

    def __init__(self, read: Reader) -> None:
        self.read = read
        self.files: dict[str, list[str] | None] = {}
        self.cells: dict[str, dict[int, list[str]]] = {}

    def lines(self, d: Diagnostic) -> list[str] | None:
        cell = cell_of(d)
        if cell is None:
            if d.path not in self.files:
                data = self.read(d.path)
                text = None if data is None else decode_or_none(data)
                self.files[d.path] = None if text is None else source_lines(text)
            return self.files[d.path]
        if d.path not in self.cells:
            self.cells[d.path] = self._cells(d.path)
        return self.cells[d.path].get(cell)

    def _cells(self, path: str) -> dict[int, list[str]]:
        from wnlint.engine import notebook  # json, only where a notebook is shown

        data = self.read(path)
        if data is None:
            return {}
        try:
            nb = notebook.read(data)
        except notebook.NotebookError:  # changed since it was checked
            return {}
        return {c.number: source_lines(c.text) for c in nb.cells}


def _snippet(d: Diagnostic, lines: list[str], style: _Style) -> str:
    first = max(1, d.line - _CONTEXT)
    end_line, end_col = end_of(d)
    last = min(len(lines), max(d.line, min(end_line, d.line)) + _CONTEXT)
    width = len(str(last))
    pad = " " * width
    out = [f"{pad} {style.gutter('|')}\n"]
    for number in range(first, last + 1):
        text = lines[number - 1].rstrip("\r\n")
        out.append(f"{style.gutter(str(number).rjust(width) + ' |')} {text}\n")
        if number == d.line:
            start = d.col - 1
            stop = end_col - 1 if end_line == d.line else len(text)
            lead = "".join("\t" if c == "\t" else " " for c in text[:start])
            carets = style.caret("^" * max(1, stop - start) + " " + d.code)
            out.append(f"{pad} {style.gutter('|')} {lead}{carets}\n")
    out.append(f"{pad} {style.gutter('|')}\n")
    return "".join(out)


# -- --statistics and --show-fixes ---------------------------------------------------
def write_statistics(
    diagnostics: Sequence[Diagnostic], fmt: str, stream: TextIO
) -> None:
    """A count per code, the most frequent first (ruff's ``--statistics``):
    ``count code [*] name`` in text, where ``[*]`` marks a rule with a fix;
    a list of objects in ``json``."""
    counts = Counter(d.code for d in diagnostics)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    fixed = {d.code for d in diagnostics if fixable(d)}
    if fmt == "json":
        from wnlint.cli.formats import to_json

        objects = [
            {
                "code": code,
                "name": rule_name(code),
                "count": count,
                "fixable": code in fixed,
            }
            for code, count in rows
        ]
        stream.write(to_json(objects) + "\n")
        return
    width = max((len(str(count)) for _, count in rows), default=1)
    for code, count in rows:
        mark = "[*]" if code in fixed else "[ ]"
        stream.write(f"{count:>{width}}\t{code}\t{mark} {rule_name(code)}\n")


def fixable_counts(diagnostics: Iterable[Diagnostic]) -> tuple[int, int]:
    """How many findings ``wnlint fix`` repairs, and how many more it
    repairs with ``--unsafe-fixes`` (by :func:`fix_level`: their sum is the
    count of ``--statistics``' fixable codes)."""
    levels = Counter(finding_fix_level(d) for d in diagnostics)
    return levels["safe"], levels["unsafe"]


def write_fixable_summary(diagnostics: Sequence[Diagnostic], stream: TextIO) -> None:
    """``check``'s last summary lines: what ``wnlint fix`` can repair (the
    findings marked ``[*]``), then what only ``--unsafe-fixes`` repairs;
    nothing when no finding has a fix."""
    safe, unsafe = fixable_counts(diagnostics)
    if safe:
        stream.write(f"wnlint: {FIXABLE_MARK} {safe} fixable with `wnlint fix`\n")
    if unsafe:
        more = " more" if safe else ""
        stream.write(
            f"wnlint: {FIXABLE_MARK} {unsafe}{more} fixable with "
            "`wnlint fix --unsafe-fixes`\n"
        )


def write_available_fixes(
    diagnostics: Sequence[Diagnostic], fixes: Fixes, stream: TextIO
) -> None:
    """``check --show-fixes``: the findings that ``wnlint fix`` would repair,
    each with its fix's title and applicability."""
    fixable = [(d, fixes[fix_key(d)]) for d in diagnostics if fixes.get(fix_key(d))]
    if not fixable:
        stream.write("No fixes available.\n")
        return
    unsafe = sum(1 for _, f in fixable if f and f.applicability != "safe")
    stream.write(
        f"Fixes available ({len(fixable) - unsafe} safe, {unsafe} with "
        "--unsafe-fixes):\n"
    )
    for d, fix in fixable:
        assert fix is not None
        stream.write(f"  {_where(d)}: {d.code} [{fix.applicability}] {fix.message}\n")


def write_applied_fixes(
    applied: Sequence[tuple[str, Counter]], stream: TextIO, would: bool = False
) -> None:
    """``fix --show-fixes``: what was fixed (or, with ``--diff``, would be),
    per file and code, in ruff's layout."""
    applied = [(path, codes) for path, codes in applied if codes]
    total = sum(sum(codes.values()) for _, codes in applied)
    verb = "Would fix" if would else "Fixed"
    if not total:
        stream.write(f"{verb} nothing.\n")
        return
    noun = "finding" if total == 1 else "findings"
    stream.write(f"{verb} {total} {noun}:\n")
    for path, codes in applied:
        stream.write(f"- {path}:\n")
        for code, count in sorted(codes.items()):
            stream.write(f"    {count} x {code} ({rule_name(code)})\n")
