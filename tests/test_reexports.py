"""torch names handed on by a project's own modules
(``fixtures/reexports``): ``from .torch_core import *`` and ``from .torchlib
import nn`` resolve to what those modules bound, so the legacy API is found
there; a project's own ``weight_norm`` and a name ``__all__`` keeps out are
not torch's; a class deriving from the project's ``BaseModule(nn.Module)`` is
an ``nn.Module`` to the WN1xx rules. Each file's findings are exactly its markers, and an edit to a
module a name was followed through is seen by the cache.

``tests/test_fixtures.py`` reads only the top-level fixture files; this file
covers the package (its runtime twin imports it).
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from conftest import FIXTURES, markers, run_cli

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts.project_names import VOCABULARY, ProjectNames, reexported

PACKAGE = FIXTURES / "reexports"
FILES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_positives_and_near_misses():
    assert {p.name for p in FILES} >= {"layers.py", "blocks.py", "near_misses.py"}
    assert sum(len(markers(p)) for p in FILES) == 10
    assert not any(markers(p, "todo-expect") for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_markers_match_findings(path):
    found = Linter(select_rules()).lint_file(str(path))
    assert Counter((d.line, d.code) for d in found) == markers(path)


def test_the_names_are_followed_as_python_imports_them():
    layers = str(PACKAGE / "layers.py")
    legacy = "torch.nn.utils.weight_norm"
    assert reexported(layers, ".torch_core", "weight_norm", star=True) == legacy
    assert reexported(layers, ".torch_core", "utils", star=True) == "torch.nn.utils"
    assert reexported(layers, ".torchlib", "nn") == "torch.nn"
    # the package's own def, a name `__all__` leaves out, and a module that
    # does not exist are no torch names
    assert reexported(layers, ".own", "weight_norm", star=True) is None
    assert reexported(layers, ".restricted", "remove_weight_norm", star=True) is None
    assert reexported(layers, ".restricted", "remove_weight_norm") is not None
    assert reexported(layers, ".missing", "weight_norm", star=True) is None
    # two arms that bind different things: not known
    assert reexported(layers, ".imports.torch", "orthogonal") is None


def test_a_class_of_the_project_is_a_module_through_its_bases():
    project = ProjectNames(str(PACKAGE / "models.py"))
    assert project.base(".base", "BaseModule") == "torch.nn.Module"
    assert project.base(".base", "Settings") is None
    assert project.base(".missing", "BaseModule") is None
    # imported into another module of the package, then from there
    (found,) = {project.base(".models", "BaseModule")}
    assert found == "torch.nn.Module"


def test_a_layer_of_the_project_is_plain_only_where_nothing_can_norm_it():
    project = ProjectNames(str(PACKAGE / "vocoder.py"))
    assert project.plain_layer(".convs", "CausalConv1d") == "torch.nn.Conv1d"
    # on the package's own base class, in the same module
    assert project.plain_layer(".convs", "CausalDownSample") == "torch.nn.Conv1d"
    # its module spells weight norm; its module imports one that does
    assert project.plain_layer(".normed_convs", "WNConv1d") is None
    assert project.base(".normed_convs", "WNConv1d") == "torch.nn.Conv1d"
    assert project.plain_layer(".helped_convs", "HelpedConv1d") is None
    assert project.plain_layer(".missing", "CausalConv1d") is None


def test_of_several_star_imports_one_that_lacks_a_name_is_not_its_source():
    project = ProjectNames(str(PACKAGE / "two_stars.py"))
    assert project.lacks(".restricted", "weight_norm")  # kept out by __all__
    assert not project.lacks(".torch_core", "weight_norm")
    assert not project.lacks(".missing", "weight_norm")  # not known
    assert not project.lacks(".restricted", "helper")


def test_any_name_is_looked_for_among_several_star_imports():
    project = ProjectNames(str(PACKAGE / "dropped.py"))
    # a class of the package: only with any_name (it is no torch name)
    assert not project.lacks(".restricted", "BaseModule")
    assert project.lacks(".restricted", "BaseModule", any_name=True)
    assert not project.lacks(".base", "BaseModule", any_name=True)


def test_a_plain_import_of_a_norming_module_makes_a_layer_unknown(tmp_path):
    (tmp_path / "norms.py").write_text(
        "from torch.nn.utils import parametrizations\n"
        "def wn(m):\n    return parametrizations.weight_norm(m)\n"
    )
    (tmp_path / "layer.py").write_text(
        "import os, norms\nfrom torch import nn\n\n"
        "class Conv(nn.Conv1d):\n"
        "    def __init__(self):\n        super().__init__(1, 1, 1)\n"
        "        norms.wn(self)\n"
    )
    (tmp_path / "plain.py").write_text(
        "import os\nfrom torch import nn\n\nclass Conv(nn.Conv1d):\n    pass\n"
    )
    project = ProjectNames(str(tmp_path / "user.py"))
    assert project.plain_layer("layer", "Conv") is None
    assert project.plain_layer("plain", "Conv") == "torch.nn.Conv1d"


def test_only_the_names_of_torch_are_followed():
    assert {"weight_norm", "nn", "torch", "utils", "Parameter"} <= VOCABULARY
    assert "logging" not in VOCABULARY and "BaseModel" not in VOCABULARY
    layers = str(PACKAGE / "layers.py")
    assert reexported(layers, ".torch_core", "to_device", star=True) is None


def test_star_imports_that_import_each_other_end(tmp_path):
    (tmp_path / "a.py").write_text("from b import *\n")
    (tmp_path / "b.py").write_text("from a import *\n")
    user = tmp_path / "user.py"
    user.write_text("from a import *\n\nweight_norm(m)\n")
    assert reexported(str(user), "a", "weight_norm", star=True) is None
    assert Linter(select_rules()).lint_file(str(user)) == []


def test_an_edit_to_a_module_followed_is_seen_by_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("WNLINT_CACHE_DIR", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".git").mkdir()
    shutil.copytree(PACKAGE, root / "reexports")
    first = run_cli("check", "--select", "WN301", ".", cwd=root)
    assert first.stdout.count("WN301") == 4
    core = root / "reexports" / "torch_core.py"
    core.write_text(
        core.read_text() + "\n\ndef weight_norm(module):\n    return module\n"
    )
    second = run_cli("check", "--select", "WN301", ".", cwd=root)
    # layers.py's and two_stars.py's bare `weight_norm` is now the package's
    # own; `utils.` and blocks.py's `nn.utils.` still reach torch
    assert second.stdout.count("WN301") == 2, second.stdout
