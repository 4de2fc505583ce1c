"""The shared per-file analysis every rule queries.

One iterative pass over the stdlib ``ast`` builds the scopes (see
:mod:`wnlint.resolve`) and collects the sites rules look at: calls whose
callee is a name or attribute, and value references (maximal ``Name`` /
``Attribute`` chains read as values). Each site carries the lexical guards
around it (``if`` tests, ``try`` bodies and handlers), so a rule can tell a
version-gated fallback from a plain call without walking the tree again.

The pass is iterative, not recursive: a generated file with a 5,000-term
expression must not crash the linter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from wnlint import torchnames
from wnlint.flow import ScopeFlow, flows
from wnlint.modules import ModuleFacts
from wnlint.resolve import OPAQUE, Binding, Scope, resolve

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


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_TRY_TYPES: tuple = tuple(
    t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t
)
_MATCH_CAPTURES: tuple = tuple(
    t for t in (getattr(ast, "MatchAs", None), getattr(ast, "MatchStar", None)) if t
)
_MATCH_MAPPING = getattr(ast, "MatchMapping", None)


def _alias_value(value: ast.expr, scope: Scope) -> Binding:
    """What ``name = value`` binds: a lazily resolved alias, or OPAQUE."""
    if isinstance(value, (ast.Name, ast.Attribute, ast.IfExp)):
        return (value, scope)
    return OPAQUE


class FileAnalysis:
    """Scopes, call sites and references of one parsed module."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.module_scope = Scope("module", None, tree)
        self.calls: list[Site] = []
        self.references: list[Site] = []
        #: id(FunctionDef/ClassDef/Lambda node) -> the scope it opens.
        self.scopes: dict[int, Scope] = {}
        self.class_nodes: list[ast.ClassDef] = []
        self._modules: ModuleFacts | None = None
        self._flows: list[ScopeFlow] | None = None
        self._walk()

    @property
    def flows(self) -> list[ScopeFlow]:
        """Statement-order facts per function body (WN2xx only)."""
        if self._flows is None:
            self._flows = flows(self.tree, self.module_scope, self.calls)
        return self._flows

    @property
    def modules(self) -> ModuleFacts:
        """The file's nn.Module classes, built on first use (WN1xx only)."""
        if self._modules is None:
            self._modules = ModuleFacts(self.class_nodes, self.scopes, self.calls)
        return self._modules

    # -- queries ---------------------------------------------------------
    def mentions_new_api(self, nodes: Iterable[ast.AST], scope: Scope) -> bool:
        """True when ``nodes`` test for or use the parametrizations API.

        Looks for ``"parametrizations"`` strings (``hasattr(m,
        "parametrizations")``), names under ``torch.nn.utils.parametriz*``
        and ``torch.__version__``: the marks of code that handles both APIs.
        """
        for root in nodes:
            for node in ast.walk(root):
                if isinstance(node, ast.Constant):
                    if node.value == torchnames.NEW_API_ATTRIBUTE:
                        return True
                elif isinstance(node, (ast.Name, ast.Attribute)):
                    if isinstance(node, ast.Attribute) and (
                        node.attr == torchnames.NEW_API_ATTRIBUTE
                    ):
                        return True
                    for name in resolve(node, scope):
                        if name is not None and (
                            name.startswith(torchnames.NEW_API_NAMESPACES)
                            or name == torchnames.TORCH_VERSION
                        ):
                            return True
        return False

    def in_dual_api_branch(self, site: Site, tolerant_try: bool = False) -> bool:
        """True when ``site`` sits where the code handles both weight-norm APIs.

        That is a branch of an ``if``/conditional expression whose test
        mentions the new API or the torch version, an ``except`` handler of
        a ``try`` that uses the new API, or (with ``tolerant_try``) a ``try``
        body whose handlers swallow the ``ValueError`` a mismatched remover
        raises, in a function that also handles the new API.
        """
        for kind, node, scope in site.guards:
            if kind in ("if", "else"):
                if self.mentions_new_api([node], scope):
                    return True
            elif kind == "except":
                if self.mentions_new_api(node.body, scope):
                    return True
            elif (
                kind == "try"
                and tolerant_try
                and any(_catches_tolerantly(h) for h in node.handlers)
                and self.mentions_new_api([scope.node or node], scope)
            ):
                # `try: remove_weight_norm(m) except ValueError: pass` next to
                # a removal of the parametrization: removes whichever is there.
                return True
        return False

    # -- the one pass ----------------------------------------------------
    def _walk(self) -> None:
        calls = self.calls
        refs = self.references
        # Items are (node, scope, guards, parent); nodes are typed Any because
        # the dispatch below is on exact node types.
        stack: list[tuple[Any, Scope, Guards, ast.AST | None]] = [
            (self.tree, self.module_scope, (), None)
        ]
        pop = stack.pop

        def push(
            nodes: Iterable[ast.AST | None],
            scope: Scope,
            guards: Guards,
            parent: ast.AST | None,
        ) -> None:
            # `if hasattr(m, "parametrizations"): return ...` puts what follows
            # in its else branch: the statements after it get that guard.
            items = []
            for child in nodes:
                if child is None:
                    continue
                items.append((child, scope, guards, parent))
                if type(child) is ast.If and not child.orelse and _exits(child.body):
                    guards = (*guards, ("else", child.test, scope))
            # Reversed so that nodes are popped (and bound) in source order.
            stack.extend(reversed(items))

        while stack:
            node, scope, guards, parent = pop()
            t = type(node)

            if t is ast.Name:
                if isinstance(node.ctx, ast.Load):
                    refs.append(Site(node, scope, guards, parent))
                elif isinstance(node.ctx, ast.Store):
                    scope.bind(node.id, OPAQUE)
                continue

            if t is ast.Attribute:
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name):
                    if isinstance(node.ctx, ast.Load):
                        refs.append(Site(node, scope, guards, parent))
                else:
                    stack.append((base, scope, guards, node))
                continue

            if t is ast.Call:
                func = node.func
                if isinstance(func, (ast.Name, ast.Attribute)):
                    calls.append(Site(node, scope, guards, parent))
                    base = func
                    while isinstance(base, ast.Attribute):
                        base = base.value
                    if not isinstance(base, ast.Name):
                        stack.append((base, scope, guards, node))
                else:
                    stack.append((func, scope, guards, node))
                push(node.args, scope, guards, node)
                push(node.keywords, scope, guards, node)
                continue

            if t is ast.Import:
                for alias in node.names:
                    if alias.asname:
                        scope.bind(alias.asname, alias.name)
                    else:
                        top = alias.name.split(".", 1)[0]
                        scope.bind(top, top)
                continue

            if t is ast.ImportFrom:
                module = "." * (node.level or 0) + (node.module or "")
                for alias in node.names:
                    if alias.name == "*":
                        scope.star_imports.append(module)
                        continue
                    sep = "" if module.endswith(".") else "."
                    qual = module + sep + alias.name
                    scope.bind(alias.asname or alias.name, qual)
                continue

            if t is ast.Assign:
                value = node.value
                for target in node.targets:
                    self._bind_target(target, value, scope, guards, stack)
                stack.append((value, scope, guards, node))
                continue

            if t is ast.AnnAssign:
                value = node.value
                if value is not None:
                    self._bind_target(node.target, value, scope, guards, stack)
                    stack.append((value, scope, guards, node))
                elif not isinstance(node.target, ast.Name):
                    stack.append((node.target, scope, guards, node))
                stack.append((node.annotation, scope, guards, node))
                continue

            if t is ast.NamedExpr:
                home = scope
                while home.kind == "comprehension" and home.parent is not None:
                    home = home.parent
                home.bind(node.target.id, _alias_value(node.value, scope))
                stack.append((node.value, scope, guards, node))
                continue

            if t in _FUNCTIONS or t is ast.Lambda:
                args = node.args
                outer: list[ast.AST | None] = []
                if t is not ast.Lambda:
                    outer.extend(node.decorator_list)
                    outer.append(node.returns)
                    scope.bind(node.name, OPAQUE)
                outer.extend(args.defaults)
                outer.extend(args.kw_defaults)
                all_args = [
                    *getattr(args, "posonlyargs", []),
                    *args.args,
                    *args.kwonlyargs,
                    *(a for a in (args.vararg, args.kwarg) if a is not None),
                ]
                outer.extend(a.annotation for a in all_args)
                push(outer, scope, guards, node)
                inner = Scope("lambda" if t is ast.Lambda else "function", scope, node)
                self.scopes[id(node)] = inner
                for a in all_args:
                    inner.bind(a.arg, OPAQUE)
                body = node.body
                push(body if isinstance(body, list) else [body], inner, guards, node)
                continue

            if t is ast.ClassDef:
                push(node.decorator_list, scope, guards, node)
                push(node.bases, scope, guards, node)
                push(node.keywords, scope, guards, node)
                scope.bind(node.name, OPAQUE)
                class_scope = Scope("class", scope, node)
                self.class_nodes.append(node)
                self.scopes[id(node)] = class_scope
                push(node.body, class_scope, guards, node)
                continue

            if t in _COMPREHENSIONS:
                gens = node.generators
                stack.append((gens[0].iter, scope, guards, node))
                inner = Scope("comprehension", scope, node)
                for i, gen in enumerate(gens):
                    for name in _store_names(gen.target):
                        inner.bind(name, OPAQUE)
                    if i:
                        stack.append((gen.iter, inner, guards, node))
                    push(gen.ifs, inner, guards, node)
                if t is ast.DictComp:
                    push([node.key, node.value], inner, guards, node)
                else:
                    stack.append((node.elt, inner, guards, node))
                continue

            if t is ast.Global:
                scope.global_names.update(node.names)
                continue
            if t is ast.Nonlocal:
                scope.nonlocal_names.update(node.names)
                continue

            if t is ast.If or t is ast.IfExp:
                test = node.test
                body = node.body
                orelse = node.orelse
                push(
                    orelse if isinstance(orelse, list) else [orelse],
                    scope,
                    (*guards, ("else", test, scope)),
                    node,
                )
                push(
                    body if isinstance(body, list) else [body],
                    scope,
                    (*guards, ("if", test, scope)),
                    node,
                )
                stack.append((test, scope, guards, node))
                continue

            if t in _TRY_TYPES:
                push(node.finalbody, scope, guards, node)
                push(node.orelse, scope, guards, node)
                push(node.handlers, scope, (*guards, ("except", node, scope)), node)
                push(node.body, scope, (*guards, ("try", node, scope)), node)
                continue

            if t is ast.ExceptHandler:
                if node.name:
                    scope.bind(node.name, OPAQUE)
                push([node.type, *node.body], scope, guards, node)
                continue

            if _MATCH_CAPTURES and t in _MATCH_CAPTURES:
                if node.name:
                    scope.bind(node.name, OPAQUE)
            elif t is _MATCH_MAPPING and node.rest:
                scope.bind(node.rest, OPAQUE)

            push(ast.iter_child_nodes(node), scope, guards, node)

    @staticmethod
    def _bind_target(
        target: ast.expr,
        value: ast.expr,
        scope: Scope,
        guards: Guards,
        stack: list,
    ) -> None:
        if isinstance(target, ast.Name):
            scope.bind(target.id, _alias_value(value, scope))
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            values = (
                value.elts
                if isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(target.elts)
                and not any(isinstance(e, ast.Starred) for e in target.elts)
                else None
            )
            for i, elt in enumerate(target.elts):
                if values is not None:
                    FileAnalysis._bind_target(elt, values[i], scope, guards, stack)
                else:
                    for name in _store_names(elt):
                        scope.bind(name, OPAQUE)
                    if not isinstance(
                        elt, (ast.Name, ast.Starred, ast.Tuple, ast.List)
                    ):
                        stack.append((elt, scope, guards, target))
            return
        if isinstance(target, ast.Starred):
            for name in _store_names(target):
                scope.bind(name, OPAQUE)
            return
        # `self.x = ...`, `d[k] = ...`: the loads inside still need a visit.
        stack.append((target, scope, guards, None))


def _exits(body: list) -> bool:
    return bool(body) and isinstance(
        body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break)
    )


def _store_names(target: ast.AST) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


def _catches_tolerantly(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for exc in types:
        name = exc.id if isinstance(exc, ast.Name) else getattr(exc, "attr", None)
        if name in torchnames.TOLERANT_EXCEPTIONS:
            return True
    return False
