"""Whole-object pickling, and whether a pickled value holds a module that a
given function was applied to.

``torch.save(model, f)``, ``pickle.dump(model, f)`` and
``PackageExporter.save_pickle(..., model)`` serialize the module object
itself, not its ``state_dict()``. That is what breaks once a module is
parametrized (its class is swapped for one whose ``__getstate__`` raises),
and it is what a migration to the parametrizations API must not walk into.
Two questions, answered once for every user (the second in
:mod:`wnlint.facts.pickled`):

* :func:`pickle_sites` / :func:`module_pickles`: which calls pickle an object
  whole, and which of those may pickle a module (not ``m.state_dict()``, a
  literal, or a container of such);
* :func:`~wnlint.facts.pickled.applied_to`: where a function from a given set (the
  parametrizations, or the legacy ``weight_norm`` a migration would turn
  into one) was applied to a module the pickled value holds.

The second answer errs toward silence: a value is traced only when every
binding it may have is known, and code that removes the parametrization or
rebinds the value in between makes it unknown.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.resolve import Scope, resolve, resolves_only_to
from wnlint.facts.syntax import (
    call_arg,
    is_call_to,
    own_nodes,
    parameter_names,
    walk,
)

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SHORT = 40
_MAYBE_MODULE = (ast.Name, ast.Attribute, ast.Subscript, ast.IfExp)


@dataclass(frozen=True)
class PickleSite:
    """A call that pickles ``obj`` whole; ``how`` names the pickler as a
    message says it (``torch.save``, ``pickle.dumps``,
    ``PackageExporter.save_pickle``)."""

    call: ast.Call
    obj: ast.expr
    how: str
    site: Site


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
    home = home_scope(expr.id, scope)
    if home is None:
        return False
    binders = binders_of(home, expr.id)
    return binders is not None and all(
        value is not None and is_call_to(value, home, tn.PACKAGE_EXPORTER)
        for _, value in binders
    )


# -- bindings ------------------------------------------------------------------------


def home_scope(name: str, scope: Scope) -> Scope | None:
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


def binders_of(home: Scope, name: str, unseen: int = 0) -> list[Binder] | None:
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


def is_parameter(home: Scope, name: str) -> bool:
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
        return [n.id for n in walk(node.target) if isinstance(n, ast.Name)]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".", 1)[0] for a in node.names]
    bound = getattr(node, "name", None) or getattr(node, "rest", None)
    return [bound] if isinstance(bound, str) else []


def _stores(target: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in walk(target)
    )


def position(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


def rooted_at(expr: ast.AST, name: str) -> bool:
    """``name``, ``name.a``, ``name[0].b``: ``name`` or a module it holds."""
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id == name


def strip_self_methods(expr: ast.expr) -> ast.expr:
    """``Net().to(device).eval()`` is the ``Net()``."""
    while (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in tn.MODULE_SELF_METHODS
    ):
        expr = expr.func.value
    return expr


def exclusive(a: Site, b: Site) -> bool:
    """Two sites in different arms of one ``if`` or ``try``."""
    arms = {(id(node), kind) for kind, node, _ in a.guards}
    opposite = {"if": "else", "else": "if", "try": "except", "except": "try"}
    return any((id(node), opposite[kind]) in arms for kind, node, _ in b.guards)


def short(expr: ast.AST) -> str:
    text = ast.unparse(expr)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def api_label(names: frozenset[str | None]) -> str:
    return "/".join(sorted({n.rsplit(".", 1)[-1] for n in names if n}))
