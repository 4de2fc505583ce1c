"""WN201-WN204 and WN303 in torch: the pathology each rule documents
reproduces when the fixture's flagged code runs, and the near misses work.
Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import types
import warnings

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture
from torch.nn.utils import parametrize

f201 = load_fixture("wn201_optimizer_non_leaf")
f202 = load_fixture("wn202_optimizer_before_weight_norm")
f203 = load_fixture("wn203_init_after_weight_norm")
f204 = load_fixture("wn204_repeated_weight_norm")
f303 = load_fixture("wn303_mismatched_weight_norm_removal")


@pytest.fixture(autouse=True)
def _quiet_legacy_api():
    """The fixtures use the deprecated API on purpose (WN301 flags it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


# -- WN201 optimizer-non-leaf ---------------------------------------------------


@pytest.mark.parametrize(
    "build",
    ["optimize_weight_directly", "param_groups_with_legacy_api", "normalized_tensor"],
)
def test_wn201_optimizer_rejects_the_derived_tensor(build):
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        getattr(f201, build)()


@pytest.mark.parametrize(
    "build",
    ["optimize_leaves", "optimize_module_parameters", "detached_copy", "plain_tensor"],
)
def test_wn201_near_misses_build(build):
    assert isinstance(getattr(f201, build)(), torch.optim.Optimizer)


def test_wn201_a_tensor_normalized_from_data_is_a_leaf_that_trains():
    torch.manual_seed(0)
    batch = types.SimpleNamespace(embeddings=torch.randn(3, 4))
    opt = f201.normalized_data(batch)
    (start,) = opt.param_groups[0]["params"]
    assert start.is_leaf and start.requires_grad
    before = start.detach().clone()
    start.sum().backward()
    opt.step()
    assert not torch.equal(before, start.detach())


# -- WN202 optimizer-before-weight-norm ----------------------------------------


def _train(model, opt, device, steps=5):
    torch.manual_seed(0)
    losses = []
    for _ in range(steps):
        x = torch.randn(16, 4, device=device)
        opt.zero_grad()
        loss = (model(x) - x.sum(dim=1, keepdim=True)).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("build", ["build", "build_legacy"])
def test_wn202_g_and_v_are_never_stepped(build, device):
    torch.manual_seed(0)
    model, opt = getattr(f202, build)()
    model.to(device)
    layer = model[0] if build == "build" else model[2]
    if build == "build":
        g = layer.parametrizations.weight.original0
        v = layer.parametrizations.weight.original1
    else:
        g, v = layer.weight_g, layer.weight_v
    before = g.detach().clone(), v.detach().clone()
    losses = _train(model, opt, device)
    assert torch.equal(g, before[0]) and torch.equal(v, before[1])
    assert g.grad is not None and g.grad.abs().sum() > 0
    # zero_grad() does not clear them: their gradient keeps accumulating.
    grad = g.grad.clone()
    _train(model, opt, device, steps=1)
    assert g.grad.abs().sum() > grad.abs().sum()
    assert losses[-1] < losses[0]  # the loss still falls: nothing looks wrong


def test_wn202_in_order_trains_g_and_v(device):
    torch.manual_seed(0)
    model, opt = f202.build_in_order()
    model.to(device)
    g = model[0].parametrizations.weight.original0
    before = g.detach().clone()
    _train(model, opt, device)
    assert not torch.equal(g, before)


# -- WN203 init-after-weight-norm -----------------------------------------------


def test_wn203_init_after_weight_norm_has_no_effect(device):
    torch.manual_seed(0)
    conv = f203.init_after_new_api().to(device)
    torch.manual_seed(0)
    untouched = nn.utils.parametrizations.weight_norm(nn.Conv1d(4, 4, 3)).to(device)
    assert torch.equal(conv.weight, untouched.weight)


def test_wn203_legacy_write_is_undone_by_the_next_forward(device):
    torch.manual_seed(0)
    layer = f203.init_after_legacy_api().to(device)
    written = layer.weight.detach().clone()
    layer(torch.randn(2, 4, device=device))  # the pre-hook recomputes weight
    recomputed = (
        layer.weight_g * layer.weight_v / layer.weight_v.norm(dim=1, keepdim=True)
    )
    assert torch.allclose(layer.weight, recomputed)
    assert not torch.allclose(layer.weight, written)


def test_wn203_init_of_data_after_weight_norm_has_no_effect(device):
    """`nn.init.normal_(conv.weight.data, ...)` writes the storage of a
    tensor that is computed anew on every access: nothing changes."""
    torch.manual_seed(0)
    conv = f203.init_of_data_after_weight_norm().to(device)
    torch.manual_seed(0)
    untouched = nn.utils.parametrizations.weight_norm(nn.Conv1d(4, 4, 3)).to(device)
    assert torch.equal(conv.weight, untouched.weight)
    assert conv.weight.std().item() > 0.05  # torch's default, not std 0.01


def test_wn203_init_of_data_before_weight_norm_takes_effect():
    torch.manual_seed(0)
    conv = f203.init_of_data_before_weight_norm()
    assert conv.weight.std().item() < 0.02  # the init's std 0.01 holds


def test_wn203_init_before_weight_norm_takes_effect():
    torch.manual_seed(0)
    conv = f203.init_before_weight_norm()
    torch.manual_seed(0)
    plain = nn.utils.parametrizations.weight_norm(nn.Conv1d(4, 4, 3))
    assert not torch.allclose(conv.weight, plain.weight)


# -- WN204 repeated-weight-norm --------------------------------------------------


def test_wn204_legacy_api_raises():
    with pytest.raises(
        RuntimeError,
        match="Cannot register two weight_norm hooks on the same parameter weight",
    ):
        f204.twice_legacy_api()


@pytest.mark.parametrize("build", ["twice_new_api", "nested"])
def test_wn204_new_api_stacks_a_parametrization_that_fails_on_use(build):
    module = getattr(f204, build)()  # accepted silently
    assert len(module.parametrizations.weight) == 2
    with pytest.raises(
        TypeError, match="missing 1 required positional argument: 'weight_v'"
    ):
        module(
            torch.randn(2, 4, 5) if isinstance(module, nn.Conv1d) else torch.randn(2, 4)
        )


def test_wn204_near_misses_apply_once():
    assert len(f204.new_module_each_time().parametrizations.weight) == 1
    layer = f204.different_parameters()
    assert len(layer.parametrizations.weight) == len(layer.parametrizations.bias) == 1


# -- WN303 mismatched-weight-norm-removal ---------------------------------------


def test_wn303_legacy_remover_after_the_shim_raises():
    block = f303.ShimmedBlock()
    block.apply_weight_norm()
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        block.remove_weight_norm()


def test_wn303_new_remover_on_the_legacy_api_raises():
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        f303.LegacyBlock().remove_weight_norm()


def test_wn303_guarded_removal_works():
    block = f303.GuardedBlock()
    block.apply_weight_norm()
    block.remove_weight_norm()
    assert not parametrize.is_parametrized(block.conv)
    assert isinstance(block.conv.weight, nn.Parameter)
