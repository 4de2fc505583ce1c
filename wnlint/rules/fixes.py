"""A finding's fix: what it edits, how safe it is, and how it is built.

A rule attaches a :class:`LazyFix` to the finding that needs it, as ruff and
Fixit do. ``check`` never builds it; ``fix`` does, on the same analysis that
produced the finding, so a fix can never target a different place than the
finding it repairs. A fix is a set of character-span edits of the original
source (everything outside them is kept byte for byte), or, for a
whole-file rewrite such as the legacy-API migration, one edit spanning the
file, marked to apply alone.
"""

from __future__ import annotations

import ast
import enum
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from wnlint.facts.syntax import char_col


class Applicability(enum.Enum):
    """ruff's three levels: what ``fix`` may apply without being asked."""

    #: Keeps the exact meaning: applied by default.
    SAFE = "safe"
    #: May change runtime behaviour or the state_dict: ``--unsafe-fixes``.
    UNSAFE = "unsafe"
    #: Shown as a suggestion, never applied.
    DISPLAY_ONLY = "display-only"


#: An ``ast`` span: (line, byte column, end line, end byte column).
Span = tuple[int, int, int, int]


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` (character offsets) with ``new``."""

    start: int
    end: int
    new: str
    #: The ``ast`` span of the node the edit was computed from, and whether
    #: the edit covers whole lines of it: what :func:`mismatch` checks
    #: against the text the rule analysed.
    anchor: Span | None = field(default=None, compare=False)
    whole_lines: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Fix:
    """The repair of one finding (or, when ``alone``, of a whole file)."""

    applicability: Applicability
    edits: tuple[Edit, ...]
    #: A whole-file rewrite: applied by itself in its pass, never merged
    #: with other fixes.
    alone: bool = False
    #: The file the edits are to, when not the finding's own: a sibling
    #: module that holds the code to repair (an init helper it imports),
    #: and that file's text as the edits were computed on it.
    path: str | None = None
    base: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Declined:
    """A fix that was looked for and refused, with the reason for the user."""

    reason: str


class FixContext:
    """What a fix is built against: the file's text as a :class:`Source`,
    and the codes enabled in this run (a fix that repairs several codes at
    once applies only when they all are)."""

    def __init__(
        self,
        source: Source,
        enabled: frozenset[str],
        findings: frozenset[tuple[int, int, str]] = frozenset(),
        path: str | None = None,
        removers_alone: bool = False,
    ) -> None:
        self.source = source
        #: The file on disk, when there is one: a fix that must know what
        #: sibling modules do (whether a pickled class is normed there)
        #: reads them from its directory.
        self.path = path
        self.enabled = enabled
        #: (line, column, code) of every finding of the file not silenced
        #: by a noqa comment: a whole-file fix repairs all of its kind or none.
        self.findings = findings
        #: The run migrated weight norm in some file: a file that only
        #: removes it (from modules normed elsewhere) may be migrated too.
        self.removers_alone = removers_alone
        #: Results shared by the findings of one file (a whole-file rewrite
        #: is built once, however many findings it repairs).
        self.memo: dict[object, object] = {}


Builder = Callable[[FixContext], "Fix | Declined | None"]


@dataclass(frozen=True)
class LazyFix:
    """A finding's fix, built only when ``fix`` asks.

    ``applicability`` is declared up front when the rule knows it without
    building (``fix`` then never builds an unsafe fix it may not apply);
    None means only the built fix knows.
    """

    build: Builder
    applicability: Applicability | None = None
    #: Building it is a whole-file rewrite: the ``--unsafe-fixes`` hint
    #: counts it by its declared level instead of building it.
    expensive: bool = False
    #: The text the rule analysed when it differs from the file's (the
    #: prefilter's cut): each edit is checked against it before applying.
    seen: str | None = None
    #: The rule knows building it declines (it is built only to say why):
    #: ``check`` counts the finding as having no fix.
    declines: bool = False
    #: It builds only in a run that migrates weight norm in another file
    #: (:attr:`FixContext.removers_alone`): ``check`` counts the finding as
    #: fixable only when its report has weight norm to migrate.
    with_migration: bool = False


class Source:
    """A file's text with ``ast`` positions mapped to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Python's line breaks: \n, \r\n and a lone \r (never a form feed).
        self.lines = io.StringIO(text, newline="").readlines()
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        first = self.lines[0] if self.lines else "\n"
        self.newline = first[len(first.rstrip("\r\n")) :] or "\n"

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def offset(self, line: int, byte_col: int) -> int:
        return self.starts[line - 1] + char_col(self.line_text(line), byte_col)

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        return self.text[self.start(node) : self.end(node)]

    def replace(self, node: ast.AST, new: str) -> Edit:
        return Edit(self.start(node), self.end(node), new, span_of(node))

    def span_text(self, span: Span, whole_lines: bool = False) -> str:
        """The text at an ``ast`` span (its whole lines, with ``whole_lines``)."""
        line, col, end_line, end_col = span
        if whole_lines:
            return self.text[self.starts[line - 1] : self.line_end(end_line)]
        return self.text[self.offset(line, col) : self.offset(end_line, end_col)]

    def indent(self, stmt: ast.stmt) -> str:
        """The statement's indentation, without the form feeds that Python
        allows (and ignores) at the start of a line."""
        line = self.lines[stmt.lineno - 1].lstrip("\f")
        return line[: len(line) - len(line.lstrip(" \t"))]

    def line_end(self, line: int) -> int:
        """Offset just after line ``line`` (and its line break)."""
        return self.starts[line]

    def owns_lines(self, stmt: ast.stmt) -> bool:
        """The statement is alone on its lines (a trailing comment allowed)."""
        first = self.lines[stmt.lineno - 1]
        end_line: int = stmt.end_lineno  # type: ignore[assignment]
        last = self.lines[end_line - 1]
        before = first[: self.start(stmt) - self.starts[stmt.lineno - 1]]
        after = last[self.end(stmt) - self.starts[end_line - 1] :]
        return not before.strip() and (not after.strip() or after.lstrip()[0] == "#")

    def delete(self, stmt: ast.stmt) -> Edit | None:
        """Remove a statement's whole lines, or None when it shares them."""
        if not self.owns_lines(stmt):
            return None
        return Edit(
            self.starts[stmt.lineno - 1],
            self.line_end(stmt.end_lineno),  # type: ignore[arg-type]
            "",
            span_of(stmt),
            whole_lines=True,
        )

    def insert_after(self, stmt: ast.stmt, lines: Iterable[str]) -> Edit:
        """New lines after ``stmt``, at its indentation (empty ones stay empty)."""
        at = self.line_end(stmt.end_lineno)  # type: ignore[arg-type]
        lead = "" if self.text[at - 1 : at] in ("\n", "\r") else self.newline
        indent = self.indent(stmt)
        body = "".join(
            f"{indent}{line}{self.newline}" if line else self.newline for line in lines
        )
        return Edit(at, at, lead + body, span_of(stmt), whole_lines=True)

    def insert_before(self, stmt: ast.stmt, text: str) -> Edit:
        """``text`` (whole lines, already indented) before ``stmt``'s line."""
        at = self.starts[stmt.lineno - 1]
        return Edit(at, at, text, span_of(stmt), whole_lines=True)

    def whole(self, new: str) -> Edit:
        """Replace the entire text (a whole-file rewrite)."""
        return Edit(0, len(self.text), new)


def span_of(node: ast.AST) -> Span:
    return (
        node.lineno,  # type: ignore[attr-defined]
        node.col_offset,  # type: ignore[attr-defined]
        node.end_lineno,  # type: ignore[attr-defined]
        node.end_col_offset,  # type: ignore[attr-defined]
    )


def mismatch(fix: Fix, source: Source, seen: Source) -> Edit | None:
    """The first edit whose anchor holds other text in ``source`` (the file
    being fixed) than in ``seen`` (what the rule analysed), or None. Rules
    read positions from the analysed tree and edits land in the file: if
    the two ever disagree on where a line is, the edit would hit the wrong
    code and could still parse."""
    for edit in fix.edits:
        if edit.anchor is None:
            continue
        if source.span_text(edit.anchor, edit.whole_lines) != seen.span_text(
            edit.anchor, edit.whole_lines
        ):
            return edit
    return None


class PlainLines:
    """A text with ``\\n`` line ends and no form feeds in front of its
    lines, for tools that read lines otherwise than Python (libcst), and
    the way back to the text's own bytes."""

    def __init__(self, text: str) -> None:
        self.original = io.StringIO(text, newline="").readlines()
        self.lines = [_plain_line(line) for line in self.original]
        self.text = "".join(self.lines)

    @classmethod
    def of(cls, text: str) -> PlainLines | None:
        """The plain text, or None where ``text`` is plain already (``\\r\\n``
        ends are left alone: every tool reads them)."""
        if "\f" not in text and text.count("\r") == text.count("\r\n"):
            return None
        return cls(text)

    def shift(self, line: int) -> int:
        """How many characters the plain text lacks at the start of ``line``."""
        if not 0 < line <= len(self.original):
            return 0
        original = self.original[line - 1]
        return len(original) - len(original.lstrip("\f"))

    def restore(self, new: str) -> str:
        """``new`` (a rewrite of :attr:`text`) with each unchanged line as it
        was in the original, and each new line ended like the line before."""
        import difflib

        lines = _split_n(new)
        out: list[str] = []
        matcher = difflib.SequenceMatcher(None, self.lines, lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                out.extend(self.original[i1:i2])
                continue
            before = self.original[i1 - 1] if i1 else self.original[0]
            end = before[len(before.rstrip("\r\n")) :] or "\n"
            for line in lines[j1:j2]:
                out.append(line[:-1] + end if line.endswith("\n") else line)
        return "".join(out)


def _plain_line(line: str) -> str:
    body = line.lstrip("\f").rstrip("\r\n")
    return body + "\n" if body != line.lstrip("\f") else body


def _split_n(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
