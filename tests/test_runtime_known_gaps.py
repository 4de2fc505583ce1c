"""The ``# todo-expect`` examples in torch: each known gap is a real bug,
not a false positive waiting to happen. Runs on CUDA when available, else
on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import load_fixture

f101 = load_fixture("wn101_norm_derived_scale")
f102 = load_fixture("wn102_stored_computed_weight")
f103 = load_fixture("wn103_normalized_parameter_init")
f104 = load_fixture("wn104_unused_scale_parameter")
f201 = load_fixture("wn201_optimizer_non_leaf")
f202 = load_fixture("wn202_optimizer_before_weight_norm")
f301 = load_fixture("wn301_legacy_weight_norm")
f302 = load_fixture("wn302_legacy_remove_weight_norm")


def test_wn101_helper_norm_makes_the_weight_the_direction(device):
    torch.manual_seed(0)
    model = f101.HelperNormScale(4, 3).double().to(device)
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    torch.testing.assert_close(model(x), F.linear(x, model.v), rtol=0, atol=1e-12)


def test_wn102_weight_stored_from_a_helper_breaks_deepcopy(device):
    model = f102.StoresHelperWeight(4).to(device)
    model(torch.randn(2, 4, device=device))
    assert not model.w.is_leaf
    with pytest.raises(
        RuntimeError, match="Only Tensors created explicitly by the user"
    ):
        copy.deepcopy(model)


def test_wn103_scale_applied_by_a_caller_drifts_from_g(device):
    torch.manual_seed(0)
    model = f103.ScaledByCaller(torch.randn(3, 4, device=device))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        x = torch.randn(8, 4, device=device)
        opt.zero_grad()
        (f103.scaled_forward(model, x) - 2 * x[:, :3]).square().mean().backward()
        opt.step()
    w = model.g * model.v
    assert (w.norm(dim=1) - model.g.abs().flatten()).abs().max() > 0.1


def test_wn104_scale_of_a_class_that_hands_self_away_never_trains(device):
    model = f104.HandsSelfToAFunction(4).to(device)
    model(torch.randn(2, 4, device=device)).sum().backward()
    assert model.g.grad is None and model.v.grad is not None


def test_wn201_layer_normed_by_the_caller_is_rejected():
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        f201.optimize_normed_elsewhere()


def test_wn202_optimizer_from_a_helper_never_steps_g(device):
    torch.manual_seed(0)
    model, opt = f202.build_with_helper()
    model.to(device)
    g = model[0].parametrizations.weight.original0
    before = g.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 4, device=device)).square().mean().backward()
        opt.step()
    assert g.grad is not None and torch.equal(g, before)


def test_wn301_legacy_api_through_an_attribute():
    with pytest.warns(FutureWarning, match="torch.nn.utils.weight_norm` is deprecated"):
        conv = f301.NormFromAttribute().conv
    assert hasattr(conv, "weight_g") and not hasattr(conv, "parametrizations")


def test_wn302_legacy_remover_through_getattr_raises_on_the_new_api():
    model = nn.Module()
    model.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        f302.strip_through_getattr(model)
