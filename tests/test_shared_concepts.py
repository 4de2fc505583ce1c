"""One recognizer per concept: every rule sees the same norms and the same
class family, so they cannot disagree, and a fix never misses code that
shares ``self``."""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.fixing.fixer import fix_source

HEADER = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
"""

#: Spellings of "the norm of v", each with an epsilon or clamp where real
#: code puts one.
NORMS = [
    "v.norm(dim=1, keepdim=True)",
    "v.norm(dim=1, keepdim=True).clip(1e-8)",
    "v.norm(dim=1, keepdim=True).clamp(min=1e-8)",
    "v.norm(dim=1, keepdim=True).clamp_min(1e-8)",
    "v.norm(dim=1, keepdim=True) + 1e-8",
    "1e-8 + torch.norm(v, dim=1, keepdim=True)",
    "torch.clamp(torch.linalg.vector_norm(v, dim=1, keepdim=True), min=1e-8)",
    "torch.linalg.norm(v, dim=1, keepdim=True).clip(min=1e-8)",
    "v.pow(2).sum(1, keepdim=True).sqrt()",
    "torch.sqrt(torch.sum(v ** 2, dim=1, keepdim=True))",
]

#: A template per rule that reads norms; ``{norm}`` is the norm of ``v``.
TEMPLATES = {
    # forward scales by the norm of its own direction
    "WN101": """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.v = nn.Parameter(torch.randn(3, 4))

            def forward(self, x):
                v = self.v
                g = {norm}
                return F.linear(x, g * v / ({norm}))
        """,
    # initialised normalized, scaled without renormalizing
    "WN103": """
        class M(nn.Module):
            def __init__(self, v):
                super().__init__()
                self.g = nn.Parameter(torch.ones(3, 1))
                self.w = nn.Parameter(v / ({norm}))

            def forward(self, x):
                return F.linear(x, self.g * self.w)
        """,
    # an optimizer handed a tensor computed from a norm
    "WN201": """
        v = nn.Parameter(torch.randn(3, 4))
        w = v / ({norm})
        opt = torch.optim.SGD([w], lr=0.1)
        """,
}


def _codes(source: str, code: str) -> list[str]:
    data = (HEADER + textwrap.dedent(source)).encode()
    return [d.code for d in Linter(select_rules([code])).lint_bytes(data, "m.py")]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_every_rule_sees_every_norm_spelling(code, norm):
    assert _codes(TEMPLATES[code].format(norm=norm), code) == [code]


#: A safe WN102 fix (the stored weight becomes a local) is safe only when no
#: other code sharing ``self`` reads the attribute: here a base class's
#: method does, and the base computes no norm of its own.
BASE_READS = {
    "a plain nn.Module base": """
        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = None

            def weight_shape(self):
                return tuple(self.w.shape)
        """,
    "a mixin that is no nn.Module": """
        class Base:
            w = None

            def weight_shape(self):
                return tuple(self.w.shape)
        """,
}
SUBCLASS = """
    class WN(Base{extra}):
        def __init__(self):
            super().__init__()
            self.g = nn.Parameter(torch.ones(3, 1))
            self.v = nn.Parameter(torch.randn(3, 4))

        def forward(self, x):
            self.w = self.g * self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, self.w)
    """


def _family_source(kind: str) -> bytes:
    extra = ", nn.Module" if "mixin" in kind else ""
    text = textwrap.dedent(BASE_READS[kind]) + textwrap.dedent(
        SUBCLASS.format(extra=extra)
    )
    return (HEADER + text).encode()


@pytest.mark.parametrize("kind", sorted(BASE_READS))
def test_safe_fix_sees_a_base_class_that_reads_the_attribute(kind):
    data = _family_source(kind)
    linter = Linter(select_rules(["WN102"]))
    assert [d.code for d in linter.lint_bytes(data, "m.py")] == ["WN102"]
    result = fix_source(data, "m.py", linter, unsafe=False)
    assert result.fixed == data and result.applied == 0
    assert [d.code for d in result.remaining] == ["WN102"]


@pytest.mark.parametrize("kind", sorted(BASE_READS))
def test_fixed_family_still_runs(kind):
    """After ``fix --unsafe-fixes`` the base method still finds its weight
    (before, the safe fix made it raise AttributeError), and the forward
    output is unchanged."""
    torch = pytest.importorskip("torch")
    data = _family_source(kind)
    result = fix_source(data, "m.py", Linter(select_rules(["WN102"])), unsafe=True)
    assert result.changed and not result.remaining
    assert "@property" in result.fixed.decode()
    before: dict = {}
    after: dict = {}
    exec(compile(data, "before.py", "exec"), before)
    exec(compile(result.fixed, "after.py", "exec"), after)
    torch.manual_seed(0)
    old = before["WN"]().double()
    new = after["WN"]().double()
    new.load_state_dict(old.state_dict())
    x = torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(new(x), old(x))
    assert new.weight_shape() == old.weight_shape() == (3, 4)
