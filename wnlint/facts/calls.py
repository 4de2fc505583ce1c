"""What functions and classes do to modules, across calls and sibling files:
aggregates of the events of their bodies (:mod:`wnlint.facts.events`).

Real code never writes a weight-norm bug in one function: a helper returns
``weight_norm(nn.Conv1d(...))``, an ``init_weights(m)`` handed to
``.apply()`` writes ``m.weight``, a hook typed by ``isinstance`` writes
``module.conv.weight``. Computed once per function or class, on demand:

* :meth:`FileSummaries.normed` -- the weight-normed modules an expression
  is or holds (a weight-norm call, a helper that returns one, a container
  of them, an instance of a class that holds them);
* :meth:`FileSummaries.class_normed` -- the attributes a class's
  ``__init__`` (and what it calls) leaves holding weight-normed modules;
* :meth:`FileSummaries.param_writes` -- which parameter's tensor a function
  writes in place (its write events, and calls of functions that write),
  with the guards around the write (:mod:`wnlint.facts.guards`).

A callee in another file of the package is summarized from that file
(:mod:`wnlint.facts.definitions`).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from wnlint.facts import local_values as held
from wnlint.facts import norm_choice as choice
from wnlint.facts import torchnames as tn
from wnlint.facts.definitions import (
    NORM_WORDS,
    Def,
    Scoped,
    is_torch,
    local_definition,
    sibling_definition,
)
from wnlint.facts.events import NORM, WRITE, Body, body_of, norm_api, own_calls
from wnlint.facts.guards import Guard, ParamWrite, guards_from, rooted_path
from wnlint.facts.handed import named_layers, normed_argument, with_built_layers
from wnlint.facts.local_values import Normed
from wnlint.facts.resolve import Scope, resolve, resolves_only_to
from wnlint.facts.syntax import (
    argument_for,
    call_arg,
    is_self,
    local_definitions,
    method_named,
    own_nodes,
    parameter_names,
    self_root_attr,
    single_value,
)

#: How many definitions deep a summary follows (each is summarized once).
_MAX_DEPTH = 12
#: Text a sibling file holds if it has a write.
WRITE_WORDS = (b"init.", b"init,", b".data")  # init, : getattr(nn.init, name)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


class FileSummaries:
    """Summaries of one file's functions and classes (see the module doc)."""

    def __init__(self, analysis: Any, path: str | None) -> None:
        # What is read of the analysis, not the analysis, which holds these
        # summaries: the two form no reference cycle, so a parsed tree is
        # freed as soon as its analysis is, not left to the cycle collector.
        self.scopes: dict[int, Scope] = analysis.scopes
        #: How a sibling file is analysed: as this one was (the analysis
        #: builds on this module, which so never imports it).
        self.analyze: Callable[[ast.Module, str], Any] = type(analysis)
        self.module_scope: Scope = analysis.module_scope
        #: The file's walks of bodies, shared with the statement-order facts.
        self.bodies: dict[int, Body] = analysis.bodies
        self.path = os.path.abspath(path) if path else None
        self._memo: dict[tuple[Hashable, int], Any] = {}
        self._busy: set[tuple[Hashable, int]] = set()
        self._cuts = 0
        self._locals: dict[int, dict[str, list[ast.expr | None]]] = {}
        #: id(function) -> id(statement) -> its arms (local_values.arms).
        self.paths: dict[int, dict[int, tuple]] = {}

    def local_value(
        self, func: ast.AST, name: str, before: int | None = None
    ) -> ast.expr | None:
        """The one value assigned to local ``name`` in ``func``; with
        ``before``, of a name assigned only values, the last one assigned
        above that line (iSTFTNet's ``up = ConvTranspose1d(...)``, later
        ``up = ConvTranspose2d(...)``)."""
        defs = self._locals.get(id(func))
        if defs is None:
            defs = self._locals[id(func)] = local_definitions(func)
        values = defs.get(name) or []
        if before is None or len(values) < 2 or None in values:
            return single_value(defs, name)
        above = [v for v in values if v is not None and v.lineno < before]
        return max(above, key=lambda v: v.lineno) if above else None

    # -- definitions -------------------------------------------------------
    def scope_of(self, node: ast.AST) -> Scope:
        return self.scopes[id(node)]

    def definition(
        self, expr: ast.expr, scope: Scope, needs: tuple[bytes, ...] = ()
    ) -> Scoped | None:
        """The function or class ``expr`` names, here or in a sibling file.

        A sibling file is parsed only when its text holds one of ``needs``
        (what the caller looks for): most imports lead to files that cannot
        answer, and parsing them is most of the cost.
        """
        if isinstance(expr, ast.Name):
            found = local_definition(expr.id, scope)
            if found is not None:
                return Scoped(found, self)
        names = resolve(expr, scope)
        if len(names) != 1:
            return None
        (qual,) = names
        if qual is None or is_torch(qual):
            return None
        return sibling_definition(self, qual, needs)

    # -- weight-normed values ----------------------------------------------
    def normed(
        self, expr: ast.expr, scope: Scope, func: ast.AST | None, depth: int = 0
    ) -> list[Normed]:
        """The weight-normed modules ``expr`` is, holds or builds. ``depth``
        counts the definitions followed, not the displays an expression
        nests (a list of a comprehension of layers is one step, as DAC's
        ``nn.ModuleList([VectorQuantize(...) for i in ...])``)."""
        if depth > _MAX_DEPTH:
            return self._cut()
        if isinstance(expr, ast.Call):
            return self._normed_call(expr, scope, func, depth)
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            return [n for e in expr.elts for n in self.normed(e, scope, func, depth)]
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            inner = self.scopes.get(id(expr), scope)
            return self.normed(expr.elt, inner, func, depth)
        if isinstance(expr, ast.Starred):
            return self.normed(expr.value, scope, func, depth)
        if isinstance(expr, ast.Name) and func is not None:
            return held.normed_local(self, expr.id, scope, func, depth + 1)
        return []

    def _normed_call(
        self, call: ast.Call, scope: Scope, func: ast.AST | None, depth: int
    ) -> list[Normed]:
        callee = call.func
        if not isinstance(callee, (ast.Name, ast.Attribute)):
            return []
        if norm_api(callee, scope):
            module = call_arg(call, 0, "module")
            api = resolve(callee, scope)
            out = []
            for option in held.alternatives(module):
                layer = (
                    self.layer_of(option, scope, func) if option is not None else None
                )
                kinds = held.torch_kinds(self, layer, scope)
                param = held.param_index(option, func) if layer is None else None
                out.append(Normed(call.lineno, self.path, layer, api, kinds, param))
            return out
        if resolves_only_to(callee, scope, tn.MODULE_CONTAINERS) or (
            isinstance(callee, ast.Name) and callee.id in ("list", "tuple")
        ):
            args = [*call.args, *(k.value for k in call.keywords)]
            return [n for a in args for n in self.normed(a, scope, func, depth)]
        if isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Call):
            return held.normed_by_method(self, callee, scope, func, depth + 1)
        called = held.called_definitions(self, callee, scope, func, NORM_WORDS)
        picks = [(found, ()) for found in called] or choice.picked(
            self, callee, scope, func, NORM_WORDS
        )
        return [
            n
            for found, when in picks
            for n in choice.attach(
                choice.built(self, found, call, scope, func, depth), when
            )
        ]

    def layer_of(
        self, expr: ast.expr, scope: Scope, func: ast.AST | None
    ) -> str | None:
        """The class of the module ``expr`` builds: ``nn.Conv1d(...)``."""
        if isinstance(expr, ast.Name) and func is not None:
            value = self.local_value(func, expr.id, before=expr.lineno)
            if value is not None:
                expr = value
        if not isinstance(expr, ast.Call):
            return None
        return self.type_key(expr.func, scope)

    def class_for(self, key: str, scope: Scope) -> Scoped | None:
        """The class a :meth:`type_key` names, here or in a sibling file."""
        if key.isidentifier():
            found = local_definition(key, scope)
            return Scoped(found, self) if isinstance(found, ast.ClassDef) else None
        if is_torch(key):
            return None
        found_def = sibling_definition(self, key, NORM_WORDS)
        if found_def is not None and isinstance(found_def.node, ast.ClassDef):
            return found_def
        return None

    def type_key(self, expr: ast.expr, scope: Scope) -> str | None:
        """A class as written: its qualified name, or a same-file class's name."""
        if isinstance(expr, ast.Name) and local_definition(expr.id, scope):
            return expr.id
        names = resolve(expr, scope)
        if len(names) == 1 and None not in names:
            return next(iter(names))
        return None

    def returns_normed(self, func: Def, depth: int = 0) -> list[Normed]:
        """What a helper's ``return`` gives: ``return weight_norm(...)``."""

        def compute() -> list[Normed]:
            scope = self.scope_of(func)
            return [
                n
                for node in own_nodes(func)
                if isinstance(node, ast.Return) and node.value is not None
                for n in choice.attach(
                    self.normed(node.value, scope, func, depth),
                    choice.conditions(self, node, func),
                )
            ]

        return self._cached("returns", func, compute, [])

    # -- classes -------------------------------------------------------------
    def class_normed(
        self, cls: ast.ClassDef, depth: int = 0
    ) -> dict[str, tuple[int, list[Normed]]]:
        """Attribute -> (position in :meth:`init_trace` from which it holds
        them, -1 for a base class's; the weight-normed modules) after
        ``__init__`` and the methods it calls, same-file bases included;
        a norm chosen by a parameter as its default chooses it."""

        def compute() -> dict[str, tuple[int, list[Normed]]]:
            init = method_named(cls, "__init__")
            out = {}
            for attr, (order, found) in self._class_held(cls, depth).items():
                kept = [choice.settle(n, None, init, None) for n in found]
                if any(kept):
                    out[attr] = (order, [n for n in kept if n is not None])
            return out

        return self._cached("settled", cls, compute, {})

    def _class_held(
        self, cls: ast.ClassDef, depth: int = 0
    ) -> dict[str, tuple[int, list[Normed]]]:
        """:meth:`class_normed`, with the tests of ``__init__``'s
        parameters a module is normed under still open."""

        def compute() -> dict[str, tuple[int, list[Normed]]]:
            out: dict[str, tuple[int, list[Normed]]] = {}
            for base in held.base_definitions(self, cls, NORM_WORDS):
                if not held.runs_init_of(cls, base.node):
                    continue  # `nn.Module.__init__(self)`: the base's never runs
                inherited = base.file.class_normed(base.node, depth + 1)
                for attr, (_, found) in inherited.items():
                    out[attr] = (-1, found)
            stored: dict[str, tuple[ast.AST, tuple]] = {}
            init = method_named(cls, "__init__")
            for order, (stmt, func) in enumerate(self.init_trace(cls)):
                scope = self.scope_of(func)
                when = choice.conditions(self, stmt, func) if func is init else ()
                for attr, found in self._stmt_normed(stmt, scope, func, depth):
                    found = choice.attach(found, when)
                    # A base class's module stored again here is replaced.
                    if found and (attr not in out or out[attr][0] < 0):
                        out[attr] = (order, found)
                        stored[attr] = (func, held.arms(self, stmt, func))
                    elif (
                        not found
                        and held.rebinds(stmt, attr)
                        and held.ends_hold(self, stored.get(attr), stmt, func)
                    ):
                        out.pop(attr, None)  # `self.conv = nn.Conv1d(...)`
            return with_built_layers(self, cls, out)

        return self._cached("class", cls, compute, {})

    def init_trace(self, cls: ast.ClassDef) -> list[tuple[ast.stmt, ast.AST]]:
        """The statements ``__init__`` runs, in order: its own, and those of
        the methods it calls (``self.build()``) at the call."""
        return self._cached(
            "trace", cls, lambda: list(held.init_statements(self, cls)), []
        )

    def class_contents(self, cls: ast.ClassDef, depth: int = 0) -> list[Normed]:
        """Every weight-normed module an instance of ``cls`` holds."""
        if depth > _MAX_DEPTH:
            return self._cut()
        return [n for _, found in self._class_held(cls, depth).values() for n in found]

    def _stmt_normed(
        self, stmt: ast.stmt, scope: Scope, func: ast.AST, depth: int
    ) -> Iterator[tuple[str, list[Normed]]]:
        """Attributes of ``self`` that ``stmt`` makes hold weight-normed modules."""
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                attr = self_root_attr(target)
                if attr:
                    yield attr, self.normed(stmt.value, scope, func, depth)
        for node in own_calls(stmt):
            func_node = node.func
            applied = self._applied_through(node, scope, depth)
            if applied is not None:
                yield applied
            elif (
                isinstance(func_node, ast.Attribute)
                and func_node.attr in tn.CONTAINER_ADDERS
                and self_root_attr(func_node.value)
            ):
                found = [
                    n for a in node.args for n in self.normed(a, scope, func, depth)
                ]
                yield self_root_attr(func_node.value), found  # type: ignore[misc]
            elif norm_api(func_node, scope):
                module = call_arg(node, 0, "module")
                attr = held.applied_attr(module, func) if module is not None else None
                if attr:
                    api = resolve(func_node, scope)
                    yield attr, [Normed(node.lineno, self.path, None, api)]
            elif handed := normed_argument(self, node, scope, func, depth, NORM_WORDS):
                yield handed

    def _applied_through(
        self, call: ast.Call, scope: Scope, depth: int
    ) -> tuple[str, list[Normed]] | None:
        """``self.apply(fn)`` (or ``self.X.apply(fn)``) where ``fn``
        weight-norms the module it is handed: the attribute (``*`` for all
        of ``self``) and a :class:`Normed` per layer class ``fn`` admits."""
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr == "apply"
            and len(call.args) == 1
            and isinstance(call.args[0], (ast.Name, ast.Attribute))
        ):
            return None
        target = "*" if is_self(func.value) else self_root_attr(func.value)
        found = self.definition(call.args[0], scope, NORM_WORDS)
        if target is None or found is None or isinstance(found.node, ast.ClassDef):
            return None
        layers = found.file.norms_param(found.node, depth + 1)
        if not layers:
            return None
        return target, [
            Normed(call.lineno, self.path, layer, api) for layer, api in layers
        ]

    def norms_param(
        self, func: Def, depth: int = 0
    ) -> list[tuple[str | None, frozenset[str | None]]]:
        """The layer classes a function weight-norms its first parameter
        under (``if isinstance(m, nn.Conv1d): weight_norm(m)``; None when
        no type test guards it), each with the names the applying callee
        may be."""

        def compute() -> list[tuple[str | None, frozenset[str | None]]]:
            if not isinstance(func, _FUNCS) or not parameter_names(func):
                return []
            first = parameter_names(func)[0]
            scope = self.scope_of(func)
            body = body_of(self.bodies, func, scope)
            out: list[tuple[str | None, frozenset[str | None]]] = []
            for event in body.events:
                module = event.target
                if not (
                    event.kind == NORM
                    and isinstance(module, ast.Name)
                    and module.id == first
                ):
                    continue
                api = resolve(event.node.func, scope)  # type: ignore[attr-defined]
                path = body.statements[event.order][1]
                tests = [
                    g
                    for t, pos in body.guards(path)
                    for g in guards_from(t, pos, [first], self, scope)
                ]
                types = [g for g in tests if g.positive and g.types]
                named = named_layers([g for g in tests if g.positive and g.names])
                if not types and not named:
                    out.append((None, api))
                for guard in types:
                    out.extend((layer, api) for layer in sorted(guard.types))
                if not types:
                    out.extend((layer, api) for layer in named)
            return out

        return self._cached("norms", func, compute, [])

    # -- writes ------------------------------------------------------------------
    def param_writes(self, func: Def, depth: int = 0) -> list[ParamWrite]:
        """In-place writes to a tensor reached from one of ``func``'s parameters."""

        def compute() -> list[ParamWrite]:
            if not isinstance(func, _FUNCS):
                return []
            params = parameter_names(func)
            scope = self.scope_of(func)
            body = body_of(self.bodies, func, scope)
            direct = {id(e.node): e.target for e in body.events if e.kind == WRITE}
            out = []
            for order, (stmt, path) in enumerate(body.statements):
                mine: tuple[Guard, ...] | None = None
                for node in (stmt, *body.calls(order)):
                    for target, more in self._written(
                        node, direct, scope, depth, params
                    ):
                        rooted = rooted_path(target, params)
                        if rooted is None:
                            continue
                        index, written = rooted
                        if mine is None:
                            mine = tuple(
                                g
                                for t, pos in body.guards(path)
                                for g in guards_from(t, pos, params, self, scope)
                            )
                        write = ParamWrite(
                            index, params[index], written + more, mine, node
                        )
                        out.append(write)
            return out

        return self._cached("writes", func, compute, [])

    def _written(
        self,
        node: ast.AST,
        direct: dict[int, ast.expr | None],
        scope: Scope,
        depth: int,
        params: list[str],
    ) -> Iterator[tuple[ast.expr, tuple[str, ...]]]:
        """(tensor expression, attribute path appended) that ``node`` writes:
        itself (a write event of the body, in ``direct``), or through the
        function it calls."""
        if id(node) in direct:
            yield direct[id(node)], ()  # type: ignore[misc]
            return
        if not isinstance(node, ast.Call) or depth >= _MAX_DEPTH:
            self._cuts += isinstance(node, ast.Call)
            return
        callee = node.func
        if not isinstance(callee, (ast.Name, ast.Attribute)):
            return
        arguments = [*node.args, *(k.value for k in node.keywords)]
        if not any(rooted_path(a, params) for a in arguments):
            return  # what the callee writes cannot be one of ours
        found = self.definition(callee, scope, WRITE_WORDS)
        if found is None or isinstance(found.node, ast.ClassDef):
            return
        for write in found.file.param_writes(found.node, depth + 1):
            if write.guards:
                continue
            arg = argument_for(node, found.node, write.index)
            if arg is not None:
                yield arg, write.path

    # -- memo ------------------------------------------------------------------
    def _cached(
        self, kind: Hashable, node: ast.AST, compute: Callable[[], Any], empty: Any
    ) -> Any:
        key = (kind, id(node))
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return empty  # recursion: what is known so far
        self._busy.add(key)
        cuts = self._cuts
        try:
            value = compute()
        finally:
            self._busy.discard(key)
        if self._cuts == cuts:  # cut short by the depth: asked again, deeper
            self._memo[key] = value
        return value

    def _cut(self) -> list:
        """What a summary past the depth limit holds: nothing known, and
        nothing computed from it is remembered."""
        self._cuts += 1
        return []
