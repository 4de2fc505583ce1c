"""Per-class facts for the WN1xx rules, built once per file.

For each ``nn.Module`` subclass in a file: its methods (same-file base
classes included), the parameters it declares (``nn.Parameter``,
``register_parameter``, the ``weight``/``bias`` of a torch layer it
subclasses), the methods ``forward`` reaches through ``self.m()`` calls and
properties, and, per method, local def-use and which statements run without
autograd. On top of that sit the two recognizers every WN1xx rule needs:

* :meth:`ModuleFacts.norm_of`: is this expression the norm of a parameter?
  (``torch.norm``, ``Tensor.norm``, ``torch.linalg.vector_norm``/``norm``,
  ``norm_except_dim``, ``x.pow(2).sum(d).sqrt()``, through ``+ eps``,
  ``clamp_min``, reshapes and local names.)
* :meth:`ModuleFacts.weight_norm_exprs`: products that divide a parameter by
  its own norm (or ``F.normalize`` it), with their scale factors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from wnlint import torchnames as tn
from wnlint.resolve import Scope, resolve, resolves_only_to

#: Methods that run before training, where declaring and normalizing is fine.
INIT_METHODS = frozenset(
    {
        "__init__",
        "reset_parameters",
        "_reset_parameters",
        "init_weights",
        "_init_weights",
        "initialize",
        "extra_repr",
        "__repr__",
    }
)

#: Methods that change a tensor's shape or type, not what it is derived from.
SHAPE_METHODS = frozenset(
    {
        "view",
        "reshape",
        "flatten",
        "transpose",
        "permute",
        "t",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "expand",
        "expand_as",
        "view_as",
        "reshape_as",
        "to",
        "float",
        "double",
        "half",
        "bfloat16",
        "type",
        "type_as",
        "clone",
    }
)
#: Reads that cut autograd.
DETACH_METHODS = frozenset({"detach", "item", "tolist"})
DETACH_ATTRS = frozenset({"data"})
DETACH_BUILTINS = frozenset({"float", "int"})
#: Reads that are never differentiable (shapes, flags, comparisons).
NONDIFF_ATTRS = frozenset({"shape", "dtype", "device", "requires_grad", "grad", "ndim"})
NONDIFF_METHODS = frozenset({"size", "numel", "dim", "nelement", "data_ptr"})

_MAX_DEPTH = 12


@dataclass(frozen=True)
class ParamDecl:
    """A parameter a class declares (or inherits from a torch layer)."""

    name: str
    method: str | None  # None for a torch layer's inherited weight/bias
    node: ast.AST | None  # the statement or call that declares it
    call: ast.Call | None  # the ``nn.Parameter(...)`` call, if any


@dataclass(frozen=True)
class NormInfo:
    """``node`` is the norm of parameter ``base``."""

    node: ast.expr
    base: str
    detached: bool


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


@dataclass
class MethodFacts:
    """One method: its scope, local definitions and autograd-off regions."""

    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    scope: Scope
    owner: ModuleClass
    #: Local name -> every expression assigned to it (None: not an alias).
    defs: dict[str, list[ast.expr | None]] = field(default_factory=dict)
    #: ids of nodes that run under ``torch.no_grad()``/``inference_mode()``.
    no_grad_nodes: set[int] = field(default_factory=set)
    no_grad_method: bool = False

    def in_no_grad(self, node: ast.AST) -> bool:
        return self.no_grad_method or id(node) in self.no_grad_nodes


@dataclass
class ModuleClass:
    """An ``nn.Module`` subclass defined in the file."""

    node: ast.ClassDef
    scope: Scope
    torch_bases: list[str]
    file_bases: list[ModuleClass]
    own_methods: dict[str, MethodFacts] = field(default_factory=dict)
    #: The class or a same-file base calls something norm-like.
    normish: bool = False

    @property
    def name(self) -> str:
        return self.node.name

    @cached_property
    def methods(self) -> dict[str, MethodFacts]:
        merged: dict[str, MethodFacts] = {}
        for base in reversed(self.file_bases):
            merged.update(base.methods)
        merged.update(self.own_methods)
        return merged

    @cached_property
    def params(self) -> dict[str, ParamDecl]:
        found: dict[str, ParamDecl] = {}
        for base in reversed(self.file_bases):
            found.update(base.params)
        for qual in self.torch_bases:
            if qual.rsplit(".", 1)[-1] in tn.LAYERS_WITH_WEIGHT:
                for name in ("weight", "bias"):
                    found.setdefault(name, ParamDecl(name, None, None, None))
        for method in self.own_methods.values():
            for decl in _declared_params(method):
                found[decl.name] = decl
        return found

    @cached_property
    def forward_reachable(self) -> frozenset[str]:
        """``forward`` and every method it reaches via ``self.m()`` or a property."""
        methods = self.methods
        todo: list[str] = [m for m in ("forward", "__call__") if m in methods]
        seen: set[str] = set(todo)
        while todo:
            current = methods[todo.pop()]
            for node in own_nodes(current.node):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                    and node.attr in methods
                    and node.attr not in seen
                ):
                    seen.add(node.attr)
                    todo.append(node.attr)
        return frozenset(seen)


class ModuleFacts:
    """The nn.Module classes of a file, and the recognizers over them.

    Only classes whose family (the class and its same-file bases) calls
    something norm-like are analysed: without one, no WN1xx rule can fire,
    and building per-method facts for every class of a large model file is
    most of the cost of the WN1xx rules.
    """

    def __init__(
        self,
        class_nodes: list[ast.ClassDef],
        scopes: dict[int, Scope],
        calls: Sequence[Any],
    ) -> None:
        self.classes: list[ModuleClass] = []
        self._wn_cache: dict[int, list[WeightNormExpr]] = {}
        normish = _classes_with_norm_calls(calls)
        by_name: dict[str, ModuleClass] = {}
        everything: list[ModuleClass] = []
        for node in class_nodes:
            scope = scopes.get(id(node))
            if scope is None or scope.parent is None:
                continue
            torch_bases: list[str] = []
            file_bases: list[ModuleClass] = []
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in by_name:
                    file_bases.append(by_name[base.id])
                    continue
                names = resolve(base, scope.parent)
                if names and all(_is_torch_module(n) for n in names):
                    torch_bases.append(min(n for n in names if n))
            if not torch_bases and not file_bases:
                continue
            cls = ModuleClass(node, scope, torch_bases, file_bases)
            cls.normish = id(node) in normish or any(b.normish for b in file_bases)
            by_name[node.name] = cls
            everything.append(cls)
        needed: set[int] = set()
        for cls in everything:
            if cls.normish:
                self.classes.append(cls)
                todo = [cls]
                while todo:
                    current = todo.pop()
                    if id(current) not in needed:
                        needed.add(id(current))
                        todo.extend(current.file_bases)
        for cls in everything:
            if id(cls) in needed:
                for item in cls.node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        method_scope = scopes.get(id(item))
                        if method_scope is not None:
                            cls.own_methods[item.name] = _method_facts(
                                item, method_scope, cls
                            )

    # -- recognizers -----------------------------------------------------
    def param_of(self, expr: ast.expr, method: MethodFacts) -> tuple[str, bool] | None:
        """(parameter name, read detached?) when ``expr`` is a parameter or a
        reshaped/aliased read of one; None otherwise."""
        return _param_of(expr, method, 0)

    def norm_of(self, expr: ast.expr, method: MethodFacts) -> NormInfo | None:
        return _norm_of(expr, method, 0, False)

    def weight_norm_exprs(self, cls: ModuleClass) -> list[WeightNormExpr]:
        """Weight-norm products in the methods ``forward`` reaches."""
        key = id(cls)
        cached = self._wn_cache.get(key)
        if cached is not None:
            return cached
        found: list[WeightNormExpr] = []
        for name in sorted(cls.forward_reachable):
            method = cls.methods[name]
            covered: set[int] = set()
            for node in own_nodes(method.node):
                if id(node) in covered or not _is_product(node, method):
                    continue
                for inner in _product_nodes(node, method):
                    covered.add(id(inner))
                expr = _match_weight_norm(node, method)  # type: ignore[arg-type]
                if expr is not None:
                    found.append(expr)
        self._wn_cache[key] = found
        return found

    def normalizing_classes(self) -> Iterator[tuple[ModuleClass, list[WeightNormExpr]]]:
        """Classes whose forward divides one of their parameters by its norm."""
        for cls in self.classes:
            exprs = self.weight_norm_exprs(cls)
            if exprs:
                yield cls, exprs


# -- building ------------------------------------------------------------------


#: Calls that may compute a norm: methods by name, functions by resolution.
_NORMISH_ATTRS = frozenset({"norm", "sqrt", "normalize", "vector_norm"})
_NORMISH = tn.NORM_FUNCTIONS | tn.NORMALIZE_FUNCTIONS | tn.SQRT_FUNCTIONS


def _classes_with_norm_calls(calls: Sequence[Any]) -> set[int]:
    """ids of ClassDef nodes whose methods make a norm-like call."""
    found: set[int] = set()
    for site in calls:
        func = site.node.func
        scope = site.scope
        while scope is not None and scope.kind != "class":
            scope = scope.parent
        if scope is None or id(scope.node) in found:
            continue
        if (isinstance(func, ast.Attribute) and func.attr in _NORMISH_ATTRS) or any(
            name in _NORMISH for name in resolve(func, site.scope)
        ):
            found.add(id(scope.node))
    return found


def _is_torch_module(name: str | None) -> bool:
    if name is None or not name.startswith(tn.TORCH_NN):
        return False
    last = name.rsplit(".", 1)[-1]
    return last[:1].isupper() and last not in tn.NOT_MODULES


def own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function body, not descending into nested defs/classes."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _method_facts(
    func: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope, owner: ModuleClass
) -> MethodFacts:
    facts = MethodFacts(func.name, func, scope, owner)
    facts.no_grad_method = any(
        _is_no_grad(dec.func if isinstance(dec, ast.Call) else dec, scope)
        for dec in func.decorator_list
    )
    # (node, inside no_grad?)
    stack: list[tuple[ast.AST, bool]] = [(s, False) for s in func.body]
    while stack:
        node, off = stack.pop()
        if off:
            facts.no_grad_nodes.add(id(node))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, (ast.With, ast.AsyncWith)):
            inner = off or any(
                _is_no_grad(
                    item.context_expr.func
                    if isinstance(item.context_expr, ast.Call)
                    else item.context_expr,
                    scope,
                )
                for item in node.items
            )
            stack.extend((child, off) for child in node.items)
            stack.extend((child, inner) for child in node.body)
            continue
        if isinstance(node, ast.Assign):
            for target in node.targets:
                _record_def(facts, target, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _record_def(facts, node.target, node.value)
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
            target = node.target
            if isinstance(target, ast.Name):
                facts.defs.setdefault(target.id, []).append(None)
        elif isinstance(node, ast.NamedExpr):
            facts.defs.setdefault(node.target.id, []).append(node.value)
        stack.extend((child, off) for child in ast.iter_child_nodes(node))
    return facts


def _record_def(facts: MethodFacts, target: ast.expr, value: ast.expr) -> None:
    if isinstance(target, ast.Name):
        facts.defs.setdefault(target.id, []).append(value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            for node in ast.walk(elt):
                if isinstance(node, ast.Name):
                    facts.defs.setdefault(node.id, []).append(None)


def _is_no_grad(expr: ast.expr, scope: Scope) -> bool:
    return isinstance(expr, (ast.Name, ast.Attribute)) and resolves_only_to(
        expr, scope, tn.NO_GRAD
    )


def self_attr(node: ast.AST) -> str | None:
    """``attr`` for ``self.attr``, else None."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return node.attr
    return None


def _declared_params(method: MethodFacts) -> Iterator[ParamDecl]:
    scope = method.scope
    for node in own_nodes(method.node):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            value = node.value
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(value, ast.Call) and _is_parameter_call(value, scope):
                for target in targets:
                    name = self_attr(target)
                    if name:
                        yield ParamDecl(name, method.name, node, value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = node.args
            if (
                node.func.attr == "register_parameter"
                and self_attr(node.func) is not None
                and len(args) == 2
                and isinstance(args[0], ast.Constant)
                and isinstance(args[0].value, str)
            ):
                call = args[1] if isinstance(args[1], ast.Call) else None
                yield ParamDecl(args[0].value, method.name, node, call)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "self"
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and isinstance(node.args[2], ast.Call)
            and _is_parameter_call(node.args[2], scope)
        ):
            yield ParamDecl(node.args[1].value, method.name, node, node.args[2])


def _is_parameter_call(call: ast.Call, scope: Scope) -> bool:
    func = call.func
    return isinstance(func, (ast.Name, ast.Attribute)) and resolves_only_to(
        func, scope, tn.PARAMETER
    )


# -- recognizers -----------------------------------------------------------------


def _call_name(call: ast.Call, method: MethodFacts, targets: frozenset[str]) -> bool:
    func = call.func
    return isinstance(func, (ast.Name, ast.Attribute)) and resolves_only_to(
        func, method.scope, targets
    )


def _method_call(node: ast.AST, names: frozenset[str]) -> ast.Call | None:
    """``x.<name>(...)`` where ``x`` is not a module name like ``torch``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    ):
        return node
    return None


def _single_def(name: str, method: MethodFacts) -> ast.expr | None:
    values = method.defs.get(name)
    if not values or len(values) != 1:
        return None
    return values[0]


def _param_of(
    expr: ast.expr, method: MethodFacts, depth: int
) -> tuple[str, bool] | None:
    if depth > _MAX_DEPTH:
        return None
    name = self_attr(expr)
    if name is not None:
        return (name, False) if name in method.owner.params else None
    if isinstance(expr, ast.Attribute) and expr.attr in DETACH_ATTRS:
        inner = _param_of(expr.value, method, depth + 1)
        return (inner[0], True) if inner else None
    if isinstance(expr, ast.Name):
        value = _single_def(expr.id, method)
        if value is None:
            return None
        inner = _param_of(value, method, depth + 1)
        if inner and method.in_no_grad(value):
            return inner[0], True
        return inner
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        attr = expr.func.attr
        receiver = expr.func.value
        if attr in SHAPE_METHODS and not _is_module_ref(receiver, method):
            return _param_of(receiver, method, depth + 1)
        if attr == "detach":
            inner = _param_of(receiver, method, depth + 1)
            return (inner[0], True) if inner else None
    return None


def _is_module_ref(expr: ast.expr, method: MethodFacts) -> bool:
    """``torch``/``torch.linalg``: a namespace, not a tensor receiver."""
    if not isinstance(expr, (ast.Name, ast.Attribute)):
        return False
    names = resolve(expr, method.scope)
    return bool(names) and all(n is not None and n.startswith("torch") for n in names)


def _norm_of(
    expr: ast.expr, method: MethodFacts, depth: int, detached: bool
) -> NormInfo | None:
    if depth > _MAX_DEPTH:
        return None
    node = expr
    # Local names: `n = v.norm(...)`, and whether that ran under no_grad.
    if isinstance(node, ast.Name):
        value = _single_def(node.id, method)
        if value is None:
            return None
        off = detached or method.in_no_grad(value)
        return _norm_of(value, method, depth + 1, off)
    # Epsilon and clamps: `n + eps`, `eps + n`, `n.clamp_min(eps)`.
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if _is_constantish(other, method):
                found = _norm_of(side, method, depth + 1, detached)
                if found:
                    return NormInfo(expr, found.base, found.detached)
        return None
    if isinstance(node, ast.Attribute) and node.attr in DETACH_ATTRS:
        found = _norm_of(node.value, method, depth + 1, True)
        return NormInfo(expr, found.base, True) if found else None
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id in DETACH_BUILTINS and node.args:
        found = _norm_of(node.args[0], method, depth + 1, True)
        return NormInfo(expr, found.base, True) if found else None
    if isinstance(func, (ast.Name, ast.Attribute)) and node.args:
        if resolves_only_to(func, method.scope, tn.NORM_FUNCTIONS):
            return _norm_result(expr, node.args[0], method, depth, detached)
        if resolves_only_to(func, method.scope, tn.CLAMP_FUNCTIONS):
            found = _norm_of(node.args[0], method, depth + 1, detached)
            return NormInfo(expr, found.base, found.detached) if found else None
        if resolves_only_to(func, method.scope, tn.SQRT_FUNCTIONS):
            return _sum_of_squares(expr, node.args[0], method, depth, detached)
    if not isinstance(func, ast.Attribute) or _is_module_ref(func.value, method):
        return None
    receiver = func.value
    attr = func.attr
    if attr == "norm":
        return _norm_result(expr, receiver, method, depth, detached)
    if attr == "sqrt" and not node.args:
        return _sum_of_squares(expr, receiver, method, depth, detached)
    if attr in ("clamp", "clamp_min", "clip", "add") or attr in SHAPE_METHODS:
        found = _norm_of(receiver, method, depth + 1, detached)
        return NormInfo(expr, found.base, found.detached) if found else None
    if attr in DETACH_METHODS:
        found = _norm_of(receiver, method, depth + 1, True)
        return NormInfo(expr, found.base, True) if found else None
    return None


def norm_call_argument(call: ast.Call, scope: Scope) -> ast.expr | None:
    """The tensor whose norm ``call`` computes: ``torch.norm(x)``,
    ``torch.linalg.vector_norm(x)``, ``x.norm()``; None for other calls."""
    func = call.func
    if (
        isinstance(func, (ast.Name, ast.Attribute))
        and call.args
        and resolves_only_to(func, scope, tn.NORM_FUNCTIONS)
    ):
        return call.args[0]
    if isinstance(func, ast.Attribute) and func.attr == "norm":
        return func.value
    return None


def _norm_result(
    expr: ast.expr, tensor: ast.expr, method: MethodFacts, depth: int, detached: bool
) -> NormInfo | None:
    found = _param_of(tensor, method, depth + 1)
    if found is None:
        return None
    base, read_detached = found
    return NormInfo(expr, base, detached or read_detached)


def _sum_of_squares(
    expr: ast.expr, inner: ast.expr, method: MethodFacts, depth: int, detached: bool
) -> NormInfo | None:
    """``sqrt(sum(x ** 2))`` in its method and function spellings, on one
    line (the prefilter looks for it line by line)."""
    if expr.lineno != expr.end_lineno:
        return None
    summed = None
    if isinstance(inner, ast.Call):
        if _method_call(inner, frozenset({"sum"})) and not _is_module_ref(
            inner.func.value,  # type: ignore[attr-defined]
            method,
        ):
            summed = inner.func.value  # type: ignore[attr-defined]
        elif _call_name(inner, method, tn.SUM_FUNCTIONS) and inner.args:
            summed = inner.args[0]
    if summed is None:
        return None
    squared = _squared(summed, method)
    if squared is None:
        return None
    return _norm_result(expr, squared, method, depth, detached)


def _squared(expr: ast.expr, method: MethodFacts) -> ast.expr | None:
    if isinstance(expr, ast.BinOp):
        if (
            isinstance(expr.op, ast.Pow)
            and isinstance(expr.right, ast.Constant)
            and expr.right.value == 2
        ):
            return expr.left
        if isinstance(expr.op, ast.Mult) and ast.dump(expr.left) == ast.dump(
            expr.right
        ):
            return expr.left
        return None
    if not isinstance(expr, ast.Call):
        return None
    if (
        _method_call(expr, frozenset({"pow"}))
        and expr.args
        and isinstance(expr.args[0], ast.Constant)
        and expr.args[0].value == 2
    ):
        return expr.func.value  # type: ignore[attr-defined]
    if _method_call(expr, frozenset({"square"})) and not expr.args:
        return expr.func.value  # type: ignore[attr-defined]
    if _call_name(expr, method, tn.SQUARE_FUNCTIONS) and expr.args:
        return expr.args[0]
    if (
        _call_name(expr, method, tn.POW_FUNCTIONS)
        and len(expr.args) == 2
        and isinstance(expr.args[1], ast.Constant)
        and expr.args[1].value == 2
    ):
        return expr.args[0]
    return None


def _is_constantish(expr: ast.expr, method: MethodFacts) -> bool:
    """An epsilon: a number, a name or attribute that is not a parameter."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, (int, float))
    if isinstance(expr, ast.UnaryOp):
        return _is_constantish(expr.operand, method)
    if isinstance(expr, ast.Name):
        return (
            _param_of(expr, method, 0) is None
            and _norm_of(expr, method, 0, False) is None
        )
    name = self_attr(expr)
    return name is not None and name not in method.owner.params


def _is_product(node: ast.AST, method: MethodFacts) -> bool:
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.Mult, ast.Div))
    if isinstance(node, ast.Call):
        if _method_call(node, frozenset({"mul", "div", "multiply", "divide"})):
            return not _is_module_ref(node.func.value, method)  # type: ignore[attr-defined]
        return _call_name(node, method, tn.MUL_FUNCTIONS | tn.DIV_FUNCTIONS) or (
            _call_name(node, method, tn.NORMALIZE_FUNCTIONS)
        )
    return False


def _split(node: ast.expr, method: MethodFacts) -> tuple[list, list] | None:
    """(numerators, denominators) of a product, or None for a leaf."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        left, right = node.left, node.right
        return (
            ([left], [right]) if isinstance(node.op, ast.Div) else ([left, right], [])
        )
    if isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords:
        if _call_name(node, method, tn.MUL_FUNCTIONS):
            return [node.args[0], node.args[1]], []
        if _call_name(node, method, tn.DIV_FUNCTIONS):
            return [node.args[0]], [node.args[1]]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and len(node.args) == 1
        and not node.keywords
        and not _is_module_ref(node.func.value, method)
    ):
        if node.func.attr in ("mul", "multiply"):
            return [node.func.value, node.args[0]], []
        if node.func.attr in ("div", "divide"):
            return [node.func.value], [node.args[0]]
    return None


def _factors(
    node: ast.expr, method: MethodFacts
) -> tuple[list[ast.expr], list[ast.expr]]:
    """Flatten a product into numerator and denominator factors, following
    local names defined once as products (``w = g * v_hat``)."""
    nums: list[ast.expr] = []
    dens: list[ast.expr] = []
    stack: list[tuple[ast.expr, bool, int]] = [(node, True, 0)]
    while stack:
        expr, upper, depth = stack.pop()
        parts = _split(expr, method)
        if parts is None and isinstance(expr, ast.Name) and depth < _MAX_DEPTH:
            value = _single_def(expr.id, method)
            if value is not None and _split(value, method) is not None:
                parts = _split(value, method)
        if parts is None or depth >= _MAX_DEPTH:
            (nums if upper else dens).append(expr)
            continue
        top, bottom = parts
        stack.extend((e, upper, depth + 1) for e in top)
        stack.extend((e, not upper, depth + 1) for e in bottom)
    return nums, dens


def _product_nodes(node: ast.AST, method: MethodFacts) -> Iterator[ast.AST]:
    """The product nodes nested directly in ``node`` (to report once)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        parts = _split(current, method)  # type: ignore[arg-type]
        if parts:
            stack.extend(p for p in parts[0] + parts[1] if _is_product(p, method))


def _match_weight_norm(node: ast.expr, method: MethodFacts) -> WeightNormExpr | None:
    if _call_name_safe(node, method, tn.NORMALIZE_FUNCTIONS):
        return _normalized(node, node, method, ())  # type: ignore[arg-type]
    nums, dens = _factors(node, method)
    for i, num in enumerate(nums):
        if _call_name_safe(num, method, tn.NORMALIZE_FUNCTIONS):
            scales = tuple(nums[:i] + nums[i + 1 :])
            found = _normalized(node, num, method, scales)  # type: ignore[arg-type]
            if found:
                return found
        param = _param_of(num, method, 0)
        if param is None:
            continue
        for den in dens:
            norm = _norm_of(den, method, 0, False)
            if norm is not None and norm.base == param[0]:
                scales = tuple(nums[:i] + nums[i + 1 :])
                return WeightNormExpr(
                    node, method.name, param[0], num, param[1], norm, scales
                )
    return None


def _call_name_safe(
    node: ast.AST, method: MethodFacts, targets: frozenset[str]
) -> bool:
    return isinstance(node, ast.Call) and _call_name(node, method, targets)


def _normalized(
    node: ast.expr, call: ast.Call, method: MethodFacts, scales: tuple[ast.expr, ...]
) -> WeightNormExpr | None:
    if not call.args:
        return None
    param = _param_of(call.args[0], method, 0)
    if param is None:
        return None
    return WeightNormExpr(
        node, method.name, param[0], call.args[0], param[1], None, scales
    )


def reads_param(expr: ast.AST, method: MethodFacts, depth: int = 0) -> bool:
    """True when ``expr`` depends on a parameter through differentiable ops."""
    if depth > _MAX_DEPTH:
        return False
    stack = [expr]
    seen_names: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Attribute):
            if node.attr in DETACH_ATTRS or node.attr in NONDIFF_ATTRS:
                continue
            name = self_attr(node)
            if name is not None:
                if name in method.owner.params:
                    return True
                continue
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and (
                func.attr in DETACH_METHODS or func.attr in NONDIFF_METHODS
            ):
                continue
            if isinstance(func, ast.Name) and func.id in (
                *DETACH_BUILTINS,
                "len",
                "isinstance",
            ):
                continue
        elif isinstance(node, (ast.Compare, ast.Lambda)):
            continue
        elif isinstance(node, ast.Name):
            if node.id in seen_names:
                continue
            seen_names.add(node.id)
            for value in method.defs.get(node.id, ()):
                if value is not None and not method.in_no_grad(value):
                    stack.append(value)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False
