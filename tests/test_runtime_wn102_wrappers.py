"""WN102 on wrappers in torch: a wrapper that stores a computed weight on
the module it wraps leaves a non-leaf tensor there, and ``copy.deepcopy``
(EMA, model averaging) raises after the first forward; the fixture's near
misses deepcopy fine. Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture

f102 = load_fixture("wn102_stored_computed_weight")

NON_LEAF = "Only Tensors created explicitly by the user"

#: Each positive wrapper, with the wrapped attribute the forward stores.
POSITIVES = {
    "WeightNormWrapper": (lambda: f102.WeightNormWrapper(nn.Linear(4, 3)), "weight"),
    "WeightDrop": (lambda: f102.WeightDrop(nn.Linear(4, 3)), "weight"),
    "SpectralNorm": (lambda: f102.SpectralNorm(nn.Linear(4, 3)), "weight"),
    "MaskedLinear": (lambda: f102.MaskedLinear(nn.Linear(4, 3)), "weight"),
    "RegisteredThroughTheArgument": (
        lambda: f102.RegisteredThroughTheArgument(nn.Linear(4, 3)),
        "weight",
    ),
    "WeightDropout": (lambda: f102.WeightDropout(nn.Linear(4, 3)), "weight"),
}


def _wrapped(model: nn.Module) -> nn.Module:
    return next(m for name, m in model.named_children())


@pytest.mark.parametrize("name", sorted(POSITIVES))
def test_wrapper_deepcopies_before_forward_and_raises_after(name, device):
    torch.manual_seed(0)
    build, attr = POSITIVES[name]
    model = build().to(device).train()
    copy.deepcopy(model)  # fine while nothing is stored
    model(torch.randn(2, 4, device=device))
    stored = getattr(_wrapped(model), attr)
    assert not stored.is_leaf and stored.grad_fn is not None
    assert not isinstance(stored, nn.Parameter)
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(model)


@pytest.mark.parametrize("name", sorted(POSITIVES))
def test_wrapper_still_trains_its_own_parameters(name, device):
    """The wrappers work as layers (a gradient reaches the parameters they
    registered): the only defect is the stored non-leaf."""
    torch.manual_seed(0)
    model = POSITIVES[name][0]().to(device).train()
    model(torch.randn(2, 4, device=device)).square().sum().backward()
    trained = [
        n for n, p in model.named_parameters() if p.is_leaf and p.grad is not None
    ]
    assert trained, [n for n, _ in model.named_parameters()]


def test_existing_submodule_case_raises_too(device):
    model = f102.SetattrOnSubmodule(4).to(device)
    model(torch.randn(2, 4, 5, device=device))
    with pytest.raises(RuntimeError, match=NON_LEAF):
        copy.deepcopy(model)


@pytest.mark.parametrize(
    "build",
    [
        lambda: f102.WrapperNearMisses(nn.Linear(4, 3)),
        lambda: f102.GetattrWithAnotherName(nn.Linear(4, 3)),
        lambda: f102.EqualizedLR(nn.Linear(4, 3)),
    ],
    ids=["WrapperNearMisses", "GetattrWithAnotherName", "EqualizedLR"],
)
def test_near_misses_deepcopy_after_forward(build, device):
    torch.manual_seed(0)
    model = build().to(device).train()
    model(torch.randn(2, 4, device=device)).sum().backward()
    clone = copy.deepcopy(model)
    x = torch.randn(2, 4, device=device)
    torch.testing.assert_close(clone(x), model(x))


def test_wrapper_in_eval_mode_under_no_grad_deepcopies(device):
    """The pathology needs autograd: under ``torch.no_grad()`` the stored
    tensor is a leaf (which is why the rule skips ``no_grad`` regions)."""
    model = f102.WeightNormWrapper(nn.Linear(4, 3)).to(device)
    with torch.no_grad():
        model(torch.randn(2, 4, device=device))
    assert _wrapped(model).weight.is_leaf
    copy.deepcopy(model)
