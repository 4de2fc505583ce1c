"""A module's top-level statements, and the imports a statement-wise
migration changes in them: libcst's Add/Remove imports visitors run over
the top-level statements that can change the imports or decide them,
joined with marker lines, and are cut apart again at the markers (see
:mod:`wnlint.rules._legacy_statements`).
"""

from __future__ import annotations

import ast
import bisect
import re

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from wnlint.facts.syntax import all_nodes
from wnlint.rules.fixes import Source

#: Prefix of the marker lines between the parts of the file handed to the
#: import visitors; a file that already holds it goes the whole-file way.
CHUNK_MARK = "__wnlint_chunk_"


_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    *((ast.Match,) if hasattr(ast, "Match") else ()),
    *((ast.TryStar,) if hasattr(ast, "TryStar") else ()),
)


#: (start, end) character offsets of a statement rewritten on its own, and
#: where it starts: (line, character column).
Unit = tuple[int, int, int, int]


def splice(text: str, pieces: list[tuple[int, int, str]]) -> str:
    """``text`` with each sorted, disjoint ``(start, end, new)`` replaced,
    in one join (slicing per piece would copy the file once per piece)."""
    out: list[str] = []
    at = 0
    for start, end, new in pieces:
        out.append(text[at:start])
        out.append(new)
        at = end
    out.append(text[at:])
    return "".join(out)


class TopLevel:
    """The module's top-level statements, their lines, and the regions that
    partition the file between them (whole lines: a region runs from the
    line after the previous statement to its own last line, so the comments
    and blank lines above a statement go with it)."""

    def __init__(self, tree: ast.Module, src: Source) -> None:
        self.src = src
        self.stmts = tree.body
        self.first = [_first_line(s) for s in self.stmts]
        #: Per region: the index of its first statement, its last one's,
        #: and its character offsets (a region holds statements that share
        #: a line, like ``import a; import b``).
        self.regions: list[tuple[int, int, int, int]] = []
        line_count = len(src.lines)
        first_index = 0
        for i, stmt in enumerate(self.stmts):
            last_line: int = stmt.end_lineno  # type: ignore[assignment]
            if i + 1 < len(self.stmts) and self.first[i + 1] <= last_line:
                continue  # the next statement starts on this one's line
            start = self.regions[-1][3] if self.regions else 0
            end = src.starts[min(last_line, line_count)]
            self.regions.append((first_index, i, start, end))
            first_index = i + 1
        if self.regions:  # the last region keeps the end of the file
            a, b, start, _ = self.regions[-1]
            self.regions[-1] = (a, b, start, len(src.text))
        self._linenos: dict[int, list[int]] = {}

    def unit(self, node: ast.expr) -> Unit | None:
        """Where ``node`` is rewritten: its innermost simple statement, or
        its top-level statement when it sits in a compound statement's
        header. None when no statement holds it (a position ``ast`` and the
        text disagree on)."""
        i = _holder(self.stmts, self.first, node, top=True)
        if i is None:
            return None
        stmt = self.stmts[i]
        inner = self._innermost(stmt, node)
        src = self.src
        if inner is None:
            start = src.starts[self.first[i] - 1]
            return (start, src.end(stmt), self.first[i], 0)
        start = src.start(inner)
        col = start - src.starts[inner.lineno - 1]
        return (start, src.end(inner), inner.lineno, col)

    def _innermost(self, stmt: ast.stmt, node: ast.expr) -> ast.stmt | None:
        while isinstance(stmt, _COMPOUND):
            for block in _blocks(stmt):
                inner = self._find(block, node)
                if inner is not None:
                    stmt = inner
                    break
            else:
                return None  # in the header
        return stmt

    def _find(self, block: list[ast.stmt], node: ast.expr) -> ast.stmt | None:
        linenos = self._linenos.get(id(block))
        if linenos is None:
            linenos = self._linenos[id(block)] = [s.lineno for s in block]
        i = _holder(block, linenos, node, top=False)
        return None if i is None else block[i]

    def import_line(self, region: int) -> bool:
        """A region that is one import statement alone on its lines: what
        libcst's import block is made of."""
        a, b, _, _ = self.regions[region]
        return a == b and isinstance(self.stmts[a], (ast.Import, ast.ImportFrom))


def _holder(
    stmts: list[ast.stmt], lines: list[int], node: ast.expr, top: bool
) -> int | None:
    """The index of the statement of ``stmts`` (starting on ``lines``) that
    spans ``node``: the last one starting on or before its line, or one
    beside it on that line (``a; b``)."""
    i = bisect.bisect_right(lines, node.lineno) - 1
    while i >= 0:
        if _holds(stmts[i], node, top):
            return i
        if i == 0 or lines[i - 1] != lines[i]:
            return None
        i -= 1
    return None


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _holds(stmt: ast.stmt, node: ast.expr, top: bool) -> bool:
    """``stmt`` spans ``node`` (a top-level one with its decorators)."""
    if top and getattr(stmt, "decorator_list", None):
        start = (_first_line(stmt), 0)
    else:
        start = (stmt.lineno, stmt.col_offset)
    end = (stmt.end_lineno, stmt.end_col_offset)
    return (
        start <= (node.lineno, node.col_offset)
        and (node.end_lineno, node.end_col_offset) <= end
    )


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists a compound statement holds, in source order."""
    blocks = [getattr(stmt, name, None) or [] for name in ("body",)]
    for handler in getattr(stmt, "handlers", None) or []:
        blocks.append(handler.body)
    for case in getattr(stmt, "cases", None) or []:
        blocks.append(case.body)
    blocks += [getattr(stmt, name, None) or [] for name in ("orelse", "finalbody")]
    return [b for b in blocks if b]


def with_imports(
    src: Source,
    top: TopLevel,
    pieces: list[tuple[int, int, str]],
    context: CodemodContext,
    names: set[str],
    skip: set[int],
) -> str | None:
    """The rewritten text with libcst's import changes, the import visitors
    run over only the top-level statements that can change or decide them
    (see the comment above :func:`by_statement`)."""
    regions = top.regions
    text = splice(src.text, pieces)
    # Region boundaries in the rewritten text: no piece crosses one.
    bounds: list[int] = []
    shift = 0
    k = 0
    for _, _, start, _ in regions:
        while k < len(pieces) and pieces[k][1] <= start:
            shift += len(pieces[k][2]) - (pieces[k][1] - pieces[k][0])
            k += 1
        bounds.append(start + shift)
    bounds.append(len(text))
    runs = _import_chunks(top, names, skip)
    newline = src.newline
    parts: list[str] = []
    for j, (a, b) in enumerate(runs):
        if j:
            parts.append(f"{CHUNK_MARK}{j}__ = 0{newline}")
        parts.append(text[bounds[a] : bounds[b + 1]])
    try:
        module = cst.parse_module("".join(parts))
    except (cst.ParserSyntaxError, RecursionError):
        return None
    module = AddImportsVisitor(context).transform_module(module)
    rest = RemoveImportsVisitor(context).transform_module(module).code
    chunks: list[str] = []
    for j in range(1, len(runs)):
        head, mark, rest = rest.partition(f"{CHUNK_MARK}{j}__ = 0{newline}")
        if not mark:
            return None
        chunks.append(head)
    chunks.append(rest)
    out: list[str] = []
    at = 0
    for (a, b), chunk in zip(runs, chunks):
        out.append(text[at : bounds[a]])
        out.append(chunk)
        at = bounds[b + 1]
    out.append(text[at:])
    return "".join(out)


def _import_chunks(
    top: TopLevel, names: set[str], skip: set[int]
) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of consecutive regions the import visitors must
    see: the opening through the first statement after the import block
    (where imports are added), every region that names a legacy function
    the rewrite leaves (its uses keep the import), and the region before an
    import statement that opens an included region (that statement may be
    removed, with the comments above it that it owns)."""
    regions = top.regions
    opening = len(regions) - 1
    for r in range(1, len(regions)):
        if not top.import_line(r):
            opening = r
            break
    keep = set(range(opening + 1))
    spelled = re.compile(
        r"(?<![\w.])(?:{})(?!\w)".format("|".join(map(re.escape, sorted(names))))
    )
    for r in range(opening + 1, len(regions)):
        a, b, _, _ = regions[r]
        if _names_any(top.stmts[a : b + 1], names, skip, spelled):
            keep.add(r)
    for r in range(len(regions) - 1, 0, -1):
        if r in keep and isinstance(
            top.stmts[regions[r][0]], (ast.Import, ast.ImportFrom)
        ):
            keep.add(r - 1)
    runs: list[tuple[int, int]] = []
    for r in sorted(keep):
        if runs and runs[-1][1] == r - 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


def _names_any(
    stmts: list[ast.stmt], names: set[str], skip: set[int], spelled: re.Pattern[str]
) -> bool:
    """``stmts`` use, bind or spell out one of ``names`` in a way that can
    keep its import (see :func:`_keeps_import`)."""
    return any(
        _keeps_import(node, names, skip, spelled)
        for stmt in stmts
        for node in all_nodes(stmt)
    )


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _keeps_import(
    node: ast.AST, names: set[str], skip: set[int], spelled: re.Pattern[str]
) -> bool:
    """What makes libcst's RemoveImportsVisitor keep an import of one of
    ``names``, or might: a name (other than the rewritten callees in
    ``skip``), an import, a ``global``, an ``except``/``match`` capture, or
    a string that spells it as a name (``__all__``, a string annotation;
    after a dot it would be an attribute there, which does not count). The
    names of ``def`` and ``class`` do not: they bind in a scope of their
    own or, at the top, beside the import, and neither is a use of it."""
    if isinstance(node, ast.Name):
        return node.id in names and id(node) not in skip
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and spelled.search(node.value) is not None
    if isinstance(node, ast.alias):
        return bool({node.name, node.name.split(".")[0], node.asname} & names)
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return not names.isdisjoint(node.names)
    if isinstance(node, _DEFINITIONS):
        return False
    for field in ("name", "rest"):
        value = getattr(node, field, None)
        if isinstance(value, str) and value in names:
            return True
    return False
