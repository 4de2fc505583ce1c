"""The WN301/WN302 migration handed to libcst statement by statement gives
exactly the text of one libcst pass over the whole module, and on a big file
libcst only ever sees a small part of it (what keeps ``fix`` linear)."""

from __future__ import annotations

import sys

import libcst as cst
import pytest
from conftest import FIXTURES

from wnlint.engine.linter import Linter, select_rules
from wnlint.fixing import fixer as fix
from wnlint.rules import _legacy_migration as migration
from wnlint.rules.fixes import Fix

HEAD = (
    "import torch\n"
    "import torch.nn as nn\n"
    "from torch.nn.utils import remove_weight_norm, spectral_norm, weight_norm\n"
    "\n\n"
)

CLASS = """class A(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(1, 1, 1))

    def remove(self):
        remove_weight_norm(self.conv)
"""

#: Shapes the statement-wise pass must render as the whole-file pass does
#: (both run the one transformer): plain ones, parenthesized and commented
#: ones, keywords, sites in compound headers, and imports that change or stay.
CASES = {
    "plain": HEAD + CLASS,
    "parenthesized": HEAD
    + """class A(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = (weight_norm)
        self.g = ( # c
            weight_norm )
        self.c = (weight_norm(nn.Conv1d(1, 1, 1)))
        self.d = [weight_norm, nn.utils.weight_norm]
""",
    "header": HEAD
    + """def f(norm=weight_norm, x=nn.Conv1d(1, 1, 1)):
    return norm(x)


@decorate(weight_norm)
class B:
    x = weight_norm(nn.Conv1d(1, 1, 1))


for fn in (weight_norm, spectral_norm):
    remove_weight_norm(fn)
""",
    "remover_shapes": HEAD
    + """class A(nn.Module):
    def r(self, m):
        remove_weight_norm(
            m,  # the module
            name="weight",
        )
        remove_weight_norm(module=m)
        remove_weight_norm(m, "weight")
        nn.utils.remove_weight_norm(m)
        remove_weight_norm((m))
""",
    "reads": HEAD
    + """conv = weight_norm(nn.Conv1d(1, 1, 1))
g, v = conv.weight_g, (conv).weight_v
h = conv .weight_g
k = conv.weight_v.weight_g if False else conv. weight_v


def f(g=conv.weight_g):
    return g
""",
    "import_comments": '''"""Doc."""
import torch
from torch.nn.utils import (  # comment
    remove_weight_norm,  # c2
    weight_norm,
)
# about x
x = 1


def f(m):
    m = weight_norm(m)
    remove_weight_norm(m)
    return m
''',
    "import_mid_file": '''"""Doc."""
import torch.nn as nn


class A(nn.Module):
    x = 1
    # owned by A

# owned by the import
from torch.nn.utils import weight_norm  # noqa: E402


def f(m):
    return weight_norm(m)
''',
    "import_still_used": HEAD
    + """def pick(norm_f):
    if norm_f is weight_norm:
        return 1
    return weight_norm(nn.Conv1d(1, 1, 1))


__all__ = ["remove_weight_norm"]


def g(m) -> "remove_weight_norm":
    remove_weight_norm(m)
""",
    "nested_and_alias": """import torch.nn as nn
from torch.nn.utils import weight_norm as wn


def f(m):
    from torch.nn.utils import remove_weight_norm

    remove_weight_norm(wn(m))


def g(m):
    return wn(m)
""",
    "attributes_only": """import torch
import torch.nn as nn

conv = torch.nn.utils.weight_norm(nn.Conv1d(1, 1, 1))
nn.utils.remove_weight_norm(conv)
""",
    "line_endings": (HEAD + CLASS).replace("\n", "\r\n"),
    "old_mac": (HEAD + CLASS).replace("\n", "\r"),
    "tabs_and_unicode": HEAD
    + "class A(nn.Module):\n\tdef __init__(self):\n\t\tsuper().__init__()\n"
    + "\t\tself.é = 'ü'; self.c = weight_norm(nn.Conv1d(1, 1, 1))\n"
    + "\t\tremove_weight_norm(self.c)  # ü\n\x0c\nclass B:\n\tpass\n",
    "semicolons": "import torch.nn as nn; from torch.nn.utils import weight_norm\n"
    "a = 1; b = weight_norm(nn.Conv1d(1, 1, 1)); c = 2\n",
    "no_final_newline": HEAD + "x = weight_norm(nn.Conv1d(1, 1, 1))",
    "strict_first": "__strict__ = True\nimport torch.nn as nn\n"
    "from torch.nn.utils import weight_norm\nx = weight_norm(nn.Conv1d(1, 1, 1))\n",
    "class_first": """class A:
    pass


import torch.nn as nn
from torch.nn.utils import weight_norm

x = weight_norm(nn.Conv1d(1, 1, 1))
""",
    "match_and_fstring": HEAD
    + """def f(m):
    match weight_norm(m):
        case None:
            remove_weight_norm(m)
    print(f"{weight_norm(m)}")
""",
}


def _migrate(text: str, whole: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    """The migration of ``text`` as ``fix`` builds it, by either pass."""
    linter = Linter(select_rules())
    data = text.encode("utf-8")
    found = linter.lint_bytes(data, "<case>", fixes=True)
    enabled = frozenset(rule.code for rule in linter.rules)
    # As in a run that migrates weight norm: a case may only remove it.
    ctx = fix._context(data, "utf-8", enabled, found, removers_alone=True)
    with monkeypatch.context() as patch:
        if whole:
            patch.setattr(migration, "by_statement", lambda *args: None)
        return migration._migrate(ctx)


#: Cases written in syntax newer than the oldest Python wnlint supports.
NEEDS = {"match_and_fstring": (3, 10)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_text_as_the_whole_file_pass(name, monkeypatch):
    if sys.version_info < NEEDS.get(name, (3,)):
        pytest.skip(f"{name} needs Python {'.'.join(map(str, NEEDS[name]))}")
    text = CASES[name]
    fallbacks = []
    whole = migration._rewrite_whole

    def counted(*args):
        fallbacks.append(args)
        return whole(*args)

    monkeypatch.setattr(migration, "_rewrite_whole", counted)
    by_statement = _migrate(text, whole=False, monkeypatch=monkeypatch)
    assert not fallbacks, "the statement-wise pass gave up"
    reference = _migrate(text, whole=True, monkeypatch=monkeypatch)
    assert isinstance(reference, Fix), reference
    assert by_statement == reference


@pytest.mark.parametrize("fixture", sorted(FIXTURES.rglob("*.py")), ids=str)
def test_fixtures_same_as_the_whole_file_pass(fixture, monkeypatch):
    text = fixture.read_text(encoding="utf-8")
    ours = _migrate(text, whole=False, monkeypatch=monkeypatch)
    assert ours == _migrate(text, whole=True, monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    ("call", "fixed"),
    [
        ("(weight_norm )(nn.Conv1d(1, 1, 1))", "parametrizations.weight_norm("),
        ("nn.utils . weight_norm(m)", "nn.utils.parametrizations.weight_norm(m)"),
    ],
)
def test_callees_written_oddly_are_rewritten_by_both_passes(call, fixed, monkeypatch):
    # The rewriter finds its sites by name, not by comparing libcst's
    # rendering of the callee with `ast`'s: a parenthesized or spaced
    # callee is rewritten (its parentheses and spaces dropped), the same
    # by either pass.
    text = HEAD + f"x = {call}\n"
    ours = _migrate(text, whole=False, monkeypatch=monkeypatch)
    assert isinstance(ours, Fix), ours
    assert f"x = {fixed}" in ours.edits[0].new
    assert ours == _migrate(text, whole=True, monkeypatch=monkeypatch)


def test_libcst_reads_only_what_changes(monkeypatch):
    """Two hundred copies of a module: libcst parses the statements that
    hold a site (together, once) and the import block, never the file."""
    hard = "        self.h = ( # c\n            weight_norm )\n"
    classes = []
    for i in range(200):
        one = CLASS.replace("class A", f"class A{i}")
        if i % 50 == 0:  # one libcst must render, now and then
            one = one.replace("\n\n    def remove", "\n" + hard + "\n    def remove")
        classes.append(one)
    text = HEAD + "\n\n".join(classes)
    parsed: list[int] = []
    real = cst.parse_module

    def recorded(source, *args, **kwargs):
        parsed.append(len(source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(migration.cst, "parse_module", recorded)
    result = _migrate(text, whole=False, monkeypatch=monkeypatch)
    assert isinstance(result, Fix)
    assert result.edits[0].new.count("parametrizations.weight_norm(") == 200
    assert len(parsed) == 2, parsed
    units = 400 * len("        self.conv = weight_norm(nn.Conv1d(1, 1, 1))\n")
    assert parsed[0] < units and sum(parsed) < len(text) // 2, parsed
