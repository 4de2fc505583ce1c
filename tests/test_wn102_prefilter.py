"""The prefilters of the rules that need no norm: WN102 on a wrapper (a
parameter and a store on a submodule) and WN106 (a parameter created
anywhere). Hits in methods forward cannot reach (``__init__``, methods the
file never reaches through ``self``) do not count; cut and whole parses
still agree, and the parameter and norm searches shared with the module
prefilter give the same answers as fresh ones."""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts import enclosing, hits, prefilter

FAST = Linter(select_rules())
FULL = Linter(select_rules(), reduce=False)

HEADER = """\
import torch
import torch.nn as nn
import torch.nn.functional as F

"""

CASES = {
    "store in a helper reached through self": """
        class Masked(nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer
                self.weight_orig = nn.Parameter(layer.weight.detach().clone())
                self.layer.scale = 2.0

            def _apply(self):
                if self.training:
                    self.layer.weight = self.weight_orig * 2

            def forward(self, x):
                self._apply()
                return self.layer(x)
    """,
    "store after a nested def": """
        class Masked(nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer
                self.weight_orig = nn.Parameter(layer.weight.detach().clone())

            def forward(
                self, x
            ):
                def scale(t):
                    return t * 2

                if x is not None:
                    self.layer.weight = scale(self.weight_orig)
                return self.layer(x)
    """,
    "parameter created in a property": """
        class Lazy(nn.Module):
            @property
            def gain(self):
                return nn.Parameter(torch.ones(1))

            def forward(self, x):
                return x * self.gain
    """,
    "weight a layer's method returns, stored by forward": """
        class DropConnect(nn.Linear):
            def dropped(self):
                mask = torch.rand_like(self.weight) < 0.5
                return self.weight.masked_fill(mask, 0.0)

            def forward(self, x):
                self._w = self.dropped()
                return F.linear(x, self._w)
    """,
    "parameter created in __init__ called again": """
        class Resets(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = nn.Parameter(torch.ones(1))

            def forward(self, x):
                self.__init__()
                return x * self.g
    """,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cut_and_whole_parse_agree(name):
    data = (HEADER + textwrap.dedent(CASES[name])).encode()
    whole = FULL.lint_bytes(data, "t.py")
    assert whole, "each case is built to produce a finding"
    assert FAST.lint_bytes(data, "t.py") == whole


UNREACHED = """
class Plain(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.g = nn.Parameter(torch.ones(1))
        self.layer.weight = self.g * layer.weight.detach()
        setattr(self.layer, "bias", self.g * 2)

    def set_weight(self, value):
        self.layer.weight = self.g * value

    def forward(self, x):
        return self.layer(x)
"""


def test_hits_in_unreached_methods_do_not_count():
    data = (HEADER + UNREACHED).encode()
    assert not prefilter.PARAMETER_CALLS.file_may_match(data)
    assert not prefilter.WRAPPED_STORES.file_may_match(data)
    called = data + b"\n    def reset(self):\n        self.set_weight(self.g)\n"
    assert prefilter.WRAPPED_STORES.file_may_match(called)


def test_store_patterns():
    stores = hits.submodule_store_hits
    for text in (
        b"self.m.w = self.p * 2",
        b"self . m . w = p",
        b"self.m.w: Tensor = p",
        b"x = self.m.w = p",
        b"setattr(self.m, n, p)",
        b"setattr( self . m , n, p)",
        b"self.m._parameters[k] = p",
        b'self.m.w = "a" + p',
    ):
        assert next(stores(text), None) is not None, text
    for text in (
        b"self.m.w == p",
        b"self.w = p",
        b'self.m.w = "literal"',
        b"self.m.w = 3  # comment",
        b"self.m.w = None",
        b"setattr(self, n, p)",
        b"setattr(module, n, p)",
        b"module._parameters[k] = p",
        b'config.rope_parameters["x"] = p',
    ):
        assert next(stores(text), None) is None, text


def test_enclosing_def():
    text = textwrap.dedent(
        """
        def util():
            pass
        class A:
            p = 1
            def forward(
                self, x
            ):
                def helper(y):
                    return y
                self.m.w = 1
            async def other(self):

                # comment
                self.q = 1
        """
    ).encode()

    def around(needle: bytes) -> bytes | None:
        return enclosing.Defs(text).enclosing(text.index(needle))

    assert around(b"pass") == b"util"
    assert around(b"p = 1") is None
    assert around(b"return y") == b"helper"
    assert around(b"self.m.w") == b"forward"
    assert around(b"self.q") == b"other"


@pytest.mark.parametrize(
    "data",
    [
        b"self.v = nn.Parameter(x)\nn = self.v.norm()\n",
        b"self.v = nn.Parameter(x)\n",
        b"n = x.norm()\n",
        b"class A(nn.Linear):\n    def f(self):\n        return torch.norm(self.weight)\n",
    ],
)
def test_shared_searches_answer_like_fresh_ones(data):
    """The shared parameter and norm finders replay the last text's hits:
    asked again, or after another text, they give a fresh search's hits."""
    other = b"y = torch.linalg.vector_norm(p)\nq = nn.Parameter(z)\n"
    for text in (data, other, data, data):
        assert list(prefilter._shared_param_hits(text)) == list(hits.param_hits(text))
        assert list(prefilter._shared_norm_hits(text)) == list(hits.norm_hits(text))
    first = prefilter._shared_norm_hits(data)
    next(first, None)
    assert list(prefilter._shared_norm_hits(data)) == list(hits.norm_hits(data))
