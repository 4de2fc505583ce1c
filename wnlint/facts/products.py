"""Weight-norm products: ``g * v / v.norm()``, ``g * F.normalize(v)`` and
their spellings, in a method of an ``nn.Module`` class.

Every WN1xx rule starts from these: a product whose numerator reads a
parameter (the direction) and whose denominator is a norm of it. The norms
themselves, and what reads a parameter, are :mod:`wnlint.facts.norms`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from wnlint.facts import torchnames as tn
from wnlint.facts.norms import MethodLike, NormInfo, is_module_ref, norm_of, param_of
from wnlint.facts.resolve import Scope
from wnlint.facts.syntax import is_call_to, own_nodes

#: How many nested products (and locals defined as one) a factor list follows.
_MAX_DEPTH = 12


@dataclass(frozen=True)
class WeightNormExpr:
    """A product dividing parameter ``base`` by its own norm.

    ``scales`` are the other numerator factors; ``norm`` is None when the
    direction is ``F.normalize(...)``.
    """

    node: ast.expr
    method: str
    base: str
    direction: ast.expr
    direction_detached: bool
    norm: NormInfo | None
    scales: tuple[ast.expr, ...]


def _method_call(node: ast.AST, names: frozenset[str], scope: Scope) -> bool:
    """``x.<name>(...)`` where ``x`` is a tensor, not a namespace like ``torch``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and not is_module_ref(node.func.value, scope)
    )


def is_product(node: ast.AST, scope: Scope) -> bool:
    """A multiplication or division, in operator, method or function form
    (``F.normalize`` counts: it divides by a norm)."""
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.Mult, ast.Div))
    if _method_call(node, tn.MUL_METHODS | tn.DIV_METHODS, scope):
        return True
    return is_call_to(
        node, scope, tn.MUL_FUNCTIONS | tn.DIV_FUNCTIONS | tn.NORMALIZE_FUNCTIONS
    )


def split_product(node: ast.expr, scope: Scope) -> tuple[list, list] | None:
    """(numerators, denominators) of a product, or None for a leaf."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        left, right = node.left, node.right
        return (
            ([left], [right]) if isinstance(node.op, ast.Div) else ([left, right], [])
        )
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    if len(node.args) == 2:
        if is_call_to(node, scope, tn.MUL_FUNCTIONS):
            return [node.args[0], node.args[1]], []
        if is_call_to(node, scope, tn.DIV_FUNCTIONS):
            return [node.args[0]], [node.args[1]]
    if len(node.args) == 1 and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        if _method_call(node, tn.MUL_METHODS, scope):
            return [receiver, node.args[0]], []
        if _method_call(node, tn.DIV_METHODS, scope):
            return [receiver], [node.args[0]]
    return None


def _factors(
    node: ast.expr, method: MethodLike
) -> tuple[list[ast.expr], list[ast.expr]]:
    """Flatten a product into numerator and denominator factors, following
    local names defined once as products (``w = g * v_hat``)."""
    nums: list[ast.expr] = []
    dens: list[ast.expr] = []
    scope = method.scope
    stack: list[tuple[ast.expr, bool, int]] = [(node, True, 0)]
    while stack:
        expr, upper, depth = stack.pop()
        parts = split_product(expr, scope)
        if parts is None and isinstance(expr, ast.Name) and depth < _MAX_DEPTH:
            value = method.single_def(expr.id)
            if value is not None:
                parts = split_product(value, scope)
        if parts is None or depth >= _MAX_DEPTH:
            (nums if upper else dens).append(expr)
            continue
        top, bottom = parts
        stack.extend((e, upper, depth + 1) for e in top)
        stack.extend((e, not upper, depth + 1) for e in bottom)
    return nums, dens


def _product_nodes(node: ast.AST, scope: Scope) -> Iterator[ast.AST]:
    """The product nodes nested directly in ``node`` (to report once)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        parts = split_product(current, scope)  # type: ignore[arg-type]
        if parts:
            stack.extend(p for p in parts[0] + parts[1] if is_product(p, scope))


def weight_norm_products(method: MethodLike) -> Iterator[WeightNormExpr]:
    """Products in ``method`` that divide a parameter by its own norm (or
    ``F.normalize`` it), outermost product only."""
    covered: set[int] = set()
    scope = method.scope
    for node in own_nodes(method.node):
        if id(node) in covered or not is_product(node, scope):
            continue
        for inner in _product_nodes(node, scope):
            covered.add(id(inner))
        expr = _match_weight_norm(node, method)  # type: ignore[arg-type]
        if expr is not None:
            yield expr


def _match_weight_norm(node: ast.expr, method: MethodLike) -> WeightNormExpr | None:
    normalize = tn.NORMALIZE_FUNCTIONS
    if is_call_to(node, method.scope, normalize):
        return _normalized(node, node, method, ())  # type: ignore[arg-type]
    nums, dens = _factors(node, method)
    for i, num in enumerate(nums):
        scales = tuple(nums[:i] + nums[i + 1 :])
        if is_call_to(num, method.scope, normalize):
            found = _normalized(node, num, method, scales)  # type: ignore[arg-type]
            if found:
                return found
        param = param_of(num, method)
        if param is None:
            continue
        for den in dens:
            norm = norm_of(den, method)
            if norm is not None and norm.base == param[0]:
                return WeightNormExpr(
                    node, method.name, param[0], num, param[1], norm, scales
                )
    return None


def _normalized(
    node: ast.expr, call: ast.Call, method: MethodLike, scales: tuple[ast.expr, ...]
) -> WeightNormExpr | None:
    if not call.args:
        return None
    param = param_of(call.args[0], method)
    if param is None:
        return None
    return WeightNormExpr(
        node, method.name, param[0], call.args[0], param[1], None, scales
    )
