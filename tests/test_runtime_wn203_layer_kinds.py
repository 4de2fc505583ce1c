"""``fixtures/wn203_layer_kinds.py`` in torch: an ``isinstance(m,
nn.Conv1d)`` hook reaches a weight-normed user subclass of ``nn.Conv1d``
(and one a conditional expression picks) and its init has no effect; the
near misses' hooks never touch the layer; after ``wnlint fix
--unsafe-fixes`` the init lands. Reference: the same code with weight norm
replaced by the identity, from the same seed."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
import torch
from conftest import FIXTURES, load_fixture, run_cli

POSITIVES = ["Subclassed", "Picked"]
NEAR_MISSES = ["SubclassedLinearInit", "SubclassedExcluded"]


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
    }


@pytest.mark.parametrize("cls", POSITIVES)
def test_the_hook_reaches_the_subclass_and_its_init_is_lost(cls):
    module = load_fixture("wn203_layer_kinds")
    written, meant = build(module, cls), build(module, cls, plain=True)
    assert written
    for name, weight in written.items():
        assert not torch.allclose(weight, meant[name]), name


@pytest.mark.parametrize("cls", NEAR_MISSES)
def test_the_near_misses_never_init_the_layer(cls):
    module = load_fixture("wn203_layer_kinds")
    written, meant = build(module, cls), build(module, cls, plain=True)
    for name, weight in written.items():
        torch.testing.assert_close(weight, meant[name])


def test_the_fix_makes_the_init_land(tmp_path):
    target = tmp_path / "wn203_layer_kinds.py"
    shutil.copy(FIXTURES / "wn203_layer_kinds.py", target)
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert "0 remaining" in result.stderr, result.stderr
    spec = importlib.util.spec_from_file_location("wn203_layer_kinds_fixed", target)
    fixed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed)
    original = load_fixture("wn203_layer_kinds")
    for cls in POSITIVES:
        meant = build(original, cls, plain=True)
        for name, weight in build(fixed, cls).items():
            torch.testing.assert_close(weight, meant[name], rtol=1e-5, atol=1e-6)
