"""The whole-object pickling recognizer (``wnlint.facts.pickling``) and WN304's
prefilter: every import spelling of a pickler, what counts as pickling a
module, tracing to where a function was applied (either API), and cut and
whole parses agreeing."""

from __future__ import annotations

import ast
import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.cutting import split
from wnlint.facts.pickled import applied_to
from wnlint.facts.pickling import module_pickles, pickle_sites, pickled_parts
from wnlint.facts.prefilter import PICKLES_PARAMETRIZED


def analyse(source: str) -> FileAnalysis:
    return FileAnalysis(ast.parse(textwrap.dedent(source)))


def picklers(source: str) -> list[tuple[int, str, str]]:
    return [
        (p.call.lineno, p.how, ast.unparse(p.obj))
        for p in pickle_sites(analyse(source))
    ]


@pytest.mark.parametrize(
    ("source", "how"),
    [
        ("import torch\ntorch.save(m, f)\n", "torch.save"),
        ("import torch as T\nT.save(m, f)\n", "torch.save"),
        ("from torch import save\nsave(m, f)\n", "torch.save"),
        ("from torch import save as keep\nkeep(obj=m, f=f)\n", "torch.save"),
        ("import torch.serialization\ntorch.serialization.save(m, f)\n", "torch.save"),
        ("import pickle\npickle.dump(m, f)\n", "pickle.dump"),
        ("import pickle as pkl\npkl.dumps(m)\n", "pickle.dumps"),
        ("from pickle import dump\ndump(m, f)\n", "pickle.dump"),
        ("from pickle import dumps as d\nd(obj=m)\n", "pickle.dumps"),
        ("import dill\ndill.dumps(m)\n", "dill.dumps"),
        ("import cloudpickle\ncloudpickle.dump(m, f)\n", "cloudpickle.dump"),
        ("import joblib\njoblib.dump(value=m, filename=f)\n", "joblib.dump"),
        (
            "try:\n    import dill as pickle\nexcept ImportError:\n"
            "    import pickle\npickle.dump(m, f)\n",
            "dill.dump / pickle.dump",
        ),
    ],
)
def test_every_import_spelling_of_a_pickler(source, how):
    [(_, found, obj)] = picklers(source)
    assert (found, obj) == (how, "m")


@pytest.mark.parametrize(
    "source",
    [
        "def save(obj, f):\n    pass\nsave(m, f)\n",
        "import json\njson.dump(m, f)\n",
        "torch.save(m, f)\n",  # `torch` never imported: not known
        "import torch\ndef g(torch):\n    torch.save(m, f)\n",
        "import torch\ntorch.save(*args)\n",
        "import torch\nmodel.save(f)\n",
        "import pickle\npickle.Pickler(f).dump(m)\n",
        "import pickle\npickle.load(f)\n",
        "exporter.save_pickle('p', 'r.pkl', m)\n",
    ],
)
def test_not_pickling_whole(source):
    assert picklers(source) == []


@pytest.mark.parametrize(
    "source",
    [
        """
        import torch.package
        with torch.package.PackageExporter(f) as exp:
            exp.save_pickle("p", "r.pkl", m)
        """,
        """
        from torch.package import PackageExporter
        exp = PackageExporter(f)
        exp.save_pickle("p", "r.pkl", obj=m)
        """,
        """
        from torch import package
        package.PackageExporter(f).save_pickle("p", "r.pkl", m)
        """,
    ],
)
def test_package_exporter_save_pickle(source):
    [(_, how, obj)] = picklers(source)
    assert (how, obj) == ("PackageExporter.save_pickle", "m")


def test_a_save_pickle_on_something_else_is_not_pickling():
    source = """
    import torch.package
    def run(f, other):
        with torch.package.PackageExporter(f) as exp:
            pass
        exp = other
        exp.save_pickle("p", "r.pkl", m)
    """
    assert picklers(source) == []


@pytest.mark.parametrize(
    ("obj", "parts"),
    [
        ("model", ["model"]),
        ("model.state_dict()", []),
        ("{'model': model.state_dict(), 'step': 3}", []),
        ("{'model': model, 'step': 3}", ["model"]),
        ("dict(model=model, opt=opt.state_dict())", ["model"]),
        ("[a, (b, 'x')]", ["a", "b"]),
        ("f'{x}'", []),
        ("Net().to(device)", ["Net().to(device)"]),
    ],
)
def test_pickled_parts(obj, parts):
    expr = ast.parse(obj, mode="eval").body
    assert [ast.unparse(p) for p in pickled_parts(expr)] == parts


def test_module_pickles_leaves_out_state_dicts():
    analysis = analyse(
        """
        import torch
        torch.save(model.state_dict(), f)
        torch.save({"m": model.state_dict()}, f)
        torch.save(model, f)
        """
    )
    assert [p.call.lineno for p in module_pickles(analysis)] == [5]


LEGACY_FILE = """
import torch
import torch.nn as nn


class Legacy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv1d(4, 4, 3))


class New(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(4, 4, 3))


torch.save(Legacy(), "a.pt")
torch.save(New(), "b.pt")
"""


@pytest.mark.parametrize(
    ("names", "line"),
    [(tn.PARAMETRIZING, 19), (tn.LEGACY_WEIGHT_NORM, 18)],
    ids=["parametrizations", "legacy"],
)
def test_applied_to_tells_the_apis_apart(names, line):
    """The migration asks with the legacy names: which whole-module saves
    its rewrite would break."""
    analysis = FileAnalysis(ast.parse(LEGACY_FILE))
    found = {
        p.call.lineno: applied_to(analysis, p, names) for p in module_pickles(analysis)
    }
    assert [k for k, v in found.items() if v is not None] == [line]
    applied = found[line]
    assert applied is not None
    assert applied.holder.endswith(".conv")
    assert applied.line in (9, 15)


CUT_CASES = {
    "class, helper and save in different definitions": """
        import torch
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm

        def unrelated():
            return 1

        def wn_conv(channels):
            return weight_norm(nn.Conv1d(channels, channels, 3))

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = wn_conv(4)

        def main():
            model = Block()
            torch.save(model, "m.pt")
    """,
    "subclass of the class that saves": """
        import torch
        import torch.nn as nn
        from torch.nn.utils import parametrizations

        class Unrelated(nn.Module):
            pass

        class Base(nn.Module):
            def export(self, f):
                torch.save(self, f)

        class Head(Base):
            def __init__(self):
                super().__init__()
                self.proj = parametrizations.weight_norm(nn.Linear(2, 2))
    """,
    "module-level script": """
        import torch
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm

        def unrelated():
            return 1

        layer = weight_norm(nn.Linear(2, 2))
        torch.save(layer, "l.pt")
    """,
    "global rebinding in a function that does not save": """
        import torch
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm

        model = weight_norm(nn.Linear(2, 2))

        def reset():
            global model
            model = nn.Linear(2, 2)

        torch.save(model, "m.pt")
    """,
}

FAST = Linter(select_rules(["WN304"]))
FULL = Linter(select_rules(["WN304"]), reduce=False)


@pytest.mark.parametrize("name", sorted(CUT_CASES))
def test_cut_and_whole_parse_agree(name):
    data = textwrap.dedent(CUT_CASES[name]).encode()
    whole = FULL.lint_bytes(data, "t.py")
    assert FAST.lint_bytes(data, "t.py") == whole
    if name.startswith("global"):
        assert whole == [], "the global rebinding makes the value unknown"
    else:
        assert [d.code for d in whole] == ["WN304"]


def test_prefilter_cuts_what_cannot_matter():
    data = textwrap.dedent(CUT_CASES["class, helper and save in different definitions"])
    segments = split(data.encode())
    keep = PICKLES_PARAMETRIZED.keep(data.encode(), segments)
    assert keep is not None
    kept = {s.name for s, k in zip(segments, keep) if k and s.name}
    assert kept == {b"wn_conv", b"Block", b"main"}


@pytest.mark.parametrize(
    "source",
    [
        b"import torch\ntorch.save(model, f)\n",  # nothing parametrized here
        b"from torch.nn.utils import parametrize\nx = 1\n",  # nothing pickled
    ],
)
def test_prefilter_rejects(source):
    assert not PICKLES_PARAMETRIZED.file_may_match(source)


HEADER = """
import torch
import torch.nn as nn
from torch.nn.utils import parametrizations, parametrize
from torch.nn.utils.parametrizations import weight_norm


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = weight_norm(nn.Linear(2, 2))
        self.plain = nn.Linear(2, 2)
"""


def wn304_lines(body: str) -> list[int]:
    data = (HEADER + textwrap.dedent(body)).encode()
    offset = HEADER.count("\n")
    return [d.line - offset for d in FULL.lint_bytes(data, "t.py")]


@pytest.mark.parametrize(
    "body",
    [
        "torch.save(parametrizations.spectral_norm(nn.Linear(2, 2)), 'a.pt')\n",
        "torch.save(parametrizations.orthogonal(nn.Linear(2, 2)), 'a.pt')\n",
        "torch.save(Net().cuda().train(), 'a.pt')\n",
        "if __name__ == '__main__':\n    net = Net()\n    torch.save(net, 'a.pt')\n",
        "def f():\n    model = Net()\n    model = model.to('cpu')\n    torch.save(model, 'a.pt')\n",
        "def f():\n    a = Net()\n    b = a\n    torch.save(b, 'a.pt')\n",
        "def f(path):\n    torch.save(Net() if path else weight_norm(nn.Linear(1, 1)), path)\n",
    ],
)
def test_reported(body):
    assert wn304_lines(body) == [body.count("\n")]


@pytest.mark.parametrize(
    "body",
    [
        "def f(models):\n    for m in models:\n        torch.save(m, 'a.pt')\n",
        "def f(model=Net()):\n    torch.save(model, 'a.pt')\n",
        "def f(load):\n    model = Net()\n    model = load()\n    torch.save(model, 'a.pt')\n",
        "def f():\n    model = Net()\n    model.remove_weight_norm()\n    torch.save(model, 'a.pt')\n",
        "def f():\n    model = Net()\n    torch.save(model.plain, 'a.pt')\n",
        "def f(path):\n    torch.save(Net() if path else nn.Linear(1, 1), path)\n",
        "def f():\n    model = torch.jit.script(Net())\n    torch.save(model, 'a.pt')\n",
        # the legacy spectral_norm is hook-based and pickles fine
        "torch.save(nn.utils.spectral_norm(nn.Linear(2, 2)), 'a.pt')\n",
        # `self` parametrized as a whole: its other submodules are not
        """
        class Sym(nn.Linear):
            def __init__(self):
                super().__init__(2, 2)
                self.head = nn.Linear(2, 2)
                parametrize.register_parametrization(self, "weight", nn.Identity())

            def save_head(self, f):
                torch.save(self.head, f)
        """,
        # the subclass inherits an override that saves the state_dict
        """
        class Base(nn.Module):
            def export(self, f):
                torch.save(self, f)

        class Middle(Base):
            def export(self, f):
                torch.save(self.state_dict(), f)

        class Leaf(Middle):
            def __init__(self):
                super().__init__()
                self.fc = weight_norm(nn.Linear(2, 2))
        """,
    ],
)
def test_silent(body):
    assert wn304_lines(body) == []
