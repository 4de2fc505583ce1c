"""Checkpoint loaders that drop the legacy weight-norm keys.

A migrated layer's ``weight_g``/``weight_v`` checkpoint entries are
converted by torch's key-conversion hook inside ``load_state_dict``. A
loader that first keeps only the keys the model already has, or fills
every key of the model from the checkpoint with a fallback to the model's
own value, removes them before the hook runs: the migrated layers keep
their initial weights, and even a strict load passes. One that reads the
model's own state by each checkpoint key raises ``KeyError`` on them. The
run-level notes (:mod:`wnlint.fixing.migration_notes`) warn about each
such loader.
"""

from __future__ import annotations

import ast

from wnlint.facts.syntax import all_nodes, own_nodes
from wnlint.fixing.key_helpers import KeyHelpers, conjuncts, is_name
from wnlint.fixing.state_syntax import (
    copy_target,
    falls_back,
    got_with_default,
    is_load,
    is_state_of,
    keyed_by,
    keyed_reads,
    keys_loop,
    loaded_mappings,
    own_loop_key,
    own_state_names,
    pruned_mappings,
    receiver,
    tests_key,
)


def filtered_loads(tree: ast.Module, path: str | None = None) -> list[str]:
    """``m.load_state_dict(kept)`` where ``kept`` holds the checkpoint's
    entries only under ``m``'s own keys, so that legacy keys never reach
    torch's conversion hook:

    * with ``strict=False``: ``m``'s own state, or a comprehension keeping
      the keys found in ``m.state_dict()`` (stable-audio-tools'
      ``copy_state_dict``);
    * with any ``strict``: ``kept = m.state_dict()`` then updated with such
      a comprehension (wavenet_vocoder's ``restore_parts``), or a loop over a
      model's own keys that fills ``kept[k]`` from the checkpoint by each
      key, the model's own value standing in for a missing one (VITS'
      ``load_checkpoint``, copied into most of its descendants): every key
      is there, so even a strict load passes, with the migrated layers'
      initial weights.

    The comprehension may be a helper's call instead, and the update a
    helper's fill in place (:class:`wnlint.fixing.key_helpers.KeyHelpers`).
    """
    helpers = KeyHelpers(tree, path)
    out: list[tuple[int, str]] = []
    functions = [
        node
        for node in all_nodes(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    keyed: list[int] = []
    for func in functions:
        nodes = list(own_nodes(func))
        keyed += _own_read_by_checkpoint_keys(nodes)
        retried = _after_a_strict_try(nodes)
        for call in nodes:
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and is_load(call)
                and call.args
                and id(call) not in retried
            ):
                continue
            arg = call.args[0]
            how = " with strict=False" if _strict_false(call) else ""
            owner = ast.dump(call.func.value)
            own = own_state_names(nodes, owner)
            if isinstance(arg, ast.Name) and (
                _filled_by_own_keys(nodes, arg.id)
                or (arg.id in own and _updated(nodes, arg.id, owner, own, helpers))
            ):
                # Every key is there, so even a strict load passes.
                out.append((call.lineno, how))
                continue
            if not how:
                continue
            values = [arg]
            if isinstance(arg, ast.Name):
                values += _bound_values(nodes, arg.id)
            if (isinstance(arg, ast.Name) and arg.id in own) or any(
                _keeps_own_keys(value, owner, own, helpers) for value in values
            ):
                out.append((call.lineno, how))
    notes = [_FILTERED.format(line=line, how=how) for line, how in sorted(out)]
    return notes + [_KEYED.format(line=line) for line in sorted(set(keyed))]


def _after_a_strict_try(nodes: list[ast.AST]) -> set[int]:
    """ids of the ``load_state_dict`` calls in an ``except`` handler whose
    ``try`` first loads a state into the same module strictly (SoundStorm's
    solvers): torch copies every matching tensor, the legacy keys
    converted, before it raises on the others, so the filtered load that
    follows keeps them."""
    out: set[int] = set()
    for node in nodes:
        if not isinstance(node, ast.Try):
            continue
        tried = {
            ast.dump(module)
            for stmt in node.body
            for call in all_nodes(stmt)
            if (module := receiver(call, "load_state_dict")) is not None
            and isinstance(call, ast.Call)
            and not _strict_false(call)
        }
        out.update(
            id(call)
            for handler in node.handlers
            for stmt in handler.body
            for call in all_nodes(stmt)
            if (module := receiver(call, "load_state_dict")) is not None
            and ast.dump(module) in tried
        )
    return out


_FILTERED = (
    "warning: line {line} loads a checkpoint filtered by the model's own "
    "keys{how}: after the WN301 migration, the weight_g/weight_v entries of "
    "checkpoints saved before it are dropped here and those layers keep their "
    "initial weights; pass the legacy keys through (torch converts them when "
    "loading)"
)


_KEYED = (
    "warning: line {line} reads the model's own state_dict() by each key of "
    "the checkpoint it loads: after the WN301 migration, a checkpoint saved "
    "before it has weight_g/weight_v keys the model no longer has, and this "
    "read raises KeyError; leave the keys the model lacks as they are (torch "
    "converts them when loading)"
)


def _own_read_by_checkpoint_keys(nodes: list[ast.AST]) -> list[int]:
    """Lines of ``own[k]`` in a loop over the keys of another mapping (the
    checkpoint), in a function that loads a state: ``for key in new_sd:
    ... curr_sd[key]`` with ``curr_sd = self.state_dict()``, the
    ``load_state_dict`` override of DeepLearningExamples' HiFi-GAN. A loop
    that tests the key (``if k in own``), catches the error or reads with
    ``.get`` is left alone."""
    if not any(is_load(n) for n in nodes):
        return []
    states = own_state_names(nodes, None)
    if not states:
        return []
    # A checkpoint the function prunes (``sd.pop(k)`` for the keys the model
    # lacks, diffusers' ``_load_norm_into_transformer``) has no key to miss.
    loaded = loaded_mappings(nodes) - pruned_mappings(nodes)
    lines = []
    for loop in nodes:
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            key = _other_loop_key(loop, states, loaded)
        elif isinstance(loop, (ast.DictComp, ast.ListComp, ast.GeneratorExp)):
            key = next(
                (
                    k
                    for g in loop.generators
                    if (k := _other_loop_key(g, states, loaded))
                ),
                None,
            )
        else:
            continue
        if key is None:
            continue
        inside = list(all_nodes(loop))
        if falls_back(inside, key):
            continue
        # A copy into it (``own[k].copy_(v)``) is :mod:`keyed_loaders`'.
        copied = {id(copy_target(n)) for n in inside if isinstance(n, ast.Call)}
        lines += [
            n.lineno for n in keyed_reads(inside, states, key) if id(n) not in copied
        ]
    return lines


def _other_loop_key(
    loop: ast.For | ast.AsyncFor | ast.comprehension,
    states: set[str],
    loaded: set[str],
) -> str | None:
    """The key name of a loop (or a comprehension's ``for``) over the keys
    of the checkpoint (``loaded``), not a module's own state: ``for k in
    sd``, ``for k, v in sd.items()``."""
    source, key = keys_loop(loop)
    if not isinstance(source, ast.Name) or source.id in states:
        return None
    return key if source.id in loaded else None


def _filled_by_own_keys(nodes: list[ast.AST], name: str) -> bool:
    """The function fills ``name[k]`` in a loop over a model's own keys
    (``for k, v in state.items()`` with ``state`` a ``.state_dict()``) from
    another mapping by the same key (``saved[k]``), with a fallback for a
    key that mapping lacks: a store of ``name[k]`` in the ``except`` of a
    ``try`` that reads it, arms of a test ``k in saved``, or
    ``saved.get(k, v)``. Without one, a missing key raises ``KeyError``
    (whisper-vits-svc's ``load_part``), which
    :func:`wnlint.fixing.keyed_loaders.read_by_own_keys` warns about."""
    states = own_state_names(nodes, None)
    for loop in nodes:
        if not isinstance(loop, (ast.For, ast.AsyncFor)):
            continue
        key = own_loop_key(loop, states)
        if key is not None and any(
            _falls_back(node, name, key, states) for node in all_nodes(loop)
        ):
            return True
    return False


def _falls_back(node: ast.AST, name: str, key: str, states: set[str]) -> bool:
    """``node`` reads ``saved[k]`` into ``name[k]`` with a fallback for a
    missing key (:func:`_filled_by_own_keys`)."""

    def stores(block: list[ast.stmt], reading: bool | None) -> bool:
        return any(
            isinstance(part, ast.Assign)
            and any(_subscript_of(t, name, key) for t in part.targets)
            and (
                reading is None
                or reading
                == any(_read_by_key(x, key, states) for x in all_nodes(part.value))
            )
            for stmt in block
            for part in all_nodes(stmt)
        )

    if isinstance(node, ast.Try):
        return stores(node.body, True) and any(
            stores(handler.body, None) for handler in node.handlers
        )
    if isinstance(node, ast.If) and tests_key(node.test, key):
        return stores(node.body, None) and stores(node.orelse, None)
    if isinstance(node, ast.Assign) and any(
        _subscript_of(t, name, key) for t in node.targets
    ):
        value = node.value
        return any(got_with_default(x, key) for x in all_nodes(value)) or (
            isinstance(value, ast.IfExp) and tests_key(value.test, key)
        )
    return False


def _read_by_key(node: ast.AST, key: str, states: set[str]) -> bool:
    """``saved[k]`` on a mapping other than the model's own state."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id not in states
        and keyed_by(node, key)
    )


def _updated(
    nodes: list[ast.AST], name: str, owner: str, own: set[str], helpers: KeyHelpers
) -> bool:
    """``name.update(kept)`` in the function, ``kept`` a comprehension that
    keeps the checkpoint's entries under the model's own keys
    (:func:`_keeps_own_keys`), or ``name`` handed to a helper that
    overwrites only the keys it has (:meth:`KeyHelpers.fills_in_place`):
    the model's own state overwritten with the checkpoint's entries, its
    initial values standing in for the rest."""
    for node in nodes:
        if isinstance(node, ast.Call):
            at = helpers.fills_in_place(node)
            if at is not None and at < len(node.args) and is_name(node.args[at], name):
                return True
        if (
            isinstance(node, ast.Call)
            and is_name(receiver(node, "update"), name)
            and len(node.args) == 1
        ):
            arg = node.args[0]
            values = [arg]
            if isinstance(arg, ast.Name):
                values += _bound_values(nodes, arg.id)
            if any(_keeps_own_keys(value, owner, own, helpers) for value in values):
                return True
    return False


def _subscript_of(target: ast.expr, name: str, key: str) -> bool:
    return (
        isinstance(target, ast.Subscript)
        and isinstance(target.value, ast.Name)
        and target.value.id == name
        and keyed_by(target, key)
    )


def _bound_values(nodes: list[ast.AST], name: str) -> list[ast.expr]:
    """What ``name = ...`` statements of the function assign to it."""
    return [
        node.value
        for node in nodes
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == name
    ]


def _keeps_own_keys(
    value: ast.expr, owner: str, own: set[str], helpers: KeyHelpers
) -> bool:
    """A comprehension that keeps the keys found in ``owner``'s state: a
    test ``k in own``, alone or as a term of an ``and`` (``k in own and
    v.shape == own[k].shape``, seed-vc's loader); or a call of a helper
    that keeps the keys of the argument that is that state."""
    if isinstance(value, ast.Call):
        at = helpers.keeps_keys_of(value)
        return (
            at is not None
            and at < len(value.args)
            and _is_own(value.args[at], owner, own)
        )
    if not isinstance(value, ast.DictComp):
        return False
    for gen in value.generators:
        for test in [term for cond in gen.ifs for term in conjuncts(cond)]:
            if not isinstance(test, ast.Compare):
                continue
            for op, right in zip(test.ops, test.comparators):
                if not isinstance(op, ast.In):
                    continue
                for part in all_nodes(right):
                    if (isinstance(part, ast.Name) and part.id in own) or (
                        isinstance(part, ast.expr) and is_state_of(part, owner)
                    ):
                        return True
    return False


def _is_own(expr: ast.expr, owner: str, own: set[str]) -> bool:
    return (isinstance(expr, ast.Name) and expr.id in own) or is_state_of(expr, owner)


def _strict_false(call: ast.Call) -> bool:
    return any(
        k.arg == "strict"
        and isinstance(k.value, ast.Constant)
        and k.value.value is False
        for k in call.keywords
    )
