"""What a pickled value holds: where a given function (a parametrization,
or the legacy ``weight_norm`` a migration would turn into one) was applied
to a module that the value is or holds.

The answer errs toward silence: a value is traced only when every binding
it may have is known (see the binding helpers of
:mod:`wnlint.facts.pickling`), and code that removes the parametrization
or rebinds the value in between makes it unknown.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from wnlint.facts import local_values as held
from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.calls import FileSummaries, Normed
from wnlint.facts.classes import ClassGraph
from wnlint.facts.events import NORM, PARAMETRIZE, body_of
from wnlint.facts.pickling import (
    Binder,
    PickleSite,
    api_label,
    binders_of,
    exclusive,
    home_scope,
    is_parameter,
    pickled_parts,
    position,
    rooted_at,
    short,
    strip_self_methods,
)
from wnlint.facts.resolve import Scope, resolve, resolves_only_to
from wnlint.facts.syntax import (
    call_arg,
    is_self,
    method_class,
    own_nodes,
    parameter_names,
    self_root_attr,
    walk,
)

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: Text a sibling file must hold to be read for a class or helper.
_APPLY_WORDS = (b"weight_norm", b"parametriz", b"spectral_norm", b"orthogonal")
_MAX_DEPTH = 6
#: A class that says how it pickles may leave its parametrized modules out.
_OWN_PICKLING = frozenset({"__getstate__", "__reduce__", "__reduce_ex__"})
_REMOVERS = tn.REMOVE_PARAMETRIZATIONS | tn.LEGACY_REMOVE_WEIGHT_NORM


@dataclass(frozen=True)
class Applied:
    """Where a function was applied to a module the pickled value holds:
    the line and file of the call (or of the class attribute it reached
    through), the function's last name (``weight_norm``,
    ``register_parametrization``), what holds the module (``model``,
    ``Generator.conv``), and the subclass it is found through when the
    pickled value is ``self`` of a base class. ``part`` is the part of the
    pickled object that holds it (see :func:`pickled_parts`), set by
    :func:`applied_to`."""

    line: int
    path: str | None
    api: str
    holder: str
    subclass: str | None = None
    part: ast.expr | None = None


# -- what a pickled value holds ------------------------------------------------------


def applied_to(
    analysis: FileAnalysis, pickled: PickleSite, names: frozenset[str]
) -> Applied | None:
    """Where a function in ``names`` (qualified names, e.g.
    :data:`wnlint.facts.torchnames.PARAMETRIZING`) was applied to a module that
    the pickled value is or holds; None when none is known.

    Traced: ``self`` in a method of a class whose ``__init__`` (or a method
    it calls, or a base class's) applies it to ``self`` or an attribute
    (also through helpers, containers and ``.apply(fn)``, for weight norm),
    or of a base class whose same-file subclass does, when the subclass
    keeps the method; ``self.<attr>`` for such an attribute; a name every
    binding of which is such an instance, the result of the function, or a
    value traced so (``Net().to(device)`` included); a name the same
    function applied it to (or to a module it holds, ``model.fc``) earlier,
    with no rebinding in between. Code that removes a parametrization from
    the value, or calls a ``remove*`` method on it, in the same function
    makes it unknown.
    """
    tracer = _Tracer(analysis, names)
    for part in pickled_parts(pickled.obj):
        found = tracer.expr(part, pickled.site, 0)
        if found is not None:
            return replace(found, part=part)
    return None


class _Tracer:
    def __init__(self, analysis: FileAnalysis, names: frozenset[str]) -> None:
        self.analysis = analysis
        self.names = names
        self.summaries: FileSummaries = analysis.summaries
        self.sites = {id(s.node): s for s in analysis.calls}
        self._graph: ClassGraph | None = None

    # -- expressions -------------------------------------------------------
    def expr(self, expr: ast.expr, at: Site, depth: int) -> Applied | None:
        if depth > _MAX_DEPTH:
            return None
        expr = strip_self_methods(expr)
        scope = at.scope
        if is_self(expr):
            return self.self_value(expr, at)  # type: ignore[arg-type]
        if isinstance(expr, ast.Attribute) and is_self(expr.value):
            return self.self_attr(expr, at)
        if isinstance(expr, ast.Name):
            return self.name(expr.id, scope, at, depth + 1)
        if isinstance(expr, ast.IfExp):
            body = self.expr(expr.body, at, depth + 1)
            other = self.expr(expr.orelse, at, depth + 1)
            return body if body is not None and other is not None else None
        if isinstance(expr, ast.Call):
            return self.call(expr, scope, depth + 1)
        return None

    def value(
        self, value: ast.expr, home: Scope, depth: int, holder: str | None = None
    ) -> Applied | None:
        """What an assigned value is, evaluated in ``home``; ``holder`` names
        it when it is the function's own result."""
        if depth > _MAX_DEPTH:
            return None
        value = strip_self_methods(value)
        if isinstance(value, ast.Name):
            return self.name(value.id, home, None, depth + 1)
        if isinstance(value, ast.Call):
            return self.call(value, home, depth + 1, holder)
        parts = pickled_parts(value) if not isinstance(value, ast.IfExp) else []
        if parts and parts != [value]:
            for part in parts:
                found = self.value(part, home, depth + 1)
                if found is not None:
                    return found
        return None

    def call(
        self, call: ast.Call, scope: Scope, depth: int, holder: str | None = None
    ) -> Applied | None:
        """A call's result: the function itself, an instance of a traced
        class, or (weight norm) a helper, container or class the summaries
        know."""
        func = call.func
        if not isinstance(func, (ast.Name, ast.Attribute)):
            return None
        if resolves_only_to(func, scope, self.names):
            module = call_arg(call, 0, "module")
            if holder is None:
                holder = short(module if module is not None else call)
            api = api_label(resolve(func, scope))
            return Applied(call.lineno, self.summaries.path, api, holder)
        found = self.summaries.definition(func, scope, _APPLY_WORDS)
        if found is not None and isinstance(found.node, ast.ClassDef):
            return self.class_applied(found.node, found.file, depth + 1)
        func_node = scope.node if scope.kind in ("function", "module") else None
        normed = self.summaries.normed(call, scope, func_node)
        return self.from_normed(normed, short(call))

    def from_normed(self, normed: list[Normed], holder: str) -> Applied | None:
        for n in sorted(normed, key=lambda n: n.line):
            if n.applied_only_by(self.names):
                return Applied(n.line, n.path, api_label(n.api), holder)
        return None

    # -- names ---------------------------------------------------------------
    def name(
        self, name: str, scope: Scope, at: Site | None, depth: int
    ) -> Applied | None:
        """A name: every binding traced, or (``at`` given, in the same
        function) a function applied to it earlier."""
        if depth > _MAX_DEPTH:
            return None
        home = home_scope(name, scope)
        if home is None or home.node is None or self._removes(home, name):
            return None
        binders = binders_of(home, name)
        if binders is not None:
            found = self._from_bindings(name, home, binders, depth)
            if found is not None:
                return found
        elif is_parameter(home, name):
            # Bound on entry, before anything the function applies.
            binders = binders_of(home, name, unseen=1)
        if binders is not None and at is not None and at.scope is home:
            return self._applied_before(name, home, binders, at)
        return None

    def _from_bindings(
        self, name: str, home: Scope, binders: list[Binder], depth: int
    ) -> Applied | None:
        found: list[Applied] = []
        for _, value in binders:
            if value is None:
                return None
            stripped = strip_self_methods(value)
            if isinstance(stripped, ast.Name) and stripped.id == name:
                continue  # `model = model.to(device)`: the same module
            traced = self.value(value, home, depth + 1, name)
            if traced is None:
                return None
            found.append(traced)
        return min(found, key=lambda a: a.line) if found else None

    def _applied_before(
        self, name: str, home: Scope, binders: list[Binder], at: Site
    ) -> Applied | None:
        """``weight_norm(model.fc)`` earlier in the function that pickles
        ``model``, with ``model`` not rebound in between."""
        use = position(at.node)
        for node in own_nodes(home.node):  # type: ignore[arg-type]
            site = self.sites.get(id(node))
            if site is None or position(node) >= use or exclusive(site, at):
                continue
            call: ast.Call = node  # type: ignore[assignment]
            module = call_arg(call, 0, "module")
            if module is None or not rooted_at(module, name):
                continue
            if not resolves_only_to(call.func, site.scope, self.names):
                continue
            start = position(call)
            if any(
                start < position(binder) < use and not _keeps(value, name, call)
                for binder, value in binders
            ):
                continue
            api = api_label(resolve(call.func, site.scope))
            return Applied(call.lineno, self.summaries.path, api, short(module))
        return None

    def _removes(self, home: Scope, name: str) -> bool:
        """The function removes a parametrization from ``name`` (or a module
        it holds), or calls a ``remove*`` method on it."""
        for node in own_nodes(home.node):  # type: ignore[arg-type]
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and "remove" in func.attr
                and rooted_at(func.value, name)
            ):
                return True
            site = self.sites.get(id(node))
            target = call_arg(node, 0, "module")
            if (
                site is not None
                and target is not None
                and rooted_at(target, name)
                and resolves_only_to(func, site.scope, _REMOVERS)
            ):
                return True
        return False

    # -- self ----------------------------------------------------------------
    def _method(self, at: Site) -> tuple[ast.ClassDef, Scope] | None:
        """The class and method scope where ``self`` (read at ``at``) is the
        method's instance."""
        home = home_scope("self", at.scope)
        if home is None or home.kind != "function":
            return None
        cls = method_class(home)
        method = home.node
        if (
            cls is None
            or not isinstance(method, _FUNCS)
            or parameter_names(method)[:1] != ["self"]
            or len(home.bindings.get("self", ())) != 1
            or any(
                isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
                for d in method.decorator_list
            )
        ):
            return None
        return cls, home

    def self_value(self, expr: ast.Name, at: Site) -> Applied | None:
        found = self._method(at)
        if found is None:
            return None
        cls, home = found
        if self._removes(home, "self"):
            return None
        applied = self.class_applied(cls, self.summaries, 0)
        if applied is not None:
            return applied
        method = home.node.name  # type: ignore[union-attr]
        graph = self.graph
        for sub in graph.descendants(cls):
            between = [
                sub,
                *(c for c in graph.ancestors(sub) if graph.inherits(c, cls)),
            ]
            if any(_defines(c, method) for c in between):
                continue  # the subclass runs its own
            applied = self.class_applied(sub, self.summaries, 0)
            if applied is not None:
                return Applied(
                    applied.line, applied.path, applied.api, applied.holder, sub.name
                )
        return None

    def self_attr(self, expr: ast.Attribute, at: Site) -> Applied | None:
        found = self._method(at)
        if found is None:
            return None
        cls, home = found
        if self._removes(home, "self"):
            return None
        return self.class_attrs(cls, self.summaries, 0).get(expr.attr)

    @property
    def graph(self) -> ClassGraph:
        if self._graph is None:
            self._graph = ClassGraph(self.analysis.class_nodes)
        return self._graph

    # -- classes -------------------------------------------------------------
    def class_applied(
        self, cls: ast.ClassDef, file: FileSummaries, depth: int
    ) -> Applied | None:
        attrs = self.class_attrs(cls, file, depth)
        return min(attrs.values(), key=lambda a: a.line) if attrs else None

    def class_attrs(
        self, cls: ast.ClassDef, file: FileSummaries, depth: int
    ) -> dict[str, Applied]:
        """Attribute (``*`` for ``self`` itself) -> where ``__init__`` (or a
        method it calls, or a base class) applied a function to it."""
        out: dict[str, Applied] = {}
        if depth > _MAX_DEPTH or self._pickles_itself(cls, file, depth):
            return out
        for attr, (_, normed) in file.class_normed(cls).items():
            found = self.from_normed(normed, f"{cls.name}.{attr}")
            if found is not None:
                out[attr] = found
        for attr, applied in self._direct(cls, file, depth):
            if attr not in out or applied.line < out[attr].line:
                out[attr] = applied
        return out

    def _bases(
        self, cls: ast.ClassDef, file: FileSummaries
    ) -> Iterator[tuple[ast.ClassDef, FileSummaries]]:
        """Base classes defined in this file or a sibling file."""
        for found in held.base_definitions(file, cls, _APPLY_WORDS):
            yield found.node, found.file

    def _pickles_itself(
        self, cls: ast.ClassDef, file: FileSummaries, depth: int
    ) -> bool:
        """The class or a known base defines how it pickles (a
        ``__getstate__`` or ``__reduce__`` that may leave the parametrized
        modules out)."""
        if any(_defines(cls, name) for name in _OWN_PICKLING):
            return True
        return depth < _MAX_DEPTH and any(
            self._pickles_itself(base, base_file, depth + 1)
            for base, base_file in self._bases(cls, file)
        )

    def _direct(
        self, cls: ast.ClassDef, file: FileSummaries, depth: int
    ) -> Iterator[tuple[str, Applied]]:
        """Applications the summaries do not follow: any function of
        ``names`` (``register_parametrization`` included) applied to
        ``self`` or ``self.<attr>``, or assigned to ``self.<attr>``, in
        ``__init__`` and what it calls; the same for base classes."""
        for base, base_file in self._bases(cls, file):
            yield from self.class_attrs(base, base_file, depth + 1).items()
        for func in dict.fromkeys(func for _, func in file.init_trace(cls)):
            scope = file.scope_of(func)
            body = body_of(file.bodies, func, scope)
            for event in body.events:
                node: Any = event.node
                if event.kind not in (NORM, PARAMETRIZE) or not resolves_only_to(
                    node.func, scope, self.names
                ):
                    continue
                api = api_label(resolve(node.func, scope))
                module = event.target
                attr = "*" if module is not None and is_self(module) else None
                if attr is None and module is not None:
                    attr = self_root_attr(module)
                stmt = body.statements[event.order][0]
                if attr is None and isinstance(stmt, ast.Assign) and stmt.value is node:
                    attrs = [self_root_attr(t) for t in stmt.targets]
                    attr = next((a for a in attrs if a), None)
                if attr is not None:
                    holder = cls.name if attr == "*" else f"{cls.name}.{attr}"
                    yield attr, Applied(node.lineno, file.path, api, holder)


def _defines(cls: ast.ClassDef, method: str) -> bool:
    return any(isinstance(n, _FUNCS) and n.name == method for n in cls.body)


def _keeps(value: ast.expr | None, name: str, call: ast.Call) -> bool:
    """A rebinding that keeps the module: ``m = weight_norm(m)`` (the
    application itself), ``m = m.to(device)``."""
    if value is None:
        return False
    stripped = strip_self_methods(value)
    if isinstance(stripped, ast.Name) and stripped.id == name:
        return True
    return any(n is call for n in walk(value))
