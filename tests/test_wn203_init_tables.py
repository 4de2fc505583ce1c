"""WN203 follows an init function out of a table of them only where every
entry is one of torch's: through a local bound once, or a function of the
file whose every return is an entry of a dict display, a local dict or a
module-level one (``fixtures/wn203_init_tables.py`` has the real shapes,
run in torch by ``test_runtime_wn203_constructs.py``)."""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules

LINTER = Linter(select_rules(["WN203"]))

MODEL = """
import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm

INITS = {{"xavier": nn.init.xavier_uniform_, "normal": nn.init.normal_}}

{helper}

class Net(nn.Module):
    def __init__(self, init="xavier", flag=False):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 3))
{body}
"""


def lint(helper: str, body: str) -> list[int]:
    source = MODEL.format(
        helper=textwrap.dedent(helper),
        body=textwrap.indent(textwrap.dedent(body), " " * 8),
    )
    return [d.line for d in LINTER.lint_bytes(source.encode(), "m.py")]


FOLLOWED = {
    "local from the module's table": ("", "fn = INITS[init]\nfn(self.conv.weight)"),
    "a helper's dict display": (
        "def pick(n):\n    return {'x': nn.init.xavier_uniform_}[n]",
        "pick(init)(self.conv.weight)",
    ),
    "a helper's local dict, through a local": (
        "def pick(n):\n    t = {'x': nn.init.xavier_uniform_}\n    return t[n]",
        "f = pick(init)\nf(self.conv.weight.data)",
    ),
    "a helper returning the module's table": (
        "def pick(n):\n    return INITS[n]",
        "pick(init)(self.conv.weight)",
    ),
}

NOT_FOLLOWED = {
    "an entry that is not an init": (
        "def pick(n):\n    return {'x': nn.init.xavier_uniform_, 'y': print}[n]",
        "pick(init)(self.conv.weight)",
    ),
    "a helper that rebinds the name its entries use": (
        "def pick(n, nn=None):\n    return {'x': nn.init.xavier_uniform_}[n]",
        "pick(init)(self.conv.weight)",
    ),
    "a helper with another return": (
        "def pick(n):\n    if n:\n        return None\n    return INITS[n]",
        "pick(init)(self.conv.weight)",
    ),
    "a local bound twice": (
        "",
        "fn = INITS[init]\nif flag:\n    fn = print\nfn(self.conv.weight)",
    ),
    "a lookup by method": ("", "fn = INITS.get(init)\nfn(self.conv.weight)"),
}


@pytest.mark.parametrize("name", sorted(FOLLOWED))
def test_followed(name):
    helper, body = FOLLOWED[name]
    assert len(lint(helper, body)) == 1


@pytest.mark.parametrize("name", sorted(NOT_FOLLOWED))
def test_not_followed(name):
    helper, body = NOT_FOLLOWED[name]
    assert lint(helper, body) == []
