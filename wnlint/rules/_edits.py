"""Fixes as span edits located on the same ``ast`` the rules read.

A rule that can repair a finding yields :class:`Fix` objects: the finding's
position, whether the fix is safe, and edits that replace character spans of
the source. Everything outside the spans is kept byte for byte (comments,
quotes, line endings), and :mod:`wnlint.fix` checks that the result parses
before anything is written. New code is rendered with ``ast.unparse``, in
the file's own indentation and line ending.
"""

from __future__ import annotations

import ast
import copy
import io
from collections.abc import Iterable
from dataclasses import dataclass

from wnlint.modules import MethodFacts, ModuleClass, own_nodes, self_attr


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` (character offsets) with ``new``."""

    start: int
    end: int
    new: str


@dataclass(frozen=True)
class Fix:
    """The repair of the finding at ``line``/``col`` (as in ``Finding``)."""

    line: int
    col: int
    safe: bool
    edits: tuple[Edit, ...]


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

    def offset(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        chars = len(text.encode("utf-8")[:byte_col].decode("utf-8", "replace"))
        return self.starts[line - 1] + chars

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


def statement_of(func: ast.AST, node: ast.AST) -> ast.stmt | None:
    """The innermost statement of ``func`` that holds ``node``."""
    best = None
    for stmt in own_nodes(func):
        if (
            isinstance(stmt, ast.stmt)
            and _holds(stmt, node)
            and (best is None or _holds(best, stmt))
        ):
            best = stmt
    return best


def _holds(outer: ast.AST, inner: ast.AST) -> bool:
    start = (outer.lineno, outer.col_offset)  # type: ignore[attr-defined]
    end = (outer.end_lineno, outer.end_col_offset)  # type: ignore[attr-defined]
    return (
        start <= (inner.lineno, inner.col_offset)  # type: ignore[attr-defined]
        and (inner.end_lineno, inner.end_col_offset) <= end  # type: ignore[attr-defined]
    )


def block_of(func: ast.AST, stmt: ast.stmt) -> list[ast.stmt] | None:
    """The statement list that holds ``stmt`` directly."""
    for node in [func, *own_nodes(func)]:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and any(s is stmt for s in block):
                return block
    return None


def family_attrs(cls: ModuleClass) -> set[str]:
    """Every ``self.<attr>`` the class and its same-file bases mention, and
    its method names: a new attribute must avoid them all."""
    names = set(cls.methods) | set(cls.params)
    for method in cls.methods.values():
        for node in own_nodes(method.node):
            name = self_attr(node)
            if name is not None:
                names.add(name)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)  # setattr/getattr/register_* by name
    return names


def local_names(method: MethodFacts) -> set[str]:
    """Names bound in a method: arguments and assignments."""
    args = method.node.args
    names = {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
        + [a for a in (args.vararg, args.kwarg) if a is not None]
    }
    names.update(method.defs)
    for node in own_nodes(method.node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def inline_locals(
    expr: ast.expr, method: MethodFacts, depth: int = 0
) -> ast.expr | None:
    """A copy of ``expr`` with local names replaced by their single
    definition, or None when one is not defined exactly once (or is an
    argument of the method)."""
    if depth > 8:
        return None
    locals_ = local_names(method)
    out = copy.deepcopy(expr)
    failed = False

    class _Inline(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            nonlocal failed
            if node.id not in locals_ or node.id == "self":
                return node
            values = method.defs.get(node.id) or []
            if len(values) != 1 or values[0] is None:
                failed = True
                return node
            inner = inline_locals(values[0], method, depth + 1)
            if inner is None:
                failed = True
                return node
            return inner

    out = _Inline().visit(out)
    return None if failed else out


def replace_self_attr(expr: ast.expr, attr: str, new: ast.expr) -> ast.expr:
    """A copy of ``expr`` with every ``self.<attr>`` replaced by ``new``."""

    class _Replace(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            if self_attr(node) == attr:
                return copy.deepcopy(new)
            self.generic_visit(node)
            return node

    return _Replace().visit(copy.deepcopy(expr))


def self_attrs_in(expr: ast.AST) -> set[str]:
    return {name for node in ast.walk(expr) if (name := self_attr(node)) is not None}


def parenthesize(text: str, node: ast.expr) -> str:
    """``text`` wrapped when ``node`` binds more loosely than a product."""
    loose = (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Lambda, ast.NamedExpr)
    if isinstance(node, (*loose, ast.UnaryOp, ast.Compare, ast.Await)):
        return f"({text})"
    return text
