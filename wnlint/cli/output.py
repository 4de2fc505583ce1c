"""How findings are written: ``--output-format`` and ``--statistics``.

The command line parses options and hands a list of
:class:`~wnlint.engine.linter.Diagnostic` to :func:`write_report`; every layout
lives here, so the front ends stay thin and never disagree on a position.

* ``text``: flake8's ``path:line:col: CODE message`` (colours only on a
  terminal), with ``[*]`` between the code and the message when the rule has
  a fix (ruff's mark; otherwise the bytes flake8 prints for the plugin);
  ``check`` ends its summary with how many ``wnlint fix`` can repair
  (:func:`write_fixable_summary`);
* ``full``: ``text`` plus the source lines with a caret under the finding
  and, when the rule has a fix, its title (ruff's ``full``);
* ``json``: a list of objects, one per finding (the schema is in the
  README, and :func:`json_object` builds one);
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
its line counts from). Every layout reads it through :func:`cell_of`:
``text`` prints ``path:cell N:line:col``, ``full`` shows that cell's lines,
``json`` fills ``cell`` (null for a ``.py`` file), SARIF puts it in the
result's ``properties``, and ``github`` prefixes the message with
``cell N: ``.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from wnlint import __version__
from wnlint import rules as registry  # the rules load when first used
from wnlint.cli.docs import REPOSITORY_URL, rule_url
from wnlint.engine.linter import (
    SYSTEM_CODES,
    Diagnostic,
    decode_source,
    severity_of,
    source_lines,
)
from wnlint.facts.sources import read_source

if TYPE_CHECKING:  # libcst is imported only when fixes are asked for
    from wnlint.engine.linter import Linter

FORMATS = ("text", "full", "json", "sarif", "github")
#: The formats whose findings carry their fixes' edits.
FORMATS_WITH_EDITS = frozenset({"json", "sarif"})
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"

#: Reads a checked file's bytes again (None: it cannot be read any more).
Reader = Callable[[str], "bytes | None"]
Position = tuple[int, int]


class EditInfo(NamedTuple):
    """Replace the text from ``start`` to ``end`` (line, 1-based character
    column; the end exclusive) with ``content``."""

    content: str
    start: Position
    end: Position


class FixInfo(NamedTuple):
    """A finding's fix as the machine-readable formats show it."""

    applicability: str
    message: str
    edits: tuple[EditInfo, ...]
    #: A whole-file rewrite (the WN301/WN302 migration): one fix repairs
    #: every finding of its kind in the file, so they all carry the same
    #: edits, to be applied once.
    whole_file: bool = False


#: A finding's identity within its file, to attach its fix.
FixKey = tuple[str, int, int, str]
Fixes = dict[FixKey, "FixInfo | None"]


def fix_key(d: Diagnostic) -> FixKey:
    return (d.path, d.line, d.col, d.code)


# -- colours ---------------------------------------------------------------
def _json(value: object) -> str:
    """``value`` as indented JSON (imported here: text output needs none)."""
    import json

    return json.dumps(value, indent=2)


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


# -- what every format needs -------------------------------------------------
def cell_of(d: Diagnostic) -> int | None:
    """The notebook cell the finding's line counts from, if any."""
    return getattr(d, "cell", None)


def rule_name(code: str) -> str:
    rule = registry.info(code)
    if rule is not None:
        return rule.name
    return SYSTEM_CODES[code][0] if code in SYSTEM_CODES else ""


def end_of(d: Diagnostic) -> Position:
    """Where the finding ends; a point finding ends where it starts."""
    if d.end_line is None or d.end_col is None:
        return (d.line, d.col)
    return (d.end_line, d.end_col)


def fix_level(code: str) -> str | None:
    """What it takes to fix a finding of ``code``, by its rule's declared
    fix safety: ``"safe"`` (``wnlint fix``), ``"unsafe"`` (``--unsafe-fixes``;
    a rule whose fixes are safe or unsafe counts here, since only building
    the fix tells) or None (no fix). Every count of fixable findings (the
    ``[*]`` marks, ``--statistics``, the summary) reads this one answer."""
    rule = registry.info(code)
    if rule is None or rule.fix_safety is None:
        return None
    return "safe" if rule.fix_safety == "safe" else "unsafe"


def _fix_title(code: str) -> str:
    rule = registry.info(code)
    return "" if rule is None else rule.fix_title


def _has_fix(code: str) -> bool:
    return fix_level(code) is not None


def read_file(path: str) -> bytes | None:
    try:
        return read_source(path)
    except OSError:
        return None


def _decode(data: bytes) -> str | None:
    try:
        return decode_source(data)
    except (SyntaxError, UnicodeError, LookupError):
        return None


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
    from wnlint.rules.fixes import Fix

    linter_for = linter if callable(linter) else (lambda _: linter)
    fixes: Fixes = {}
    # A notebook's positions are in its cells, not in the file's JSON text:
    # its findings are shown without edits (``wnlint fix`` rewrites cells).
    paths = list(
        dict.fromkeys(
            d.path for d in diagnostics if _has_fix(d.code) and d.cell is None
        )
    )
    for path in paths:
        data = read(path)
        text = None if data is None else _decode(data)
        if data is None or text is None:
            continue
        try:
            built = build_fixes(data, path, linter_for(path))
        except Exception:  # shown without a fix; `fix` reports the failure
            continue
        source = _Offsets(text)
        for d, fix in built:
            if isinstance(fix, Fix) and fix.edits:
                fixes[fix_key(d)] = FixInfo(
                    fix.applicability.value,
                    _fix_title(d.code),
                    source.edits(fix.edits, whole=fix.alone),
                    whole_file=fix.alone,
                )
    return fixes


class _Offsets:
    """Character offsets of one text as (line, 1-based column) positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = source_lines(text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        if line >= len(self.lines):  # the very end of the text
            if self.lines and not self.lines[-1].endswith(("\n", "\r")):
                return (len(self.lines), len(self.lines[-1]) + 1)
            return (len(self.lines) + 1, 1)
        return (line + 1, offset - self.starts[line] + 1)

    def edits(self, edits: Iterable[Any], whole: bool) -> tuple[EditInfo, ...]:
        spans = [(e.start, e.end, e.new) for e in edits]
        if whole:
            spans = [
                s for start, end, new in spans for s in self._hunks(start, end, new)
            ]
        return tuple(
            EditInfo(new, self.position(start), self.position(end))
            for start, end, new in sorted(spans)
        )

    def _hunks(self, start: int, end: int, new: str) -> list[tuple[int, int, str]]:
        """A whole-file rewrite as the line hunks it changes: each edit
        then shows what changes, and applying them all gives the rewrite."""
        if (start, end) != (0, len(self.text)):
            return [(start, end, new)]
        old_lines = self.lines
        new_lines = source_lines(new)
        import difflib  # only where fixes are shown

        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        news = [0]
        for line in new_lines:
            news.append(news[-1] + len(line))
        return [
            (self.starts[i1], self.starts[i2], new[news[j1] : news[j2]])
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
            if tag != "equal"
        ]


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
        objects = [json_object(d, fixes) for d in diagnostics]
        stream.write(_json(objects) + "\n")
    elif fmt == "sarif":
        log = sarif_log(diagnostics, fixes, cwd or os.getcwd())
        stream.write(_json(log) + "\n")
    elif fmt == "github":
        for d in diagnostics:
            stream.write(github_annotation(d) + "\n")
    else:
        raise ValueError(f"unknown output format: {fmt!r}")


def _where(d: Diagnostic) -> str:
    cell = cell_of(d)
    where = d.path if cell is None else f"{d.path}:cell {cell}"
    return f"{where}:{d.line}:{d.col}"


#: Between the code and the message in ``text``: the rule has a fix.
FIXABLE_MARK = "[*]"


def _headline(d: Diagnostic, style: _Style, mark: bool = False) -> str:
    """``path:line:col: CODE message``; with ``mark`` (``text`` only, so
    that other one-line layouts stay flake8's), ``[*]`` before the message
    of a finding whose rule has a fix."""
    code = style.code(d.code)
    if mark and _has_fix(d.code):
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
        if _has_fix(d.code):
            title = _fix_title(d.code)
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
                text = None if data is None else _decode(data)
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


def _location(position: Position) -> dict[str, int]:
    return {"row": position[0], "column": position[1]}


def json_object(d: Diagnostic, fixes: Fixes | None = None) -> dict[str, Any]:
    """One finding of ``--output-format json`` (the README documents it)."""
    fix = (fixes or {}).get(fix_key(d))
    return {
        "code": d.code,
        "name": rule_name(d.code),
        "severity": severity_of(d.code),
        "message": d.message,
        "filename": d.path,
        "cell": cell_of(d),
        "location": _location((d.line, d.col)),
        "end_location": _location(end_of(d)),
        "fix": None
        if fix is None
        else {
            "applicability": fix.applicability,
            "message": fix.message,
            "whole_file": fix.whole_file,
            "edits": [
                {
                    "content": e.content,
                    "location": _location(e.start),
                    "end_location": _location(e.end),
                }
                for e in fix.edits
            ],
        },
        "url": rule_url(d.code),
    }


# -- SARIF -------------------------------------------------------------------------
def sarif_rules() -> list[dict[str, Any]]:
    """Every code's reporting descriptor: id, name, descriptions, help."""
    rules = []
    for code, rule in registry.RULES_BY_CODE.items():
        what = rule.doc_sections().get("What it does", rule.summary)
        doc = rule.documentation()
        rules.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": _sentence(rule.summary)},
                "fullDescription": {"text": what},
                "help": {"text": doc, "markdown": doc},
                "helpUri": rule_url(code),
                "defaultConfiguration": {"level": severity_of(code)},
                "properties": {
                    "fix_safety": rule.fix_safety or "none",
                    "default_enabled": registry.default_enabled(code),
                },
            }
        )
    for code, (name, text) in SYSTEM_CODES.items():
        rules.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": _sentence(text.split(". ")[0])},
                "fullDescription": {"text": text},
                "help": {"text": text},
                "helpUri": rule_url(code),
                "defaultConfiguration": {"level": severity_of(code)},
            }
        )
    return rules


def _sentence(text: str) -> str:
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}"


def artifact_location(path: str, cwd: str) -> dict[str, str]:
    """A file as SARIF's ``artifactLocation``: relative to ``%SRCROOT%`` (the
    working directory) when it lies under it, else an absolute URI."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive
        relative = None
    if relative is None or relative == ".." or relative.startswith(".." + os.sep):
        return {"uri": _file_uri(absolute)}
    return {"uri": _quote(relative.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _quote(path: str) -> str:
    # os.fsencode: a name that is not valid UTF-8 keeps its own bytes.
    from urllib.parse import quote  # SARIF only

    return quote(os.fsencode(path), safe="/")


def _file_uri(absolute: str) -> str:
    posix = absolute.replace(os.sep, "/")
    if not posix.startswith("/"):
        posix = "/" + posix  # C:/x -> /C:/x
    return "file://" + _quote(posix)


def _region(start: Position, end: Position) -> dict[str, int]:
    return {
        "startLine": start[0],
        "startColumn": start[1],
        "endLine": end[0],
        "endColumn": end[1],
    }


def sarif_log(
    diagnostics: Sequence[Diagnostic], fixes: Fixes | None, cwd: str
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run; it validates against the schema
    vendored in ``tests/data``."""
    rules = sarif_rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for d in diagnostics:
        where = artifact_location(d.path, cwd)
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": severity_of(d.code),
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": where,
                        "region": _region((d.line, d.col), end_of(d)),
                    }
                }
            ],
        }
        fix = (fixes or {}).get(fix_key(d))
        if fix is not None:
            result["fixes"] = [
                {
                    "description": {"text": fix.message},
                    "artifactChanges": [
                        {
                            "artifactLocation": where,
                            "replacements": [
                                {
                                    "deletedRegion": _region(e.start, e.end),
                                    "insertedContent": {"text": e.content},
                                }
                                for e in fix.edits
                            ],
                        }
                    ],
                }
            ]
            result["properties"] = {"fix_applicability": fix.applicability}
        cell = cell_of(d)
        if cell is not None:
            result.setdefault("properties", {})["cell"] = cell
        results.append(result)
    root = cwd.replace(os.sep, "/").rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "wnlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": REPOSITORY_URL,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": _file_uri(root)}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


# -- GitHub Actions ----------------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(d: Diagnostic) -> str:
    """An ``::error`` (a bug) or ``::warning`` (a deprecation) workflow
    command: GitHub shows it on the file's line in the pull request and the
    run summary, graded as the code's severity."""
    end_line, end_col = end_of(d)
    properties = {
        "file": d.path[2:] if d.path.startswith("./") else d.path,
        "line": str(d.line),
        "col": str(d.col),
        "endLine": str(end_line),
        "endColumn": str(end_col),
        "title": f"{d.code} {rule_name(d.code)}".strip(),
    }
    joined = ",".join(f"{k}={_escape_property(v)}" for k, v in properties.items())
    cell = cell_of(d)
    message = d.message if cell is None else f"cell {cell}: {d.message}"
    return f"::{severity_of(d.code)} {joined}::{_escape_data(message)}"


# -- --statistics and --show-fixes ---------------------------------------------------
def write_statistics(
    diagnostics: Sequence[Diagnostic], fmt: str, stream: TextIO
) -> None:
    """A count per code, the most frequent first (ruff's ``--statistics``):
    ``count code [*] name`` in text, where ``[*]`` marks a rule with a fix;
    a list of objects in ``json``."""
    counts = Counter(d.code for d in diagnostics)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if fmt == "json":
        objects = [
            {
                "code": code,
                "name": rule_name(code),
                "count": count,
                "fixable": _has_fix(code),
            }
            for code, count in rows
        ]
        stream.write(_json(objects) + "\n")
        return
    width = max((len(str(count)) for _, count in rows), default=1)
    for code, count in rows:
        mark = "[*]" if _has_fix(code) else "[ ]"
        stream.write(f"{count:>{width}}\t{code}\t{mark} {rule_name(code)}\n")


def fixable_counts(diagnostics: Iterable[Diagnostic]) -> tuple[int, int]:
    """How many findings ``wnlint fix`` repairs, and how many more it
    repairs with ``--unsafe-fixes`` (by :func:`fix_level`: their sum is the
    count of ``--statistics``' fixable codes)."""
    levels = Counter(fix_level(d.code) for d in diagnostics)
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
