"""WN303 says what a mismatched remover does: it raises ``ValueError``, or,
in a ``try`` whose handler swallows that error, it removes nothing and
weight norm stays (proven in ``test_runtime_wn303_swallowed.py``)."""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules

SOURCE = """\
import torch.nn as nn
from torch.nn.utils import remove_weight_norm
from torch.nn.utils.parametrizations import weight_norm


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 1))

    def remove(self):
{body}
"""


def message(body: str) -> str:
    source = SOURCE.format(body=textwrap.indent(textwrap.dedent(body), " " * 8))
    (found,) = Linter(select_rules(["WN303"])).lint_bytes(source.encode(), "m.py")
    return found.message


@pytest.mark.parametrize(
    "body",
    [
        "try:\n    remove_weight_norm(self.conv)\nexcept ValueError:\n    pass\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept Exception as e:\n    print(e)\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept:\n    pass\n",
    ],
)
def test_a_swallowed_error_removes_nothing(body):
    assert "removes nothing: its ValueError is swallowed" in message(body)


@pytest.mark.parametrize(
    "body",
    [
        "remove_weight_norm(self.conv)\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept ValueError:\n    raise\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept KeyError:\n    pass\n",
    ],
)
def test_an_error_that_reaches_the_caller_raises(body):
    assert "raises ValueError" in message(body)
