"""What every output format reads of a finding, and its fix as positions.

A module of its own so that the human layouts (:mod:`wnlint.cli.output`) and
the machine formats (:mod:`wnlint.cli.formats`) read one answer and never
disagree: a finding's rule name, its notebook cell (:func:`cell_of`), where
it ends, whether and how it can be fixed (:func:`fix_level`), and its fix
as the formats show it (:class:`FixInfo`: edits in 1-based lines and
character columns, which :class:`Offsets` computes from a fix's character
offsets). Nothing here writes anything or imports a format.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from wnlint import rules as registry  # the rules load when first used
from wnlint.engine.linter import (
    SYSTEM_CODES,
    Diagnostic,
    decode_source,
    source_lines,
)
from wnlint.facts.sources import read_source

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
    ``[*]`` marks, ``--statistics``, the summary) reads this one answer,
    through :func:`finding_fix_level`."""
    rule = registry.info(code)
    if rule is None or rule.fix_safety is None:
        return None
    return "safe" if rule.fix_safety == "safe" else "unsafe"


def fix_title(code: str) -> str:
    rule = registry.info(code)
    return "" if rule is None else rule.fix_title


def finding_fix_level(d: Diagnostic) -> str | None:
    """:func:`fix_level` of one finding: None for one its rule reported with
    no fix (a WN102 store on a wrapped module, a hook's), whatever fixes the
    rule has for others."""
    return None if d.unfixable else fix_level(d.code)


def fixable(d: Diagnostic) -> bool:
    return finding_fix_level(d) is not None


def settle_fixes(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The findings of a whole report with the fixes ``fix`` would apply to
    them: a finding whose fix applies only beside a migration of weight
    norm in another file (``with_migration``: the removers of a file that
    applies none) has none in a report with no weight norm to migrate."""
    from wnlint.fixing.migration_notes import would_migrate_weight_norm

    others = (d.code for d in diagnostics if fixable(d) and not d.with_migration)
    if would_migrate_weight_norm(others):
        return diagnostics
    return [d.replace(unfixable=True) if d.with_migration else d for d in diagnostics]


def read_file(path: str) -> bytes | None:
    try:
        return read_source(path)
    except OSError:
        return None


def decode_or_none(data: bytes) -> str | None:
    try:
        return decode_source(data)
    except (SyntaxError, UnicodeError, LookupError):
        return None


# -- a fix's edits as positions ------------------------------------------------
class Offsets:
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
