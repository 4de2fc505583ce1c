"""Statement-order facts for the training-loop rules (WN2xx).

Within one function body (or the module body), in source order: where
weight norm is applied and to which module (either API, any alias; the
result of ``m = weight_norm(m)`` names the same module), where optimizers
are built and what they are handed (``m.parameters()``, ``m.weight``, a
name, param-group dicts, lists, ``itertools.chain``), where a module's
weight is initialised or written through ``.data``, and where a name is
rebound to something else (after which it is another module).

Order is the order of statements in the source, compound statements
included; loops are not unrolled. Modules are keyed by their spelling
(``model.conv``, ``self.convs[0]``).

For WN204, on demand: which tensor an application norms (its ``name``, as
written) and what the ``if`` tests around a statement say about a variable
(:class:`Branches`), so that applications that never run in one call are
told apart.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wnlint.facts import torchnames as tn
from wnlint.facts.events import (
    NORM,
    OPTIMIZER,
    REMOVE,
    WRITE,
    Body,
    Path,
    body_of,
    is_optimizer,
    norm_api,
)
from wnlint.facts.guards import plain_apis
from wnlint.facts.resolve import Scope, resolves_only_to
from wnlint.facts.syntax import call_arg, walk

#: Attributes that hold a real parameter (a leaf) of a module.
LEAF_ATTRS = tn.WEIGHT_NORM_LEAVES


@dataclass(frozen=True)
class Application:
    """``weight_norm(<module>, name=...)``, either API."""

    node: ast.Call
    order: int
    keys: frozenset[str]  # spellings of the normed module
    name: str | None  # the normed parameter; None when not a constant
    api: str  # "legacy", "new" or "either" (a shim)

    @property
    def name_arg(self) -> ast.expr | None:
        """The ``name`` argument as written; None for the default."""
        return call_arg(self.node, 1, "name")


@dataclass(frozen=True)
class OptimizerCall:
    node: ast.Call
    order: int
    #: Modules whose ``.parameters()`` it is handed.
    modules: tuple[tuple[str, ast.AST], ...]
    #: ``<module>.<attr>`` tensors it is handed.
    tensors: tuple[tuple[str, str, ast.Attribute], ...]
    #: Names it is handed.
    names: tuple[ast.Name, ...]


@dataclass(frozen=True)
class Write:
    """An init or ``.data`` write to ``<module>.<attr>``."""

    node: ast.AST
    order: int
    key: str
    attr: str
    #: The APIs the ``if`` tests around the write say the module is not
    #: weight-normed by (a repaired init's branch for plain modules).
    plain: frozenset[str] = frozenset()


@dataclass
class ScopeFlow:
    """The facts of one function body or of the module body."""

    scope: Scope
    applications: list[Application] = field(default_factory=list)
    optimizers: list[OptimizerCall] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    #: (order, key) where a spelling is bound to something new.
    rebinds: list[tuple[int, str]] = field(default_factory=list)
    #: Local name -> (order, assigned expression).
    defs: dict[str, list[tuple[int, ast.expr]]] = field(default_factory=dict)
    #: (order, key) where weight norm is removed from a module.
    removals: list[tuple[int, str]] = field(default_factory=list)
    #: order -> the branches the statement sits in: ((compound id, arm), ...).
    paths: dict[int, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    #: compound id -> the order of the statement that starts it.
    starts: dict[int, int] = field(default_factory=dict)
    #: The walk the orders count.
    body: Body | None = field(default=None, repr=False, compare=False)
    _applied: dict[str, tuple[list[Application], list[int]]] | None = field(
        default=None, repr=False, compare=False
    )

    def applied_to(self, key: str) -> tuple[list[Application], list[int]]:
        """The applications to module ``key`` in order, and their orders."""
        if self._applied is None:
            grouped: dict[str, list[Application]] = {}
            for app in self.applications:
                for k in app.keys:
                    grouped.setdefault(k, []).append(app)
            self._applied = {k: (v, [a.order for a in v]) for k, v in grouped.items()}
        return self._applied.get(key, ([], []))

    def rebound_between(self, key: str, start: int, end: int) -> bool:
        """Was ``key`` (or a module holding it) rebound or stripped of weight
        norm after ``start`` and before ``end``?"""
        events = [*self.rebinds, *self.removals]
        return any(start < order < end and covers(k, key) for order, k in events)

    def exclusive(self, a: int, b: int) -> bool:
        """Statements in different arms of one ``if``/``try``/``match``."""
        return self.exclusive_at(a, b) is not None

    def exclusive_at(self, a: int, b: int) -> int | None:
        """The compound statement (its ``id``) in different arms of which
        statements ``a`` and ``b`` sit, or None."""
        arms = dict(self.paths.get(a, ()))
        for node, arm in self.paths.get(b, ()):
            if arms.get(node, arm) != arm:
                return node
        return None


def covers(outer: str, inner: str) -> bool:
    """``outer`` is ``inner`` or a module that contains it."""
    return inner == outer or inner.startswith((outer + ".", outer + "["))


def key_of(expr: ast.AST) -> str | None:
    """The spelling of a module expression: ``a``, ``a.b``, ``a.b[0]``."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = key_of(expr.value)
        return f"{base}.{expr.attr}" if base else None
    if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
        base = key_of(expr.value)
        return f"{base}[{expr.slice.value!r}]" if base else None
    return None


def flows(
    tree: ast.Module,
    module_scope: Scope,
    calls: Sequence[Any],
    bodies: dict[int, Body],
) -> list[ScopeFlow]:
    """A :class:`ScopeFlow` for each function body (and the module body) that
    applies weight norm or builds an optimizer: no other can hold a WN2xx
    finding, and most functions of a large file do neither."""
    wanted: dict[int, Scope] = {}
    for site in calls:
        func = site.node.func
        if not (norm_api(func, site.scope) or is_optimizer(func, site.scope)):
            continue
        scope = site.scope
        while scope.kind not in ("function", "module") and scope.parent is not None:
            scope = scope.parent
        if scope.kind == "function" or scope is module_scope:
            wanted[id(scope)] = scope
    out = []
    for scope in wanted.values():
        owner = tree if scope is module_scope else scope.node
        out.append(_flow(body_of(bodies, owner, scope)))  # type: ignore[arg-type]
    return out


# -- building ----------------------------------------------------------------------


def _flow(body: Body) -> ScopeFlow:
    """The order facts of one body, from its events."""
    scope = body.scope
    flow = ScopeFlow(scope)
    flow.body = body
    events = body.events
    at = 0
    for order, (stmt, path) in enumerate(body.statements):
        flow.paths[order] = path
        flow.starts.setdefault(id(stmt), order)
        applied_keys: set[str] = set()
        while at < len(events) and events[at].order == order:
            event = events[at]
            at += 1
            node: Any = event.node
            if event.kind == NORM:
                application = _application(
                    node, order, event.api, _result_keys(stmt, node)
                )
                flow.applications.append(application)
                applied_keys |= application.keys
            elif event.kind == REMOVE:
                removed = key_of(event.target)  # type: ignore[arg-type]
                if removed is not None:
                    flow.removals.append((order, removed))
            elif event.kind == OPTIMIZER:
                flow.optimizers.append(_optimizer(node, order, scope))
            elif event.kind == WRITE:
                _write(event.target, node, order, flow, path)
        _assignments(stmt, order, flow, applied_keys)
    return flow


def _write(
    tensor: ast.expr | None, node: ast.AST, order: int, flow: ScopeFlow, path: Path
) -> None:
    """``<module>.<attr>`` written in place: an init or ``.data`` write."""
    if isinstance(tensor, ast.Attribute):
        owner = key_of(tensor.value)
        if owner:
            tests = flow.body.guards(path) if path and flow.body else []
            plain = plain_apis(tests, lambda m: key_of(m) == owner, flow.scope)
            flow.writes.append(Write(node, order, owner, tensor.attr, plain))


def _assignments(
    stmt: ast.stmt, order: int, flow: ScopeFlow, applied: set[str]
) -> None:
    targets, value = _assigned(stmt)
    # Only a lone target names the value: `a = b = f()` is not tracked.
    definition = value if len(targets) == 1 else None
    for target in targets:
        # `.data` writes are init writes, not rebinding the module.
        if not (isinstance(target, ast.Attribute) and target.attr in tn.DETACH_ATTRS):
            _rebinds(target, order, flow, applied, definition)


def _assigned(stmt: ast.stmt) -> tuple[list[ast.expr], ast.expr | None]:
    """The targets a statement binds, and the value when it has one."""
    if isinstance(stmt, ast.Assign):
        return stmt.targets, stmt.value
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        return [stmt.target], stmt.value
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target], None
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [
            i.optional_vars for i in stmt.items if i.optional_vars is not None
        ], None
    return [], None


def _rebinds(
    target: ast.expr,
    order: int,
    flow: ScopeFlow,
    applied: set[str],
    definition: ast.expr | None,
) -> None:
    """A store to a spelling makes it another module, unless the statement
    itself applied weight norm to it (``m = weight_norm(m)``)."""
    for node in walk(target):
        key = key_of(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if key and isinstance(getattr(node, "ctx", None), ast.Store):
            if key not in applied:
                flow.rebinds.append((order, key))
            if isinstance(node, ast.Name) and definition is not None:
                flow.defs.setdefault(key, []).append((order, definition))


def _result_keys(stmt: ast.stmt, call: ast.Call) -> set[str]:
    """``conv = weight_norm(...)``: ``conv`` names the normed module too."""
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is call:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return {k for k in map(key_of, targets) if k}
    return set()


def _application(
    call: ast.Call, order: int, api: str | None, result_keys: set[str]
) -> Application:
    target = call_arg(call, 0, "module")
    name_node = call_arg(call, 1, "name")
    if name_node is None:
        name: str | None = "weight"
    elif isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
        name = name_node.value
    else:
        name = None
    keys = {key_of(target)} if target is not None else set()
    keys |= result_keys
    return Application(call, order, frozenset(k for k in keys if k), name, api or "")


def _optimizer(call: ast.Call, order: int, scope: Scope) -> OptimizerCall:
    params = call_arg(call, 0, "params")
    modules: list[tuple[str, ast.AST]] = []
    tensors: list[tuple[str, str, ast.Attribute]] = []
    names: list[ast.Name] = []
    stack = [params] if params is not None else []
    while stack:
        expr = stack.pop()
        if isinstance(expr, ast.Call):
            module = _parameters_of(expr)
            if module:
                modules.append((module, expr))
            else:
                stack.extend(_call_params(expr, scope))
        elif isinstance(expr, ast.Attribute):
            owner = key_of(expr.value)
            if owner:
                tensors.append((owner, expr.attr, expr))
        elif isinstance(expr, ast.Name):
            names.append(expr)
        else:
            stack.extend(_container_params(expr))
    return OptimizerCall(call, order, tuple(modules), tuple(tensors), tuple(names))


def _parameters_of(call: ast.Call) -> str | None:
    """``m.parameters()`` / ``m.named_parameters()``: the spelling of ``m``."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in (
        "parameters",
        "named_parameters",
    ):
        return key_of(func.value)
    return None


def _call_params(call: ast.Call, scope: Scope) -> list[ast.expr]:
    """What a wrapping call passes its parameters through from: ``list(...)``,
    ``filter(pred, ...)``, ``itertools.chain(...)``; other calls hide them."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in ("list", "tuple", "filter"):
        return call.args[-1:]
    if isinstance(func, (ast.Name, ast.Attribute)) and resolves_only_to(
        func, scope, tn.CHAIN
    ):
        return call.args
    return []


def _container_params(expr: ast.expr) -> list[ast.expr]:
    """The parts of a container, param group or concatenation that hold
    parameters."""
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return expr.elts
    if isinstance(expr, ast.Starred):
        return [expr.value]
    if isinstance(expr, ast.Dict):
        return [
            v
            for k, v in zip(expr.keys, expr.values)
            if isinstance(k, ast.Constant) and k.value == "params"
        ]
    if isinstance(expr, (ast.ListComp, ast.GeneratorExp)):
        return [expr.generators[0].iter]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return [expr.left, expr.right]
    return []


def function_flow(scope: Scope, bodies: dict[int, Body]) -> ScopeFlow:
    """The flow of one function body, whether or not :func:`flows` built it."""
    return _flow(body_of(bodies, scope.node, scope))  # type: ignore[arg-type]
