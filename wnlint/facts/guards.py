"""What the ``if`` tests around a write say about the module it writes.

An init hook handed to ``.apply()`` is called with every submodule, and
writes only those its tests admit: ``isinstance(m, nn.Conv1d)``, ``not
isinstance(m, T)``, ``classname.find("Conv") != -1``. A write reaches a
weight-normed module only if its guards admit that module's class, so the
summaries keep, for each in-place write a function makes to a tensor of
one of its parameters, the guards on that parameter (:class:`ParamWrite`).
The tests around a statement come from :meth:`wnlint.facts.events.Body.tests`,
the one model of branches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Protocol

from wnlint.facts import torchnames as tn
from wnlint.facts.resolve import Scope
from wnlint.facts.syntax import string_value


class Typer(Protocol):
    """What guards ask of the file's summaries: a class as written, and a
    local's one value."""

    def type_key(self, expr: ast.expr, scope: Scope) -> str | None: ...

    def local_value(self, func: ast.AST, name: str) -> ast.expr | None: ...


@dataclass(frozen=True)
class Guard:
    """A test around a write: ``isinstance(p, T)`` (``types`` holds the type
    keys) or a class-name test (``names`` holds the substrings), and whether
    the write runs when the test holds (``positive``)."""

    param: int
    types: frozenset[str]
    names: frozenset[str]
    positive: bool

    def admits(self, layer: str | None) -> bool | None:
        """Whether a module of class ``layer`` passes; None when unknown."""
        if layer is None:
            return None
        short = layer.rsplit(".", 1)[-1]
        if self.types:
            hit = layer in self.types or (
                tn.CONV_BASE in self.types and short.startswith("Conv")
            )
        else:
            hit = any(name in short for name in self.names)
        return hit if self.positive else not hit


@dataclass(frozen=True)
class ParamWrite:
    """A function writes ``<parameter index>.<path>`` in place."""

    index: int
    name: str
    path: tuple[str, ...]
    guards: tuple[Guard, ...]
    node: ast.AST

    def admits(self, layer: str | None) -> bool:
        """The write reaches a module of class ``layer`` (an unknown class
        passes only writes that no type test guards)."""
        for guard in self.guards:
            if guard.param != self.index:
                continue
            verdict = guard.admits(layer)
            if not verdict:
                return False
        return True


def rooted_path(
    expr: ast.expr, params: list[str]
) -> tuple[int, tuple[str, ...]] | None:
    """(parameter index, attributes) for ``p.a.b`` (``p.a[0].b`` too)."""
    path: list[str] = []
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        if isinstance(expr, ast.Attribute):
            path.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name) and expr.id in params:
        return params.index(expr.id), tuple(reversed(path))
    return None


def guards_from(
    test: ast.expr, positive: bool, params: list[str], file: Typer, scope: Scope
) -> list[Guard]:
    """What ``isinstance(p, T)`` and class-name tests on a parameter in
    ``test`` say when it is true (``positive``) or false: guards that all
    hold (a test they cannot express restricts nothing)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return guards_from(test.operand, not positive, params, file, scope)
    if isinstance(test, ast.BoolOp):
        return _bool_guards(test, positive, params, file, scope)
    if (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Name)
        and test.func.id == "isinstance"
        and len(test.args) == 2
        and isinstance(test.args[0], ast.Name)
        and test.args[0].id in params
    ):
        kinds = test.args[1]
        kinds_list = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        # A type that cannot be named matches no known layer class.
        keys = {file.type_key(k, scope) or "?" for k in kinds_list}
        index = params.index(test.args[0].id)
        return [Guard(index, frozenset(keys), frozenset(), positive)]
    name = _classname_test(test, params, scope, file)
    if name is not None:
        return [Guard(name[0], frozenset(), frozenset({name[1]}), positive)]
    return []


def _bool_guards(
    test: ast.BoolOp,
    positive: bool,
    params: list[str],
    file: Typer,
    scope: Scope,
) -> list[Guard]:
    """``a and b`` true (``a or b`` false) is every part's guards at once;
    ``isinstance(m, A) or isinstance(m, B)`` true (``and`` of negations
    false) is one test of both types. Any other mix says nothing."""
    conjunction = isinstance(test.op, ast.And) == positive
    parts = [guards_from(v, positive, params, file, scope) for v in test.values]
    if conjunction:
        return [g for part in parts for g in part]
    single = [part[0] if len(part) == 1 else None for part in parts]
    if any(g is None or not g.types for g in single):
        return []
    typed = [g for g in single if g is not None]
    if len({(g.param, g.positive) for g in typed}) != 1:
        return []
    types = frozenset().union(*(g.types for g in typed))
    return [Guard(typed[0].param, types, frozenset(), typed[0].positive)]


def _classname_test(
    test: ast.expr, params: list[str], scope: Scope, file: Typer
) -> tuple[int, str] | None:
    """``classname.find("Conv") != -1`` or ``"Conv" in classname`` where
    ``classname = m.__class__.__name__``."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(test.ops[0], ast.In) and string_value(left) is not None:
        index = _class_name_of(right, params, scope, file)
        return (index, string_value(left)) if index is not None else None  # type: ignore[return-value]
    if (
        isinstance(test.ops[0], (ast.NotEq, ast.Gt, ast.GtE))
        and isinstance(left, ast.Call)
        and isinstance(left.func, ast.Attribute)
        and left.func.attr == "find"
        and left.args
        and string_value(left.args[0]) is not None
    ):
        index = _class_name_of(left.func.value, params, scope, file)
        return (index, string_value(left.args[0])) if index is not None else None  # type: ignore[return-value]
    return None


def _class_name_of(
    expr: ast.expr, params: list[str], scope: Scope, file: Typer
) -> int | None:
    """The parameter whose class name ``expr`` is (through one local name)."""
    if isinstance(expr, ast.Name) and scope.node is not None:
        value = file.local_value(scope.node, expr.id)
        if value is not None:
            expr = value
    if (
        isinstance(expr, ast.Attribute)
        and expr.attr == "__name__"
        and isinstance(expr.value, ast.Attribute)
        and expr.value.attr == "__class__"
        and isinstance(expr.value.value, ast.Name)
        and expr.value.value.id in params
    ):
        return params.index(expr.value.value.id)
    return None
