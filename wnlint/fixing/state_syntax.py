"""The shapes of code that checkpoint loaders are read in: loops over a
mapping's keys, tests of a key, a module's own ``state_dict()``, loads.
Syntax only; :mod:`wnlint.fixing.state_loads` and
:mod:`wnlint.fixing.keyed_loaders` decide what the shapes mean after the
migration.
"""

from __future__ import annotations

import ast
from collections.abc import Callable


def receiver(node: ast.AST, method: str) -> ast.expr | None:
    """``r`` of a call ``r.<method>(...)``; None for anything else."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
    ):
        return node.func.value
    return None


def is_load(node: ast.AST) -> bool:
    """A call of ``<module>.load_state_dict(...)``."""
    return receiver(node, "load_state_dict") is not None


def falls_back(inside: list[ast.AST], key: str) -> bool:
    """A loop's nodes hold a fallback for a missing ``key``: a ``try``, a
    test ``key in ...``, or ``.get(key, default)``."""
    return any(
        isinstance(n, ast.Try)
        or (isinstance(n, ast.expr) and tests_key(n, key))
        or got_with_default(n, key)
        for n in inside
    )


def keyed_reads(
    inside: list[ast.AST], names: set[str], key: str
) -> list[ast.Subscript]:
    """Each ``name[key]`` read, ``name`` one of ``names``."""
    return [
        n
        for n in inside
        if isinstance(n, ast.Subscript)
        and isinstance(n.ctx, ast.Load)
        and isinstance(n.value, ast.Name)
        and n.value.id in names
        and keyed_by(n, key)
    ]


def pruned_mappings(nodes: list[ast.AST]) -> set[str]:
    """Names whose entries the function removes: ``name.pop(...)``,
    ``del name[...]``."""
    names = set()
    for node in nodes:
        popped = receiver(node, "pop")
        if isinstance(popped, ast.Name):
            names.add(popped.id)
        elif isinstance(node, ast.Delete):
            names.update(
                t.value.id
                for t in node.targets
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
            )
    return names


def copy_target(call: ast.Call) -> ast.expr | None:
    """What ``call`` copies into in place: ``t`` of ``t.copy_(...)`` and of
    ``t.data.copy_(...)``; None for another call."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "copy_"):
        return None
    target = func.value
    if isinstance(target, ast.Attribute) and target.attr == "data":
        return target.value
    return target


def loaded_mappings(nodes: list[ast.AST]) -> set[str]:
    """The checkpoint's names in a function that loads one: its parameters
    and what it hands to ``load_state_dict``."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args, *node.kwonlyargs]
            names.update(a.arg for a in named if a.arg not in ("self", "cls"))
        elif (
            isinstance(node, ast.Call)
            and is_load(node)
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            names.add(node.args[0].id)
    return names


def keys_loop(
    loop: ast.For | ast.AsyncFor | ast.comprehension,
) -> tuple[ast.expr, str | None]:
    """The mapping a loop goes over (``S`` of ``for k, v in S.items()``,
    ``for k in S.keys()``, ``for k in S``) and its key's name."""
    source, pairs = loop.iter, False
    if (
        isinstance(source, ast.Call)
        and isinstance(source.func, ast.Attribute)
        and source.func.attr in ("items", "keys")
        and not source.args
    ):
        pairs = source.func.attr == "items"
        source = source.func.value
    target = loop.target
    if pairs and isinstance(target, ast.Tuple) and target.elts:
        target = target.elts[0]
    return source, target.id if isinstance(target, ast.Name) else None


def tests_key(test: ast.expr, key: str) -> bool:
    """``k in saved`` or ``k not in saved``."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == key
        and isinstance(test.ops[0], (ast.In, ast.NotIn))
    )


def got_with_default(node: ast.AST, key: str) -> bool:
    """``saved.get(k, default)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == key
    )


def own_loop_key(loop: ast.For | ast.AsyncFor, states: set[str]) -> str | None:
    """The key name of ``for k, v in S.items()``, ``for k in S.keys()`` or
    ``for k in S`` over a module's own state ``S``; else None."""
    source, key = keys_loop(loop)
    if (isinstance(source, ast.Name) and source.id in states) or is_state_of(
        source, None
    ):
        return key
    return None


def keyed_by(node: ast.Subscript, key: str) -> bool:
    return isinstance(node.slice, ast.Name) and node.slice.id == key


def is_state_of(value: ast.expr, owner: str | None) -> bool:
    """``<owner>.state_dict()`` (or its ``.copy()``); of any module when
    ``owner`` is None."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
        return False
    if value.func.attr == "copy":
        return is_state_of(value.func.value, owner)
    return (
        value.func.attr == "state_dict"
        and not value.args
        and (owner is None or ast.dump(value.func.value) == owner)
    )


def own_state_names(nodes: list[ast.AST], owner: str | None) -> set[str]:
    """Names bound to ``<owner>.state_dict()`` in the function (of any
    module when ``owner`` is None)."""
    return bound_names(nodes, lambda value: is_state_of(value, owner))


def bound_names(nodes: list[ast.AST], test: Callable[[ast.expr], bool]) -> set[str]:
    """Names that a ``name = <value>`` statement of the function binds to a
    value that passes ``test``."""
    return {
        node.targets[0].id
        for node in nodes
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and test(node.value)
    }
