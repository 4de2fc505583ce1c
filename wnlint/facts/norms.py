"""What is a norm, a parameter read, and a weight-norm product.

:func:`norm_operand` is the one recognizer of "the norm of X" every rule
uses: ``torch.norm``, ``Tensor.norm``, ``torch.linalg.vector_norm``/``norm``,
``norm_except_dim``, ``x.pow(2).sum(d).sqrt()`` and its function spellings,
seen through ``+ eps``, ``clamp``/``clamp_min``/``clip``, reshapes, detaches
and local names. What a caller knows about local names (their single
definition, whether they ran under ``no_grad``, which names are parameters)
comes in through a :class:`NormContext`, so a training-loop rule and a
module rule recognize exactly the same spellings.

On top of it, for the module rules: :func:`param_of` (a read of a declared
parameter), :func:`norm_of` (the norm of a parameter) and
:func:`weight_norm_products` (products that divide a parameter by its own
norm, with their scale factors).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from wnlint.facts import torchnames as tn
from wnlint.facts.resolve import Scope, resolve, resolves_only_to
from wnlint.facts.syntax import child_nodes, is_call_to, is_name_of, self_attr, shape


class _Owner(Protocol):
    @property
    def params(self) -> Mapping[str, object]: ...


class MethodLike(Protocol):
    """What the norms read of a method
    (:class:`wnlint.facts.module_classes.MethodFacts`,
    which builds on this module, has it)."""

    @property
    def name(self) -> str: ...
    @property
    def node(self) -> ast.FunctionDef | ast.AsyncFunctionDef: ...
    @property
    def scope(self) -> Scope: ...
    @property
    def defs(self) -> Mapping[str, list[ast.expr | None]]: ...
    @property
    def owner(self) -> _Owner: ...

    def single_def(self, name: str) -> ast.expr | None: ...
    def in_no_grad(self, node: ast.AST) -> bool: ...


_MAX_DEPTH = 12


@dataclass(frozen=True)
class Norm:
    """``node`` is a norm of ``operand``; ``detached`` when autograd is cut
    between the two."""

    node: ast.expr
    operand: ast.expr
    detached: bool


class NormContext:
    """What the recognizer may know about names where it reads: here, only
    the scope (code outside classes, where locals are not followed)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def single_def(self, name: str) -> ast.expr | None:
        return None

    def in_no_grad(self, node: ast.AST) -> bool:
        return False

    def is_epsilon(self, expr: ast.expr) -> bool:
        """A number, or a name or attribute chain that is not a tensor we know."""
        if isinstance(expr, ast.UnaryOp):
            return self.is_epsilon(expr.operand)
        if isinstance(expr, ast.Constant):
            return isinstance(expr.value, (int, float))
        return isinstance(expr, (ast.Name, ast.Attribute))


class MethodNorms(NormContext):
    """Inside a method of an ``nn.Module``: locals are followed to their one
    definition, ``no_grad`` regions are known, and an epsilon must not be a
    parameter or a norm itself."""

    def __init__(self, method: MethodLike) -> None:
        super().__init__(method.scope)
        self.method = method

    def single_def(self, name: str) -> ast.expr | None:
        return self.method.single_def(name)

    def in_no_grad(self, node: ast.AST) -> bool:
        return self.method.in_no_grad(node)

    def is_epsilon(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.UnaryOp):
            return self.is_epsilon(expr.operand)
        if isinstance(expr, ast.Constant):
            return isinstance(expr.value, (int, float))
        if isinstance(expr, ast.Name):
            return (
                param_of(expr, self.method) is None
                and norm_of(expr, self.method) is None
            )
        name = self_attr(expr)
        if name is not None:
            return name not in self.method.owner.params
        # `cfg.eps`, `math.pi`: an attribute chain rooted elsewhere than self.
        return isinstance(expr, ast.Attribute) and _root_name(expr) not in (
            None,
            "self",
        )


def _root_name(expr: ast.expr) -> str | None:
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def is_module_ref(expr: ast.expr, scope: Scope) -> bool:
    """``torch``/``torch.linalg``: a namespace, not a tensor receiver."""
    if not isinstance(expr, (ast.Name, ast.Attribute)):
        return False
    names = resolve(expr, scope)
    return bool(names) and all(n is not None and n.startswith("torch") for n in names)


def norm_operand(
    expr: ast.expr, ctx: NormContext, depth: int = 0, detached: bool = False
) -> Norm | None:
    """The tensor whose norm ``expr`` is, or None when it is not a norm."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, ast.Name):
        value = ctx.single_def(expr.id)
        if value is None:
            return None
        off = detached or ctx.in_no_grad(value)
        return norm_operand(value, ctx, depth + 1, off)
    if isinstance(expr, ast.BinOp):
        return _epsilon_sum(expr, ctx, depth, detached)
    if isinstance(expr, ast.Attribute) and expr.attr in tn.DETACH_ATTRS:
        return _wrap(expr, norm_operand(expr.value, ctx, depth + 1, True), True)
    if isinstance(expr, ast.Call):
        return _norm_call(expr, ctx, depth, detached)
    return None


def _wrap(expr: ast.expr, found: Norm | None, detached: bool = False) -> Norm | None:
    """``found`` seen through an outer ``expr`` (a clamp, a reshape, ...)."""
    if found is None:
        return None
    return Norm(expr, found.operand, found.detached or detached)


def _epsilon_sum(
    expr: ast.BinOp, ctx: NormContext, depth: int, detached: bool
) -> Norm | None:
    """``n + eps`` or ``eps + n``."""
    if not isinstance(expr.op, ast.Add):
        return None
    for side, other in ((expr.left, expr.right), (expr.right, expr.left)):
        if ctx.is_epsilon(other):
            found = norm_operand(side, ctx, depth + 1, detached)
            if found:
                return _wrap(expr, found)
    return None


def _norm_call(
    call: ast.Call, ctx: NormContext, depth: int, detached: bool
) -> Norm | None:
    func = call.func
    scope = ctx.scope
    if isinstance(func, ast.Name) and func.id in tn.DETACH_BUILTINS and call.args:
        return _wrap(call, norm_operand(call.args[0], ctx, depth + 1, True), True)
    if isinstance(func, (ast.Name, ast.Attribute)) and call.args:
        first = call.args[0]
        if resolves_only_to(func, scope, tn.NORM_FUNCTIONS):
            return Norm(call, first, detached)
        if resolves_only_to(func, scope, tn.CLAMP_FUNCTIONS):
            return _wrap(call, norm_operand(first, ctx, depth + 1, detached))
        if resolves_only_to(func, scope, tn.SQRT_FUNCTIONS):
            return _sum_of_squares(call, first, scope, detached)
    if not isinstance(func, ast.Attribute) or is_module_ref(func.value, scope):
        return None
    receiver = func.value
    attr = func.attr
    if attr == "norm":
        return Norm(call, receiver, detached)
    if attr == "sqrt" and not call.args:
        return _sum_of_squares(call, receiver, scope, detached)
    if attr in tn.CLAMP_METHODS or attr in tn.SHAPE_METHODS:
        return _wrap(call, norm_operand(receiver, ctx, depth + 1, detached))
    if attr in tn.DETACH_METHODS:
        return _wrap(call, norm_operand(receiver, ctx, depth + 1, True), True)
    return None


def _sum_of_squares(
    expr: ast.expr, inner: ast.expr, scope: Scope, detached: bool
) -> Norm | None:
    """``sqrt(sum(x ** 2))`` in its method and function spellings, on one
    line (the prefilter looks for it line by line)."""
    if expr.lineno != expr.end_lineno:
        return None
    summed = None
    if isinstance(inner, ast.Call):
        func = inner.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "sum"
            and not is_module_ref(func.value, scope)
        ):
            summed = func.value
        elif is_call_to(inner, scope, tn.SUM_FUNCTIONS) and inner.args:
            summed = inner.args[0]
    squared = _squared(summed, scope) if summed is not None else None
    return Norm(expr, squared, detached) if squared is not None else None


def _is_two(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == 2


def _squared(expr: ast.expr, scope: Scope) -> ast.expr | None:
    if isinstance(expr, ast.BinOp):
        if isinstance(expr.op, ast.Pow) and _is_two(expr.right):
            return expr.left
        if isinstance(expr.op, ast.Mult) and shape(expr.left) == shape(expr.right):
            return expr.left
        return None
    if not isinstance(expr, ast.Call):
        return None
    func = expr.func
    if isinstance(func, ast.Attribute):
        if func.attr == "pow" and expr.args and _is_two(expr.args[0]):
            return func.value
        if func.attr == "square" and not expr.args:
            return func.value
    if is_call_to(expr, scope, tn.SQUARE_FUNCTIONS) and expr.args:
        return expr.args[0]
    if (
        is_call_to(expr, scope, tn.POW_FUNCTIONS)
        and len(expr.args) == 2
        and _is_two(expr.args[1])
    ):
        return expr.args[0]
    return None


# -- parameters and their norms (module rules) -----------------------------------


@dataclass(frozen=True)
class NormInfo:
    """``node`` is the norm of parameter ``base``."""

    node: ast.expr
    base: str
    detached: bool


def param_of(
    expr: ast.expr, method: MethodLike, depth: int = 0
) -> tuple[str, bool] | None:
    """(parameter name, read detached?) when ``expr`` is a parameter the
    class declares, or a reshaped/aliased read of one; None otherwise."""
    if depth > _MAX_DEPTH:
        return None
    name = self_attr(expr)
    if name is not None:
        return (name, False) if name in method.owner.params else None
    if isinstance(expr, ast.Attribute) and expr.attr in tn.DETACH_ATTRS:
        inner = param_of(expr.value, method, depth + 1)
        return (inner[0], True) if inner else None
    if isinstance(expr, ast.Name):
        value = method.single_def(expr.id)
        if value is None:
            return None
        inner = param_of(value, method, depth + 1)
        if inner and method.in_no_grad(value):
            return inner[0], True
        return inner
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        attr = expr.func.attr
        receiver = expr.func.value
        if attr in tn.SHAPE_METHODS and not is_module_ref(receiver, method.scope):
            return param_of(receiver, method, depth + 1)
        if attr == "detach":
            inner = param_of(receiver, method, depth + 1)
            return (inner[0], True) if inner else None
    return None


def norm_of(expr: ast.expr, method: MethodLike) -> NormInfo | None:
    """The norm of a declared parameter, as :func:`norm_operand` sees it."""
    found = norm_operand(expr, MethodNorms(method))
    if found is None:
        return None
    param = param_of(found.operand, method, 1)
    if param is None:
        return None
    return NormInfo(found.node, param[0], found.detached or param[1])


def reads_param(expr: ast.AST, method: MethodLike) -> bool:
    """True when ``expr`` depends on a parameter through differentiable ops."""
    stack = [expr]
    seen_names: set[str] = set()
    while stack:
        node = stack.pop()
        verdict = param_read_step(node, method, seen_names, stack)
        if verdict:
            return True
    return False


def param_read_step(
    node: ast.AST, method: MethodLike, seen: set[str], stack: list[ast.AST]
) -> bool:
    """One step of the differentiable-dependency walk of :func:`reads_param`:
    True on a parameter read; pushes onto ``stack`` what still needs a look
    and skips what cuts autograd (:func:`cuts_autograd`). Other walks over
    the same edges (reads of computed-name parameters, reads of arguments)
    reuse it, so they all see the same dependencies."""
    if cuts_autograd(node):
        return False
    if isinstance(node, ast.Attribute):
        name = self_attr(node)
        if name is not None:
            return name in method.owner.params
    elif isinstance(node, ast.Name):
        if node.id not in seen:
            seen.add(node.id)
            for value in method.defs.get(node.id, ()):
                if value is not None and not method.in_no_grad(value):
                    stack.append(value)
        return False
    stack.extend(child_nodes(node))
    return False


def cuts_autograd(node: ast.AST) -> bool:
    """No gradient flows from ``node``'s operands to its value:
    ``.detach()``, ``.data``, ``.item()``, shapes, sizes and flags,
    comparisons."""
    if isinstance(node, ast.Attribute):
        return node.attr in tn.DETACH_ATTRS or node.attr in tn.NONDIFF_ATTRS
    if isinstance(node, ast.Call):
        return _non_differentiable_call(node)
    return isinstance(node, (ast.Compare, ast.Lambda))


def is_no_grad(expr: ast.expr, scope: Scope) -> bool:
    """``expr`` (a decorator, or what a ``with`` enters) turns autograd off:
    ``torch.no_grad()``, ``torch.inference_mode()``, as resolved."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    return is_name_of(expr, scope, tn.NO_GRAD)


def grad_walk(
    func: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope
) -> Iterator[tuple[ast.AST, bool]]:
    """The nodes of ``func``'s body, not those of nested definitions, each
    with whether it runs under ``with torch.no_grad():`` (or
    ``inference_mode()``), in no set order. A decorator's is the caller's
    to ask (:func:`is_no_grad` over ``func.decorator_list``)."""
    stack: list[tuple[ast.AST, bool]] = [(s, False) for s in func.body]
    while stack:
        node, off = stack.pop()
        yield node, off
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, (ast.With, ast.AsyncWith)):
            inner = off or any(is_no_grad(i.context_expr, scope) for i in node.items)
            stack.extend((child, off) for child in node.items)
            stack.extend((child, inner) for child in node.body)
            continue
        stack.extend((child, off) for child in child_nodes(node))


def _non_differentiable_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in tn.DETACH_METHODS or func.attr in tn.NONDIFF_METHODS
    return isinstance(func, ast.Name) and func.id in (
        *tn.DETACH_BUILTINS,
        "len",
        "isinstance",
    )
