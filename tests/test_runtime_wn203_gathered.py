"""``fixtures/wn203_gathered.py`` in torch: layers gathered in a list or an
``nn.ModuleDict`` before they reach the module, and helpers that norm in
place. Each positive's init has no effect on its weight-normed layers (they
differ from the same code built with weight norm replaced by the identity,
which draws no random numbers and starts at ``g = ||v||``); each near miss
gets its init; after ``wnlint fix --unsafe-fixes`` every positive does."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
import torch
from conftest import FIXTURES, load_fixture, run_cli
from torch.nn.utils import parametrize

POSITIVES = ["MelGANGenerator", "Appended", "NLayerDiscriminator", "InPlace"]
NEAR_MISSES = ["GatheredPlain", "InitBeforeNorm", "Rebound"]


def build(module, cls: str, plain: bool = False) -> dict[str, torch.Tensor]:
    saved = module.weight_norm
    if plain:
        module.weight_norm = lambda m, name="weight", dim=0: m
    try:
        torch.manual_seed(0)
        model = getattr(module, cls)()
    finally:
        module.weight_norm = saved
    return {
        name: layer.weight.detach().clone()
        for name, layer in model.named_modules()
        if isinstance(layer, torch.nn.Conv1d)
        and (
            plain or parametrize.is_parametrized(layer, "weight") or cls in NEAR_MISSES
        )
    }


@pytest.mark.parametrize("cls", POSITIVES)
def test_the_init_misses_every_gathered_normed_layer(cls):
    module = load_fixture("wn203_gathered")
    written, meant = build(module, cls), build(module, cls, plain=True)
    assert written
    for name, weight in written.items():
        assert not torch.allclose(weight, meant[name]), name


@pytest.mark.parametrize("cls", NEAR_MISSES)
def test_the_near_misses_get_their_init(cls):
    module = load_fixture("wn203_gathered")
    written, meant = build(module, cls), build(module, cls, plain=True)
    assert written.keys() == meant.keys() and written
    for name, weight in written.items():
        torch.testing.assert_close(weight, meant[name])


def test_the_fix_makes_the_init_land(tmp_path):
    target = tmp_path / "wn203_gathered.py"
    shutil.copy(FIXTURES / "wn203_gathered.py", target)
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert "0 remaining" in result.stderr, result.stderr
    spec = importlib.util.spec_from_file_location("wn203_gathered_fixed", target)
    fixed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed)
    original = load_fixture("wn203_gathered")
    for cls in POSITIVES:
        meant = build(original, cls, plain=True)
        for name, weight in build(fixed, cls).items():
            torch.testing.assert_close(weight, meant[name], rtol=1e-5, atol=1e-6)
