"""Layers weight-normed by a function of the project they are handed:
``norm_in_place(self.conv)`` with ``def norm_in_place(m): weight_norm(m)``,
and ``self.conv.apply(fn)`` with ``fn`` norming what it is handed, whose
layer class is the one ``__init__`` built for the attribute (the function
itself tests no type, or tests it by name)."""

from __future__ import annotations

import ast
from typing import Any

from wnlint.facts import torchnames as tn
from wnlint.facts.guards import Guard
from wnlint.facts.local_values import Normed, applied_attr, as_built, layers_built
from wnlint.facts.resolve import Scope


def normed_argument(
    file: Any, call: ast.Call, scope: Scope, func: ast.AST, depth: int, words: tuple
) -> tuple[str, list[Normed]] | None:
    """``helper(self.X)`` where ``helper`` weight-norms its first parameter
    (:meth:`wnlint.facts.calls.FileSummaries.norms_param`): the attribute and
    what it then holds."""
    if not call.args or not isinstance(call.func, (ast.Name, ast.Attribute)):
        return None
    attr = applied_attr(call.args[0], func)
    if attr is None:
        return None
    found = file.definition(call.func, scope, words)
    if found is None or isinstance(found.node, ast.ClassDef):
        return None
    layers = found.file.norms_param(found.node, depth + 1)
    if not layers:
        return None
    return attr, [Normed(call.lineno, file.path, layer, api) for layer, api in layers]


def with_built_layers(
    file: Any, cls: ast.ClassDef, held: dict[str, tuple[int, list[Normed]]]
) -> dict[str, tuple[int, list[Normed]]]:
    """``held`` with the layer class ``__init__`` built for each attribute
    where the weight norm's own layer is not known."""
    if not any(n.layer is None for _, found in held.values() for n in found):
        return held
    built = layers_built(file, cls)
    return {
        attr: (order, [as_built(n, built.get(attr)) for n in found])
        for attr, (order, found) in held.items()
    }


def named_layers(guards: list[Guard]) -> list[str]:
    """The torch layers with a weight that the class-name tests ``guards``
    admit (``classname.find("Conv") != -1``: ``Conv1d``, ...,
    ``ConvTranspose3d``), named as an ``isinstance`` test would name them."""
    layers = [f"{tn.TORCH_NN}{name}" for name in sorted(tn.LAYERS_WITH_WEIGHT)]
    return [layer for layer in layers if any(g.admits(layer) for g in guards)]
