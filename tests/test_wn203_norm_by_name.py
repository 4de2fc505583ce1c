"""WN203 decides a norm chosen by a string with what each call passes
(``fixtures/wn203_norm_by_name.py`` has EnCodec's layout, run in torch by
``test_runtime_wn203_constructs.py``): a string, a parameter handed down
with its default, by position or by keyword; ``*args``/``**kwargs`` leave
the module possibly normed, as before."""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules

LINTER = Linter(select_rules(["WN203"]))

MODEL = """
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm

{helper}

class Wrapped(nn.Module):
    def __init__(self, c, norm="none"):
        super().__init__()
        self.conv = pick(nn.Conv1d(c, c, 1), norm)

def init_weights(m):
    if isinstance(m, nn.Conv1d):
        nn.init.normal_(m.weight, 0.0, 0.02)

class Net(nn.Module):
    def __init__(self, cfg, norm="weight_norm", plain="none"):
        super().__init__()
        self.block = {build}
        self.apply(init_weights)
"""

EQUALS = "def pick(m, norm='none'):\n    if norm == 'weight_norm':\n        return weight_norm(m)\n    return m"
DIFFERS = "def pick(m, norm='none'):\n    if norm != 'weight_norm':\n        return m\n    return weight_norm(m)"


def lint(helper: str, build: str) -> int:
    source = MODEL.format(helper=textwrap.dedent(helper), build=build)
    return len(LINTER.lint_bytes(source.encode(), "m.py"))


CASES = {
    "a string, by keyword": (EQUALS, "Wrapped(4, norm='weight_norm')", 1),
    "a string, by position": (EQUALS, "Wrapped(4, 'weight_norm')", 1),
    "another string": (EQUALS, "Wrapped(4, norm='spectral_norm')", 0),
    "nothing: the default": (EQUALS, "Wrapped(4)", 0),
    "handed down, normed by default": (EQUALS, "Wrapped(4, norm=norm)", 1),
    "handed down, plain by default": (EQUALS, "Wrapped(4, norm=plain)", 0),
    "**kwargs: possibly normed": (EQUALS, "Wrapped(4, **cfg)", 1),
    "*args: possibly normed": (EQUALS, "Wrapped(*cfg)", 1),
    "a != test that fails": (DIFFERS, "Wrapped(4, norm='weight_norm')", 1),
    "a != test that holds": (DIFFERS, "Wrapped(4)", 0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_what_the_call_passes_decides(name):
    helper, build, expected = CASES[name]
    assert lint(helper, build) == expected
