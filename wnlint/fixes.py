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
from dataclasses import dataclass

from wnlint.syntax import char_col


class Applicability(enum.Enum):
    """ruff's three levels: what ``fix`` may apply without being asked."""

    #: Keeps the exact meaning: applied by default.
    SAFE = "safe"
    #: May change runtime behaviour or the state_dict: ``--unsafe-fixes``.
    UNSAFE = "unsafe"
    #: Shown as a suggestion, never applied.
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` (character offsets) with ``new``."""

    start: int
    end: int
    new: str


@dataclass(frozen=True)
class Fix:
    """The repair of one finding (or, when ``alone``, of a whole file)."""

    applicability: Applicability
    edits: tuple[Edit, ...]
    #: A whole-file rewrite: applied by itself in its pass, never merged
    #: with other fixes.
    alone: bool = False


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


class Source:
    """A file's text with ``ast`` positions mapped to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = io.StringIO(text, newline="").readlines()
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        first = self.lines[0] if self.lines else "\n"
        self.newline = "\r\n" if first.endswith("\r\n") else "\n"

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
        return Edit(self.start(node), self.end(node), new)

    def indent(self, stmt: ast.stmt) -> str:
        line = self.lines[stmt.lineno - 1]
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
        )

    def insert_after(self, stmt: ast.stmt, lines: Iterable[str]) -> Edit:
        """New lines after ``stmt``, at its indentation (empty ones stay empty)."""
        at = self.line_end(stmt.end_lineno)  # type: ignore[arg-type]
        lead = "" if self.text[at - 1 : at] in ("\n", "\r") else self.newline
        indent = self.indent(stmt)
        body = "".join(
            f"{indent}{line}{self.newline}" if line else self.newline for line in lines
        )
        return Edit(at, at, lead + body)

    def insert_before(self, stmt: ast.stmt, text: str) -> Edit:
        """``text`` (whole lines, already indented) before ``stmt``'s line."""
        at = self.starts[stmt.lineno - 1]
        return Edit(at, at, text)

    def whole(self, new: str) -> Edit:
        """Replace the entire text (a whole-file rewrite)."""
        return Edit(0, len(self.text), new)
