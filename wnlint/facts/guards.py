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
from typing import Callable, Protocol

from wnlint.facts import torchnames as tn
from wnlint.facts.events import LEGACY, NEW
from wnlint.facts.resolve import Scope, resolves_only_to
from wnlint.facts.syntax import isinstance_types, string_value, walk


class Typer(Protocol):
    """What guards ask of the file's summaries: a class as written, and a
    local's one value."""

    def type_key(self, expr: ast.expr, scope: Scope) -> str | None: ...

    def local_value(self, func: ast.AST, name: str) -> ast.expr | None: ...


@dataclass(frozen=True)
class Guard:
    """A test around a write: ``isinstance(p, T)`` (``types`` holds the type
    keys) or a class-name test (``names`` holds the substrings), and whether
    the write runs when the test holds (``positive``); or a test that
    ``p.<path>`` is weight-normed that fails there (``plain`` holds the APIs
    it is not normed by: the branch a repaired init keeps for plain modules)."""

    param: int
    types: frozenset[str]
    names: frozenset[str]
    positive: bool
    plain: frozenset[str] = frozenset()
    path: tuple[str, ...] = ()

    def admits(self, layer: str | None, kinds: tuple[str, ...] = ()) -> bool | None:
        """Whether a module of class ``layer`` (deriving from the torch
        classes ``kinds``) passes; None when unknown."""
        if self.plain:
            return True  # says nothing of the class
        if layer is None:
            return None
        short = layer.rsplit(".", 1)[-1]
        if self.types:
            hit = any(
                k in self.types
                or (
                    tn.CONV_BASE in self.types
                    and k.rsplit(".", 1)[-1].startswith("Conv")
                )
                for k in (layer, *kinds)
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

    def admits(self, layer: str | None, kinds: tuple[str, ...] = ()) -> bool:
        """The write reaches a module of class ``layer`` (an unknown class
        passes only writes that no type test guards)."""
        for guard in self.guards:
            if guard.param != self.index:
                continue
            verdict = guard.admits(layer, kinds)
            if not verdict:
                return False
        return True

    def reaches(self, api: str | None) -> bool:
        """The write may reach a module weight-normed by ``api`` (None: by
        an API not known, which only a test excluding both rules out)."""
        module = self.path[:-1]
        plain = {
            a
            for g in self.guards
            if g.param == self.index and g.path == module
            for a in g.plain
        }
        return reaches(frozenset(plain), api)


def reaches(plain: frozenset[str], api: str | None) -> bool:
    """A write whose module is not normed by the APIs in ``plain`` may reach
    one normed by ``api`` (None or ``"either"``: not known which)."""
    if api in (LEGACY, NEW):
        return api not in plain
    return not {LEGACY, NEW} <= plain


def weight_norm_test(test: ast.expr, scope: Scope) -> tuple[ast.expr, str] | None:
    """(module, API) when ``test`` holds where ``module``'s weight is normed
    by that API: ``parametrize.is_parametrized(m, "weight")``, ``"weight" in
    getattr(m, "parametrizations", ())`` (or ``m.parametrizations``),
    ``hasattr(m, "parametrizations")``, ``hasattr(m, "weight_g")``."""
    if isinstance(test, ast.Call) and test.args:
        func = test.func
        if isinstance(func, ast.Name) and func.id == "hasattr" and len(test.args) == 2:
            attr = string_value(test.args[1])
            if attr == tn.NEW_API_ATTRIBUTE:
                return test.args[0], NEW
            if attr in tn.LEGACY_TENSORS:
                return test.args[0], LEGACY
            return None
        if isinstance(func, (ast.Name, ast.Attribute)) and resolves_only_to(
            func, scope, tn.IS_PARAMETRIZED
        ):
            name = test.args[1] if len(test.args) > 1 else None
            if name is None or string_value(name) == tn.DEFAULT_WEIGHT_NAME:
                return test.args[0], NEW
        return None
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.In)
        and string_value(test.left) == tn.DEFAULT_WEIGHT_NAME
    ):
        held = test.comparators[0]
        if isinstance(held, ast.Attribute) and held.attr == tn.NEW_API_ATTRIBUTE:
            return held.value, NEW
        if (
            isinstance(held, ast.Call)
            and isinstance(held.func, ast.Name)
            and held.func.id == "getattr"
            and len(held.args) >= 2
            and string_value(held.args[1]) == tn.NEW_API_ATTRIBUTE
        ):
            return held.args[0], NEW
    return None


def _not_in(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.NotIn)
    )


def _as_in(test: ast.Compare) -> ast.Compare:
    """``a in b`` for ``a not in b`` (which holds where it fails)."""
    return ast.Compare(test.left, [ast.In()], test.comparators)


def tests_legacy_api(test: ast.AST, scope: Scope) -> bool:
    """``test`` holds only where the legacy API normed a module: it names
    torch's ``WeightNorm`` hook class (``isinstance(hook, WeightNorm)``,
    ``hook.__class__.__name__ == "WeightNorm"``) or asks for its tensors
    (``hasattr(m, "weight_g")``, :func:`weight_norm_test`)."""
    for node in walk(test):
        if isinstance(node, ast.Constant) and node.value == tn.WEIGHT_NORM_HOOK_CLASS:
            return True
        if isinstance(node, (ast.Name, ast.Attribute)) and resolves_only_to(
            node, scope, tn.WEIGHT_NORM_HOOK
        ):
            return True
        if isinstance(node, ast.expr):
            found = weight_norm_test(node, scope)
            if found is not None and found[1] == LEGACY:
                return True
    return False


def plain_apis(
    tests: list[tuple[ast.expr, bool]], same: Callable[[ast.expr], bool], scope: Scope
) -> frozenset[str]:
    """The APIs that the tests around a statement (each with whether it holds
    there) say the module ``same`` accepts is not weight-normed by."""
    out: set[str] = set()
    for test, holds in tests:
        out |= _plain(test, holds, same, scope)
    return frozenset(out)


def _plain(
    test: ast.expr, holds: bool, same: Callable[[ast.expr], bool], scope: Scope
) -> set[str]:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _plain(test.operand, not holds, same, scope)
    if _not_in(test):
        return _plain(_as_in(test), not holds, same, scope)  # type: ignore[arg-type]
    if isinstance(test, ast.BoolOp):
        # `a and b` holding (`a or b` failing) is each part as it is.
        if isinstance(test.op, ast.And) == holds:
            return {a for v in test.values for a in _plain(v, holds, same, scope)}
        return set()
    found = weight_norm_test(test, scope)
    if found is None or holds or not same(found[0]):
        return set()
    return {found[1]}


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
    if _not_in(test):
        return guards_from(_as_in(test), not positive, params, file, scope)  # type: ignore[arg-type]
    normed = weight_norm_test(test, scope)
    if normed is not None:
        rooted = rooted_path(normed[0], params)
        if rooted is None or positive:
            return []
        index, path = rooted
        plain = frozenset({normed[1]})
        return [Guard(index, frozenset(), frozenset(), False, plain, path)]
    tested = isinstance_types(test)
    if (
        tested is not None
        and isinstance(tested[0], ast.Name)
        and tested[0].id in params
    ):
        # A type that cannot be named matches no known layer class.
        keys = {file.type_key(k, scope) or "?" for k in tested[1]}
        index = params.index(tested[0].id)
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
