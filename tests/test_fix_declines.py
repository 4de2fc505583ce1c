"""Where a fix cannot be sure, it declines: the finding stays, the file is
untouched. And a rewrite that would not parse is never kept."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.fixing.fixer import fix_source
from wnlint.rules.fixes import Applicability, Edit, Fix, LazyFix

HEADER = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
"""


def fix(source: str, code: str, unsafe: bool = True):
    data = (HEADER + textwrap.dedent(source)).encode()
    result = fix_source(data, "m.py", Linter(select_rules([code])), unsafe)
    return result, data


DECLINED = {
    "WN102 read with a forward argument by another method": (
        "WN102",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = nn.Parameter(torch.ones(3, 1))
                self.v = nn.Parameter(torch.randn(3, 4))

            def _update(self, scale):
                self.w = scale * self.g * self.v / self.v.norm(dim=1, keepdim=True)

            def forward(self, x):
                self._update(2.0)
                return F.linear(x, self.w)
        """,
    ),
    "WN102 read before it is stored": (
        "WN102",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = nn.Parameter(torch.ones(3, 1))
                self.v = nn.Parameter(torch.randn(3, 4))
                self.w = None

            def forward(self, x):
                previous = self.w
                self.w = self.g * self.v / self.v.norm(dim=1, keepdim=True)
                return F.linear(x, self.w), previous
        """,
    ),
    "WN104 an unused bias is not a missing scale": (
        "WN104",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.offset = nn.Parameter(torch.zeros(3))
                self.v = nn.Parameter(torch.randn(3, 4))

            def forward(self, x):
                return x @ (self.v / self.v.norm(dim=1, keepdim=True)).t()
        """,
    ),
    "WN104 shapes unknown": (
        "WN104",
        """
        class M(nn.Module):
            def __init__(self, v):
                super().__init__()
                self.g = nn.Parameter(torch.ones(3))
                self.v = nn.Parameter(v)

            def forward(self, x):
                return x @ (self.v / self.v.norm(dim=1, keepdim=True)).t()
        """,
    ),
    "WN105 no_grad block that does more than the norm": (
        "WN105",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = nn.Parameter(torch.ones(3, 1))
                self.v = nn.Parameter(torch.randn(3, 4))
                self.register_buffer("calls", torch.zeros(()))

            def forward(self, x):
                with torch.no_grad():
                    norm = self.v.norm(dim=1, keepdim=True)
                    self.calls += 1
                return F.linear(x, self.g * self.v / norm)
        """,
    ),
    "WN202 the module is used between the two statements": (
        "WN202",
        """
        from torch.nn.utils.parametrizations import weight_norm

        def build():
            model = nn.Linear(4, 3)
            opt = torch.optim.Adam(model.parameters())
            nn.init.zeros_(model.bias)
            weight_norm(model)
            return model, opt
        """,
    ),
    "WN202 in different blocks": (
        "WN202",
        """
        from torch.nn.utils.parametrizations import weight_norm

        def build(flag):
            model = nn.Linear(4, 3)
            opt = torch.optim.Adam(model.parameters())
            if flag:
                weight_norm(model)
            return model, opt
        """,
    ),
    "WN101 the scale's parameter comes from a torch layer": (
        "WN101",
        """
        class M(nn.Linear):
            def forward(self, x):
                g = self.weight.norm(dim=1, keepdim=True)
                w = g * self.weight / self.weight.norm(dim=1, keepdim=True)
                return F.linear(x, w, self.bias)
        """,
    ),
    "a finding silenced with noqa": (
        "WN105",
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = nn.Parameter(torch.ones(3, 1))
                self.v = nn.Parameter(torch.randn(3, 4))

            def forward(self, x):
                norm = self.v.norm(dim=1, keepdim=True).detach()
                return F.linear(x, self.g * self.v / norm)  # noqa: WN105
        """,
    ),
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_fix_declines(name):
    code, source = DECLINED[name]
    result, data = fix(source, code)
    assert result.fixed == data and result.applied == 0
    if "noqa" not in name:
        assert [d.code for d in result.remaining] == [code]


def test_wn102_safe_fix_needs_no_flag():
    source = """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.g = nn.Parameter(torch.ones(3, 1))
            self.v = nn.Parameter(torch.randn(3, 4))
            self.w = None  # filled in forward

        def forward(self, x):
            self.w = self.g * self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, self.w) + F.linear(x, self.w)
    """
    result, _ = fix(source, "WN102", unsafe=False)
    assert result.applied == 1 and not result.remaining
    text = result.fixed.decode()
    assert "self.w" not in text and text.count("F.linear(x, w)") == 2


#: A fix whose rewrite can never parse.
BROKEN = LazyFix(
    lambda ctx: Fix(Applicability.UNSAFE, (Edit(0, 0, "def (:\n"),)),
    Applicability.UNSAFE,
)


def _swap_fixes(monkeypatch, rule, swap):
    """Give the findings of ``rule`` the fix ``swap(index, fix)`` returns."""
    real = rule.check

    def check(self, analysis):
        for i, found in enumerate(real(self, analysis)):
            yield dataclasses.replace(found, fix=swap(i, found.fix))

    monkeypatch.setattr(rule, "check", check)


def test_a_rewrite_that_does_not_parse_is_dropped(monkeypatch):
    from wnlint.rules.wn105_detached_norm import DetachedNorm

    _swap_fixes(monkeypatch, DetachedNorm, lambda i, fix: BROKEN)
    result, data = fix(
        DECLINED["a finding silenced with noqa"][1].replace("  # noqa: WN105", ""),
        "WN105",
    )
    assert result.fixed == data and result.applied == 0
    assert any("did not parse" in note for note in result.notes)


TWO_DETACHED = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.g = nn.Parameter(torch.ones(3, 1))
        self.v = nn.Parameter(torch.randn(3, 4))

    def forward(self, x):
        a = self.g * self.v / self.v.norm(dim=1, keepdim=True).detach()
        b = self.g * self.v / self.v.data.norm(dim=1, keepdim=True)
        return F.linear(x, a) + F.linear(x, b)
"""


def test_one_broken_rewrite_does_not_cost_the_others(monkeypatch):
    from wnlint.rules.wn105_detached_norm import DetachedNorm

    _swap_fixes(monkeypatch, DetachedNorm, lambda i, fix: BROKEN if i == 0 else fix)
    result, _ = fix(TWO_DETACHED, "WN105")
    assert result.applied == 1 and len(result.remaining) == 1
    line = result.remaining[0].line
    assert f"WN105 not fixed on line {line}: the rewrite did not parse" in result.notes
    assert ".detach()" in result.fixed.decode() or ".data" in result.fixed.decode()


def test_a_failing_fixer_is_a_note_not_a_crash(monkeypatch):
    from wnlint.rules.wn105_detached_norm import DetachedNorm

    def boom(ctx):
        raise RuntimeError("boom")

    failing = LazyFix(boom, Applicability.UNSAFE)
    _swap_fixes(monkeypatch, DetachedNorm, lambda i, fix: failing)
    result, data = fix(TWO_DETACHED, "WN105")
    assert result.fixed == data and len(result.remaining) == 2
    assert any("internal error (RuntimeError: boom)" in n for n in result.notes)


def test_span_fixes_keep_crlf_tabs_and_non_ascii():
    source = (
        "# -*- coding: utf-8 -*-\n"
        "import torch\n"
        "import torch.nn as nn\n"
        "import torch.nn.functional as F\n"
        "\n"
        "class M(nn.Module):\n"
        "\tdef __init__(self):\n"
        "\t\tsuper().__init__()\n"
        "\t\tself.v = nn.Parameter(torch.randn(3, 4))  # «direction»\n"
        "\n"
        "\tdef forward(self, x):\n"
        "\t\tg = self.v.norm(dim=1, keepdim=True)\n"
        "\t\treturn F.linear(x, g * self.v / self.v.norm(dim=1, keepdim=True))  # é"
    ).replace("\n", "\r\n")
    data = source.encode("utf-8")
    result = fix_source(data, "m.py", Linter(select_rules(["WN1"])), True)
    assert result.applied == 1 and not result.remaining
    expected = (
        source.replace(
            "  # «direction»\r\n",
            "  # «direction»\r\n"
            "\t\tself.g = nn.Parameter(self.v.detach().norm(dim=1, keepdim=True))\r\n",
        )
        .replace("\t\tg = self.v.norm(dim=1, keepdim=True)\r\n", "")
        .replace("F.linear(x, g * self.v", "F.linear(x, self.g * self.v")
    )
    assert result.fixed.decode("utf-8") == expected


def test_colliding_fixes_converge_over_passes():
    source = """
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.v = nn.Parameter(torch.randn(3, 4))
            self.u = nn.Parameter(torch.randn(3, 4))

        def forward(self, x):
            a = self.v.norm(dim=1, keepdim=True)
            b = self.u.norm(dim=1, keepdim=True)
            wv = a * self.v / self.v.norm(dim=1, keepdim=True)
            wu = b * self.u / self.u.norm(dim=1, keepdim=True)
            return F.linear(x, wv) + F.linear(x, wu)
    """
    result, _ = fix(source, "WN101")
    # Both scales are declared at the end of __init__: one pass each.
    assert result.applied == 2 and not result.remaining
    text = result.fixed.decode()
    assert "self.a = nn.Parameter(self.v.detach().norm(dim=1, keepdim=True))" in text
    assert "self.b = nn.Parameter(self.u.detach().norm(dim=1, keepdim=True))" in text
    again = fix_source(result.fixed, "m.py", Linter(select_rules(["WN101"])), True)
    assert again.fixed == result.fixed


def test_a_decline_is_said_once_at_its_line_in_the_fixed_text():
    """A file with a fix that applies and one that declines: the next pass
    declines again, at the line the finding moved to. Only the last pass's
    decline is a note, so the note and the remaining finding agree."""
    result, _ = fix(
        """
        from torch.nn.utils.parametrizations import weight_norm

        INITS = {"xavier": nn.init.xavier_uniform_}


        class M(nn.Module):
            def __init__(self, init="xavier"):
                super().__init__()
                self.a = weight_norm(nn.Conv1d(4, 4, 3))
                INITS[init](self.a.weight)
                self.b = weight_norm(nn.Conv1d(4, 4, 3))
                self.b.weight.data.add_(1.0)
        """,
        "WN203",
    )
    assert result.applied == 1
    (remaining,) = result.remaining
    declines = [n for n in result.notes if "not fixed" in n]
    assert declines == [
        f"WN203 not fixed at line {remaining.line}: `add_` reads the stale weight "
        "it writes"
    ]
