"""WN106 in any nn.Module, in torch: a parameter created in forward is
never learned, whether or not the module normalizes a weight; the fixture's
near misses create only parameters that are not meant to learn. Runs on
CUDA when available, else on the CPU."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from conftest import load_fixture

f106 = load_fixture("wn106_parameter_in_forward")


def test_local_parameter_is_not_in_parameters_and_never_changes(device):
    model = f106.LearnedTemperature().to(device)
    logits = torch.randn(2, 5, device=device)
    first = model(logits)
    first.sum().backward()  # a gradient reaches the local parameter...
    assert list(model.parameters()) == []  # ...that no optimizer can hold
    torch.testing.assert_close(model(logits), first, rtol=0, atol=0)


def test_rewrapped_parameter_never_changes_under_an_optimizer(device):
    torch.manual_seed(0)
    model = f106.RewrapsEmbedding(4).to(device)
    original = model.mask_emb
    start = original.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x = torch.randn(3, 4, device=device)
    for _ in range(3):
        opt.zero_grad()
        model(x).square().sum().backward()
        opt.step()
    used = model.mask_emb
    assert used is not original  # re-created by forward
    assert used.grad is not None and original.grad is None
    assert all(used is not p for g in opt.param_groups for p in g["params"])
    torch.testing.assert_close(used.detach(), start, rtol=0, atol=0)
    torch.testing.assert_close(original.detach(), start, rtol=0, atol=0)


def test_scale_next_to_a_helper_direction_is_never_learned():
    """On the CPU: the fixture creates its scale there."""
    torch.manual_seed(0)
    model = f106.ScaleWithHelperDirection(4, 3)
    model(torch.randn(2, 4)).sum().backward()
    assert [name for name, _ in model.named_parameters()] == ["v"]


def test_near_misses_create_only_frozen_parameters(device):
    model = f106.FrozenTables(4).to(device)
    model(torch.randn(6, 4, device=device))
    created = {
        name: p.requires_grad
        for name, p in model.named_parameters()
        if name in ("table", "weight", "offsets", "extra")
    }
    assert created == dict.fromkeys(("table", "weight", "offsets", "extra"), False)


def test_rewrapped_dropped_weight_cuts_the_raw_weight_off(device):
    """The wrap makes the stored weight a leaf (so deepcopy works), and the
    raw weight the optimizer holds never gets a gradient."""
    torch.manual_seed(0)
    model = f106.WeightDropRewrapped(nn.Linear(4, 3)).to(device).train()
    raw = model.module.weight_raw
    start = raw.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(2, 4, device=device)).square().sum().backward()
        opt.step()
    assert raw.grad is None
    torch.testing.assert_close(raw.detach(), start, rtol=0, atol=0)
    assert model.module.weight.is_leaf
    copy.deepcopy(model)


def test_lazy_protocol_learns_after_a_dry_run(device):
    """The contract the rule trusts: a dry-run forward, then the optimizer."""
    torch.manual_seed(0)
    model = f106.LazyProjection(3).to(device)
    x = torch.randn(2, 4, device=device)
    model(x)  # the dry run creates the weight
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = model.weight.detach().clone()
    model(x).square().sum().backward()
    opt.step()
    assert not torch.equal(model.weight.detach(), before)


def test_wn106_scale_created_in_forward_is_never_registered(device):
    model = (
        load_fixture("wn106_parameter_in_forward")
        .ScaleWithHelperDirection(4, 3)
        .to(device)
    )
    model(torch.randn(2, 4, device=device))
    assert [name for name, _ in model.named_parameters()] == ["v"]
