"""WN102 on a forward installed by a function, in torch: the closure
stores a weight computed from the module's tensors on the module, and
``copy.deepcopy`` (EMA, model averaging) raises after a training forward;
the fixture's near misses deepcopy fine. Runs on CUDA when available, else
on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture

f = load_fixture("wn102_installed_forward")

NON_LEAF = "Only Tensors created explicitly by the user"


def _build(name: str, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    mask = torch.rand(3, 4, device=device)
    if name == "WeightDropLinear":
        return f.WeightDropLinear(4, 3, weight_dropout=0.5).to(device)
    layer = nn.Linear(4, 3).to(device)
    if name == "plain_reads":
        f.plain_reads(layer)
    else:
        getattr(f, name)(layer, mask)
    return layer


@pytest.mark.parametrize("name", ["WeightDropLinear", "masked"])
def test_the_installed_forward_leaves_a_non_leaf_that_deepcopy_refuses(name, device):
    model = _build(name, device).train()
    copy.deepcopy(model)  # fine while nothing is stored
    model(torch.randn(2, 4, device=device)).square().sum().backward()
    stored = model.weight
    assert not stored.is_leaf and not isinstance(stored, nn.Parameter)
    raw = [p for n, p in model.named_parameters() if n.endswith(("_raw", "_orig"))]
    assert raw and all(p.grad is not None for p in raw)  # it trains: one defect
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(model)


@pytest.mark.parametrize("name", ["restored", "without_graph", "plain_reads"])
def test_near_misses_deepcopy_after_forward(name, device):
    model = _build(name, device).train()
    for _ in range(2):  # the second call runs on what the first left
        model(torch.randn(2, 4, device=device))
    copied = copy.deepcopy(model)
    assert all(p.is_leaf for p in copied.parameters())
