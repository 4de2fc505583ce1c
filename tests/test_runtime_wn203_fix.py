"""WN203's fix in torch: ``fixtures/fix/wn203_before.py`` and its fixed
twin ``wn203_after.py``, and the package ``fixtures/wn203_package`` fixed in
a temporary copy (the init helper lives in a sibling module).

The reference is the original code with weight norm replaced by the
identity, built from the same seed: weight norm draws no random numbers and
starts at ``g = ||v||``, so that is the code with every init running before
weight norm, as its author meant. For each class:

* the fixed module's effective weights equal the reference's (the init
  took effect), where the original keeps torch's default on the normed
  layers (the bug);
* plain layers keep exactly the values the original gives them;
* g and v stay leaf parameters, the state_dict's keys do not change and a
  state_dict saved from the original loads with ``strict=True``;
* ``deepcopy`` works; forward and backward are finite and reach g and v.

Construction (where the inits run) is on the CPU; forward and backward run
on CUDA when it is there.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import sys

import pytest
import torch
import torch.nn as nn
from conftest import FIXTURES, imported_from, load_fixture, run_cli
from torch.nn.utils import parametrize
from torch.nn.utils.weight_norm import WeightNorm

BEFORE = load_fixture("fix/wn203_before")
AFTER = load_fixture("fix/wn203_after")
CLASSES = [
    "Upsampler",
    "Codec",
    "TemporalBlock",
    "ConvNeXtBlock",
    "ScaledResidual",
    "Encoder",
    "LegacyBlock",
]
NORMS = ("weight_norm", "legacy_weight_norm")


def identity(module, name="weight", dim=0):
    return module


@contextlib.contextmanager
def without_weight_norm(module):
    """The module's weight-norm names bound to the identity meanwhile."""
    saved = {name: getattr(module, name) for name in NORMS if hasattr(module, name)}
    try:
        for name in saved:
            setattr(module, name, identity)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def build(module, cls: str, plain: bool = False) -> nn.Module:
    torch.manual_seed(0)
    with without_weight_norm(module) if plain else contextlib.nullcontext():
        return getattr(module, cls)()


def is_normed(layer: nn.Module) -> bool:
    return parametrize.is_parametrized(layer, "weight") or hasattr(layer, "weight_g")


def effective(layer: nn.Module) -> torch.Tensor:
    """The weight the layer's next forward uses (the legacy API's hook
    recomputes it from g and v)."""
    for hook in layer._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm):
            return hook.compute_weight(layer).detach()
    return layer.weight.detach()


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: effective(layer)
        for name, layer in model.named_modules()
        if isinstance(getattr(layer, "weight", None), torch.Tensor)
    }


def magnitude_and_direction(layer: nn.Module) -> tuple[nn.Parameter, nn.Parameter]:
    if hasattr(layer, "weight_g"):
        return layer.weight_g, layer.weight_v
    weight = layer.parametrizations.weight
    return weight.original0, weight.original1


@pytest.mark.parametrize("cls", CLASSES)
def test_the_fixed_init_lands_on_the_effective_weight(cls):
    reference = weights(build(BEFORE, cls, plain=True))
    fixed = weights(build(AFTER, cls))
    assert fixed.keys() == reference.keys()
    for name, weight in fixed.items():
        torch.testing.assert_close(weight, reference[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", CLASSES)
def test_the_original_init_has_no_effect_on_the_normed_layers(cls):
    model = build(BEFORE, cls)
    reference = weights(build(BEFORE, cls, plain=True))
    normed = [name for name, layer in model.named_modules() if is_normed(layer)]
    assert normed
    for name in normed:
        assert not torch.allclose(
            effective(dict(model.named_modules())[name]), reference[name]
        )


@pytest.mark.parametrize("cls", CLASSES)
def test_plain_layers_keep_their_exact_values(cls):
    before, after = build(BEFORE, cls), build(AFTER, cls)
    layers = dict(before.named_modules())
    plain = 0
    for name, layer in after.named_modules():
        if isinstance(getattr(layer, "weight", None), torch.Tensor) and not is_normed(
            layer
        ):
            plain += 1
            assert torch.equal(layer.weight, layers[name].weight), name
    if cls in ("Upsampler", "Codec", "TemporalBlock"):
        assert plain  # the shared hooks reach plain layers too


@pytest.mark.parametrize("cls", CLASSES)
def test_leaves_keys_and_checkpoints_are_unchanged(cls):
    before, after = build(BEFORE, cls), build(AFTER, cls)
    assert list(after.state_dict()) == list(before.state_dict())
    after.load_state_dict(before.state_dict(), strict=True)
    for layer in after.modules():
        if is_normed(layer):
            for p in magnitude_and_direction(layer):
                assert isinstance(p, nn.Parameter) and p.is_leaf and p.requires_grad


@pytest.mark.parametrize("cls", CLASSES)
def test_deepcopy_forward_and_backward(cls, device):
    model = build(AFTER, cls)
    if cls == "LegacyBlock":
        # The legacy API's weight is a non-leaf attribute: no deepcopy,
        # before the fix as after it (WN301's migration is the cure).
        for built in (build(BEFORE, cls), model):
            with pytest.raises(RuntimeError, match="deepcopy"):
                copy.deepcopy(built)
    else:
        model = copy.deepcopy(model)
    model = model.to(device)
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(1)).to(device)
    out = model(x)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    for layer in model.modules():
        if is_normed(layer):
            for p in magnitude_and_direction(layer):
                assert p.grad is not None and torch.isfinite(p.grad).all()


def test_a_zero_init_zeroes_the_magnitude_and_keeps_the_direction():
    model = build(AFTER, "ConvNeXtBlock")
    g, v = magnitude_and_direction(model.proj_down)
    assert torch.count_nonzero(g) == 0 and torch.count_nonzero(v) > 0
    assert torch.count_nonzero(model.proj_down.weight) == 0
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(1))
    out = model(x)
    torch.testing.assert_close(out, x)  # the residual branch starts at zero
    out.square().sum().backward()
    assert torch.count_nonzero(g.grad) > 0  # training moves the magnitude


def test_a_relative_scale_scales_the_magnitude():
    model = build(AFTER, "ScaledResidual")
    reference = build(BEFORE, "ScaledResidual", plain=True)
    g, v = magnitude_and_direction(model.conv)
    norm = torch.linalg.vector_norm(v, dim=(1, 2), keepdim=True)
    torch.testing.assert_close(g, 0.1 * norm, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(effective(model.conv), reference.conv.weight.detach())


# -- the init helper in a sibling module --------------------------------------


def imported_package(root):
    """``wn203_package`` imported from ``root`` as a top-level package."""
    return imported_from(root, "wn203_package.model", ("wn203_package",))


def test_the_sibling_helper_is_fixed_and_lands(tmp_path):
    shutil.copytree(FIXTURES / "wn203_package", tmp_path / "wn203_package")
    with imported_package(tmp_path) as model:
        torch.manual_seed(0)
        original = weights(model.Model())
        torch.manual_seed(0)
        plain = weights(model.PlainModel())
        with without_weight_norm(sys.modules["wn203_package.layers"]):
            torch.manual_seed(0)
            reference = weights(model.Model())
    result = run_cli("fix", "--unsafe-fixes", "wn203_package", cwd=tmp_path)
    assert "fixed in utils.py" in result.stderr, result.stderr
    with imported_package(tmp_path) as model:
        torch.manual_seed(0)
        fixed = weights(model.Model())
        torch.manual_seed(0)
        plain_fixed = weights(model.PlainModel())
    for name, weight in fixed.items():
        torch.testing.assert_close(weight, reference[name], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(original[name], reference[name])
    for name, weight in plain_fixed.items():
        assert torch.equal(weight, plain[name])
