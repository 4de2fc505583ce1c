"""The fix pairs in torch. For each module of ``fixtures/fix/*_before.py``
and its fixed twin in ``*_after.py``, built from the same seed:

1. the forward output at initialisation is unchanged by the fix (each fix
   promises this);
2. after the fix, the gradients of g, v and bias equal those of
   ``torch.nn.utils.parametrizations.weight_norm`` on the equivalent
   ``nn.Linear``/``nn.Conv1d`` holding the same tensors (float64);
3. a few optimizer steps on the fixed module move g and v.

Runs on CUDA when available, else on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture


def load(name: str):
    return load_fixture(f"fix/{name}")


@dataclass(frozen=True)
class Case:
    pair: str  # "wn101" -> wn101_before.py / wn101_after.py
    cls: str
    layer: str  # "linear" or "conv1d"
    g: str
    v: str

    @property
    def id(self) -> str:
        return f"{self.pair}-{self.cls}"


CASES = [
    Case("wn101", "WNLinear", "linear", "g", "v"),
    Case("wn101", "WNConv1d", "conv1d", "g", "direction"),
    Case("wn102", "WNLinear", "linear", "g", "v"),
    Case("wn102", "WNConv1d", "conv1d", "g", "v"),
    Case("wn102_unread", "WNLinear", "linear", "g", "v"),
    Case("wn103", "WNLinear", "linear", "g", "v"),
    Case("wn103", "WNConv1d", "conv1d", "g", "v"),
    Case("wn104", "WeightNormLinear", "linear", "weight_g", "weight_v"),
    Case("wn104", "ColumnScaleLinear", "linear", "g", "v"),
    Case("wn105", "WNLinear", "linear", "g", "v"),
    Case("wn105", "WNConv1d", "conv1d", "g", "v"),
]
IN, OUT, KERNEL = 4, 3, 3


def build(case: Case, side: str, device) -> nn.Module:
    module = load(f"{case.pair}_{side}")
    torch.manual_seed(0)
    args = (IN, OUT) if case.layer == "linear" else (IN, OUT, KERNEL)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the initialisation too
    try:
        return getattr(module, case.cls)(*args).to(device)
    finally:
        torch.set_default_dtype(default)


def batch(case: Case, device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    shape = (5, IN) if case.layer == "linear" else (2, IN, 6)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    out_shape = (5, OUT) if case.layer == "linear" else (2, OUT, 6)
    mix = torch.randn(out_shape, generator=generator, dtype=torch.float64)
    return x.to(device), mix.to(device)


def reference(case: Case, g, v, bias, device) -> nn.Module:
    """torch's own weight norm, holding the fixed module's g, v and bias."""
    if case.layer == "linear":
        layer = nn.Linear(IN, OUT)
    else:
        layer = nn.Conv1d(IN, OUT, KERNEL, padding=1)
    layer = nn.utils.parametrizations.weight_norm(layer.double().to(device))
    weight = layer.parametrizations.weight
    with torch.no_grad():
        weight.original0.copy_(g.reshape(weight.original0.shape))
        weight.original1.copy_(v)
        layer.bias.copy_(bias)
    return layer


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fix_keeps_the_initial_output(case, device):
    before, after = build(case, "before", device), build(case, "after", device)
    x, _ = batch(case, device)
    with torch.no_grad():
        torch.testing.assert_close(after(x), before(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fixed_gradients_match_torch_weight_norm(case, device):
    fixed = build(case, "after", device)
    g, v, bias = getattr(fixed, case.g), getattr(fixed, case.v), fixed.bias
    assert all(isinstance(p, nn.Parameter) and p.is_leaf for p in (g, v, bias))
    ref = reference(case, g, v, bias, device)
    x, mix = batch(case, device)
    (fixed(x) * mix).sum().backward()
    (ref(x) * mix).sum().backward()
    weight = ref.parametrizations.weight
    for ours, theirs in (
        (g, weight.original0),
        (v, weight.original1),
        (bias, ref.bias),
    ):
        assert ours.grad is not None
        torch.testing.assert_close(
            ours.grad.reshape(theirs.shape), theirs.grad, rtol=1e-10, atol=1e-12
        )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_optimizer_steps_move_g_and_v(case, device):
    fixed = build(case, "after", device)
    g, v = getattr(fixed, case.g), getattr(fixed, case.v)
    start = g.detach().clone(), v.detach().clone()
    opt = torch.optim.Adam(fixed.parameters(), lr=0.05)
    x, mix = batch(case, device)
    for _ in range(3):
        opt.zero_grad()
        (fixed(x) * mix).sum().backward()
        opt.step()
    assert (g.detach() - start[0]).abs().max() > 1e-3
    assert (v.detach() - start[1]).abs().max() > 1e-3


# -- WN202: the fix is a statement order, so the check is the training itself.


@pytest.mark.parametrize("builder", ["build_linear", "build_conv"])
def test_wn202_fix_makes_the_optimizer_step_g_and_v(builder, device):
    def train(side: str):
        torch.manual_seed(0)
        model, opt = getattr(load(f"wn202_{side}"), builder)()
        model = model.double().to(device)
        weight = model[0].parametrizations.weight
        start = weight.original0.detach().clone(), weight.original1.detach().clone()
        in_channels = 4 if builder == "build_linear" else 2
        shape = (5, in_channels) if builder == "build_linear" else (2, 2, 6)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
        x = x.double().to(device)
        for _ in range(3):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
        return (
            (weight.original0.detach() - start[0]).abs().max().item(),
            (weight.original1.detach() - start[1]).abs().max().item(),
        )

    assert train("before") == (0.0, 0.0)  # the pathology: never stepped
    moved_g, moved_v = train("after")
    assert moved_g > 1e-4 and moved_v > 1e-4
