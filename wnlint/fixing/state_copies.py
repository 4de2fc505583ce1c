"""Checkpoint loaders that copy a checkpoint into the model's own state by
each of its keys, without ``load_state_dict``.

``own = self.state_dict(); for name, param in state_dict.items(): if name
not in own: continue; own[name].copy_(param)`` is a loader copied from
answer to answer, and PixelCNN++'s ``load_part_of_model`` writes
``model.state_dict()[name].copy_(param)`` the same way. torch's
key-conversion hook for the legacy ``weight_g``/``weight_v`` entries runs
only inside ``load_state_dict``: after the migration, such a loop skips
those entries where it tests the key (or swallows the error), and the
layers keep their initial weights, or raises ``KeyError`` where it does
not. The run-level notes (:mod:`wnlint.fixing.migration_notes`) warn about
each such loader.
"""

from __future__ import annotations

import ast

from wnlint.facts.syntax import all_nodes, own_nodes
from wnlint.fixing.state_loads import (
    copy_target,
    is_state_of,
    keys_loop,
    loaded_mappings,
    own_state_names,
    tests_key,
)

_SKIPPED = (
    "warning: line {line} copies a checkpoint into the model's own "
    "state_dict() only under the keys the model has: after the WN301 "
    "migration, the weight_g/weight_v entries of checkpoints saved before it "
    "are skipped here and those layers keep their initial weights; load it "
    "with torch's load_state_dict, which converts the legacy keys"
)

_RAISES = (
    "warning: line {line} copies each key of a checkpoint into the model's "
    "own state_dict(): after the WN301 migration, a checkpoint saved before "
    "it has weight_g/weight_v keys the model no longer has, and this loop "
    "raises on them; load it with torch's load_state_dict, which converts "
    "the legacy keys"
)


def copied_loads(tree: ast.Module) -> list[str]:
    """A warning for each ``own[k].copy_(v)`` in a loop over the keys of a
    checkpoint (a parameter of the function, or what a call of a ``load``
    function returned), ``own`` the model's state (``m.state_dict()`` or a
    name bound to it): skipped where the loop tests the key or catches the
    error, raising where it does neither or raises on a missing key. A loop over a
    module's own state (EMA, copying between live models) is left alone:
    both sides hold the migrated keys."""
    skipped: set[int] = set()
    raises: set[int] = set()
    for func in all_nodes(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(own_nodes(func))
        states = own_state_names(nodes, None)
        checkpoints = _checkpoints(nodes)
        for loop in nodes:
            if not isinstance(loop, (ast.For, ast.AsyncFor)):
                continue
            source, key = keys_loop(loop)
            if (
                key is None
                or not isinstance(source, ast.Name)
                or source.id in states
                or source.id not in checkpoints
            ):
                continue
            inside = list(all_nodes(loop))
            lines = {
                n.lineno
                for n in inside
                if isinstance(n, ast.Call) and _copies_into_own(n, key, states)
            }
            guarded = any(
                isinstance(n, ast.Try)
                or (isinstance(n, ast.expr) and tests_key(n, key))
                for n in inside
            )
            quiet = guarded and not any(_raises_when_missing(n, key) for n in inside)
            (skipped if quiet else raises).update(lines)
    notes = [(line, _SKIPPED.format(line=line)) for line in skipped]
    notes += [(line, _RAISES.format(line=line)) for line in raises - skipped]
    return [note for _, note in sorted(notes)]


def _raises_when_missing(node: ast.AST, key: str) -> bool:
    """``node`` tests the key and raises where it is missing (``if k not in
    own: raise KeyError(...)``): loud, not skipped."""
    if not (isinstance(node, ast.If) and tests_key(node.test, key)):
        return False
    assert isinstance(node.test, ast.Compare)
    missing = node.body if isinstance(node.test.ops[0], ast.NotIn) else node.orelse
    return any(isinstance(n, ast.Raise) for stmt in missing for n in all_nodes(stmt))


def _checkpoints(nodes: list[ast.AST]) -> set[str]:
    """Names that may hold a checkpoint: the function's parameters, what it
    hands to ``load_state_dict``, and names bound to what a call of a
    ``load`` function returns (``torch.load(path)``, ``ckpt["model"]`` of
    it)."""
    names = loaded_mappings(nodes)
    for node in nodes:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and any(_calls_a_loader(part) for part in all_nodes(node.value))
        ):
            names.add(node.targets[0].id)
    return names


def _calls_a_loader(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return "load" in name.lower()


def _copies_into_own(node: ast.Call, key: str, states: set[str]) -> bool:
    """``own[key].copy_(...)`` (or ``own[key].data.copy_(...)``) with
    ``own`` the model's state."""
    target = copy_target(node)
    if not (
        isinstance(target, ast.Subscript)
        and isinstance(target.slice, ast.Name)
        and target.slice.id == key
    ):
        return False
    own = target.value
    return (isinstance(own, ast.Name) and own.id in states) or is_state_of(own, None)
