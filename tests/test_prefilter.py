"""The prefilter never changes a finding: cut and whole parses agree."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, fixture_files

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts import cutting, prefilter

CASES = {
    "base class in another segment": """
        import torch
        import torch.nn as nn

        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.v = nn.Parameter(torch.randn(3, 4))

        class Unrelated(nn.Module):
            def forward(self, x):
                return x

        class Child(Base):
            def forward(self, x):
                g = self.v.norm(dim=1, keepdim=True)
                return x @ (g * self.v / self.v.norm(dim=1, keepdim=True)).t()
    """,
    "module-level aliases": """
        import torch
        import torch.nn as nn
        vn = torch.linalg.vector_norm
        P = nn.Parameter

        class Unrelated(nn.Module):
            def forward(self, x):
                return x

        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.v = P(torch.randn(3, 4))

            def forward(self, x):
                g = vn(self.v, dim=1, keepdim=True)
                return x @ (g * self.v / vn(self.v, dim=1, keepdim=True)).t()
    """,
    "multi-line decorator": """
        import torch
        import torch.nn as nn

        def deco(**kw):
            return lambda c: c

        @deco(
            doc='''
        class Fake(nn.Module): pass
        ''',
        )
        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.v = nn.Parameter(torch.randn(3, 4))

            def forward(self, x):
                g = self.v.norm(dim=1, keepdim=True)
                return x @ (g * self.v / self.v.norm(dim=1, keepdim=True)).t()
    """,
    "def inside a docstring": '''
        import torch.nn as nn
        from torch.nn.utils import weight_norm

        DOC = """
        def helper():
            return 1
            """

        def build():
            return weight_norm(nn.Linear(2, 2))
    ''',
    "legacy alias used in a function": """
        import torch.nn as nn
        wn = nn.utils.weight_norm

        def unrelated():
            return 1

        def build():
            return wn(nn.Linear(2, 2))
    """,
    "global rebinding in a dropped function": """
        import torch.nn as nn
        from torch.nn.utils import weight_norm

        def upgrade():
            global weight_norm
            weight_norm = nn.utils.parametrizations.weight_norm

        def build():
            return weight_norm(nn.Linear(2, 2))
    """,
    "class inside a module-level if": """
        import torch
        import torch.nn as nn

        if torch.cuda.is_available() or True:
            class A(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.v = nn.Parameter(torch.randn(3, 4))

                def forward(self, x):
                    g = self.v.norm(dim=1, keepdim=True)
                    return x @ (g * self.v / self.v.norm(dim=1, keepdim=True)).t()
    """,
    "norm function bound to a local name": """
        import torch
        import torch.nn as nn

        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.v = nn.Parameter(torch.randn(3, 4))

            def forward(self, x):
                n = torch.linalg.norm
                g = n(self.v, dim=1, keepdim=True)
                return x @ (g * self.v / n(self.v, dim=1, keepdim=True)).t()
    """,
    "normalize imported under another name": """
        import torch
        import torch.nn as nn
        from torch.nn.functional import normalize as unit

        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.v = nn.Parameter(torch.randn(3, 4))

            def forward(self, x):
                g = self.v.norm(dim=1, keepdim=True)
                return x @ (g * unit(self.v, dim=1)).t()
    """,
}

FAST = Linter(select_rules())
FULL = Linter(select_rules(), reduce=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cut_and_whole_parse_agree(name):
    data = textwrap.dedent(CASES[name]).encode()
    whole = FULL.lint_bytes(data, "t.py")
    assert FAST.lint_bytes(data, "t.py") == whole
    if name != "global rebinding in a dropped function":
        assert whole, "each case is built to produce a finding"
    else:
        assert whole == [], "the global rebinding makes the name ambiguous"


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_fixtures_agree(path):
    data = path.read_bytes()
    assert FAST.lint_bytes(data, str(path)) == FULL.lint_bytes(data, str(path))


def test_irrelevant_definitions_are_cut_and_lines_kept():
    data = textwrap.dedent(CASES["base class in another segment"]).encode()
    segments = cutting.split(data)
    keep = prefilter.MODULE_CLASSES.keep(data, segments)
    assert keep is not None
    reduced = cutting.reduce_source(data, keep, segments)
    assert b"Unrelated = None" in reduced and b"class Unrelated" not in reduced
    assert reduced.count(b"\n") == data.count(b"\n")
    assert b"class Base" in reduced and b"class Child" in reduced


def test_files_without_the_text_are_not_parsed():
    assert not prefilter.MODULE_CLASSES.file_may_match(b"x = torch.randn(3).norm()\n")
    assert not prefilter.MODULE_CLASSES.file_may_match(b"p = nn.Parameter(x)\n")
    assert prefilter.MODULE_CLASSES.file_may_match(
        b"p = nn.Parameter(x)\nn = p.norm()\n"
    )
    assert not prefilter.LEGACY_API.file_may_match(b"import torch\n")
    # A submodule called `norm` is not a norm.
    assert not prefilter.MODULE_CLASSES.file_may_match(
        b"self.w = nn.Parameter(x)\ny = self.norm(x)\n"
    )


@pytest.mark.parametrize(
    "line",
    [
        b"if self.normalize:\n",  # a flag called normalize
        b"w = torch.normal(0, 1, size=(3,))\n",
        b"x = torch.linalg.solve(a, b)\n",
        b"def __init__(self, normalize=True):\n",
    ],
)
def test_what_no_norm_call_spells_admits_no_module_rule(line):
    """The analysis counts norm calls (and names bound to a norm function);
    the prefilter's hits are the same vocabulary."""
    data = b"p = nn.Parameter(x)\n" + line
    assert not prefilter.MODULE_CLASSES.file_may_match(data)


@pytest.mark.parametrize(
    "line",
    [
        b"y = F.normalize(w, dim=1)\n",
        b"y = normalize (w)\n",
        b"from torch.nn.functional import normalize\n",
        b"n = torch.linalg.norm\n",
        b"y = torch.norm(w)\n",
        b"y = w.norm(dim=1)\n",
        b"from torch.linalg import vector_norm as vn\n",
    ],
)
def test_each_norm_spelling_admits_a_module_rule(line):
    data = b"p = nn.Parameter(x)\n" + line
    assert prefilter.MODULE_CLASSES.file_may_match(data)


NORMED = b"w = v / v.norm()\n"


@pytest.mark.parametrize(
    "line",
    [
        b"opt = torch.optim.Adam(params)\n",
        b"opt = optim.adam.Adam(params)\n",
        b"from torch.optim import AdamW\n",
        b"import torch.optim as O\n",
        b"O = torch.optim\n",
        b"opt = th.optim.SGD(params, lr=0.1)\n",
        b"from torch.optim.adam import Adam\n",
        b"from torch.optim import Optimizer, SGD\n",
    ],
)
def test_each_way_to_build_an_optimizer_admits_wn201(line):
    assert prefilter.OPTIMIZER_INPUTS.file_may_match(line + NORMED)


@pytest.mark.parametrize(
    "line",
    [
        b"if args.optim == 'adamw':\n",
        b"def step(o: torch.optim.Optimizer) -> None: ...\n",
        b"s = torch.optim.lr_scheduler.StepLR(o, 1)\n",
        b"from torch.optim import Optimizer\n",
        b"from torch.optim.lr_scheduler import LambdaLR, StepLR\n",
        b"    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
    ],
)
def test_what_builds_no_optimizer_admits_no_wn201(line):
    """The optimizers :func:`wnlint.facts.events.is_optimizer` counts:
    not a flag called ``optim``, the base class or a scheduler."""
    assert not prefilter.OPTIMIZER_INPUTS.file_may_match(line + NORMED)


HANGERS = [
    "import weight_norm as w, .x\n",  # not Python: an empty imported name
    "from torch.nn.utils import weight_norm as wn; scale = 1, .5\n",
]


@pytest.mark.parametrize("source", HANGERS)
def test_an_empty_alias_never_stalls_the_prefilter(source, tmp_path):
    """An empty name, searched for, was found at every offset forever. A
    separate process, so that a regression fails instead of hanging."""
    path = tmp_path / "m.py"
    path.write_text(source)
    proc = subprocess.run(
        [sys.executable, "-m", "wnlint", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr


# -- a file whose cut has findings must parse whole -------------------------------

_LEGACY_SITE = "from torch.nn.utils import weight_norm\n\nlayer = weight_norm(conv)\n"


def _cut_away(body: str) -> bytes:
    """A legacy site, and a definition no rule needs (the cut leaves it out)."""
    data = (_LEGACY_SITE + "\n\ndef unrelated(x):\n" + body).encode()
    segments = cutting.split(data)
    keep = prefilter.LEGACY_API.keep(data, segments)
    assert keep is not None and not all(keep)
    return data


def test_a_cut_away_definition_that_does_not_parse_is_the_files_error():
    data = _cut_away("    return (\n")
    found = FAST.lint_bytes(data, "t.py")
    assert [d.code for d in found] == ["WN001"]
    assert found == FULL.lint_bytes(data, "t.py")


def test_code_the_compiler_refuses_but_the_parser_accepts_is_checked():
    """flake8 runs its plugins on any file ``ast.parse`` accepts: ``break``
    outside a loop is refused only by the compiler."""
    data = _cut_away("    break\n")
    found = FAST.lint_bytes(data, "t.py")
    assert [d.code for d in found] == ["WN301"]
    assert found == FULL.lint_bytes(data, "t.py")


def test_an_encoding_declaration_holds_for_what_was_cut_away():
    text = "# -*- coding: latin-1 -*-\n" + _LEGACY_SITE
    data = (text + "\n\ndef unrelated(x):\n    return 'caf\xe9'\n").encode("latin-1")
    found = FAST.lint_bytes(data, "t.py")
    assert [d.code for d in found] == ["WN301"]
    assert found == FULL.lint_bytes(data, "t.py")


def test_warnings_about_the_checked_code_are_not_printed():
    """``x is 1`` is a SyntaxWarning from the compiler (and an invalid escape
    one from the parser, from Python 3.12): about the file, not the check."""
    import warnings

    data = _cut_away('    return x is 1 or "\\d"\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [d.code for d in FAST.lint_bytes(data, "t.py")] == ["WN301"]
        assert [d.code for d in FULL.lint_bytes(data, "t.py")] == ["WN301"]
    assert [str(w.message) for w in caught] == []


def test_removals_keep_the_subclasses_of_a_class_with_a_remover():
    """WN306 reads a class with a remover together with its subclasses in
    the file (one may norm what the remover removes): the cut keeps that
    family, for either API's remover, and leaves out unrelated classes."""
    data = textwrap.dedent(
        """\
        import torch.nn as nn
        from torch.nn.utils import parametrize, remove_weight_norm

        class New(nn.Module):
            def remove(self):
                parametrize.remove_parametrizations(self.conv, "weight")

        class Child(New):
            pass

        class GrandChild(Child):
            pass

        class Legacy(nn.Module):
            def remove(self):
                remove_weight_norm(self.conv)

        class LegacyChild(Legacy):
            pass

        class Plain(nn.Module):
            pass

        class PlainChild(Plain):
            pass
        """
    ).encode()
    segments = cutting.split(data)
    keep = prefilter.REMOVALS.keep(data, segments)
    assert keep is not None
    kept = {s.name.decode() for s, k in zip(segments, keep) if k and s.name}
    assert kept == {"New", "Child", "GrandChild", "Legacy", "LegacyChild"}
