"""Helpers shared by the WN2xx rules (kept out of the rules themselves)."""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.branches import (
    Branches,
    Condition,
    names_rebound_between,
    same_tensor,
    tensor_name,
)
from wnlint.facts.order import Application, ScopeFlow, function_flow, key_of
from wnlint.facts.syntax import reachable_methods, self_attr, walk


def applied_before(
    flow: ScopeFlow, key: str, order: int, name: str | None = None
) -> Application | None:
    """The latest weight-norm application to ``key`` before statement ``order``
    that is still in effect there (not rebound, removed, or in another arm)."""
    found = None
    for app in flow.applications:
        if app.order >= order or flow.exclusive(app.order, order):
            continue
        if name is not None and app.name != name:
            continue
        if key in app.keys and not flow.rebound_between(key, app.order, order):
            found = app
    return found


# -- WN204: the same tensor normed twice ----------------------------------------


def _same_tensor(flow: ScopeFlow, first: Application, second: Application) -> bool:
    """``first`` and ``second`` (in ``flow``) may norm the same tensor of a
    module; an unresolved name read again after a rebinding may differ."""
    a, b = tensor_name(first, flow), tensor_name(second, flow)
    if not same_tensor(a, b):
        return False
    expr = second.name_arg
    return not (
        a[0] == "expr"
        and expr is not None
        and names_rebound_between(flow, expr, first.order, second.order)
    )


def reapplied_before(
    flow: ScopeFlow, branches: Branches, app: Application
) -> tuple[str, Application] | None:
    """The module of ``app`` and the latest earlier application in ``flow``
    that normed the same tensor of it and is still in effect (not rebound,
    removed, or under a test that excludes ``app``).

    Applications are indexed by module, latest first; an earlier one in
    another arm of a compound statement than ``app`` skips every
    application of that compound before ``app``'s arm at once, so a file of
    many applications (or an ``elif`` chain of them) costs linear time."""
    for key in sorted(app.keys):
        apps, orders = flow.applied_to(key)
        i = bisect.bisect_left(orders, app.order) - 1
        while i >= 0:
            earlier = apps[i]
            compound = flow.exclusive_at(earlier.order, app.order)
            if compound is not None:
                # the compound's own statement (an ``if`` test) is in no arm
                i = bisect.bisect_right(orders, flow.starts[compound]) - 1
                continue
            if (
                _same_tensor(flow, earlier, app)
                and not flow.rebound_between(key, earlier.order, app.order)
                and not branches.exclusive(earlier.order, app.order, key)
            ):
                return key, earlier
            i -= 1
    return None


@dataclass(frozen=True)
class Reapplication:
    """A method re-applies weight norm that ``__init__`` already applied."""

    app: Application  # in the other method
    key: str  # the module, ``self.<attr>``
    first: Application  # in ``__init__`` or a method it calls
    first_method: str


def reapplied_in_methods(analysis: FileAnalysis) -> Iterator[Reapplication]:
    """Per class of the file: applications in a method that ``__init__`` does
    not reach, to a ``self.<attr>`` whose same tensor ``__init__`` (or a
    method it calls) normed and left normed."""
    by_class: dict[int, tuple[ast.ClassDef, list[ScopeFlow]]] = {}
    for flow in analysis.flows:
        parent = flow.scope.parent
        if (
            flow.applications
            and flow.scope.kind == "function"
            and parent is not None
            and isinstance(parent.node, ast.ClassDef)
        ):
            by_class.setdefault(id(parent.node), (parent.node, []))[1].append(flow)
    for node, flows in by_class.values():
        yield from _ClassFlows(analysis, node, flows).reapplications()


_SELF = "self."


class _ClassFlows:
    """The flows of one class's methods, built on demand."""

    def __init__(
        self, analysis: FileAnalysis, node: ast.ClassDef, flows: list[ScopeFlow]
    ) -> None:
        self.analysis = analysis
        self.methods = {
            item.name: item
            for item in node.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        self._flows = {id(flow.scope.node): flow for flow in flows}
        self._branches: dict[str, Branches] = {}

    def flow(self, name: str) -> ScopeFlow | None:
        node = self.methods[name]
        found = self._flows.get(id(node))
        if found is None:
            scope = self.analysis.scopes.get(id(node))
            if scope is None:
                return None
            found = self._flows[id(node)] = function_flow(scope, self.analysis.bodies)
        return found

    def branches(self, name: str) -> Branches:
        if name not in self._branches:
            self._branches[name] = Branches(self.flow(name))  # type: ignore[arg-type]
        return self._branches[name]

    def reached(self, start: str) -> list[str]:
        """``start`` and the methods it reaches through ``self.<method>``."""
        return reachable_methods(self.methods, (start,))

    def clears(self, name: str, key: str) -> bool:
        """Method ``name`` removes weight norm from ``key`` or rebinds it."""
        flow = self.flow(name)
        return flow is None or flow.rebound_between(key, -1, len(flow.paths))

    def reapplications(self) -> Iterator[Reapplication]:
        if "__init__" not in self.methods:
            return
        at_init = self.reached("__init__")
        others = [
            name
            for name, node in self.methods.items()
            if name not in at_init and id(node) in self._flows
        ]
        if not others:
            return
        firsts = list(self._left_normed(at_init))
        if not firsts:
            return
        aliases = _self_aliases(self.branches("__init__"))
        for name in others:
            for app in self.flow(name).applications:  # type: ignore[union-attr]
                found = self._first_for(name, app, firsts, aliases)
                if found is not None:
                    yield found

    def _left_normed(
        self, at_init: list[str]
    ) -> Iterator[tuple[str, str, Application]]:
        """(method, key, application) for each ``self.<attr>`` that ``__init__``
        and the methods it calls norm and leave normed."""
        for name in at_init:
            flow = self.flow(name)
            if flow is None:
                continue
            for app in flow.applications:
                for key in app.keys:
                    if (
                        key.startswith(_SELF)
                        and not flow.rebound_between(key, app.order, len(flow.paths))
                        and not any(self.clears(m, key) for m in at_init if m != name)
                    ):
                        yield name, key, app

    def _first_for(
        self,
        name: str,
        app: Application,
        firsts: list[tuple[str, str, Application]],
        aliases: dict[str, str],
    ) -> Reapplication | None:
        flow = self.flow(name)
        assert flow is not None
        branches = self.branches(name)
        here = [c for c in branches.conditions(app.order) if c.key.startswith(_SELF)]
        tensor = tensor_name(app, flow)
        for method, key, first in firsts:
            if (
                key in app.keys
                and same_tensor(tensor, tensor_name(first, self.flow(method)))  # type: ignore[arg-type]
                and not self._cleared_before(name, key, app.order)
                and not any(
                    c.contradicts(mine)
                    for c in self._init_conditions(method, first, aliases)
                    for mine in here
                )
            ):
                return Reapplication(app, key, first, method)
        return None

    def _init_conditions(
        self, method: str, first: Application, aliases: dict[str, str]
    ) -> list[Condition]:
        """The tests over ``self`` state that ``first`` runs under (a local
        copied into ``self.<attr>`` by ``__init__`` counts as that attr)."""
        found = []
        for c in self.branches(method).conditions(first.order):
            key = aliases.get(c.key, c.key) if method == "__init__" else c.key
            if key.startswith(_SELF):
                found.append(Condition(key, c.kind, c.values, c.inside, c.order))
        return found

    def _cleared_before(self, name: str, key: str, order: int) -> bool:
        """Before ``order``, method ``name`` removes weight norm from ``key``,
        rebinds it, or calls a method of the class that does."""
        flow = self.flow(name)
        if flow is None or flow.rebound_between(key, -1, order):
            return True
        statements = self.branches(name).statements
        return any(
            (called := self_attr(node)) in self.methods
            and called != name
            and self.clears(called, key)
            for stmt in statements[:order]
            for node in walk(stmt)
        )


def _self_aliases(branches: Branches) -> dict[str, str]:
    """``self.<attr> = <local>`` in ``__init__``: the local name -> the attr,
    for locals never rebound there."""
    rebound = {key for _, key in branches.flow.rebinds}
    aliases: dict[str, str] = {}
    for stmt in branches.statements:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id not in rebound
        ):
            target = key_of(stmt.targets[0])
            if target is not None and target.startswith(_SELF):
                aliases[stmt.value.id] = target
    return aliases
