"""WN102 on torch layer subclasses, in torch: the fixture's layers that keep
a weight computed from their own on ``self`` (weight dropout as
Ordered-Neurons writes it, a scale, weight standardization, NVAE's weight
norm returned by a method) hold a non-leaf after a training
forward, and ``copy.deepcopy`` (EMA, model averaging) raises; the near
misses deepcopy fine and still train. Runs on CUDA when available, else on
the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture

f = load_fixture("wn102_dropped_weight")

NON_LEAF = "Only Tensors created explicitly by the user"

BUILD = {
    "LinearDropConnect": lambda: f.LinearDropConnect(4, 3),
    "ScaledConv": lambda: f.ScaledConv(4, 3, 1),
    "StandardizedConv": lambda: f.StandardizedConv(4, 3, 1),
    "DropConnectLocal": lambda: f.DropConnectLocal(4, 3),
    "CachedActivation": lambda: f.CachedActivation(4, 3),
    "DetachedScale": lambda: f.DetachedScale(4, 3, 1),
    "NormalizedConv": lambda: f.NormalizedConv(4, 3, 1),
    "DropConnectMethod": lambda: f.DropConnectMethod(4, 3),
    "CurrentWeight": lambda: f.CurrentWeight(4, 3),
    "FrozenScale": lambda: f.FrozenScale(4, 3),
}


def _trained(name: str, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    layer = BUILD[name]().to(device).train()
    shape = (2, 4) if isinstance(layer, nn.Linear) else (2, 4, 5)
    layer(torch.randn(*shape, device=device)).square().sum().backward()
    assert layer.weight.grad is not None  # it trains
    return layer


@pytest.mark.parametrize(
    "name",
    [
        "LinearDropConnect",
        "ScaledConv",
        "StandardizedConv",
        "NormalizedConv",
        "DropConnectMethod",
    ],
)
def test_the_stored_weight_is_a_non_leaf_that_deepcopy_refuses(name, device):
    layer = _trained(name, device)
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(layer)


@pytest.mark.parametrize(
    "name",
    [
        "DropConnectLocal",
        "CachedActivation",
        "DetachedScale",
        "CurrentWeight",
        "FrozenScale",
    ],
)
def test_near_misses_deepcopy_after_a_training_forward(name, device):
    layer = _trained(name, device)
    copied = copy.deepcopy(layer)
    assert copied.weight.is_leaf
