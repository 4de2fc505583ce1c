"""WN102 on forward hook objects, in torch: the fixture's hooks that store a
weight computed from the module's tensors leave a non-leaf on the module
after a training forward, and ``copy.deepcopy`` (EMA, model averaging)
raises; the near misses deepcopy fine. Runs on CUDA when available, else
on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture

f = load_fixture("wn102_hook_objects")

NON_LEAF = "Only Tensors created explicitly by the user"


def _hooked(name: str, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    layer = nn.Linear(4, 3).to(device)
    getattr(f, name).apply(layer)
    return layer.train()


@pytest.mark.parametrize(
    "name", ["HandMadeWeightNorm", "EqualizedLR", "EqualLR", "SpectralNormHook"]
)
def test_the_hook_leaves_a_non_leaf_that_deepcopy_refuses(name, device):
    layer = _hooked(name, device)
    layer(torch.randn(2, 4, device=device)).square().sum().backward()
    assert not layer.weight.is_leaf
    assert all(p.grad is not None for p in layer.parameters())  # it trains
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(layer)


def test_torchs_own_legacy_weight_norm_does_the_same(device):
    """The copies inherit the defect of the hook they copy."""
    with pytest.warns(FutureWarning):
        layer = nn.utils.weight_norm(nn.Linear(4, 3).to(device))
    layer(torch.randn(2, 4, device=device)).sum().backward()
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(layer)


@pytest.mark.parametrize("name", ["WithoutGraph", "Detached"])
def test_near_misses_deepcopy_after_forward(name, device):
    layer = _hooked(name, device)
    for _ in range(2):
        layer(torch.randn(2, 4, device=device))
    copied = copy.deepcopy(layer)
    assert copied.weight.is_leaf
