"""WN203 followed through calls, methods and hooks: the writes an init
makes to modules weight-normed elsewhere (``.apply(init_fn)``, a helper
that applies a closure to what it is handed, a method ``__init__`` calls,
a hook typed by a class that norms its own layer), each with the writes a
fix must repair (:class:`wnlint.rules._init_repair.Target`)."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from typing import Any

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.calls import WRITE_WORDS, FileSummaries, Normed
from wnlint.facts.definitions import Def
from wnlint.facts.events import REMOVE, api_of, body_of
from wnlint.facts.guards import ParamWrite
from wnlint.facts.resolve import Scope
from wnlint.facts.syntax import (
    call_arg,
    is_self,
    isinstance_types,
    method_named,
    own_nodes,
    parameter_names,
    self_root_attr,
    walk,
)
from wnlint.rules._init_repair import Target
from wnlint.rules.base import LineRef

# -- followed through calls, methods and hooks -------------------------------------


def followed(
    analysis: FileAnalysis, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    typed: dict[int, ast.AST] = {}
    tests_types: set[int] = set()
    writing: dict[int, ast.ClassDef] = {}
    for site in analysis.calls:
        call: ast.Call = site.node  # type: ignore[assignment]
        yield from _apply_call(call, site.scope, summaries)
        func = _enclosing_function(site.scope)
        is_test = isinstance(call.func, ast.Name) and call.func.id == "isinstance"
        if is_test and func is not None:
            tests_types.add(id(func))
        root = _weight_chain_root(call)
        if root is None:
            continue
        if is_self(root):
            cls = _enclosing_class(site.scope)
            if cls is not None:
                writing[id(cls)] = cls
        elif func is not None and _is_argument(root, func):
            typed[id(func)] = func
    # Only classes that touch `self.X.weight` in a call can write it there.
    for cls in writing.values():
        yield from _method_writes(cls, summaries)
    # A hook both tests types and touches `<module>.X.weight`.
    for key, func in typed.items():
        if key in tests_types:
            yield from _typed_hook(func, summaries)  # type: ignore[arg-type]


def _is_argument(name: ast.expr, func: ast.AST) -> bool:
    """``name`` is a parameter of ``func``: what a hook is handed."""
    if not isinstance(name, ast.Name) or not hasattr(func, "args"):
        return False
    return name.id in parameter_names(func)  # type: ignore[arg-type]


def _weight_chain_root(call: ast.Call) -> ast.expr | None:
    """The root of ``<root>.X.weight...`` when it is the callee's receiver
    or an argument: the calls that may write a submodule's weight."""
    for expr in (call.func, *call.args):
        chain = []
        while isinstance(expr, (ast.Attribute, ast.Subscript)):
            if isinstance(expr, ast.Attribute):
                chain.append(expr.attr)
            expr = expr.value
        if (
            isinstance(expr, ast.Name)
            and len(chain) >= 2
            and tn.DEFAULT_WEIGHT_NAME in chain
        ):
            return expr
    return None


def _where(normed: Normed, here: str | None) -> LineRef | str:
    """``line N`` of this file (a :class:`LineRef`, which a notebook counts
    in its cells); ``line N of other.py`` in a sibling module (by its
    relative path where it has this file's name)."""
    if normed.path is None or normed.path == here:
        return LineRef(normed.line)
    name = os.path.basename(normed.path)
    if here is not None and name == os.path.basename(here):
        # Two `models.py`: the other one by its path from this one's folder.
        name = os.path.relpath(normed.path, os.path.dirname(here))
    return f"line {normed.line} of {name}"


def _method_writes(
    cls: ast.ClassDef, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """``self.X.weight`` written by a method of a class whose ``__init__``
    weight-norms ``self.X``, at a point that runs after it."""
    methods = [
        (m, w)
        for m in cls.body
        if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
        for w in summaries.param_writes(m)
        if _self_weight(w) is not None
    ]
    if not methods:
        return
    normed = summaries.class_normed(cls)
    if not normed:
        return
    trace = summaries.init_trace(cls)
    order_of = {id(stmt): i for i, (stmt, _) in enumerate(trace)}
    in_init = {id(func) for _, func in trace}
    for method, write in methods:
        attr = _self_weight(write)
        if attr is None or attr not in normed:
            continue
        since, found = normed[attr]
        if not any(write.reaches(api_of(n.api)) for n in found):
            continue
        if id(method) in in_init:
            order = _order_of(write.node, method, order_of)
            if order is None or order <= since:
                continue
        elif _called_after_removal(method.name, summaries):
            continue
        fields = {
            "target": f"self.{attr}",
            "where": _where(found[0], summaries.path),
        }
        apis = {api_of(n.api) for n in found}
        yield (
            write.node,
            "attribute",
            fields,
            [Target(write.node, method, summaries, apis)],
        )


def _called_after_removal(name: str, summaries: FileSummaries) -> bool:
    """Every call of a method ``name`` in the file (``module.name()``, on
    any receiver) comes after a weight-norm remover in its function
    (hilcodec's ``merge_scaling``, run by ``remove_weight_reparameterizations``
    once every convolution's weight norm is removed). A method the file
    never calls runs at any time: False."""
    tree = summaries.module_scope.node
    calls = 0
    for func in walk(tree) if tree is not None else ():
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = body_of(summaries.bodies, func, summaries.scope_of(func))
        removed = min((e.order for e in body.events if e.kind == REMOVE), default=None)
        for order in range(len(body.statements)):
            for call in body.calls(order):
                if isinstance(call.func, ast.Attribute) and call.func.attr == name:
                    calls += 1
                    if removed is None or order <= removed:
                        return False
    return calls > 0


def _self_weight(write: ParamWrite) -> str | None:
    """``X`` for a write of ``self.X.weight``."""
    if (
        write.index == 0
        and len(write.path) == 2
        and write.path[1] == tn.DEFAULT_WEIGHT_NAME
    ):
        return write.path[0]
    return None


def _order_of(node: ast.AST, method: ast.AST, order_of: dict[int, int]) -> int | None:
    """Position in the ``__init__`` trace of the statement holding ``node``."""
    best = None
    for stmt in walk(method):
        if isinstance(stmt, ast.stmt) and id(stmt) in order_of and _holds(stmt, node):
            order = order_of[id(stmt)]
            best = order if best is None else max(best, order)
    return best


def _holds(outer: ast.AST, inner: ast.AST) -> bool:
    return any(n is inner for n in walk(outer))


def _apply_call(
    call: ast.Call, scope: Scope, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """``<modules>.apply(init_fn)`` where ``init_fn`` writes ``m.weight``
    and the modules hold weight-normed ones it admits; and a call of a
    helper that runs ``<its argument>.apply(init_fn)`` on what it is
    handed (``init_weights(self)``, with a closure inside: pix2pix's)."""
    func = call.func
    if isinstance(func, ast.Name) and call.args:
        yield from _helper_call(call, scope, summaries)
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "apply"
        and len(call.args) == 1
        and not call.keywords
    ):
        return
    writes, init_fn, file = _init_fn_writes(call.args[0], scope, summaries)
    yield from _reaching(
        call, func.value, call.args[0], scope, summaries, (writes, init_fn, file)
    )


_APPLIES = (b".apply(",)


def _helper_call(
    call: ast.Call, scope: Scope, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    # What is looked for is the helper's own `.apply(`: a sibling file that
    # never spells it holds no such helper (most imported functions).
    found = summaries.definition(call.func, scope, _APPLIES)
    if found is None or not isinstance(
        found.node, (ast.FunctionDef, ast.AsyncFunctionDef)
    ):
        return
    helper, file = found.node, found.file
    params = parameter_names(helper)
    inner = file.scope_of(helper)
    for applied in own_nodes(helper):
        if not (
            isinstance(applied, ast.Call)
            and isinstance(applied.func, ast.Attribute)
            and applied.func.attr == "apply"
            and len(applied.args) == 1
            and isinstance(applied.func.value, ast.Name)
            and applied.func.value.id in params
        ):
            continue
        name = applied.func.value.id
        handed = call_arg(call, params.index(name), name)
        if handed is None:
            continue
        writes = _init_fn_writes(applied.args[0], inner, file)
        yield from _reaching(call, handed, call.func, scope, summaries, writes)


def _reaching(
    call: ast.Call,
    receiver: ast.expr,
    init: ast.expr,
    scope: Scope,
    summaries: FileSummaries,
    found: tuple[list[ParamWrite], Any, FileSummaries],
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """The finding at ``call`` when the writes ``found`` reach weight-normed
    modules that ``receiver`` holds there."""
    writes, init_fn, file = found
    if not writes:
        return
    reached: dict[int, Target] = {}
    hit: list[Normed] = []
    for normed in _modules_of(receiver, call, scope, summaries):
        api = api_of(normed.api)
        for w in writes:
            if w.admits(normed.layer, normed.kinds) and w.reaches(api):
                hit.append(normed)
                target = reached.setdefault(id(w.node), Target(w.node, init_fn, file))
                target.apis.add(api)
    # The message cites a weight norm of this file where one is reached.
    here = [n for n in hit if n.path in (None, summaries.path)]
    if hit:
        first = (here or hit)[0]
        fields = {
            "init": ast.unparse(init),
            "target": ast.unparse(receiver),
            "where": _where(first, summaries.path),
        }
        yield call, "apply", fields, list(reached.values())


def _init_fn_writes(
    expr: ast.expr, scope: Scope, summaries: FileSummaries
) -> tuple[list[ParamWrite], Any, FileSummaries]:
    """The writes of ``m.weight`` an ``apply`` callback makes on its module:
    the first parameter of a function, the second of a method of the class
    (``self.apply(self._init_weights)``)."""
    if isinstance(expr, ast.Attribute) and is_self(expr.value):
        cls = _enclosing_class(scope)
        func: Def | None = method_named(cls, expr.attr) if cls is not None else None
        file, index = summaries, 1
    elif isinstance(expr, (ast.Name, ast.Attribute)):
        found = summaries.definition(expr, scope, WRITE_WORDS)
        func = found.node if found is not None else None
        file, index = (found.file if found is not None else summaries), 0
    else:
        return [], None, summaries
    if func is None or isinstance(func, ast.ClassDef):
        return [], None, summaries
    writes = [
        w
        for w in file.param_writes(func)
        if w.index == index and w.path == (tn.DEFAULT_WEIGHT_NAME,)
    ]
    return writes, func, file


def _enclosing_class(scope: Scope) -> ast.ClassDef | None:
    found = scope.enclosing("class")
    return found.node if found is not None else None  # type: ignore[return-value]


def _enclosing_function(scope: Scope) -> ast.AST | None:
    found = scope.enclosing("function")
    return found.node if found is not None else None


def _modules_of(
    receiver: ast.expr, call: ast.Call, scope: Scope, summaries: FileSummaries
) -> list[Normed]:
    """The weight-normed modules ``receiver`` holds when ``call`` runs."""
    func = _enclosing_function(scope)
    cls = _enclosing_class(scope)
    if cls is not None and (is_self(receiver) or self_root_attr(receiver)):
        normed = summaries.class_normed(cls)
        trace = summaries.init_trace(cls)
        order = None
        if func is not None and any(f is func for _, f in trace):
            order = _order_of(call, func, {id(s): i for i, (s, _) in enumerate(trace)})
        attr = self_root_attr(receiver)
        chosen = [normed[key] for key in (attr, "*") if key in normed]
        if is_self(receiver):
            chosen = list(normed.values())
        return [
            n
            for since, found in chosen
            if order is None or since < order
            for n in found
        ]
    if isinstance(receiver, ast.Name) and func is not None:
        return summaries.normed(receiver, scope, func)
    return []


def _tests_a_normed_class(func: ast.AST, summaries: FileSummaries) -> bool:
    """``func`` calls ``isinstance(x, C)`` for a class ``C`` (here or in a
    sibling module) that weight-norms one of its submodules."""
    scope = summaries.scope_of(func)
    for node in walk(func):
        tested = isinstance_types(node)
        for kind in tested[1] if tested is not None else ():
            key = summaries.type_key(kind, scope)
            found = summaries.class_for(key, scope) if key else None
            if found is not None and found.file.class_normed(found.node):
                return True
    return False


def _typed_hook(
    func: ast.FunctionDef | ast.AsyncFunctionDef, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """``if isinstance(module, C): init(module.conv.weight)`` where ``C``'s
    ``__init__`` weight-norms ``self.conv``: every instance is past it."""
    if not _tests_a_normed_class(func, summaries):
        return  # the writes matter only under such a test
    for write in summaries.param_writes(func):
        if len(write.path) != 2 or write.path[1] != tn.DEFAULT_WEIGHT_NAME:
            continue
        for guard in write.guards:
            if guard.param != write.index or not guard.positive:
                continue
            for key in guard.types:
                found = summaries.class_for(key, summaries.scope_of(func))
                if found is None:
                    continue
                normed = found.file.class_normed(found.node)
                if write.path[0] in normed:
                    _, modules = normed[write.path[0]]
                    apis = {api_of(n.api) for n in modules}
                    if not any(write.reaches(api) for api in apis):
                        continue
                    fields = {
                        "target": f"{write.name}.{write.path[0]}",
                        "where": _where(modules[0], summaries.path),
                    }
                    target = Target(write.node, func, summaries, apis)
                    yield write.node, "attribute", fields, [target]
                    break
