"""Weight norm chosen by a string, through helpers and wrapper classes.

EnCodec's layout, which AudioCraft, index-tts and Amphion copy, picks the
norm by name: ``SConv1d(..., norm="weight_norm")`` builds ``NormConv1d(...,
norm=norm)``, whose ``__init__`` runs ``apply_parametrization_norm(conv,
norm)``, which returns ``weight_norm(module)`` only under ``if norm ==
"weight_norm":``. A module weight-normed under such a test of a parameter of
its helper (or of a class's ``__init__``) carries the test
(:attr:`wnlint.facts.local_values.Normed.when`), and each call decides it
(:func:`settle`) with what it passes for that parameter: another string
drops the module, the same string keeps it, a parameter of the calling
function hands the test on to the caller's callers, and anything else
leaves the module as it is today, possibly normed. A class's own view
(``self.apply(init)`` in its ``__init__``) decides by the parameters'
defaults: what the class is when nothing says otherwise.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from wnlint.facts.events import body_of
from wnlint.facts.local_values import Normed, arms, for_call
from wnlint.facts.syntax import (
    call_arg,
    local_definitions,
    method_named,
    own_nodes,
    parameter_names,
)

#: ``<parameter> == "<string>"``, as the parameter's name and the string.
Condition = tuple[str, str]

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_UNKNOWN = ast.Ellipsis()  # what a call passes through `*args`/`**kwargs`


def conditions(files: Any, stmt: ast.stmt, func: ast.AST) -> tuple[Condition, ...]:
    """The tests ``<parameter of func> == "<string>"`` that hold where
    ``stmt`` runs: an ``==`` that holds, or a ``!=`` that fails (``if norm
    != "weight_norm": return module``); any other test says nothing."""
    if not isinstance(func, _FUNCS):
        return ()
    params = set(parameter_names(func, every=True))
    body = body_of(files.bodies, func, files.scope_of(func))
    found = (
        _equality(node.test, params, ast.Eq if holds else ast.NotEq)
        for node, holds in body.tests(arms(files, stmt, func))
    )
    return tuple(c for c in found if c is not None)


def _equality(test: ast.expr, params: set[str], op: type) -> Condition | None:
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], op)
    ):
        return None
    for name, value in (
        (test.left, test.comparators[0]),
        (test.comparators[0], test.left),
    ):
        if (
            isinstance(name, ast.Name)
            and name.id in params
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            return name.id, value.value
    return None


def picked(
    files: Any, callee: ast.expr, scope: Any, func: ast.AST | None, needs: tuple
) -> list[tuple[Any, tuple[Condition, ...]]]:
    """What a local names that plain assignments in ``if`` arms pick
    (Amphion's ``if quantizer_type == "fvq": VQ = FactorizedVectorQuantize``,
    then ``VQ(...)``): each definition with the tests of its arm."""
    if not isinstance(callee, ast.Name) or not isinstance(func, _FUNCS):
        return []
    if len(files.scope_of(func).bindings.get(callee.id, ())) < 2:
        return []  # one binding, or none here: nothing picked
    stores = [
        node
        for node in own_nodes(func)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == callee.id
    ]
    bound = local_definitions(func).get(callee.id, [])
    if len(stores) < 2 or len(stores) != len(bound):
        return []  # bound otherwise too (a loop, an argument): not known
    out = []
    for stmt in stores:
        if isinstance(stmt.value, (ast.Name, ast.Attribute)):
            found = files.definition(stmt.value, scope, needs)
            if found is not None:
                out.append((found, conditions(files, stmt, func)))
    return out


def built(
    files: Any, found: Any, call: ast.Call, scope: Any, func: ast.AST | None, depth: int
) -> list[Normed]:
    """The weight-normed modules ``call`` of ``found`` (a class, or a
    helper) builds, each test they were normed under decided by what the
    call passes."""
    node = found.node
    if isinstance(node, ast.ClassDef):
        init = method_named(node, "__init__")
        out = [
            settle(n, call, init, func, is_class=True)
            for n in found.file.class_contents(node, depth + 1)
        ]
    else:
        out = [
            settle(m, call, node, func)
            for n in found.file.returns_normed(node, depth + 1)
            for m in for_call(files, n, call, node, scope, func)
        ]
    return [n for n in out if n is not None]


def attach(normed: list[Normed], when: tuple[Condition, ...]) -> list[Normed]:
    """``normed`` under the tests ``when`` too."""
    return [replace(n, when=n.when + when) for n in normed] if when else normed


def settle(
    found: Normed,
    call: ast.Call | None,
    callee: ast.AST | None,
    caller: ast.AST | None,
    is_class: bool = False,
) -> Normed | None:
    """``found``, whose tests are on ``callee``'s parameters, as ``call``
    (None: the defaults) in ``caller`` decides them; None when a test fails.
    ``is_class``: ``callee`` is the ``__init__`` the call runs (``self`` is
    not passed)."""
    if not found.when:
        return found
    if not isinstance(callee, _FUNCS):
        return replace(found, when=())
    when: list[Condition] = []
    for name, value in found.when:
        arg = _passed(call, callee, name, is_class) if call is not None else None
        if arg is None:
            arg = _default(callee, name)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if arg.value != value:
                return None
        elif isinstance(arg, ast.Name) and _handed(arg.id, caller):
            when.append((arg.id, value))
    return replace(found, when=tuple(when))


def _handed(name: str, caller: ast.AST | None) -> bool:
    """``name`` is a parameter of ``caller`` that it never rebinds."""
    return (
        isinstance(caller, _FUNCS)
        and name in parameter_names(caller, every=True)
        and name not in local_definitions(caller)
    )


def _passed(
    call: ast.Call,
    callee: ast.FunctionDef | ast.AsyncFunctionDef,
    name: str,
    is_class: bool,
) -> ast.expr | None:
    """What ``call`` passes for parameter ``name`` (:data:`_UNKNOWN` when a
    ``*``/``**`` argument may), or None: nothing."""
    positional = parameter_names(callee)[1 if is_class else 0 :]
    index = positional.index(name) if name in positional else None
    found = call_arg(call, index, name)
    # `*args` may fill a positional parameter, `**kwargs` any.
    starred = index is not None and any(isinstance(a, ast.Starred) for a in call.args)
    hidden = starred or any(k.arg is None for k in call.keywords)
    return _UNKNOWN if found is None and hidden else found


def _default(
    callee: ast.FunctionDef | ast.AsyncFunctionDef, name: str
) -> ast.expr | None:
    args = callee.args
    positional = [*args.posonlyargs, *args.args]
    offset = len(positional) - len(args.defaults)
    for i, arg in enumerate(positional):
        if arg.arg == name:
            return args.defaults[i - offset] if i >= offset else None
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if arg.arg == name:
            return default
    return None
