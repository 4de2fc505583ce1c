"""Per-class facts for the WN1xx rules, built once per file.

For each ``nn.Module`` subclass in a file: its methods (same-file base
classes included), the parameters it declares (``nn.Parameter``,
``register_parameter``, the ``weight``/``bias`` of a torch layer it
subclasses), the methods ``forward`` reaches through ``self.m()`` calls and
properties, and, per method, local def-use and which statements run without
autograd. What a norm or a weight-norm product is lives in
:mod:`wnlint.norms`; which classes share ``self`` in :mod:`wnlint.classes`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from wnlint import norms
from wnlint import torchnames as tn
from wnlint.classes import ClassGraph
from wnlint.norms import WeightNormExpr
from wnlint.resolve import Scope, resolve
from wnlint.syntax import (
    is_call_to,
    is_name_of,
    is_self,
    own_nodes,
    self_attr,
    string_value,
)


@dataclass(frozen=True)
class ParamDecl:
    """A parameter a class declares (or inherits from a torch layer)."""

    name: str
    method: str | None  # None for a torch layer's inherited weight/bias
    node: ast.AST | None  # the statement or call that declares it
    call: ast.Call | None  # the ``nn.Parameter(...)`` call, if any


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

    def single_def(self, name: str) -> ast.expr | None:
        """The one expression assigned to local ``name``; None when it is
        assigned more than once, bound otherwise (a loop, an augmented
        assignment, unpacking) or not at all (an argument)."""
        values = self.defs.get(name)
        if not values or len(values) != 1:
            return None
        return values[0]


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
                name = self_attr(node)
                if name is not None and name in methods and name not in seen:
                    seen.add(name)
                    todo.append(name)
        return frozenset(seen)

    def reachable(self) -> list[MethodFacts]:
        """The methods ``forward`` reaches, in source order."""
        methods = [self.methods[name] for name in self.forward_reachable]
        return sorted(methods, key=lambda m: m.node.lineno)


class ModuleFacts:
    """The nn.Module classes of a file, and the products over them.

    Only classes whose family (the class and its same-file bases) calls
    something norm-like are analysed: without one, no WN1xx rule can fire,
    and building per-method facts for every class of a large model file is
    most of the cost of the WN1xx rules. Which classes share ``self``
    (:meth:`family`) is answered over every class of the file.
    """

    def __init__(
        self,
        class_nodes: list[ast.ClassDef],
        scopes: dict[int, Scope],
        calls: Sequence[Any],
    ) -> None:
        self.graph = ClassGraph(class_nodes)
        self.classes: list[ModuleClass] = []
        self._wn_cache: dict[int, list[WeightNormExpr]] = {}
        everything = self._module_classes(class_nodes, scopes, calls)
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
                _build_methods(cls, scopes)

    @staticmethod
    def _module_classes(
        class_nodes: list[ast.ClassDef], scopes: dict[int, Scope], calls: Sequence[Any]
    ) -> list[ModuleClass]:
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
        return everything

    def family(self, cls: ModuleClass) -> list[ast.ClassDef]:
        """Every class of the file whose code may run with ``cls``'s ``self``."""
        return self.graph.family(cls.node)

    def subclasses(self, cls: ModuleClass) -> list[ModuleClass]:
        """Analysed classes that derive from ``cls`` in this file."""
        below = {id(node) for node in self.graph.descendants(cls.node)}
        return [c for c in self.classes if id(c.node) in below]

    def weight_norm_exprs(self, cls: ModuleClass) -> list[WeightNormExpr]:
        """Weight-norm products in the methods ``forward`` reaches."""
        key = id(cls)
        cached = self._wn_cache.get(key)
        if cached is None:
            cached = [
                expr
                for name in sorted(cls.forward_reachable)
                for expr in norms.weight_norm_products(cls.methods[name])
            ]
            self._wn_cache[key] = cached
        return cached

    def normalizing_classes(self) -> Iterator[tuple[ModuleClass, list[WeightNormExpr]]]:
        """Classes whose forward divides one of their parameters by its norm."""
        for cls in self.classes:
            exprs = self.weight_norm_exprs(cls)
            if exprs:
                yield cls, exprs


# -- building ------------------------------------------------------------------

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
        if (isinstance(func, ast.Attribute) and func.attr in tn.NORMISH_ATTRS) or any(
            name in _NORMISH for name in resolve(func, site.scope)
        ):
            found.add(id(scope.node))
    return found


def _is_torch_module(name: str | None) -> bool:
    if name is None or not name.startswith(tn.TORCH_NN):
        return False
    last = name.rsplit(".", 1)[-1]
    return last[:1].isupper() and last not in tn.NOT_MODULES


def _build_methods(cls: ModuleClass, scopes: dict[int, Scope]) -> None:
    for item in cls.node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            method_scope = scopes.get(id(item))
            if method_scope is not None:
                cls.own_methods[item.name] = _method_facts(item, method_scope, cls)


def _is_no_grad(expr: ast.expr, scope: Scope) -> bool:
    if isinstance(expr, ast.Call):
        expr = expr.func
    return is_name_of(expr, scope, tn.NO_GRAD)


def _method_facts(
    func: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope, owner: ModuleClass
) -> MethodFacts:
    facts = MethodFacts(func.name, func, scope, owner)
    facts.no_grad_method = any(_is_no_grad(d, scope) for d in func.decorator_list)
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
                _is_no_grad(item.context_expr, scope) for item in node.items
            )
            stack.extend((child, off) for child in node.items)
            stack.extend((child, inner) for child in node.body)
            continue
        _record_defs(facts, node)
        stack.extend((child, off) for child in ast.iter_child_nodes(node))
    return facts


def _record_defs(facts: MethodFacts, node: ast.AST) -> None:
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


def _record_def(facts: MethodFacts, target: ast.expr, value: ast.expr) -> None:
    if isinstance(target, ast.Name):
        facts.defs.setdefault(target.id, []).append(value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            for node in ast.walk(elt):
                if isinstance(node, ast.Name):
                    facts.defs.setdefault(node.id, []).append(None)


def _declared_params(method: MethodFacts) -> Iterator[ParamDecl]:
    for node in own_nodes(method.node):
        decl = _declaration(node, method)
        if isinstance(decl, ParamDecl):
            yield decl
        elif decl is not None:
            yield from decl


def _declaration(
    node: ast.AST, method: MethodFacts
) -> ParamDecl | list[ParamDecl] | None:
    """``self.x = nn.Parameter(...)``, ``self.register_parameter("x", ...)``
    or ``setattr(self, "x", nn.Parameter(...))``."""
    scope = method.scope
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        value = node.value
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if isinstance(value, ast.Call) and is_call_to(value, scope, tn.PARAMETER):
            return [
                ParamDecl(name, method.name, node, value)
                for target in targets
                if (name := self_attr(target))
            ]
        return None
    if not isinstance(node, ast.Call):
        return None
    args = node.args
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "register_parameter"
        and self_attr(func) is not None
        and len(args) == 2
        and string_value(args[0]) is not None
    ):
        call = args[1] if isinstance(args[1], ast.Call) else None
        return ParamDecl(string_value(args[0]), method.name, node, call)  # type: ignore[arg-type]
    if (
        isinstance(func, ast.Name)
        and func.id == "setattr"
        and len(args) == 3
        and is_self(args[0])
        and string_value(args[1]) is not None
        and is_call_to(args[2], scope, tn.PARAMETER)
    ):
        return ParamDecl(string_value(args[1]), method.name, node, args[2])  # type: ignore[arg-type]
    return None
