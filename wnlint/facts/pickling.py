"""Whole-object pickling, and whether a pickled value holds a module that a
given function was applied to.

``torch.save(model, f)``, ``pickle.dump(model, f)`` and
``PackageExporter.save_pickle(..., model)`` serialize the module object
itself, not its ``state_dict()``. That is what breaks once a module is
parametrized (its class is swapped for one whose ``__getstate__`` raises),
and it is what a migration to the parametrizations API must not walk into.
Two questions, answered once for every user:

* :func:`pickle_sites` / :func:`module_pickles`: which calls pickle an object
  whole, and which of those may pickle a module (not ``m.state_dict()``, a
  literal, or a container of such);
* :func:`applied_to`: where a function from a given set (the
  parametrizations, or the legacy ``weight_norm`` a migration would turn
  into one) was applied to a module the pickled value holds.

The second answer errs toward silence: a value is traced only when every
binding it may have is known, and code that removes the parametrization or
rebinds the value in between makes it unknown.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.calls import FileSummaries, Normed, self_root_attr
from wnlint.facts.classes import ClassGraph
from wnlint.facts.module_classes import method_class
from wnlint.facts.resolve import Scope, resolve, resolves_only_to
from wnlint.facts.syntax import (
    call_arg,
    is_call_to,
    is_self,
    own_nodes,
    parameter_names,
)

_MAX_DEPTH = 6
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: Text a sibling file must hold to be read for a class or helper.
_APPLY_WORDS = (b"weight_norm", b"parametriz", b"spectral_norm", b"orthogonal")
_REMOVERS = tn.REMOVE_PARAMETRIZATIONS | tn.LEGACY_REMOVE_WEIGHT_NORM
_SHORT = 40
_MAYBE_MODULE = (ast.Name, ast.Attribute, ast.Subscript, ast.IfExp)
#: A class that says how it pickles may leave its parametrized modules out.
_OWN_PICKLING = frozenset({"__getstate__", "__reduce__", "__reduce_ex__"})


@dataclass(frozen=True)
class PickleSite:
    """A call that pickles ``obj`` whole; ``how`` names the pickler as a
    message says it (``torch.save``, ``pickle.dumps``,
    ``PackageExporter.save_pickle``)."""

    call: ast.Call
    obj: ast.expr
    how: str
    site: Site


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


# -- pickling calls ------------------------------------------------------------------


def pickle_sites(analysis: FileAnalysis) -> list[PickleSite]:
    """Every call that pickles an object whole, in source order."""
    out = []
    for site in analysis.calls:
        call: ast.Call = site.node  # type: ignore[assignment]
        pickler = _pickler(call.func, site.scope, analysis)
        if pickler is None:
            continue
        how, position, keyword = pickler
        obj = call_arg(call, position, keyword)
        if obj is not None and not isinstance(obj, ast.Starred):
            out.append(PickleSite(call, obj, how, site))
    return sorted(out, key=lambda p: (p.call.lineno, p.call.col_offset))


def module_pickles(analysis: FileAnalysis) -> list[PickleSite]:
    """The pickling calls whose object may be, or hold, a module: those
    with something left by :func:`pickled_parts`."""
    return [p for p in pickle_sites(analysis) if pickled_parts(p.obj)]


def pickled_parts(obj: ast.expr) -> list[ast.expr]:
    """The parts of a pickled expression that may be modules: the
    expression itself, or the members of a literal container (dict values,
    ``dict(k=v)``), leaving out what is plainly data (``m.state_dict()``,
    constants, f-strings, arithmetic)."""
    out: list[ast.expr] = []
    stack = [obj]
    while stack:
        expr = stack.pop()
        if isinstance(expr, ast.Dict):
            stack.extend(reversed(expr.values))
        elif isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            stack.extend(reversed(expr.elts))
        elif isinstance(expr, ast.Starred):
            stack.append(expr.value)
        elif isinstance(expr, ast.Call) and _is_dict_call(expr):
            stack.extend(reversed([*expr.args, *(k.value for k in expr.keywords)]))
        elif isinstance(expr, _MAYBE_MODULE) or (
            isinstance(expr, ast.Call) and not _is_state_call(expr)
        ):
            out.append(expr)
    return out


def _is_state_call(call: ast.Call) -> bool:
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr in tn.STATE_METHODS


def _is_dict_call(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "dict"


def _pickler(
    func: ast.expr, scope: Scope, analysis: FileAnalysis
) -> tuple[str, int, str] | None:
    """(how, position, keyword) of the pickled object, when ``func`` pickles."""
    if isinstance(func, ast.Attribute) and func.attr == tn.SAVE_PICKLE:
        if _is_exporter(func.value, scope):
            return (f"PackageExporter.{tn.SAVE_PICKLE}", *tn.SAVE_PICKLE_OBJECT)
        return None
    if not resolves_only_to(func, scope, tn.PICKLER_NAMES):
        return None
    found = {tn.PICKLERS[name] for name in resolve(func, scope) if name}
    if len({(position, keyword) for _, position, keyword in found}) != 1:
        return None
    how = " / ".join(sorted({h for h, _, _ in found}))
    _, position, keyword = next(iter(found))
    return how, position, keyword


def _is_exporter(expr: ast.expr, scope: Scope) -> bool:
    """``expr`` is a ``torch.package.PackageExporter``: built in place, or a
    name every binding of which is ``with PackageExporter(...) as name`` or
    ``name = PackageExporter(...)``."""
    if isinstance(expr, ast.Call):
        return is_call_to(expr, scope, tn.PACKAGE_EXPORTER)
    if not isinstance(expr, ast.Name):
        return False
    home = _home(expr.id, scope)
    if home is None:
        return False
    binders = _binders(home, expr.id)
    return binders is not None and all(
        value is not None and is_call_to(value, home, tn.PACKAGE_EXPORTER)
        for _, value in binders
    )


# -- bindings ------------------------------------------------------------------------


def _home(name: str, scope: Scope) -> Scope | None:
    """The function or module scope where ``name``, read in ``scope``, is
    bound (a class attribute, a builtin or an undefined name: None)."""
    current: Scope | None = scope
    first = True
    while current is not None:
        if (first or current.kind != "class") and name in current.bindings:
            return current if current.kind in ("function", "module") else None
        first = False
        current = current.parent
    return None


#: (the node that binds, the value bound: an assigned expression, a
#: ``with`` item's context expression, or None for any other binding).
Binder = tuple[ast.AST, "ast.expr | None"]


def _binders(home: Scope, name: str, unseen: int = 0) -> list[Binder] | None:
    """Every binding of ``name`` in ``home``'s own code, or None when the
    scope binds it in ways this cannot see (a parameter, a ``global`` in
    another function): the count, plus ``unseen``, must match the scope's."""
    node = home.node
    if node is None:
        return None
    out: list[Binder] = []
    for child in own_nodes(node):
        out.extend(_binds(child, name))
    if len(out) + unseen != len(home.bindings.get(name, ())):
        return None
    return out


def _is_parameter(home: Scope, name: str) -> bool:
    node = home.node
    return isinstance(node, _FUNCS) and name in parameter_names(node, every=True)


def _binds(node: ast.AST, name: str) -> Iterator[Binder]:
    """The bindings of ``name`` that ``node`` makes (not those nested in it)."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                if target.id == name:
                    yield node, node.value
            elif _stores(target, name):
                yield node, None
    elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
        if isinstance(node.target, ast.Name) and node.target.id == name:
            yield node, node.value
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        yield from _with_binds(node, name)
    elif name in _opaque_names(node):
        yield node, None


def _with_binds(node: ast.With | ast.AsyncWith, name: str) -> Iterator[Binder]:
    """``with X(...) as name`` binds what ``X(...)`` enters as (itself, for
    the context managers looked for here)."""
    for item in node.items:
        var = item.optional_vars
        if isinstance(var, ast.Name) and var.id == name:
            yield node, item.context_expr
        elif var is not None and _stores(var, name):
            yield node, None


def _opaque_names(node: ast.AST) -> list[str]:
    """Names ``node`` binds to something that is not an expression: loop
    and augmented-assignment targets, defs, imports, ``except ... as``,
    ``case`` captures."""
    if isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)):
        return [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".", 1)[0] for a in node.names]
    bound = getattr(node, "name", None) or getattr(node, "rest", None)
    return [bound] if isinstance(bound, str) else []


def _stores(target: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in ast.walk(target)
    )


def _position(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


def _rooted_at(expr: ast.AST, name: str) -> bool:
    """``name``, ``name.a``, ``name[0].b``: ``name`` or a module it holds."""
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id == name


def _strip_self_methods(expr: ast.expr) -> ast.expr:
    """``Net().to(device).eval()`` is the ``Net()``."""
    while (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in tn.MODULE_SELF_METHODS
    ):
        expr = expr.func.value
    return expr


def _exclusive(a: Site, b: Site) -> bool:
    """Two sites in different arms of one ``if`` or ``try``."""
    arms = {(id(node), kind) for kind, node, _ in a.guards}
    opposite = {"if": "else", "else": "if", "try": "except", "except": "try"}
    return any((id(node), opposite[kind]) in arms for kind, node, _ in b.guards)


def _short(expr: ast.AST) -> str:
    text = ast.unparse(expr)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def _api_label(names: frozenset[str | None]) -> str:
    return "/".join(sorted({n.rsplit(".", 1)[-1] for n in names if n}))


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
        expr = _strip_self_methods(expr)
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
        value = _strip_self_methods(value)
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
                holder = _short(module if module is not None else call)
            api = _api_label(resolve(func, scope))
            return Applied(call.lineno, self.summaries.path, api, holder)
        found = self.summaries.definition(func, scope, _APPLY_WORDS)
        if found is not None and isinstance(found.node, ast.ClassDef):
            return self.class_applied(found.node, found.file, depth + 1)
        func_node = scope.node if scope.kind in ("function", "module") else None
        normed = self.summaries.normed(call, scope, func_node)
        return self.from_normed(normed, _short(call))

    def from_normed(self, normed: list[Normed], holder: str) -> Applied | None:
        for n in sorted(normed, key=lambda n: n.line):
            if n.applied_only_by(self.names):
                return Applied(n.line, n.path, _api_label(n.api), holder)
        return None

    # -- names ---------------------------------------------------------------
    def name(
        self, name: str, scope: Scope, at: Site | None, depth: int
    ) -> Applied | None:
        """A name: every binding traced, or (``at`` given, in the same
        function) a function applied to it earlier."""
        if depth > _MAX_DEPTH:
            return None
        home = _home(name, scope)
        if home is None or home.node is None or self._removes(home, name):
            return None
        binders = _binders(home, name)
        if binders is not None:
            found = self._from_bindings(name, home, binders, depth)
            if found is not None:
                return found
        elif _is_parameter(home, name):
            # Bound on entry, before anything the function applies.
            binders = _binders(home, name, unseen=1)
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
            stripped = _strip_self_methods(value)
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
        use = _position(at.node)
        for node in own_nodes(home.node):  # type: ignore[arg-type]
            site = self.sites.get(id(node))
            if site is None or _position(node) >= use or _exclusive(site, at):
                continue
            call: ast.Call = node  # type: ignore[assignment]
            module = call_arg(call, 0, "module")
            if module is None or not _rooted_at(module, name):
                continue
            if not resolves_only_to(call.func, site.scope, self.names):
                continue
            start = _position(call)
            if any(
                start < _position(binder) < use and not _keeps(value, name, call)
                for binder, value in binders
            ):
                continue
            api = _api_label(resolve(call.func, site.scope))
            return Applied(call.lineno, self.summaries.path, api, _short(module))
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
                and _rooted_at(func.value, name)
            ):
                return True
            site = self.sites.get(id(node))
            target = call_arg(node, 0, "module")
            if (
                site is not None
                and target is not None
                and _rooted_at(target, name)
                and resolves_only_to(func, site.scope, _REMOVERS)
            ):
                return True
        return False

    # -- self ----------------------------------------------------------------
    def _method(self, at: Site) -> tuple[ast.ClassDef, Scope] | None:
        """The class and method scope where ``self`` (read at ``at``) is the
        method's instance."""
        home = _home("self", at.scope)
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
        parent = file.scope_of(cls).parent
        for base in cls.bases:
            if parent is None or not isinstance(base, (ast.Name, ast.Attribute)):
                continue
            found = file.definition(base, parent, _APPLY_WORDS)
            if (
                found is not None
                and isinstance(found.node, ast.ClassDef)
                and found.node is not cls
            ):
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
        for stmt, func in file.init_trace(cls):
            scope = file.scope_of(func)
            for node in ast.walk(stmt):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, (ast.Name, ast.Attribute))
                    and resolves_only_to(node.func, scope, self.names)
                ):
                    continue
                api = _api_label(resolve(node.func, scope))
                module = call_arg(node, 0, "module")
                attr = "*" if module is not None and is_self(module) else None
                if attr is None and module is not None:
                    attr = self_root_attr(module)
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
    stripped = _strip_self_methods(value)
    if isinstance(stripped, ast.Name) and stripped.id == name:
        return True
    return any(n is call for n in ast.walk(value))
