"""WN203 across the modules of one package (``fixtures/wn203_package``): the
layers come from a weight-norm helper in ``layers.py``, the init function
from ``utils.py``, and ``model.py`` puts them together; ``codec.py`` holds
``quantize.py``'s quantizer, whose projections ``layers.py`` norms. Each file's findings
are exactly its markers, whichever front end lints it.

``tests/test_fixtures.py`` reads only the top-level fixture files; this file
covers the package.
"""

from __future__ import annotations

import ast
import re
from collections import Counter

import pytest
from conftest import FIXTURES, markers, run_cli

from wnlint.engine.linter import Linter, select_rules
from wnlint.flake8_plugin import WnlintPlugin

PACKAGE = FIXTURES / "wn203_package"
FILES = sorted(PACKAGE.glob("*.py"))
MODEL = PACKAGE / "model.py"
FINDING = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>WN\d{3}) (?P<message>.*)$"
)


def test_the_package_has_its_modules_and_a_positive():
    names = {p.name for p in FILES}
    assert names == {
        "__init__.py",
        "layers.py",
        "utils.py",
        "model.py",
        "quantize.py",
        "codec.py",
        "vocoder.py",
        "sources.py",
    }
    assert "WN203" in {code for _, code in markers(MODEL)}
    assert "WN203" in {code for _, code in markers(PACKAGE / "codec.py")}
    assert not any(markers(p, "todo-expect") for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_markers_match_findings(path):
    found = Linter(select_rules()).lint_file(str(path))
    actual = Counter((d.line, d.code) for d in found)
    assert actual == markers(path), "\n".join(d.format() for d in found)


def test_flake8_plugin_gives_the_same_answer_on_the_model():
    source = MODEL.read_text(encoding="utf-8")
    plugin = WnlintPlugin(ast.parse(source), source.splitlines(True), str(MODEL))
    results = list(plugin.run())
    assert all(kind is WnlintPlugin for *_, kind in results)
    actual = Counter((line, text.split(" ", 1)[0]) for line, _, text, _ in results)
    assert actual == markers(MODEL), results
    # The same positions and messages as the engine (flake8's column is 0-based).
    engine = Linter(select_rules()).lint_file(str(MODEL))
    assert sorted((line, col + 1, text) for line, col, text, _ in results) == sorted(
        (d.line, d.col, f"{d.code} {d.message}") for d in engine
    )


def test_cli_on_the_package_directory():
    """``wnlint check wn203_package`` run from the fixtures directory: every
    module's markers, nothing else."""
    result = run_cli("check", "wn203_package", cwd=FIXTURES)
    actual: Counter = Counter()
    for line in result.stdout.splitlines():
        finding = FINDING.match(line)
        assert finding, line
        name = finding["path"].replace("\\", "/").rsplit("/", 1)[-1]
        actual[(name, int(finding["line"]), finding["code"])] += 1
    expected: Counter = Counter()
    for path in FILES:
        for (line, code), count in markers(path).items():
            expected[(path.name, line, code)] += count
    assert actual == expected, result.stdout
    assert result.returncode == (1 if expected else 0), result.stderr


def test_an_edited_sibling_is_read_again(tmp_path):
    """The summaries of a sibling file are cached, but never served stale:
    an init that stops writing the weight stops the finding."""
    from wnlint.engine.linter import Linter, select_rules

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    utils = package / "utils.py"
    utils.write_text(
        "import torch.nn as nn\n\n\ndef init(m):\n    nn.init.zeros_(m.weight)\n"
    )
    model = package / "model.py"
    model.write_text(
        "import torch.nn as nn\n"
        "from torch.nn.utils.parametrizations import weight_norm\n"
        "from .utils import init\n\n\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = weight_norm(nn.Conv1d(2, 2, 1))\n"
        "        self.conv.apply(init)\n"
    )
    linter = Linter(select_rules(["WN203"]))
    assert [d.line for d in linter.lint_file(str(model))] == [10]
    utils.write_text(
        "import torch.nn as nn\n\n\ndef init(m):\n    nn.init.zeros_(m.bias)\n"
    )
    import os

    stat = os.stat(utils)
    os.utime(utils, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert linter.lint_file(str(model)) == []


def test_nothing_under_site_packages_is_followed(tmp_path):
    """Installed packages are not the user's code: a helper there is not
    summarized, so nothing is reported through it."""
    from wnlint.engine.linter import Linter, select_rules

    package = tmp_path / "site-packages" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(
        "import torch.nn as nn\n"
        "from torch.nn.utils.parametrizations import weight_norm\n\n\n"
        "def WNConv1d(*a, **k):\n    return weight_norm(nn.Conv1d(*a, **k))\n"
    )
    model = package / "model.py"
    model.write_text(
        "import torch.nn as nn\n"
        "from .layers import WNConv1d\n\n\n"
        "def init(m):\n    nn.init.zeros_(m.weight)\n\n\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = WNConv1d(2, 2, 1)\n"
        "        self.conv.apply(init)\n"
    )
    assert Linter(select_rules(["WN203"])).lint_file(str(model)) == []
    # The same package elsewhere is followed.
    other = tmp_path / "src" / "pkg"
    other.parent.mkdir()
    package.rename(other)
    found = Linter(select_rules(["WN203"])).lint_file(str(other / "model.py"))
    assert [d.line for d in found] == [13]


BASE = """\
import torch
from torch.nn import Conv1d
from torch.nn.utils import weight_norm


def init_weights(m):
    if "Conv" in m.__class__.__name__:
        m.weight.data.normal_(0.0, 0.01)


class Base(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_post = weight_norm(Conv1d(4, 1, 3))
"""

CHILD = """\
from torch.nn import Conv1d
from torch.nn.utils import weight_norm

from pkg.a.models import Base, init_weights


class Child(Base):
    def __init__(self):
        super().__init__()
        {store}
        self.conv_post.apply(init_weights)
"""


@pytest.mark.parametrize(
    "store, where",
    [
        ("self.conv_post = weight_norm(Conv1d(4, 2, 3))", "line 10)"),
        ("pass", "line 14 of ../a/models.py)"),
    ],
    ids=["stored-again-here", "the-base-class-s"],
)
def test_the_message_cites_the_weight_norm_that_applies(tmp_path, store, where):
    """fish-diffusion's iSTFTNet generator stores its own normed
    ``conv_post`` over the base class's: the message cites that line, not
    the base's; a base's in a file of the same name is named by its path."""
    for part in ("pkg", "pkg/a", "pkg/b"):
        (tmp_path / part).mkdir()
        (tmp_path / part / "__init__.py").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg/a/models.py").write_text(BASE)
    child = tmp_path / "pkg/b/models.py"
    child.write_text(CHILD.format(store=store))
    found = Linter(select_rules(["WN203"])).lint_file(str(child))
    assert len(found) == 1
    assert f"(weight norm on {where}" in found[0].message
