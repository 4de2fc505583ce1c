"""What the WN1xx and WN2xx fixes share when they rewrite code.

Fixes are span edits (:mod:`wnlint.rules.fixes`) located on the same ``ast`` the
rules read; these helpers find the statement and block around a node, the
names a method binds, a free attribute name for the whole class family, and
render new code with ``ast.unparse``, in the file's own indentation and line
ending.
"""

from __future__ import annotations

import ast
import copy

from wnlint.facts.module_classes import MethodFacts, ModuleClass, ModuleFacts
from wnlint.facts.syntax import own_nodes, parameter_names, self_attr, walk


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


def family_attrs(facts: ModuleFacts, cls: ModuleClass) -> set[str]:
    """Every ``self.<attr>`` the classes sharing ``self`` with ``cls``
    mention, its method names and parameters, and every string they hold
    (``getattr``/``setattr``/``register_*`` by name): a new attribute must
    avoid them all."""
    names = set(cls.methods) | set(cls.params)
    for node in facts.family(cls):
        for child in walk(node):
            name = self_attr(child)
            if name is not None:
                names.add(name)
            elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                names.add(child.value)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(child.name)
    return names


def local_names(method: MethodFacts) -> set[str]:
    """Names bound in a method: arguments and assignments."""
    names = set(parameter_names(method.node, every=True))
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
            value = method.single_def(node.id)
            if value is None:
                failed = True
                return node
            inner = inline_locals(value, method, depth + 1)
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


def parenthesize(text: str, node: ast.expr) -> str:
    """``text`` wrapped when ``node`` binds more loosely than a product."""
    loose = (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Lambda, ast.NamedExpr)
    if isinstance(node, (*loose, ast.UnaryOp, ast.Compare, ast.Await)):
        return f"({text})"
    return text
