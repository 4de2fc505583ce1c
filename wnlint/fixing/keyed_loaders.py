"""Checkpoint loaders that go key by key, past torch's key conversion.

torch's key-conversion hook for the legacy ``weight_g``/``weight_v``
entries runs only inside ``load_state_dict``. After the migration, these
loops break on a checkpoint saved before it:

* one that copies the checkpoint into the model's own state by each of its
  keys (``own = self.state_dict(); for name, param in state_dict.items():
  if name not in own: continue; own[name].copy_(param)``, a loader copied
  from answer to answer; PixelCNN++'s ``load_part_of_model``), or sets each
  tensor by name after skipping the keys the model lacks (diffusers'
  ``load_model_dict_into_meta``): the legacy entries are skipped where it
  tests the key (or swallows the error), and the layers keep their initial
  weights, or it raises where it does not;
* one that raises on a checkpoint key the model lacks (diffusers'
  conversion script's ``if key not in expected_keys: raise KeyError``);
* one that reads the checkpoint by each of the model's own keys with no
  fallback for a missing one (whisper-vits-svc's ``load_part``): the
  migrated layers' new keys are not in the checkpoint, ``KeyError``.

The run-level notes (:mod:`wnlint.fixing.migration_notes`) warn about each
such loader.
"""

from __future__ import annotations

import ast

from wnlint.facts.syntax import all_nodes, own_nodes
from wnlint.fixing.state_syntax import (
    bound_names,
    copy_target,
    falls_back,
    is_load,
    is_state_of,
    keyed_reads,
    keys_loop,
    loaded_mappings,
    own_loop_key,
    own_state_names,
    receiver,
    tests_key,
)

_SKIPPED = (
    "warning: line {line} loads a checkpoint key by key, only under the keys "
    "the model's state_dict() has: after the WN301 migration, the "
    "weight_g/weight_v entries of checkpoints saved before it are skipped "
    "here and those layers keep their initial weights; load it with torch's "
    "load_state_dict, which converts the legacy keys"
)

_RAISES = (
    "warning: line {line} copies each key of a checkpoint into the model's "
    "own state_dict(): after the WN301 migration, a checkpoint saved before "
    "it has weight_g/weight_v keys the model no longer has, and this loop "
    "raises on them; load it with torch's load_state_dict, which converts "
    "the legacy keys"
)


def keyed_loads(tree: ast.Module) -> list[str]:
    """The warnings of :func:`copied_loads` and :func:`read_by_own_keys`,
    in line order."""
    return [note for _, note in sorted(copied_loads(tree) + read_by_own_keys(tree))]


def copied_loads(tree: ast.Module) -> list[tuple[int, str]]:
    """A warning for each ``own[k].copy_(v)`` in a loop over the keys of a
    checkpoint (a parameter of the function, or what a call of a ``load``
    function returned), ``own`` the model's state (``m.state_dict()`` or a
    name bound to it): skipped where the loop tests the key or catches the
    error, raising where it does neither or raises on a missing key; and,
    in a loop that copies nothing, a tensor set by name under the model's
    keys (:func:`_set_by_key`) or a raise on a key the model lacks
    (:func:`_rejected`). A loop over a module's own state (EMA, copying
    between live models) is left alone: both sides hold the migrated
    keys."""
    skipped: set[int] = set()
    raises: set[int] = set()
    rejects: set[int] = set()
    for func in all_nodes(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(own_nodes(func))
        states = own_state_names(nodes, None)
        checkpoints = _checkpoints(nodes)
        # A checkpoint then handed whole to load_state_dict is converted there.
        loaded_whole = _handed_to_load(nodes)
        owns, owners = _own_key_names(nodes), _owners(nodes)
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
            quiet = falls_back(inside, key) and not any(
                _raises_when_missing(n, key) for n in inside
            )
            (skipped if quiet else raises).update(lines)
            if not lines:
                rejects.update(_rejected(inside, key, owns))
                if source.id not in loaded_whole:
                    skipped.update(_set_by_key(loop, key, source.id, owns, owners))
    notes = [(line, _SKIPPED.format(line=line)) for line in skipped]
    notes += [(line, _REJECTS.format(line=line)) for line in rejects]
    return notes + [(line, _RAISES.format(line=line)) for line in raises - skipped]


_REJECTS = (
    "warning: line {line} raises on a checkpoint key the model's state_dict() "
    "lacks: after the WN301 migration, checkpoints saved before it have "
    "weight_g/weight_v keys the model no longer has, and this raises on them; "
    "load them with torch's load_state_dict, which converts the legacy keys"
)


def _own_key_names(nodes: list[ast.AST]) -> set[str]:
    """Names bound to what holds a model's keys: its ``state_dict()``, or
    ``set(...)``/``list(...)``/``.keys()`` of one (diffusers' conversion
    script's ``expected_keys = set(Model(**config).state_dict())``)."""
    return bound_names(
        nodes,
        lambda value: any(
            isinstance(part, ast.expr) and is_state_of(part, None)
            for part in all_nodes(value)
        ),
    )


def _own_test(test: ast.expr, key: str, owns: set[str]) -> bool:
    """``key in <the model's keys>`` (or ``not in``)."""
    if not tests_key(test, key):
        return False
    assert isinstance(test, ast.Compare)
    right = test.comparators[0]
    return any(
        (isinstance(part, ast.Name) and part.id in owns)
        or (isinstance(part, ast.expr) and is_state_of(part, None))
        for part in all_nodes(right)
    )


def _missing_branch(node: ast.If) -> list[ast.stmt]:
    """What runs for a key the test finds missing (its ``not in`` body, or
    its ``in`` else)."""
    assert isinstance(node.test, ast.Compare)
    return node.body if isinstance(node.test.ops[0], ast.NotIn) else node.orelse


def _missing_raises(test: ast.If) -> list[int]:
    """Lines of the ``raise`` statements that run for a key the test finds
    missing."""
    return [
        n.lineno
        for stmt in _missing_branch(test)
        for n in all_nodes(stmt)
        if isinstance(n, ast.Raise)
    ]


def _rejected(inside: list[ast.AST], key: str, owns: set[str]) -> set[int]:
    """Lines of a ``raise`` where a checkpoint key is not among the model's."""
    return {
        line
        for test in inside
        if isinstance(test, ast.If) and _own_test(test.test, key, owns)
        for line in _missing_raises(test)
    }


def _handed_to_load(nodes: list[ast.AST]) -> set[str]:
    """Names the function hands to ``load_state_dict`` as they are."""
    return {
        node.args[0].id
        for node in nodes
        if isinstance(node, ast.Call)
        and is_load(node)
        and node.args
        and isinstance(node.args[0], ast.Name)
    }


def _owners(nodes: list[ast.AST]) -> set[str]:
    """The modules whose ``state_dict()`` the function reads (as dumped
    expressions: ``model``, ``self.net``)."""
    return {
        ast.dump(module)
        for node in nodes
        if (module := receiver(node, "state_dict")) is not None
        and isinstance(node, ast.Call)
        and not node.args
    }


def _set_by_key(
    loop: ast.For | ast.AsyncFor,
    key: str,
    source: str,
    owns: set[str],
    owners: set[str],
) -> set[int]:
    """The line of the test that skips the keys the model lacks (``if name
    not in empty_state_dict: continue``), in a loop that then sets a tensor
    of the model by the checkpoint's key and value (diffusers'
    ``set_module_tensor_to_device(model, name, device, value=param)``: the
    model, the key and the value in one call, not a report of them) and
    raises on no missing key."""
    tests = [
        n
        for n in all_nodes(loop)
        if isinstance(n, ast.If) and _own_test(n.test, key, owns)
    ]
    if not tests or any(_missing_raises(test) for test in tests):
        return set()
    value = _value_name(loop)
    # What runs for a key the model lacks (a report of it) sets nothing.
    missing = {
        id(n)
        for test in tests
        for stmt in _missing_branch(test)
        for n in all_nodes(stmt)
    }
    for call in all_nodes(loop):
        if (
            not isinstance(call, ast.Call)
            or id(call) in missing
            or not any(isinstance(a, ast.Name) and a.id == key for a in call.args)
            or not any(ast.dump(a) in owners for a in call.args)
        ):
            continue
        parts = [*call.args, *(k.value for k in call.keywords)]
        if any(
            (isinstance(n, ast.Name) and n.id == value)
            or (
                isinstance(n, ast.Subscript)
                and isinstance(n.value, ast.Name)
                and n.value.id == source
            )
            for part in parts
            for n in all_nodes(part)
        ):
            # One note a loop, on the test that leaves the legacy keys out.
            return {min(test.lineno for test in tests)}
    return set()


def _value_name(loop: ast.For | ast.AsyncFor) -> str | None:
    """``v`` of ``for k, v in sd.items()``."""
    target = loop.target
    if isinstance(target, ast.Tuple) and len(target.elts) == 2:
        second = target.elts[1]
        return second.id if isinstance(second, ast.Name) else None
    return None


_OWN_KEYS = (
    "warning: line {line} reads the checkpoint by each of the model's own "
    "state_dict() keys: after the WN301 migration, the weight-normed layers' "
    "keys are parametrizations.weight.original0/original1, which a checkpoint "
    "saved before it lacks, and this read raises KeyError; load it with "
    "torch's load_state_dict, which converts the legacy keys"
)


def read_by_own_keys(tree: ast.Module) -> list[tuple[int, str]]:
    """A warning for each ``saved[k]`` read in a loop over a model's own
    keys (``for k, v in model.state_dict().items()``), ``saved`` a
    checkpoint the function loads, with no fallback for a missing key: no
    ``try`` around it, no test ``k in saved``, no ``saved.get(k, ...)``
    (with one, :mod:`wnlint.fixing.state_loads` warns that the entries are
    dropped)."""
    lines: set[int] = set()
    for func in all_nodes(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(own_nodes(func))
        if not any(is_load(n) for n in nodes):
            continue
        states = own_state_names(nodes, None)
        checkpoints = _checkpoints(nodes) - states
        for loop in nodes:
            if not isinstance(loop, (ast.For, ast.AsyncFor)):
                continue
            key = own_loop_key(loop, states)
            inside = list(all_nodes(loop))
            if key is None or falls_back(inside, key):
                continue
            lines.update(n.lineno for n in keyed_reads(inside, checkpoints, key))
    return [(line, _OWN_KEYS.format(line=line)) for line in sorted(lines)]


def _raises_when_missing(node: ast.AST, key: str) -> bool:
    """``node`` tests the key and raises where it is missing (``if k not in
    own: raise KeyError(...)``): loud, not skipped."""
    return (
        isinstance(node, ast.If)
        and tests_key(node.test, key)
        and bool(_missing_raises(node))
    )


def _checkpoints(nodes: list[ast.AST]) -> set[str]:
    """Names that may hold a checkpoint: the function's parameters, what it
    hands to ``load_state_dict``, and names bound to what a call of a
    ``load`` function returns (``torch.load(path)``, ``ckpt["model"]`` of
    it)."""
    return loaded_mappings(nodes) | bound_names(
        nodes, lambda value: any(_calls_a_loader(part) for part in all_nodes(value))
    )


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
