"""How deep WN203 follows classes that hold classes, and that, within the
depth limit (12 definitions), the answer does not depend on which class is
asked about first: a summary cut short by the limit is not remembered, so a
class asked about later, from nearer the top, is followed in full."""

from __future__ import annotations

import ast

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts.analysis import FileAnalysis

LINTER = Linter(select_rules(["WN203"]))


def chain(levels: int) -> str:
    """``Top`` holds ``L{levels-1}``, which holds ... ``L0``, weight-normed."""
    lines = [
        "import torch.nn as nn",
        "from torch.nn.utils.parametrizations import weight_norm",
        "",
        "def init_weights(m):",
        "    if isinstance(m, nn.Conv1d):",
        "        nn.init.normal_(m.weight, 0.0, 0.02)",
        "",
        "class L0(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.conv = weight_norm(nn.Conv1d(2, 2, 1))",
    ]
    for i in range(1, levels):
        lines += [
            f"class L{i}(nn.Module):",
            "    def __init__(self):",
            "        super().__init__()",
            f"        self.sub = L{i - 1}()",
        ]
    lines += [
        "class Top(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.sub = L{levels - 1}()",
        "        self.apply(init_weights)",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [1, 3, 5, 9])
def test_classes_holding_classes_are_followed(levels):
    found = LINTER.lint_bytes(chain(levels).encode(), "m.py")
    assert [d.code for d in found] == ["WN203"]


def _held(source: str, order: list[str]) -> dict[str, bool]:
    tree = ast.parse(source)
    summaries = FileAnalysis(tree).summaries
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    return {name: bool(summaries.class_normed(classes[name])) for name in order}


@pytest.mark.parametrize("levels", [4, 9, 11])
def test_the_answer_does_not_depend_on_the_order_asked(levels):
    source = chain(levels)
    names = ["Top", *(f"L{i}" for i in range(levels - 1, -1, -1))]
    top_first = _held(source, names)
    bottom_first = _held(source, list(reversed(names)))
    assert top_first == bottom_first
    assert all(bottom_first[f"L{i}"] for i in range(levels))
