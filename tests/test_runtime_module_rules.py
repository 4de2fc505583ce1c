"""WN101-WN106 in torch: the pathology each rule documents reproduces on the
fixture's positive modules, and each rule's "Use instead" code behaves like
torch's own weight norm. Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import copy
import tempfile

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import load_fixture
from torch.autograd.gradcheck import GradcheckError
from torch.func import functional_call

from wnlint.rules import RULES_BY_CODE

f101 = load_fixture("wn101_norm_derived_scale")
f102 = load_fixture("wn102_stored_computed_weight")
f103 = load_fixture("wn103_normalized_parameter_init")
f104 = load_fixture("wn104_unused_scale_parameter")
f105 = load_fixture("wn105_detached_norm")
f106 = load_fixture("wn106_parameter_in_forward")


def reference(v: torch.Tensor, g: torch.Tensor, bias: torch.Tensor | None = None):
    """torch's weight norm (parametrizations API) holding the same g and v."""
    out_features, in_features = v.shape
    layer = nn.Linear(in_features, out_features, bias=bias is not None)
    layer = layer.to(device=v.device, dtype=v.dtype)
    layer = nn.utils.parametrizations.weight_norm(layer)
    with torch.no_grad():
        layer.parametrizations.weight.original0.copy_(g.reshape(out_features, 1))
        layer.parametrizations.weight.original1.copy_(v)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def ref_g(layer):
    return layer.parametrizations.weight.original0


def ref_v(layer):
    return layer.parametrizations.weight.original1


def use_instead(code: str) -> dict:
    """Execute a rule's documented remedy and return its namespace."""
    namespace: dict = {}
    exec(RULES_BY_CODE[code].doc_code("Use instead"), namespace)
    return namespace


# -- WN101 norm-derived-scale ------------------------------------------------------


def test_wn101_weight_is_the_direction_and_the_gradient_is_a_plain_layers(device):
    torch.manual_seed(0)
    model = f101.RowwiseWNLinear(4, 3).double().to(device)
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    out = model(x)
    plain = F.linear(x, model.v, model.bias)
    torch.testing.assert_close(out, plain, rtol=0, atol=1e-12)  # w == v

    v_plain = model.v.detach().clone().requires_grad_()
    out.square().sum().backward()
    F.linear(x, v_plain, model.bias.detach()).square().sum().backward()
    torch.testing.assert_close(model.v.grad, v_plain.grad, rtol=0, atol=1e-10)

    # Not projected: weight norm's direction gradient is orthogonal to v.
    wn = reference(model.v.detach(), model.v.detach().norm(dim=1), model.bias.detach())
    wn(x).square().sum().backward()
    assert (ref_v(wn).grad * ref_v(wn)).sum(dim=1).abs().max() < 1e-8
    assert (model.v.grad * model.v).sum(dim=1).abs().max() > 1.0


def test_wn101_training_follows_a_plain_layer(device):
    torch.manual_seed(0)
    model = f101.RowwiseWNLinear(4, 3).to(device)
    plain = nn.Linear(4, 3).to(device)
    with torch.no_grad():
        plain.weight.copy_(model.v)
        plain.bias.copy_(model.bias)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in (model, plain)]
    for _ in range(50):
        x = torch.randn(8, 4, device=device)
        for m, opt in zip((model, plain), opts):
            opt.zero_grad()
            (m(x) - 1.0).square().mean().backward()
            opt.step()
    assert (model.v - plain.weight).abs().max() < 1e-5


@pytest.mark.parametrize("code", ["WN101", "WN105", "WN106"])
def test_leaf_parameter_remedy_matches_torch_weight_norm(code, device):
    """The documented `WNLinear` remedies: outputs and the gradients of g and
    v equal those of torch's own weight norm."""
    torch.manual_seed(0)
    fixed = use_instead(code)["WNLinear"](4, 3).double().to(device)
    wn = reference(fixed.v.detach(), fixed.g.detach())
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    out, expected = fixed(x), wn(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(fixed.g.grad, ref_g(wn).grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(fixed.v.grad, ref_v(wn).grad, rtol=0, atol=1e-10)


# -- WN102 stored-computed-weight --------------------------------------------------


def test_wn102_registered_parameter_raises_type_error(device):
    model = f102.WNLinearSubclass(4, 3).to(device)
    with pytest.raises(TypeError, match=r"cannot assign .* as parameter 'weight'"):
        model(torch.randn(2, 4, device=device))


def test_wn102_stored_weight_is_a_non_leaf_outside_the_state(device):
    model = f102.SeedWeightNormLinear(4, 3).to(device)
    model(torch.randn(2, 4, device=device))
    assert type(model.weight.grad_fn).__name__ == "DivBackward0"
    assert "weight" not in dict(model.named_parameters())
    assert "weight" not in model.state_dict()
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.Adam([model.weight])
    with pytest.raises(
        RuntimeError, match="Only Tensors created explicitly by the user"
    ):
        copy.deepcopy(model)


def test_wn102_remedy_deepcopies_and_matches_torch_weight_norm(device):
    torch.manual_seed(0)
    fixed = use_instead("WN102")["WNLinear"](4, 3).double().to(device)
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    out = fixed(x)
    clone = copy.deepcopy(fixed)  # no stored graph
    torch.testing.assert_close(clone(x), out)
    wn = reference(fixed.v.detach(), fixed.g.detach())
    torch.testing.assert_close(out, wn(x), rtol=0, atol=1e-12)


# -- WN103 normalized-parameter-init ----------------------------------------------


def test_wn103_norm_of_w_drifts_from_g(device):
    torch.manual_seed(0)
    model = f103.RowwiseScaled(4, 3).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        x = torch.randn(8, 4, device=device)
        opt.zero_grad()
        (model(x) - 2 * x[:, :3]).square().mean().backward()
        opt.step()
    w = model.g.unsqueeze(1) * model.v
    assert (w.norm(dim=1) - model.g.abs()).abs().max() > 0.1


def test_wn103_gradient_is_not_weight_norms_at_init(device):
    torch.manual_seed(0)
    model = f103.RowwiseScaled(4, 3).double().to(device)
    wn = reference(model.v.detach(), model.g.detach())
    x = torch.randn(6, 4, dtype=torch.float64, device=device)
    out, expected = model(x), wn(x)
    # The same outputs (v was normalized in float32 before .double()).
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    out.square().sum().backward()
    expected.square().sum().backward()
    assert (model.v.grad - ref_v(wn).grad).abs().max() > 0.1


def test_wn103_remedy_matches_torch_weight_norm(device):
    torch.manual_seed(0)
    w = torch.randn(3, 4, dtype=torch.float64, device=device)
    fixed = use_instead("WN103")["ScaledLinear"](w)
    wn = reference(fixed.v.detach(), fixed.g.detach())
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    fixed(x).square().sum().backward()
    wn(x).square().sum().backward()
    torch.testing.assert_close(fixed.v.grad, ref_v(wn).grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(fixed.g.grad, ref_g(wn).grad, rtol=0, atol=1e-10)


# -- WN104 unused-scale-parameter ---------------------------------------------------


def test_wn104_unused_scale_gets_no_gradient_and_never_trains(device):
    torch.manual_seed(0)
    model = f104.SeedWeightNormLinear(4, 3).to(device)
    before = model.weight_g.detach().clone()
    for optimizer in (
        torch.optim.Adam(model.parameters(), lr=0.1),
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1),
    ):
        for _ in range(3):
            optimizer.zero_grad()
            model(torch.randn(2, 4, device=device)).sum().backward()
            optimizer.step()
    assert model.weight_g.grad is None
    assert torch.equal(model.weight_g, before)
    with pytest.raises(
        RuntimeError, match="appears to not have been used in the graph"
    ):
        torch.autograd.grad(
            model(torch.randn(2, 4, device=device)).sum(), [model.weight_g]
        )


def test_wn104_ddp_fails_on_the_second_iteration():
    import torch.distributed as dist

    with tempfile.TemporaryDirectory() as store:
        dist.init_process_group(
            "gloo", init_method=f"file://{store}/store", rank=0, world_size=1
        )
        try:
            model = nn.parallel.DistributedDataParallel(f104.SeedWeightNormLinear(4, 3))
            model(torch.randn(2, 4)).sum().backward()
            with pytest.raises(
                RuntimeError, match="Expected to have finished reduction"
            ):
                model(torch.randn(2, 4)).sum().backward()
        finally:
            dist.destroy_process_group()


def test_wn104_remedy_trains_the_scale(device):
    torch.manual_seed(0)
    fixed = use_instead("WN104")["WeightNormLinear"](4, 3).double().to(device)
    wn = reference(fixed.weight_v.detach(), fixed.weight_g.detach())
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    fixed(x).square().sum().backward()
    wn(x).square().sum().backward()
    torch.testing.assert_close(fixed.weight_g.grad, ref_g(wn).grad.flatten())
    torch.testing.assert_close(fixed.weight_v.grad, ref_v(wn).grad)


# -- WN105 detached-norm ------------------------------------------------------------

ROWWISE_DETACHED = ["NoGradNorm", "DetachedNormWN", "DataNorm"]


@pytest.mark.parametrize("name", ROWWISE_DETACHED)
def test_wn105_forward_and_g_right_but_v_grad_wrong(name, device):
    torch.manual_seed(0)
    model = getattr(f105, name)(4, 3).double().to(device)
    wn = reference(model.v.detach(), model.g.detach())
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    out, expected = model(x), wn(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(model.g.grad, ref_g(wn).grad, rtol=0, atol=1e-9)
    assert (model.v.grad - ref_v(wn).grad).abs().max() > 1.0


def test_wn105_item_norm_gradient_is_wrong(device):
    torch.manual_seed(0)
    model = f105.ItemNorm(4, 3).double().to(device)
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    model(x).square().sum().backward()
    v = model.v.detach().clone().requires_grad_()
    F.linear(x, model.g.detach() * v / v.norm()).square().sum().backward()
    assert (model.v.grad - v.grad).abs().max() > 1.0


def test_wn105_gradcheck_fails_for_the_direction(device):
    torch.manual_seed(0)
    model = f105.NoGradNorm(4, 3).double().to(device)
    x = torch.randn(5, 4, dtype=torch.float64, device=device)
    g = model.g.detach().clone().requires_grad_()
    v = model.v.detach().clone().requires_grad_()
    with pytest.raises(
        GradcheckError,
        match="Jacobian mismatch for output 0 with respect to input 1",
    ):
        torch.autograd.gradcheck(
            lambda g, v: functional_call(model, {"g": g, "v": v}, (x,)), (g, v)
        )


def test_wn105_data_direction_gets_no_gradient(device):
    model = f105.DataDirection(4, 3).to(device)
    model(torch.randn(2, 4, device=device)).sum().backward()
    assert model.v.grad is None and model.g.grad is not None


# -- WN106 parameter-in-forward -----------------------------------------------------


def test_wn106_local_parameter_is_never_registered_or_learned(device):
    torch.manual_seed(0)
    model = f106.LocalScale(4, 3).to(device)
    assert [name for name, _ in model.named_parameters()] == ["v"]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(2, 4, device=device)
    first = model(x)
    for _ in range(3):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    # The scale is re-created at 1.0 on each call: every row keeps ||w|| = 1.
    w = model.v / model.v.norm(dim=1, keepdim=True)
    torch.testing.assert_close(model(x), F.linear(x, w))
    assert not torch.equal(first, model(x))  # only the direction moved


def test_wn106_lazy_parameter_misses_an_earlier_optimizer(device):
    model = f106.LazyScale(4, 3).to(device)
    assert "g" not in dict(model.named_parameters())
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(2, 4, device=device)).sum().backward()
    assert "g" in dict(model.named_parameters())  # registered only now
    before = model.g.detach().clone()
    opt.step()
    assert model.g.grad is not None and torch.equal(model.g, before)
