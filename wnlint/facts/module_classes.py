"""Per-class facts for the WN1xx rules, built once per file.

For each ``nn.Module`` subclass in a file: its methods (same-file base
classes included), the parameters it declares (``nn.Parameter``,
``register_parameter``, the ``weight``/``bias`` of a torch layer it
subclasses), the methods ``forward`` reaches through ``self.m()`` calls and
properties, and, per method, local def-use and which statements run without
autograd. What a norm or a weight-norm product is lives in
:mod:`wnlint.facts.norms`; which classes share ``self`` in :mod:`wnlint.facts.classes`.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from wnlint.facts import torchnames as tn
from wnlint.facts.classes import ClassGraph
from wnlint.facts.definitions import is_torch_module_class
from wnlint.facts.norms import grad_walk, is_no_grad
from wnlint.facts.products import WeightNormExpr, weight_norm_products
from wnlint.facts.resolve import Scope, resolve, split_import
from wnlint.facts.syntax import (
    is_call_to,
    is_self,
    own_nodes,
    reachable_methods,
    record_bindings,
    self_attr,
    shape,
    single_value,
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
    #: The class, held weakly: it holds its methods, and a cycle would leave
    #: the parsed tree to the cycle collector.
    owner_ref: weakref.ref[ModuleClass]
    #: Local name -> every expression assigned to it (None: not an alias).
    defs: dict[str, list[ast.expr | None]] = field(default_factory=dict)
    #: ids of nodes that run under ``torch.no_grad()``/``inference_mode()``.
    no_grad_nodes: set[int] = field(default_factory=set)
    no_grad_method: bool = False

    @property
    def owner(self) -> ModuleClass:
        owner = self.owner_ref()
        assert owner is not None, "a method outlived its class's analysis"
        return owner

    def in_no_grad(self, node: ast.AST) -> bool:
        return self.no_grad_method or id(node) in self.no_grad_nodes

    def single_def(self, name: str) -> ast.expr | None:
        """The one expression assigned to local ``name``; None when it is
        assigned more than once, bound otherwise (a loop, an augmented
        assignment, unpacking) or not at all (an argument)."""
        return single_value(self.defs, name)


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

    @property
    def weighted_layer(self) -> bool:
        """It derives from a torch layer with a weight (``nn.Linear``):
        ``weight`` and ``bias`` are inherited parameters."""
        return any(
            q.rsplit(".", 1)[-1] in tn.LAYERS_WITH_WEIGHT for q in self.torch_bases
        )

    @cached_property
    def params(self) -> dict[str, ParamDecl]:
        found: dict[str, ParamDecl] = {}
        for base in reversed(self.file_bases):
            found.update(base.params)
        if self.weighted_layer:
            for name in ("weight", "bias"):
                found.setdefault(name, ParamDecl(name, None, None, None))
        for method in self.own_methods.values():
            for decl in _declared_params(method):
                found[decl.name] = decl
        return found

    @cached_property
    def named_params(self) -> dict[tuple[str, str], ParamDecl]:
        """Parameters registered under a computed name or on a submodule
        (``self.register_parameter(f"{name}_g", ...)``,
        ``self.module.register_parameter(name + "_raw", ...)``,
        ``setattr(self.module, name, nn.Parameter(...))``), keyed by the
        owner (``"self"`` or ``"self.<sub>"``) and :func:`name_key` of the
        name. :func:`wnlint.facts.param_reads.named_param_read` finds
        their reads."""
        found: dict[tuple[str, str], ParamDecl] = {}
        for base in reversed(self.file_bases):
            found.update(base.named_params)
        for method in self.own_methods.values():
            for node in own_nodes(method.node):
                entry = _named_declaration(node, method)
                if entry is not None:
                    found[entry[0]] = entry[1]
        return found

    @cached_property
    def forward_reachable(self) -> frozenset[str]:
        """``forward`` and every method it reaches via ``self.m()`` or a property."""
        nodes = {name: method.node for name, method in self.methods.items()}
        return frozenset(reachable_methods(nodes, ("forward", "__call__")))

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
        self._by_node: dict[int, tuple[int, ModuleClass]] | None = None
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
        #: Every nn.Module class of the file, analysed or not: the rules whose
        #: bug needs no norm reach the others through :meth:`classes_around`.
        self.all_classes: list[ModuleClass] = everything
        self._scopes = scopes
        self._built: set[int] = needed

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
                if names and all(is_torch_module_class(n) for n in names):
                    torch_bases.append(min(n for n in names if n))
                elif len(names) == 1:
                    # a class of the project's own (`BaseModule` from base.py)
                    found = _project_base(next(iter(names)), scope)
                    if found is not None:
                        torch_bases.append(found)
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
        """Analysed classes that derive from ``cls`` in this file, in file
        order (looked up by node: linear in the answer, not the file)."""
        if self._by_node is None:
            self._by_node = {id(c.node): (i, c) for i, c in enumerate(self.classes)}
        below = self.graph.descendants(cls.node)
        found = sorted(self._by_node[id(n)] for n in below if id(n) in self._by_node)
        return [c for _, c in found]

    def weight_norm_exprs(self, cls: ModuleClass) -> list[WeightNormExpr]:
        """Weight-norm products in the methods ``forward`` reaches."""
        key = id(cls)
        cached = self._wn_cache.get(key)
        if cached is None:
            cached = [
                expr
                for name in sorted(cls.forward_reachable)
                for expr in weight_norm_products(cls.methods[name])
            ]
            self._wn_cache[key] = cached
        return cached

    def normalizing_classes(self) -> Iterator[tuple[ModuleClass, list[WeightNormExpr]]]:
        """Classes whose forward divides one of their parameters by its norm."""
        for cls in self.classes:
            exprs = self.weight_norm_exprs(cls)
            if exprs:
                yield cls, exprs

    def classes_around(self, class_nodes: AbstractSet[int]) -> list[ModuleClass]:
        """Every nn.Module class of the file, whether it calls a norm or not,
        that is one of ``class_nodes`` (ids of ClassDef nodes) or derives from
        one in this file, with its per-method facts (built on first request,
        for it and its same-file bases)."""
        found: list[ModuleClass] = []
        for cls in self.all_classes:
            family = _with_file_bases(cls)
            if not any(id(member.node) in class_nodes for member in family):
                continue
            for member in family:
                if id(member) not in self._built:
                    self._built.add(id(member))
                    _build_methods(member, self._scopes)
            found.append(cls)
        return found


# -- building ------------------------------------------------------------------

_NORMISH = tn.NORM_FUNCTIONS | tn.NORMALIZE_FUNCTIONS | tn.SQRT_FUNCTIONS


def _classes_with_norm_calls(calls: Sequence[Any]) -> set[int]:
    """ids of ClassDef nodes whose methods make a norm-like call."""
    found: set[int] = set()
    for site in calls:
        func = site.node.func
        scope = site.scope.enclosing("class")
        if scope is None or id(scope.node) in found:
            continue
        if (isinstance(func, ast.Attribute) and func.attr in tn.NORMISH_ATTRS) or any(
            name in _NORMISH for name in resolve(func, site.scope)
        ):
            found.add(id(scope.node))
    return found


def _project_base(name: str | None, scope: Scope) -> str | None:
    """The ``torch.nn`` module class that the project's class ``name`` (as
    imported) derives from."""
    project = scope.module.project
    parts = split_import(name) if name is not None else None
    if project is None or parts is None:
        return None
    found = project.base(*parts)
    return found if is_torch_module_class(found) else None


def _build_methods(cls: ModuleClass, scopes: dict[int, Scope]) -> None:
    for item in cls.node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            method_scope = scopes.get(id(item))
            if method_scope is not None:
                cls.own_methods[item.name] = _method_facts(item, method_scope, cls)


def _method_facts(
    func: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope, owner: ModuleClass
) -> MethodFacts:
    facts = MethodFacts(func.name, func, scope, weakref.ref(owner))
    facts.no_grad_method = any(is_no_grad(d, scope) for d in func.decorator_list)
    for node, off in grad_walk(func, scope):
        if off:
            facts.no_grad_nodes.add(id(node))
        if not isinstance(node, _NOT_BINDING_HERE):
            record_bindings(facts.defs, node)
    return facts


#: Nodes whose bindings are not the method's own (a nested definition's
#: body) or are recorded from their children (a ``with``'s items).
_NOT_BINDING_HERE = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.With,
    ast.AsyncWith,
)


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


# -- parameters under computed names ----------------------------------------------

#: How many local aliases :func:`name_key` follows.
_MAX_ALIASES = 8


def name_key(expr: ast.expr, method: MethodFacts) -> str | None:
    """An attribute name as a key comparable across methods: the text of a
    string literal, else the expression's
    :func:`~wnlint.facts.syntax.shape` (``f"{name}_g"``,
    ``self.name + "_bar"``), a local followed to its one definition. None for
    a bare name that is not a local defined once: an argument or a loop
    variable means something else in each method."""
    for _ in range(_MAX_ALIASES):
        if not isinstance(expr, ast.Name):
            break
        value = method.single_def(expr.id)
        if value is None:
            return None
        expr = value
    if isinstance(expr, ast.Name):
        return None
    text = string_value(expr)
    return repr(text) if text is not None else repr(shape(expr))


def owner_of(expr: ast.AST) -> str | None:
    """``"self"`` or ``"self.<sub>"``: the objects a class registers on."""
    if is_self(expr):
        return "self"
    sub = self_attr(expr)
    return f"self.{sub}" if sub is not None else None


def _named_declaration(
    node: ast.AST, method: MethodFacts
) -> tuple[tuple[str, str], ParamDecl] | None:
    """``<owner>.register_parameter(<name>, ...)``, ``setattr(<owner>,
    <name>, nn.Parameter(...))`` or ``self.<sub>.<attr> = nn.Parameter(...)``
    with ``<owner>`` ``self`` or ``self.<sub>``."""
    scope = method.scope
    if isinstance(node, ast.Assign):
        target = node.targets[0]
        value = node.value
        if len(node.targets) != 1 or not isinstance(target, ast.Attribute):
            return None
        sub = self_attr(target.value)
        if sub is None or not is_call_to(value, scope, tn.PARAMETER):
            return None
        decl = ParamDecl(target.attr, method.name, node, value)  # type: ignore[arg-type]
        return (f"self.{sub}", repr(target.attr)), decl
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    args = node.args
    if isinstance(func, ast.Attribute) and func.attr == "register_parameter":
        if len(args) != 2:
            return None
        holder, name, value = func.value, args[0], args[1]
    elif (
        isinstance(func, ast.Name)
        and func.id == "setattr"
        and len(args) == 3
        and is_call_to(args[2], scope, tn.PARAMETER)
    ):
        holder, name, value = args
    else:
        return None
    owner = owner_of(holder)
    if owner is None and isinstance(holder, ast.Name):
        owner = _stored_as(holder.id, method)
    key = name_key(name, method)
    if owner is None or key is None:
        return None
    call = value if isinstance(value, ast.Call) else None
    return (owner, key), ParamDecl(ast.unparse(name), method.name, node, call)


def _stored_as(name: str, method: MethodFacts) -> str | None:
    """``"self.<sub>"`` when the method stores local ``name`` (an argument,
    the wrapped module) as ``self.<sub> = name`` and never rebinds it."""
    if method.defs.get(name):
        return None
    for node in own_nodes(method.node):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
        ):
            for target in node.targets:
                sub = self_attr(target)
                if sub is not None:
                    return f"self.{sub}"
    return None


def _with_file_bases(cls: ModuleClass) -> list[ModuleClass]:
    """``cls`` and its same-file base classes, transitively."""
    found = [cls]
    for member in found:
        for base in member.file_bases:
            if all(base is not f for f in found):
                found.append(base)
    return found
