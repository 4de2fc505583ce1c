"""Scopes and qualified-name resolution on the stdlib ``ast``.

A linter that matches names as they are spelled flags a user's own
``weight_norm`` helper and misses ``from torch.nn import utils as U``. This
module answers one question instead: *which qualified names may this
expression evaluate to?* The answer is a set, because Python code binds a
name in several places (``try``/``except`` fallback imports, version-gated
shims, conditional expressions). A rule matches an expression only when
*every* member of that set is one of its targets, so an alias that may point
at the new API never produces a finding.

The resolution is flow-insensitive: every binding of a name in its scope
counts, wherever it stands. That errs toward silence (a rebinding later in a
function hides an earlier legacy call), which is the right side to err on.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Mapping
from functools import lru_cache
from typing import Optional, Protocol, Union

#: A binding whose value is not a known qualified name: a parameter, a def,
#: a loop variable, the result of a call.
OPAQUE = None

#: What one binding may hold: a qualified name, :data:`OPAQUE`, or an alias
#: expression resolved lazily in the scope where it was evaluated. That
#: scope is held weakly: it is usually the scope holding the binding, and
#: a scope that held itself would leave its tree to the cycle collector.
Binding = Union[str, None, tuple[ast.expr, "weakref.ref[Scope]"]]

#: The result of a resolution: qualified names, with ``None`` standing for
#: "something else". An empty set means the name is not bound anywhere
#: (a builtin or an undefined name).
Resolution = frozenset[Optional[str]]

_EMPTY: Resolution = frozenset()
_OPAQUE_ONLY: Resolution = frozenset({OPAQUE})


class Scope:
    """One Python scope: module, class, function, lambda or comprehension."""

    __slots__ = (
        "__weakref__",
        "_cache",
        "_definitions",
        "bindings",
        "global_names",
        "kind",
        "node",
        "nonlocal_names",
        "parent",
        "project",
        "star_imports",
    )

    def __init__(
        self, kind: str, parent: Scope | None, node: ast.AST | None = None
    ) -> None:
        self.kind = kind
        #: The Module, ClassDef, FunctionDef, Lambda or comprehension node.
        self.node = node
        self.parent = parent
        self.bindings: dict[str, list[Binding]] = {}
        self.global_names: set[str] = set()
        self.nonlocal_names: set[str] = set()
        self.star_imports: list[str] = []
        #: (module scope) what a project's own modules hand on
        #: (:class:`wnlint.facts.project_names.ProjectNames`), set by the
        #: analysis of a file on disk.
        self.project: ProjectLookup | None = None
        self._cache: dict[str, Resolution] = {}
        self._definitions: dict[str, ast.AST] | None = None

    def definition(self, name: str) -> ast.AST | None:
        """The ``def`` or ``class`` named ``name`` among this scope's own
        statements (inside ``if``/``try``/loops, not nested defs); indexed
        once, so that following many names is linear in the file."""
        if self._definitions is None:
            self._definitions = _definitions(self.node)
        return self._definitions.get(name)

    @property
    def module(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def bind(self, name: str, value: Binding) -> None:
        """Record that ``name`` is bound to ``value`` somewhere in this scope."""
        target = self
        if name in self.global_names:
            target = self.module
        elif name in self.nonlocal_names:
            outer = self._enclosing_function()
            if outer is not None:
                target = outer
        target.bindings.setdefault(name, []).append(value)

    def enclosing(self, kind: str) -> Scope | None:
        """This scope or the nearest one around it of ``kind``."""
        scope: Scope | None = self
        while scope is not None and scope.kind != kind:
            scope = scope.parent
        return scope

    def _enclosing_function(self) -> Scope | None:
        scope = self.parent
        while scope is not None:
            if scope.kind in ("function", "lambda"):
                return scope
            scope = scope.parent
        return None

    def lookup(self, name: str) -> Resolution:
        """Every qualified name ``name`` may hold when read in this scope."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        self._cache[name] = _OPAQUE_ONLY  # cycle guard: `x = x.y`
        result = self._lookup_uncached(name)
        self._cache[name] = result
        return result

    def _lookup_uncached(self, name: str) -> Resolution:
        if name in self.global_names:
            return self.module._resolve_here(name, from_module=True)
        scope: Scope | None = self
        first = True
        while scope is not None:
            # A class body's names are invisible to the functions inside it.
            if (first or scope.kind != "class") and name in scope.bindings:
                return scope._resolve_bindings(scope.bindings[name])
            first = False
            if scope.parent is None:
                return scope._resolve_here(name, from_module=True)
            scope = scope.parent
        return _EMPTY  # pragma: no cover - the loop always ends at the module

    def _resolve_here(self, name: str, from_module: bool) -> Resolution:
        if name in self.bindings:
            return self._resolve_bindings(self.bindings[name])
        if from_module and self.star_imports:
            # `from torch.nn.utils import *` may be where the name comes from,
            # or a project's module that imported it from torch.
            project = self.project
            mods = self.star_imports
            if project is not None:
                mods = [m for m in mods if not project.lacks(m, name, True)] or mods
            return frozenset(
                (project.name(mod, name, True) if project is not None else None)
                or f"{mod}.{name}"
                for mod in mods
            )
        return _EMPTY

    def _resolve_bindings(self, bindings: list[Binding]) -> Resolution:
        out: set[str | None] = set()
        for binding in bindings:
            if isinstance(binding, str):
                out.add(self._through_project(binding))
            elif binding is None:
                out.add(binding)
            else:
                expr, where = binding
                scope = where()
                resolved = resolve(expr, scope) if scope is not None else None
                out.update(resolved if resolved else _OPAQUE_ONLY)
        return frozenset(out)

    def _through_project(self, binding: str) -> str:
        """``M.n`` bound by ``from M import n``, or the torch name it is when
        ``M`` is a module of the project that hands one on."""
        if binding.startswith("torch"):
            return binding
        project = self.module.project
        parts = split_import(binding)
        if project is None or parts is None:
            return binding
        return project.name(*parts, False) or binding


class ProjectLookup(Protocol):
    """What the project's own modules hand on (the facts layer's
    :class:`~wnlint.facts.project_names.ProjectNames`)."""

    def name(self, module: str, name: str, star: bool) -> str | None: ...

    def base(self, module: str, name: str) -> str | None: ...

    def plain_layer(self, module: str, name: str) -> str | None: ...

    def lacks(self, module: str, name: str, any_name: bool = False) -> bool: ...


def split_import(binding: str) -> tuple[str, str] | None:
    """``(M, n)`` of the ``M.n`` that ``from M import n`` binds (``from .
    import x`` binds ``.x``: the module is all the dots); None for one part."""
    bare = binding.rstrip(".")
    module, _, name = bare.rpartition(".")
    if not name or not module.strip("."):
        dots = len(bare) - len(bare.lstrip("."))
        module, name = bare[:dots], bare[dots:]
    if not module or not name or "." in name:
        return None
    return module, name


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _definitions(node: ast.AST | None) -> dict[str, ast.AST]:
    """The defs and classes among ``node``'s own statements, by name; of
    two with one name, the one a walk from the last statement meets first."""
    found: dict[str, ast.AST] = {}
    body = getattr(node, "body", None)
    if not isinstance(body, list):
        return found
    stack = list(body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, _DEFS):
            found.setdefault(stmt.name, stmt)
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(stmt, field, None)
            if isinstance(block, list):
                stack.extend(block)
    return found


def resolve(node: ast.expr, scope: Scope) -> Resolution:
    """Qualified names that ``node`` may evaluate to when read in ``scope``.

    ``Name`` and ``Attribute`` chains are followed through imports and alias
    assignments; a conditional expression yields both branches. Anything
    else resolves to ``{None}``.
    """
    if isinstance(node, ast.Name):
        return scope.lookup(node.id)
    if isinstance(node, ast.Attribute):
        attrs = [node.attr]
        base = node.value
        while isinstance(base, ast.Attribute):
            attrs.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name):
            return _OPAQUE_ONLY
        heads = scope.lookup(base.id)
        if not heads:
            return _EMPTY
        suffix = ".".join(reversed(attrs))
        return frozenset(
            f"{head}.{suffix}" if head is not None else None for head in heads
        )
    if isinstance(node, ast.IfExp):
        return resolve(node.body, scope) | resolve(node.orelse, scope)
    return _OPAQUE_ONLY


@lru_cache(maxsize=64)
def _last_components(targets: frozenset[str]) -> frozenset[str]:
    return frozenset(t.rsplit(".", 1)[-1] for t in targets)


def resolves_only_to(node: ast.expr, scope: Scope, targets: frozenset[str]) -> bool:
    """True when every binding ``node`` may have is one of ``targets``."""
    if isinstance(node, ast.Attribute) and node.attr not in _last_components(targets):
        return False  # `a.b.c` resolves to names ending in `.c`; skip the lookup
    names = resolve(node, scope)
    return bool(names) and all(name in targets for name in names)


def resolves_to_any(node: ast.expr, scope: Scope, targets: frozenset[str]) -> bool:
    """True when some binding ``node`` may have is one of ``targets``."""
    return any(name in targets for name in resolve(node, scope))


def module_spelling(
    scope: Scope, suffixes: Mapping[str, str], prefer: str | None = None
) -> str | None:
    """How code run in ``scope`` can name a module, for a fix to write: a
    name bound there to one of ``suffixes``' modules alone, followed by that
    module's suffix (``nn`` + ``.utils`` for ``torch.nn.utils``). ``prefer``
    is tried first, then the module's names in sorted order (a local of the
    same name would shadow one: the lookup is made where the code runs)."""
    names = sorted(scope.module.bindings)
    for name in [prefer, *names] if prefer is not None else names:
        bound = scope.lookup(name)
        if len(bound) == 1:
            (qualified,) = bound
            tail = suffixes.get(qualified) if qualified is not None else None
            if tail is not None:
                return name + tail
    return None
