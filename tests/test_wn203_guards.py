"""WN203 reads the type tests of an init hook whichever way they are
written: negated, joined with ``and``/``or``, or as an early return. A
write that only ever reaches plain layers is not reported; one that
reaches the weight-normed layer is. (The same shapes run in torch in
``test_runtime_wn203_followed.py``.)"""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules

LINTER = Linter(select_rules(["WN203"]))

MODEL = """
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm

{hook}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 3))
        self.head = nn.Linear(2, 2)
        self.apply(init_hook)
"""

#: Hooks that write the head (nn.Linear) alone.
HEAD_ONLY = {
    "early return": """
        def init_hook(m):
            if not isinstance(m, nn.Linear):
                return
            nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "and not": """
        def init_hook(m):
            if isinstance(m, (nn.Linear, nn.Conv1d)) and not isinstance(m, nn.Conv1d):
                nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "not, in an else": """
        def init_hook(m):
            if not isinstance(m, nn.Linear):
                pass
            else:
                nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "early return on either test": """
        def init_hook(m):
            if not isinstance(m, (nn.Linear, nn.Conv1d)) or isinstance(m, nn.Conv1d):
                return
            nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "continue in a loop": """
        def init_hook(model):
            for m in model.modules():
                if not isinstance(m, nn.Linear):
                    continue
                nn.init.normal_(m.weight, 0.0, 0.01)
    """,
}

#: Hooks that write the weight-normed Conv1d.
REACH_CONV = {
    "early return": """
        def init_hook(m):
            if not isinstance(m, nn.Conv1d):
                return
            nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "and not": """
        def init_hook(m):
            if isinstance(m, (nn.Linear, nn.Conv1d)) and not isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "early return on either test": """
        def init_hook(m):
            if not isinstance(m, (nn.Linear, nn.Conv1d)) or isinstance(m, nn.Linear):
                return
            nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "a return in another branch": """
        def init_hook(m):
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
            nn.init.normal_(m.weight, 0.0, 0.01)
    """,
    "a return that is not the last statement": """
        def init_hook(m):
            if not isinstance(m, nn.Linear):
                if m is None:
                    return
            nn.init.normal_(m.weight, 0.0, 0.01)
    """,
}


def _codes(hook: str) -> list[str]:
    source = MODEL.format(hook=textwrap.dedent(hook).strip())
    return [d.code for d in LINTER.lint_bytes(source.encode(), "t.py")]


@pytest.mark.parametrize("name", sorted(HEAD_ONLY))
def test_a_hook_that_skips_the_normed_layer_is_silent(name):
    assert _codes(HEAD_ONLY[name]) == []


@pytest.mark.parametrize("name", sorted(REACH_CONV))
def test_a_hook_that_reaches_the_normed_layer_is_reported(name):
    assert _codes(REACH_CONV[name]) == ["WN203"]
