"""The prefilters only save work: with them off (every rule runs on every
file, parsed whole) each fixture, each shape below, every layer the
analysis knows and every file of the 19 pinned wheels give the same
findings. A spelling the analysis learns and the prefilter does not fails
here, instead of silently skipping files."""

from __future__ import annotations

import multiprocessing
import os
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture_files

from wnlint.engine.linter import Linter, select_rules
from wnlint.engine.runner import discover
from wnlint.facts import torchnames as tn

ON = Linter(select_rules())
OFF = Linter(select_rules(), prefilter=False)

#: Bugs on a weight a class inherits from a torch layer (no ``Parameter(``
#: in the text): the layer's name in the class statement is what admits
#: the file.
INHERITED = {
    "WN101": """
        import torch.nn as nn
        import torch.nn.functional as F

        class Layer(nn.LAYER):
            def forward(self, x):
                g = self.weight.norm(dim=1, keepdim=True)
                return F.linear(x, g * self.weight / self.weight.norm(dim=1, keepdim=True))
    """,
    "WN102": """
        import torch.nn as nn

        class Layer(nn.LAYER):
            def forward(self, x):
                self.cached = self.weight / self.weight.norm(dim=1, keepdim=True)
                return super().forward(x)
    """,
    "WN105": """
        from torch import nn
        import torch.nn.functional as F

        class Layer(nn.LAYER):
            def forward(self, x):
                norm = self.weight.data.norm(dim=1, keepdim=True)
                return F.linear(x, self.weight / norm)
    """,
}


@pytest.mark.parametrize("layer", sorted(tn.LAYERS_WITH_WEIGHT))
@pytest.mark.parametrize("code", sorted(INHERITED))
def test_every_layer_the_analysis_knows_admits_its_subclasses(code, layer):
    data = textwrap.dedent(INHERITED[code]).replace("LAYER", layer).encode()
    off = OFF.lint_bytes(data, "layer.py")
    assert [d.code for d in off] == [code]
    assert ON.lint_bytes(data, "layer.py") == off


def _sources() -> list[Path]:
    """Every fixture, the fix pairs' inputs and the package fixtures."""
    found = set(fixture_files())
    found.update((FIXTURES / "fix").glob("*_before.py"))
    found.update(p for p in FIXTURES.rglob("*.py") if "seeds" not in p.parts)
    return sorted(found)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_each_fixture_finds_the_same_with_the_prefilters_off(path):
    assert ON.lint_file(str(path)) == OFF.lint_file(str(path))


#: The pinned wheels, unpacked (``python bench/corpus.py DIR``): ``.ci/run``
#: sets it; where it is not set, the test says so and skips.
CORPUS = os.environ.get("WNLINT_CORPUS", "")


def _differing(paths: list[str]) -> list[str]:
    """The files of ``paths`` whose findings differ with the prefilters off."""
    return [p for p in paths if ON.lint_file(p) != OFF.lint_file(p)]


@pytest.mark.skipif(
    not CORPUS, reason="WNLINT_CORPUS (the pinned wheels, bench/corpus.py) not set"
)
def test_the_pinned_wheels_find_the_same_with_the_prefilters_off():
    files = list(discover([CORPUS]))
    assert len(files) > 7000, CORPUS
    chunks = [files[i::2] for i in range(2)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        differing = [p for found in pool.map(_differing, chunks) for p in found]
    assert differing == []
