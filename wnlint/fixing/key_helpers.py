"""Helpers a checkpoint loader calls to keep only the model's own keys.

A loader may filter a checkpoint through a function of its project instead
of a comprehension of its own: one that builds a new dict of the entries
whose key is in the model's state (FunCodec's and ESPnet's
``filter_state_dict``), or one that overwrites, in place, the entries the
model's state already has (so-vits-svc-fork's ``_substitute_if_same_shape``).
Either way the legacy ``weight_g``/``weight_v`` entries never reach torch's
key-conversion hook. :mod:`wnlint.fixing.state_loads` asks which argument
such a call filters by; this module reads the helper's body.
"""

from __future__ import annotations

import ast
import os

from wnlint.facts.siblings import file_text, module_path
from wnlint.facts.syntax import all_nodes, own_nodes, parameter_names, parse_quietly
from wnlint.fixing.state_syntax import receiver

_Function = (ast.FunctionDef, ast.AsyncFunctionDef)


class KeyHelpers:
    """The functions of a file, or of the modules its ``from M import f``
    statements read, as a loader calls them."""

    def __init__(self, tree: ast.Module, path: str | None) -> None:
        self.path = path
        self.defined = {
            node.name: node for node in tree.body if isinstance(node, _Function)
        }
        self.imported: dict[str, tuple[str, str]] = {}  # name -> (module, its name)
        for node in all_nodes(tree):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                module = "." * node.level + node.module
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = (module, alias.name)

    def keeps_keys_of(self, call: ast.Call) -> int | None:
        """The argument whose keys ``call``'s result keeps (:func:`key_filter`)."""
        func = self._called(call)
        return None if func is None else key_filter(func)

    def fills_in_place(self, call: ast.Call) -> int | None:
        """The argument ``call`` overwrites only under keys it already has
        (:func:`in_place_filler`)."""
        func = self._called(call)
        return None if func is None else in_place_filler(func)

    def _called(self, call: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The definition of the plain name ``call`` calls, in this file or
        in the sibling module it is imported from; None when unknown."""
        if not isinstance(call.func, ast.Name):
            return None
        name = call.func.id
        if name in self.defined:
            return self.defined[name]
        if name not in self.imported or self.path is None:
            return None
        module, original = self.imported[name]
        found = module_path(os.path.dirname(os.path.abspath(self.path)), module)
        if found is None:
            return None
        try:
            tree = parse_quietly(file_text(found), found)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        for node in tree.body:
            if isinstance(node, _Function) and node.name == original:
                return node
        return None


def key_filter(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """The position of the parameter ``P`` when ``func`` returns a dict it
    built empty and filled only under a test ``k in P`` (a term of it):
    ``kept = {}; for k, v in src.items(): if k in P ...: kept[k] = v;
    return kept``."""
    nodes = list(own_nodes(func))
    returned = {
        node.value.id
        for node in nodes
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Name)
    }
    if len(returned) != 1 or any(
        isinstance(node, ast.Return) and not isinstance(node.value, ast.Name)
        for node in nodes
    ):
        return None
    (kept,) = returned
    built = [
        node.value
        for node in nodes
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(
            isinstance(t, ast.Name) and t.id == kept
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    if not (len(built) == 1 and isinstance(built[0], ast.Dict) and not built[0].keys):
        return None
    if any(isinstance(n, ast.Attribute) and is_name(n.value, kept) for n in nodes):
        return None  # `kept.update(...)`, `kept.setdefault(...)`
    params = parameter_names(func)
    # Every store of `kept[...]` sits in the body of an `if` that needs
    # `k in P`, for one parameter P (a test nested in it may add more).
    guarded: dict[int, set[str]] = {}
    for node in nodes:
        if not isinstance(node, ast.If):
            continue
        guards = {p for p, _ in _key_tests(node.test, params, ast.In, any_key=True)}
        for stmt in node.body if guards else ():
            for part in all_nodes(stmt):
                guarded.setdefault(id(part), set()).update(guards)
    stored = [node for node in nodes if _stored_in(node, kept)]
    if not stored or any(id(node) not in guarded for node in stored):
        return None
    common = set.intersection(*(guarded[id(node)] for node in stored))
    if len(common) != 1:
        return None
    (param,) = common
    return params.index(param)


def in_place_filler(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """The position of the parameter ``P`` when ``func`` stores ``P[k] = ...``
    only where ``k in P`` holds, and grows ``P`` no other way: in the body
    of an ``if`` that needs it, in the ``else`` of ``if k not in P``, or
    after ``if k not in P: continue``; or updates ``P`` only with a
    comprehension that keeps the keys in ``P`` (or a subset of one:
    mozilla TTS's ``set_init_dict``). It returns nothing or ``P``. Handed a
    model's own state, it overwrites the entries the model has and drops
    the rest (so-vits-svc-fork's ``_substitute_if_same_shape(to_, from_)``)."""
    params = parameter_names(func)
    nodes = list(own_nodes(func))
    stores: dict[str, list[bool]] = {}  # parameter -> is each store guarded
    _visit_block(func.body, frozenset(), params, stores)
    for node in nodes:
        updated = receiver(node, "update")
        if (
            isinstance(node, ast.Call)
            and isinstance(updated, ast.Name)
            and updated.id in params
        ):
            p = updated.id
            keyed = len(node.args) == 1 and not node.keywords
            keyed = keyed and _keeps_keys_of(node.args[0], p, nodes)
            stores.setdefault(p, []).append(keyed)
    returned = [n.value for n in nodes if isinstance(n, ast.Return) and n.value]
    filled = [
        p
        for p, guarded in stores.items()
        if all(guarded)
        and all(is_name(value, p) for value in returned)
        and not any(
            (
                isinstance(n, ast.Attribute)
                and is_name(n.value, p)
                and n.attr in ("setdefault", "__setitem__", "__ior__")
            )
            or (isinstance(n, (ast.AugAssign, ast.Assign)) and _binds(n, p))
            for n in nodes
        )
    ]
    return params.index(filled[0]) if len(filled) == 1 else None


def _binds(stmt: ast.AugAssign | ast.Assign, name: str) -> bool:
    """``stmt`` rebinds ``name`` (or grows it: ``P |= other``)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return any(is_name(t, name) for t in targets)


def _keeps_keys_of(expr: ast.expr, param: str, nodes: list[ast.AST]) -> bool:
    """``expr`` holds only keys of ``param``: a comprehension that tests
    ``k in param`` (a term of its test), or iterates over such a value; or
    a name every binding of which is one (bindings in source order, each
    of which may filter what the name held: ``d = {k: v for k, v in
    d.items() if ...}``)."""
    if isinstance(expr, ast.Name):
        bindings = sorted(
            (n for n in nodes if isinstance(n, ast.Assign) and _binds(n, expr.id)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        keyed = False
        for binding in bindings:
            keyed = _keyed_comprehension(
                binding.value, param, expr.id if keyed else None
            )
            if not keyed:
                return False
        return keyed
    return _keyed_comprehension(expr, param, None)


def _keyed_comprehension(expr: ast.expr, param: str, subset_of: str | None) -> bool:
    """A dict comprehension keeping keys in ``param``: by a test ``k in
    param``, or by iterating over ``subset_of`` (a name that holds only
    such keys)."""
    if not isinstance(expr, ast.DictComp) or len(expr.generators) != 1:
        return False
    (gen,) = expr.generators
    target = gen.target.elts[0] if isinstance(gen.target, ast.Tuple) else gen.target
    if not (isinstance(target, ast.Name) and isinstance(expr.key, ast.Name)):
        return False
    if expr.key.id != target.id:
        return False
    source = gen.iter
    if isinstance(source, ast.Call) and isinstance(source.func, ast.Attribute):
        source = source.func.value  # `d.items()`, `d.keys()`
    if subset_of is not None and is_name(source, subset_of):
        return True
    return any(
        (param, target.id) in _key_tests(test, [param], ast.In) for test in gen.ifs
    )


def _visit_block(
    block: list[ast.stmt],
    known: frozenset[tuple[str, str]],
    params: list[str],
    stores: dict[str, list[bool]],
) -> None:
    """Record, for each store ``P[k] = ...`` of a parameter in ``block``,
    whether ``k in P`` is ``known`` to hold there."""
    for stmt in block:
        if isinstance(stmt, ast.If):
            holds = frozenset(_key_tests(stmt.test, params, ast.In))
            fails = frozenset(
                _key_tests(stmt.test, params, ast.NotIn)
                if not isinstance(stmt.test, ast.BoolOp)
                else ()
            )
            _visit_block(stmt.body, known | holds, params, stores)
            _visit_block(stmt.orelse, known | fails, params, stores)
            if stmt.body and isinstance(stmt.body[-1], (ast.Continue, ast.Return)):
                known = known | fails  # what follows runs only when it fails
            continue
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            if not isinstance(stmt, ast.While):
                _record(stmt.target, known, params, stores)
            _visit_block(stmt.body, known, params, stores)
            _visit_block(stmt.orelse, known, params, stores)
            continue
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            _visit_block(stmt.body, known, params, stores)
            continue
        if isinstance(stmt, ast.Try):
            for part in (stmt.body, *(h.body for h in stmt.handlers)):
                _visit_block(part, known, params, stores)
            _visit_block(stmt.orelse, known, params, stores)
            _visit_block(stmt.finalbody, known, params, stores)
            continue
        if isinstance(stmt, (*_Function, ast.ClassDef)):
            continue  # their code runs elsewhere
        _record(stmt, known, params, stores)


def _record(
    stmt: ast.AST,
    known: frozenset[tuple[str, str]],
    params: list[str],
    stores: dict[str, list[bool]],
) -> None:
    for node in all_nodes(stmt):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in params
        ):
            key = node.slice.id if isinstance(node.slice, ast.Name) else None
            guarded = key is not None and (node.value.id, key) in known
            stores.setdefault(node.value.id, []).append(guarded)


def _key_tests(
    test: ast.expr, params: list[str], op: type[ast.cmpop], any_key: bool = False
) -> set[tuple[str, str]]:
    """``(P, k)`` of the terms ``k in P`` (``op`` ``ast.In``) or ``k not
    in P`` (``ast.NotIn``) that ``test`` needs, ``P`` a parameter and ``k``
    a name (any expression with ``any_key``, then ``k`` is "")."""
    return {
        (
            term.comparators[0].id,
            term.left.id if isinstance(term.left, ast.Name) else "",
        )
        for term in conjuncts(test)
        if isinstance(term, ast.Compare)
        and len(term.ops) == 1
        and isinstance(term.ops[0], op)
        and (any_key or isinstance(term.left, ast.Name))
        and isinstance(term.comparators[0], ast.Name)
        and term.comparators[0].id in params
    }


def _stored_in(node: ast.AST, name: str) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and is_name(node.value, name)
        and isinstance(node.ctx, ast.Store)
    )


def is_name(expr: ast.AST | None, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def conjuncts(test: ast.expr) -> list[ast.expr]:
    """The terms that must all hold for ``test`` to hold."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return [t for value in test.values for t in conjuncts(value)]
    return [test]
