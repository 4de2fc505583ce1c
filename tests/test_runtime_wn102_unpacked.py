"""WN102 for a computed weight that lands on ``self`` by unpacking or from
a helper's return, in torch: after a training forward the attribute is a
non-leaf and ``copy.deepcopy`` (EMA, model averaging) raises; the near
misses (a parameter itself, a value computed under ``no_grad``, shapes and
activations) deepcopy fine. Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import load_fixture

f = load_fixture("wn102_unpacked")

NON_LEAF = "Only Tensors created explicitly by the user"


def _trained(cls: type, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    module = cls(3).to(device).train()
    module(torch.randn(2, 3, device=device)).square().sum().backward()
    assert module.v.grad is not None  # it trains
    return module


@pytest.mark.parametrize(
    "name", ["UnpackedFromHelper", "ReturnedByHelper", "UnpackedTuple"]
)
def test_the_stored_weight_is_a_non_leaf_that_deepcopy_refuses(name, device):
    module = _trained(getattr(f, name), device)
    assert module.weight.grad_fn is not None
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(module)


def test_near_misses_deepcopy_after_a_training_forward(device):
    module = _trained(f.NearMisses, device)
    copied = copy.deepcopy(module)
    assert copied.frozen.is_leaf and copied.last_g is copied.g
    assert dict(module.named_parameters()).keys() == {"v", "g"}
