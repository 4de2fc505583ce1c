"""The shared per-file analysis every rule queries.

One iterative pass over the stdlib ``ast`` builds the scopes (see
:mod:`wnlint.facts.resolve`) and collects the sites rules look at: calls whose
callee is a name or attribute, and value references (maximal ``Name`` /
``Attribute`` chains read as values). Each site carries the lexical guards
around it (``if`` tests, ``try`` bodies and handlers), so a rule can tell a
version-gated fallback from a plain call without walking the tree again.

The pass is iterative, not recursive: a generated file with a 5,000-term
expression must not crash the linter.
"""

from __future__ import annotations

import ast
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from wnlint.facts.calls import FileSummaries
from wnlint.facts.events import Body
from wnlint.facts.module_classes import ModuleFacts
from wnlint.facts.order import ScopeFlow, flows
from wnlint.facts.project_names import ProjectNames
from wnlint.facts.resolve import OPAQUE, Binding, Scope
from wnlint.facts.syntax import child_nodes, walk

#: (kind, node, scope): kind is "if"/"else" (node is the test), "try" or
#: "except" (node is the ``Try`` statement).
Guard = tuple[str, Any, Scope]
Guards = tuple[Guard, ...]


class Site(NamedTuple):
    """A call or value reference, with what surrounds it."""

    node: ast.expr
    scope: Scope
    guards: Guards
    parent: ast.AST | None


def _alias_value(value: ast.expr, scope: Scope) -> Binding:
    """What ``name = value`` binds: a lazily resolved alias, or OPAQUE."""
    if isinstance(value, (ast.Name, ast.Attribute, ast.IfExp)):
        return (value, weakref.ref(scope))
    return OPAQUE


class FileAnalysis:
    """Scopes, call sites and references of one parsed module."""

    def __init__(self, tree: ast.Module, path: str | None = None) -> None:
        self.tree = tree
        #: The file on disk, when there is one: summaries follow imports of
        #: sibling modules from it.
        self.path = path
        self.module_scope = Scope("module", None, tree)
        if path is not None and os.path.isfile(path):
            self.module_scope.project = ProjectNames(path)
        self.calls: list[Site] = []
        self.references: list[Site] = []
        #: id(FunctionDef/ClassDef/Lambda node) -> the scope it opens.
        self.scopes: dict[int, Scope] = {}
        self.class_nodes: list[ast.ClassDef] = []
        #: The walks of function and module bodies, with their events, built
        #: on first use and shared by every fact built on them.
        self.bodies: dict[int, Body] = {}
        self._modules: ModuleFacts | None = None
        self._flows: list[ScopeFlow] | None = None
        self._summaries: FileSummaries | None = None
        self._walk()

    @property
    def summaries(self) -> FileSummaries:
        """What the file's functions and classes do to modules, across calls
        (built on first use)."""
        if self._summaries is None:
            self._summaries = FileSummaries(self, self.path)
        return self._summaries

    @property
    def flows(self) -> list[ScopeFlow]:
        """Statement-order facts per function body (WN2xx only)."""
        if self._flows is None:
            self._flows = flows(self.tree, self.module_scope, self.calls, self.bodies)
        return self._flows

    @property
    def modules(self) -> ModuleFacts:
        """The file's nn.Module classes, built on first use (WN1xx only)."""
        if self._modules is None:
            self._modules = ModuleFacts(self.class_nodes, self.scopes, self.calls)
        return self._modules

    def _walk(self) -> None:
        _Walker(self).run()


#: A handler of one node type: (walker, node, scope, guards, parent).
_Handler = Callable[["_Walker", Any, Scope, Guards, "ast.AST | None"], None]


class _Walker:
    """The working state of one pass over a module.

    Each popped node goes to the handler of its exact type (``_HANDLERS``),
    the rest to :meth:`_children`. Handlers push what they do not handle
    themselves instead of recursing, so nesting depth costs heap, not
    stack. Children are pushed reversed so that they are popped, and their
    names bound, in source order: resolution depends on that order.
    """

    __slots__ = ("calls", "class_nodes", "references", "scopes", "stack")

    def __init__(self, analysis: FileAnalysis) -> None:
        self.calls = analysis.calls
        self.references = analysis.references
        self.scopes = analysis.scopes
        self.class_nodes = analysis.class_nodes
        #: (node, scope, guards, parent); nodes are Any because dispatch is
        #: on exact node types.
        self.stack: list[tuple[Any, Scope, Guards, ast.AST | None]] = [
            (analysis.tree, analysis.module_scope, (), None)
        ]

    def run(self) -> None:
        stack = self.stack
        pop = stack.pop
        handler_of = _HANDLERS.get
        children = _Walker._children
        while stack:
            node, scope, guards, parent = pop()
            handler_of(type(node), children)(self, node, scope, guards, parent)

    def _push(
        self,
        nodes: Iterable[ast.AST | None],
        scope: Scope,
        guards: Guards,
        parent: ast.AST | None,
    ) -> None:
        # `if hasattr(m, "new_api"): return ...` puts what follows in its
        # else branch: the statements after it get that guard.
        items = []
        for child in nodes:
            if child is None:
                continue
            items.append((child, scope, guards, parent))
            if type(child) is ast.If and not child.orelse and _exits(child.body):
                guards = (*guards, ("else", child.test, scope))
        self.stack.extend(reversed(items))

    def _children(
        self, node: ast.AST, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        self._push(child_nodes(node), scope, guards, node)

    # -- names and references --------------------------------------------
    def _name(
        self, node: ast.Name, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        if isinstance(node.ctx, ast.Load):
            self.references.append(Site(node, scope, guards, parent))
        elif isinstance(node.ctx, ast.Store):
            scope.bind(node.id, OPAQUE)

    def _attribute(
        self, node: ast.Attribute, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        # A chain on a name is one reference; on anything else, the loads
        # are inside its base.
        base = node.value
        while isinstance(base, ast.Attribute):
            base = base.value
        if isinstance(base, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.references.append(Site(node, scope, guards, parent))
        else:
            self.stack.append((base, scope, guards, node))

    def _call(
        self, node: ast.Call, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        # The callee of a call site is part of the site, not a reference.
        func = node.func
        if isinstance(func, (ast.Name, ast.Attribute)):
            self.calls.append(Site(node, scope, guards, parent))
            base: ast.expr = func
            while isinstance(base, ast.Attribute):
                base = base.value
            if not isinstance(base, ast.Name):
                self.stack.append((base, scope, guards, node))
        else:
            self.stack.append((func, scope, guards, node))
        self._push(node.args, scope, guards, node)
        self._push(node.keywords, scope, guards, node)

    # -- bindings ----------------------------------------------------------
    def _import(
        self, node: ast.Import, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        for alias in node.names:
            if alias.asname:
                scope.bind(alias.asname, alias.name)
            else:
                top = alias.name.split(".", 1)[0]
                scope.bind(top, top)

    def _import_from(
        self, node: ast.ImportFrom, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        module = "." * (node.level or 0) + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                scope.star_imports.append(module)
                continue
            sep = "" if module.endswith(".") else "."
            scope.bind(alias.asname or alias.name, module + sep + alias.name)

    def _assign(
        self, node: ast.Assign, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        value = node.value
        for target in node.targets:
            self._bind_target(target, value, scope, guards)
        self.stack.append((value, scope, guards, node))

    def _ann_assign(
        self, node: ast.AnnAssign, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        value = node.value
        if value is not None:
            self._bind_target(node.target, value, scope, guards)
            self.stack.append((value, scope, guards, node))
        elif not isinstance(node.target, ast.Name):
            self.stack.append((node.target, scope, guards, node))
        self.stack.append((node.annotation, scope, guards, node))

    def _named_expr(
        self, node: ast.NamedExpr, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        # A walrus in a comprehension binds in the enclosing scope (PEP 572).
        home = scope
        while home.kind == "comprehension" and home.parent is not None:
            home = home.parent
        home.bind(node.target.id, _alias_value(node.value, scope))
        self.stack.append((node.value, scope, guards, node))

    def _global(
        self, node: ast.Global, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        scope.global_names.update(node.names)

    def _nonlocal(
        self, node: ast.Nonlocal, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        scope.nonlocal_names.update(node.names)

    def _match_binding(
        self, node: ast.AST, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        # `case x`, `case [*rest]` bind `name`; `case {**rest}` binds `rest`.
        bound = getattr(node, "name", None) or getattr(node, "rest", None)
        if bound:
            scope.bind(bound, OPAQUE)
        self._children(node, scope, guards, parent)

    def _bind_target(
        self, target: ast.expr, value: ast.expr, scope: Scope, guards: Guards
    ) -> None:
        if isinstance(target, ast.Name):
            scope.bind(target.id, _alias_value(value, scope))
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._bind_unpacking(target, value, scope, guards)
        elif isinstance(target, ast.Starred):
            for name in _store_names(target):
                scope.bind(name, OPAQUE)
        else:
            # `self.x = ...`, `d[k] = ...`: the loads inside still need a visit.
            self.stack.append((target, scope, guards, None))

    def _bind_unpacking(
        self,
        target: ast.Tuple | ast.List,
        value: ast.expr,
        scope: Scope,
        guards: Guards,
    ) -> None:
        # `a, b = x, y` pairs the names with their values; any other
        # unpacking binds opaque values.
        values = (
            value.elts
            if isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in target.elts)
            else None
        )
        for i, elt in enumerate(target.elts):
            if values is not None:
                self._bind_target(elt, values[i], scope, guards)
                continue
            for name in _store_names(elt):
                scope.bind(name, OPAQUE)
            if not isinstance(elt, (ast.Name, ast.Starred, ast.Tuple, ast.List)):
                self.stack.append((elt, scope, guards, target))

    # -- scopes ------------------------------------------------------------
    def _function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        scope: Scope,
        guards: Guards,
        parent: ast.AST | None,
    ) -> None:
        scope.bind(node.name, OPAQUE)
        outer: list[ast.AST | None] = [*node.decorator_list, node.returns]
        self._open_function(node, "function", outer, node.body, scope, guards)

    def _lambda(
        self, node: ast.Lambda, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        self._open_function(node, "lambda", [], [node.body], scope, guards)

    def _open_function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
        kind: str,
        outer: list[ast.AST | None],
        body: list[ast.stmt] | list[ast.expr],
        scope: Scope,
        guards: Guards,
    ) -> None:
        # Decorators, defaults and annotations run in the enclosing scope;
        # the parameters are bound, and the body runs, in the new one.
        args = node.args
        outer.extend(args.defaults)
        outer.extend(args.kw_defaults)
        all_args = [
            *getattr(args, "posonlyargs", []),
            *args.args,
            *args.kwonlyargs,
            *(a for a in (args.vararg, args.kwarg) if a is not None),
        ]
        outer.extend(a.annotation for a in all_args)
        self._push(outer, scope, guards, node)
        inner = Scope(kind, scope, node)
        self.scopes[id(node)] = inner
        for a in all_args:
            inner.bind(a.arg, OPAQUE)
        self._push(body, inner, guards, node)

    def _class(
        self, node: ast.ClassDef, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        self._push(node.decorator_list, scope, guards, node)
        self._push(node.bases, scope, guards, node)
        self._push(node.keywords, scope, guards, node)
        scope.bind(node.name, OPAQUE)
        class_scope = Scope("class", scope, node)
        self.class_nodes.append(node)
        self.scopes[id(node)] = class_scope
        self._push(node.body, class_scope, guards, node)

    def _comprehension(
        self,
        node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
        scope: Scope,
        guards: Guards,
        parent: ast.AST | None,
    ) -> None:
        # Only the first iterable is evaluated outside the comprehension.
        stack = self.stack
        gens = node.generators
        stack.append((gens[0].iter, scope, guards, node))
        inner = Scope("comprehension", scope, node)
        for i, gen in enumerate(gens):
            for name in _store_names(gen.target):
                inner.bind(name, OPAQUE)
            if i:
                stack.append((gen.iter, inner, guards, node))
            self._push(gen.ifs, inner, guards, node)
        if isinstance(node, ast.DictComp):
            self._push([node.key, node.value], inner, guards, node)
        else:
            stack.append((node.elt, inner, guards, node))

    # -- guards ------------------------------------------------------------
    def _branch(
        self,
        node: ast.If | ast.IfExp,
        scope: Scope,
        guards: Guards,
        parent: ast.AST | None,
    ) -> None:
        test = node.test
        body = node.body
        orelse = node.orelse
        self._push(
            orelse if isinstance(orelse, list) else [orelse],
            scope,
            (*guards, ("else", test, scope)),
            node,
        )
        self._push(
            body if isinstance(body, list) else [body],
            scope,
            (*guards, ("if", test, scope)),
            node,
        )
        self.stack.append((test, scope, guards, node))

    def _try(
        self, node: ast.Try, scope: Scope, guards: Guards, parent: ast.AST | None
    ) -> None:
        self._push(node.finalbody, scope, guards, node)
        self._push(node.orelse, scope, guards, node)
        self._push(node.handlers, scope, (*guards, ("except", node, scope)), node)
        self._push(node.body, scope, (*guards, ("try", node, scope)), node)

    def _except_handler(
        self,
        node: ast.ExceptHandler,
        scope: Scope,
        guards: Guards,
        parent: ast.AST | None,
    ) -> None:
        if node.name:
            scope.bind(node.name, OPAQUE)
        self._push([node.type, *node.body], scope, guards, node)


def _handlers() -> dict[type, _Handler]:
    """The dispatch table; node types newer than Python 3.9 only when present."""
    w = _Walker
    table: dict[type, _Handler] = {
        ast.Name: w._name,
        ast.Attribute: w._attribute,
        ast.Call: w._call,
        ast.Import: w._import,
        ast.ImportFrom: w._import_from,
        ast.Assign: w._assign,
        ast.AnnAssign: w._ann_assign,
        ast.NamedExpr: w._named_expr,
        ast.Global: w._global,
        ast.Nonlocal: w._nonlocal,
        ast.FunctionDef: w._function,
        ast.AsyncFunctionDef: w._function,
        ast.Lambda: w._lambda,
        ast.ClassDef: w._class,
        ast.ListComp: w._comprehension,
        ast.SetComp: w._comprehension,
        ast.GeneratorExp: w._comprehension,
        ast.DictComp: w._comprehension,
        ast.If: w._branch,
        ast.IfExp: w._branch,
        ast.Try: w._try,
        ast.ExceptHandler: w._except_handler,
    }
    optional: dict[str, _Handler] = {
        "TryStar": w._try,
        "MatchAs": w._match_binding,
        "MatchStar": w._match_binding,
        "MatchMapping": w._match_binding,
    }
    for name, handler in optional.items():
        node_type = getattr(ast, name, None)
        if node_type is not None:
            table[node_type] = handler
    return table


_HANDLERS = _handlers()


def _exits(body: list) -> bool:
    return bool(body) and isinstance(
        body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break)
    )


def _store_names(target: ast.AST) -> Iterator[str]:
    for node in walk(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id
