"""The one recognizer of each weight-norm event, and the one walk of a body.

Every fact engine and rule asks here what a call does to modules: weight
norm applied (and by which API), another parametrization registered,
weight norm removed, an optimizer built, a tensor written in place
(:func:`classify`). A spelling learned here (an alias, a shim that may be
either API, ``nn.init.normal_(m.weight.data)``, an init function looked up
in a dict of them) is learned by all of them at once.

:class:`Body` walks a function's (or the module's) statements in source
order, into compound statements but not into nested definitions, each with
the arms of ``if``/``try``/``match`` it sits in (:data:`Path`). Whether
two statements can both run in one call, and which ``if`` tests hold where
a statement runs (:meth:`Body.tests`), are both read off those arms: the
statement-order rules and the summaries that follow calls share one model
of branches. A body's events (:attr:`Body.events`) are computed once per
file (:func:`body_of`) and shared by every fact built on them.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from wnlint.facts import torchnames as tn
from wnlint.facts.definitions import local_definition
from wnlint.facts.resolve import OPAQUE, Scope, resolve, resolves_only_to
from wnlint.facts.syntax import (
    call_arg,
    child_nodes,
    local_definitions,
    own_nodes,
    parameter_names,
    single_value,
    walk,
)

#: The arms a statement sits in, outermost first: (id of the compound
#: statement, arm). An ``if``/``elif``/``else`` chain is one compound whose
#: arms are ``body``, ``elif1``, ``elif2``, ... and ``orelse``.
Path = tuple[tuple[int, str], ...]
#: An ``if`` test and whether it holds where a statement runs.
Test = tuple[ast.expr, bool]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: A statement after which the rest of its block does not run.
_LEAVES = (ast.Return, ast.Raise, ast.Continue, ast.Break)
#: What holds statements of its own: not part of a statement's expressions.
_NOT_EXPRESSIONS = (
    ast.stmt,
    ast.ExceptHandler,
    *((ast.match_case,) if hasattr(ast, "match_case") else ()),
)
_TRY = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


# -- what a call does --------------------------------------------------------------


#: The two weight-norm APIs, and a shim that may be either (a version gate).
LEGACY, NEW, EITHER = "legacy", "new", "either"


def norm_api(func: ast.expr, scope: Scope) -> str | None:
    """Which weight norm ``func`` applies (:func:`api_of` its bindings);
    None when it is not one for certain."""
    if not isinstance(func, (ast.Name, ast.Attribute)):
        return None
    if not resolves_only_to(func, scope, tn.WEIGHT_NORM_ANY):
        return None
    return api_of(resolve(func, scope))


def api_of(names: AbstractSet[str | None]) -> str | None:
    """The API of a callee that may be any of ``names``: :data:`LEGACY` or
    :data:`NEW` when all are that API's weight norm, :data:`EITHER` when
    they are both APIs'; None when one is not weight norm (or none known)."""
    if not names or not all(n in tn.WEIGHT_NORM_ANY for n in names):
        return None
    legacy = any(n in tn.LEGACY_WEIGHT_NORM for n in names)
    new = any(n in tn.PARAMETRIZATIONS_WEIGHT_NORM for n in names)
    return EITHER if legacy and new else LEGACY if legacy else NEW


def removal_api(func: ast.expr, scope: Scope) -> str | None:
    """Which weight norm ``func`` removes, as :func:`norm_api` says it."""
    if not isinstance(func, (ast.Name, ast.Attribute)):
        return None
    # Asked of every call of a file: one lookup, which most calls fail.
    if not resolves_only_to(func, scope, _REMOVERS):
        return None
    names = resolve(func, scope)
    if names <= tn.LEGACY_REMOVE_WEIGHT_NORM:
        return LEGACY
    if names <= tn.REMOVE_PARAMETRIZATIONS:
        return NEW
    return EITHER


_REMOVERS = tn.LEGACY_REMOVE_WEIGHT_NORM | tn.REMOVE_PARAMETRIZATIONS


def is_optimizer(func: ast.expr, scope: Scope) -> bool:
    """``torch.optim.<Class>`` (not a scheduler or a helper)."""
    if not isinstance(func, (ast.Name, ast.Attribute)):
        return False
    names = resolve(func, scope)
    return bool(names) and all(
        n is not None
        and n.startswith(tn.OPTIM)
        and not n.startswith(tn.NOT_OPTIMIZERS)
        and n.rsplit(".", 1)[-1][:1].isupper()
        and n not in tn.OPTIMIZER_BASE
        for n in names
    )


def is_init_function(callee: ast.expr, scope: Scope) -> bool:
    """``nn.init.normal_``, ``FUNCS["normal_"]`` over a module-level dict
    whose values are all ``torch.nn.init`` functions, or ``getattr(nn.init,
    name)``."""
    if isinstance(callee, (ast.Name, ast.Attribute)):
        names = resolve(callee, scope)
        return bool(names) and all(
            n is not None and n.startswith(tn.INIT_NAMESPACE) for n in names
        )
    if isinstance(callee, ast.Subscript) and isinstance(callee.value, ast.Name):
        table = _module_dict(callee.value.id, scope)
        return table is not None and _all_init(table, scope.module)
    if (  # getattr(nn.init, name): a function of torch.nn.init, looked up
        isinstance(callee, ast.Call)
        and isinstance(callee.func, ast.Name)
        and callee.func.id == "getattr"
        and len(callee.args) == 2
        and isinstance(callee.args[0], (ast.Name, ast.Attribute))
        and not resolve(callee.func, scope)  # the builtin
    ):
        return resolve(callee.args[0], scope) == {tn.INIT_NAMESPACE.rstrip(".")}
    return False


def _all_init(table: ast.Dict, scope: Scope) -> bool:
    return all(v is not None and is_init_function(v, scope) for v in table.values)


def looked_up_init(callee: ast.expr, scope: Scope) -> bool:
    """An init function got at run time from a table of them, the one way
    a body spells it (:func:`is_init_function`) or a local assigned once
    from one (``fn = INITS[name]``), or a call of a function of the file
    that returns one (``get_init(name)``, ``fn = get_init(name)``) from a
    dict display or a local dict (``return {"xavier": nn.init.xavier_uniform_,
    ...}[name]``)."""
    if isinstance(callee, ast.Name) and scope.kind == "function":
        if scope.node is None or scope.bindings.get(callee.id) != [OPAQUE]:
            return False
        value = single_value(_locals_of(scope.node), callee.id)
        if value is None or isinstance(value, (ast.Name, ast.Attribute)):
            return False
        return is_init_function(value, scope) or looked_up_init(value, scope)
    if not (isinstance(callee, ast.Call) and isinstance(callee.func, ast.Name)):
        return False
    func = local_definition(callee.func.id, scope)
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    returned = [n.value for n in own_nodes(func) if isinstance(n, ast.Return)]
    local = local_definitions(func)
    for name in parameter_names(func, every=True):
        local.setdefault(name, []).append(None)  # bound by the caller
    return bool(returned) and all(
        value is not None and _init_from_table(value, local, scope.module)
        for value in returned
    )


#: The last function whose locals were read, and them: the calls of one
#: body are asked about one after another (weak: no tree is kept alive).
_LAST_LOCALS: list = [None, {}]


def _locals_of(func: ast.AST) -> dict[str, list[ast.expr | None]]:
    if _LAST_LOCALS[0] is None or _LAST_LOCALS[0]() is not func:
        _LAST_LOCALS[:] = [weakref.ref(func), local_definitions(func)]
    return _LAST_LOCALS[1]


def _init_from_table(
    value: ast.expr, local: dict[str, list[ast.expr | None]], module: Scope
) -> bool:
    """``value``, returned by a function whose locals are ``local``, is an
    entry of a dict of init functions: of a display, of a local dict, of a
    module-level one. The dict's values are read in the module's scope, so
    a function that binds a name they use is not followed."""
    if not isinstance(value, ast.Subscript):
        return False
    table = value.value
    if isinstance(table, ast.Name) and table.id in local:
        table = single_value(local, table.id)  # type: ignore[assignment]
    elif isinstance(table, ast.Name):
        return is_init_function(value, module)
    if not isinstance(table, ast.Dict):
        return False
    roots = {
        n.id
        for v in table.values
        if v is not None
        for n in walk(v)
        if isinstance(n, ast.Name)
    }
    return roots.isdisjoint(local) and _all_init(table, module)


def _module_dict(name: str, scope: Scope) -> ast.Dict | None:
    """The dict display a module-level name is bound to, once and only."""
    module = scope.module
    bindings = module.bindings.get(name)
    if not bindings or len(bindings) != 1 or module.node is None:
        return None
    for stmt in module.node.body:  # type: ignore[attr-defined]
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name
            and isinstance(stmt.value, ast.Dict)
        ):
            return stmt.value
    return None


def _undetached(expr: ast.expr) -> ast.expr:
    """``t`` for ``t.data``: writing either writes the same storage."""
    if isinstance(expr, ast.Attribute) and expr.attr in tn.DETACH_ATTRS:
        return expr.value
    return expr


def written_tensor(node: ast.AST, scope: Scope) -> ast.expr | None:
    """The tensor ``node`` writes in place: an init function's first
    argument (``nn.init.normal_(m.weight)``, ``.data`` or not), the receiver
    of an in-place method (``m.weight.data.normal_()``, ``m.weight.copy_(w)``)
    or of a ``.data`` assignment (``m.weight.data = w``, ``*= 0.1``)."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets if node.value is not None else ():
            if isinstance(target, ast.Attribute) and target.attr in tn.DETACH_ATTRS:
                return target.value
        return None
    if not isinstance(node, ast.Call):
        return None
    callee = node.func
    if node.args and (
        is_init_function(callee, scope)
        or (isinstance(node.args[0], ast.Attribute) and looked_up_init(callee, scope))
    ):
        return _undetached(node.args[0])
    if (
        isinstance(callee, ast.Attribute)
        and callee.attr.endswith("_")
        and not callee.attr.startswith("_")
    ):
        receiver = _undetached(callee.value)
        if isinstance(receiver, ast.Attribute):
            return receiver
    return None


# -- one event per call ---------------------------------------------------------------

#: The kinds of :class:`Event`: weight norm applied, another
#: parametrization registered (``spectral_norm``, ``orthogonal``,
#: ``register_parametrization``), weight norm removed, an optimizer built, a
#: tensor written in place.
NORM, PARAMETRIZE, REMOVE, OPTIMIZER, WRITE = (
    "norm",
    "parametrize",
    "remove",
    "optimizer",
    "write",
)


class Event(NamedTuple):
    """What one call (or ``.data`` assignment) of a body does to modules."""

    kind: str  # NORM, PARAMETRIZE, REMOVE, OPTIMIZER or WRITE
    node: ast.AST  # the call, or the assignment of a ``.data`` write
    order: int  # the statement that holds it (see :class:`Body`)
    #: The module normed or weight norm is removed from, the tensor written,
    #: or the parameters an optimizer is handed (as written; None if none).
    target: ast.expr | None
    api: str | None  # NORM and REMOVE: "legacy", "new" or "either"


def classify(
    node: ast.AST, scope: Scope
) -> tuple[str, ast.expr | None, str | None] | None:
    """(kind, target, api) of the event ``node`` is, or None: one answer for
    every rule, in this order (a weight-norm call is never also a write)."""
    if isinstance(node, ast.Call):
        api = norm_api(node.func, scope)
        if api is not None:
            return NORM, call_arg(node, 0, "module"), api
        if isinstance(node.func, (ast.Name, ast.Attribute)) and resolves_only_to(
            node.func, scope, tn.PARAMETRIZING
        ):
            return PARAMETRIZE, call_arg(node, 0, "module"), NEW
        removed = removal_api(node.func, scope)
        if removed is not None and node.args:
            return REMOVE, node.args[0], removed
        if is_optimizer(node.func, scope):
            return OPTIMIZER, call_arg(node, 0, "params"), None
    tensor = written_tensor(node, scope)
    return (WRITE, tensor, None) if tensor is not None else None


# -- the walk of a body --------------------------------------------------------------


class Body:
    """A function's (or the module's) statements in source order, with
    their arms, and the ``if`` statements those arms belong to."""

    def __init__(self, body: list[ast.stmt], scope: Scope) -> None:
        self.scope = scope
        #: ``if`` statements by id: the heads of the arms in the paths.
        self.ifs: dict[int, ast.If] = {}
        self.statements: list[tuple[ast.stmt, Path]] = list(self._walk(body))
        self._calls: list[list[ast.Call]] | None = None
        self._events: list[Event] | None = None

    def calls(self, order: int) -> list[ast.Call]:
        """The calls of statement ``order`` itself (not of the statements
        nested in it), in the order the walk meets them."""
        if self._calls is None:
            self._calls = [own_calls(stmt) for stmt, _ in self.statements]
        return self._calls[order]

    @property
    def events(self) -> list[Event]:
        """Every event of the body, in statement order (computed once)."""
        if self._events is None:
            found = []
            for order, (stmt, _) in enumerate(self.statements):
                nodes: list[ast.AST] = [*self.calls(order)]
                if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    nodes.append(stmt)
                for node in nodes:
                    event = classify(node, self.scope)
                    if event is not None:
                        found.append(Event(event[0], node, order, *event[1:]))
            self._events = found
        return self._events

    def _walk(self, body: list[ast.stmt]) -> Iterator[tuple[ast.stmt, Path]]:
        """Each ``elif`` sits in its own arm of its head's chain, so that a
        path stays as short as the nesting a reader sees, and telling two
        arms apart costs the same in a chain of 2 or 2,000."""
        stack: list[tuple[ast.stmt, Path, int]] = [
            (stmt, path, 0) for stmt, path in reversed(_block_paths(body, (), self))
        ]
        while stack:
            stmt, path, link = stack.pop()
            yield stmt, path
            if isinstance(stmt, _DEFS):
                continue
            arms: list[tuple[list, Path]] = []
            if isinstance(stmt, ast.If):
                # An elif (link > 0) sits in its own arm of the head's chain.
                base, head = (path[:-1], path[-1][0]) if link else (path, id(stmt))
                if not link:
                    self.ifs[head] = stmt
                arms = [(stmt.body, (*base, (head, f"elif{link}" if link else "body")))]
                if _is_elif(stmt):
                    label = f"elif{link + 1}"
                    stack.append((stmt.orelse[0], (*base, (head, label)), link + 1))
                else:
                    arms.append((stmt.orelse, (*base, (head, "orelse"))))
            elif isinstance(stmt, _TRY):
                arms = [(stmt.body + stmt.orelse, (*path, (id(stmt), "body")))]
                for i, handler in enumerate(stmt.handlers):
                    arms.append((handler.body, (*path, (id(stmt), f"except{i}"))))
                arms.append((stmt.finalbody, path))
            elif type(stmt).__name__ == "Match":
                for i, case in enumerate(stmt.cases):  # type: ignore[attr-defined]
                    arms.append((case.body, (*path, (id(stmt), f"case{i}"))))
            else:
                inner = [*getattr(stmt, "body", []), *getattr(stmt, "orelse", [])]
                arms = [(inner, path)]
            for block, block_path in reversed(arms):
                paths = _block_paths(block, block_path, self)
                stack.extend((s, p, 0) for s, p in reversed(paths))

    def tests(self, path: Path) -> list[tuple[ast.If, bool]]:
        """The ``if`` statements whose tests decide whether a statement with
        ``path`` runs, each with whether its test holds there: in arm
        ``body`` the head's test holds; in ``elifK`` the tests before the
        K-th elif fail and its own holds; in ``orelse`` (an ``else``, or the
        rest of a block after ``if t: return``) every test of the chain
        fails. ``try`` and ``match`` arms test nothing."""
        out: list[tuple[ast.If, bool]] = []
        for head_id, arm in path:
            node = self.ifs.get(head_id)
            if node is None:
                continue
            if arm == "body":
                out.append((node, True))
                continue
            k = int(arm[4:]) if arm.startswith("elif") else -1
            i = 0
            while i != k:
                out.append((node, False))
                if not _is_elif(node):
                    break
                node, i = node.orelse[0], i + 1  # type: ignore[assignment]
            else:
                out.append((node, True))
        return out

    def guards(self, path: Path) -> list[Test]:
        """The ``if`` tests around a statement with ``path``, and whether
        each holds where it runs (see :meth:`tests`)."""
        return [(node.test, holds) for node, holds in self.tests(path)]


def _is_elif(stmt: ast.If) -> bool:
    """The ``else`` arm is one ``if`` (an ``elif``, or an ``else:`` holding
    only an ``if``: the same thing)."""
    return len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If)


def _block_paths(
    block: list[ast.stmt], path: Path, body: Body
) -> list[tuple[ast.stmt, Path]]:
    """``if c: return ...`` puts the statements after it in its else arm."""
    out = []
    for stmt in block:
        out.append((stmt, path))
        if (
            isinstance(stmt, ast.If)
            and not stmt.orelse
            and stmt.body
            and isinstance(stmt.body[-1], _LEAVES)
        ):
            body.ifs[id(stmt)] = stmt
            path = (*path, (id(stmt), "orelse"))
    return out


def own_expressions(stmt: ast.stmt) -> Iterator[ast.AST]:
    """Nodes of a statement, not of the statements nested in it, nor of a
    lambda's body."""
    stack: list[ast.AST] = [
        child for child in child_nodes(stmt) if not isinstance(child, _NOT_EXPRESSIONS)
    ]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.Lambda):
            continue
        stack.extend(child_nodes(node))


def body_of(cache: dict[int, Body], owner: ast.AST, scope: Scope) -> Body:
    """The :class:`Body` of a function (or module) ``owner``, built once per
    file: ``cache`` is the file's (:attr:`wnlint.facts.analysis.FileAnalysis.bodies`),
    which the statement-order facts and the summaries share."""
    found = cache.get(id(owner))
    if found is None:
        found = cache[id(owner)] = Body(getattr(owner, "body", []), scope)
    return found


def own_calls(stmt: ast.stmt) -> list[ast.Call]:
    """The calls among :func:`own_expressions`."""
    return [n for n in own_expressions(stmt) if isinstance(n, ast.Call)]
