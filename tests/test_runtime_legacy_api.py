"""WN301/WN302 in torch: each documented pathology reproduces on the
fixture code, and the fix (the parametrizations API) behaves like the
legacy API it replaces. Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture
from torch.nn.utils import parametrize

wn301 = load_fixture("wn301_legacy_weight_norm")
wn302 = load_fixture("wn302_legacy_remove_weight_norm")

new_weight_norm = nn.utils.parametrizations.weight_norm


def quiet(factory, *args, **kwargs):
    """Build something on the legacy API without its FutureWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return factory(*args, **kwargs)


# -- WN301 -------------------------------------------------------------------


def test_legacy_call_warns_deprecated():
    with pytest.warns(FutureWarning, match="torch.nn.utils.weight_norm` is deprecated"):
        wn301.WNConv1d(2, 3, 3)


def test_legacy_module_cannot_be_deepcopied(device):
    model = quiet(wn301.Generator).to(device)
    with pytest.raises(
        RuntimeError, match="Only Tensors created explicitly by the user"
    ):
        copy.deepcopy(model)


def test_legacy_module_cannot_be_scripted():
    conv = quiet(wn301.WNConv1d, 2, 3, 3)
    with pytest.raises(
        AttributeError, match="'WeightNorm' object has no attribute '__name__'"
    ):
        torch.jit.script(conv)


def test_legacy_weight_is_not_a_leaf(device):
    conv = quiet(wn301.WNConv1d, 2, 3, 3).to(device)
    conv(torch.randn(1, 2, 5, device=device))
    assert not conv.weight.is_leaf
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.Adam([conv.weight])


LAYERS = {
    "linear": (lambda: nn.Linear(5, 4), (3, 5)),
    "conv1d": (lambda: nn.Conv1d(3, 4, 3), (2, 3, 9)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3), (2, 3, 6, 6)),
    "grouped_conv1d": (lambda: nn.Conv1d(4, 6, 3, groups=2), (2, 4, 9)),
}


@pytest.mark.parametrize("dim", [0, None, 1])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fix_matches_legacy_outputs_and_gradients(kind, dim, device):
    """Same arguments, same dim semantics: outputs and grads of g, v, bias agree."""
    factory, shape = LAYERS[kind]
    torch.manual_seed(0)
    base = factory().double().to(device)
    old = quiet(nn.utils.weight_norm, copy.deepcopy(base), dim=dim)
    new = new_weight_norm(copy.deepcopy(base), dim=dim)
    x = torch.randn(*shape, dtype=torch.float64, device=device)

    out_old, out_new = old(x), new(x)
    torch.testing.assert_close(out_new, out_old, rtol=0, atol=1e-12)
    (out_old**2).sum().backward()
    (out_new**2).sum().backward()
    g, v = new.parametrizations.weight.original0, new.parametrizations.weight.original1
    torch.testing.assert_close(g.grad, old.weight_g.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(v.grad, old.weight_v.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(new.bias.grad, old.bias.grad, rtol=0, atol=1e-10)


def test_fixed_generator_loads_old_checkpoints_and_deepcopies(device):
    """The fix keeps old checkpoints loadable and removes the deepcopy failure."""
    torch.manual_seed(0)
    old = quiet(wn301.Generator).to(device)
    state = old.state_dict()
    assert any(k.endswith("weight_g") for k in state)

    fixed = quiet(wn301.Generator)
    for module in fixed.modules():
        if hasattr(module, "weight_g"):
            nn.utils.remove_weight_norm(module)
            dim = None if isinstance(module, nn.Linear) else 0
            new_weight_norm(module, dim=dim)
    fixed = fixed.to(device)
    fixed.load_state_dict(state)  # weight_g/weight_v are renamed on load
    assert not any(k.endswith("weight_g") for k in fixed.state_dict())

    mel = torch.randn(2, 8, 11, device=device)
    torch.testing.assert_close(fixed(mel), old(mel))
    clone = copy.deepcopy(fixed)
    torch.testing.assert_close(clone(mel), old(mel))


# -- WN302 -------------------------------------------------------------------


def test_legacy_remover_raises_on_the_new_api():
    conv = new_weight_norm(nn.Conv1d(2, 3, 3))
    with pytest.raises(
        ValueError, match="weight_norm of 'weight' not found in Parametrized"
    ):
        nn.utils.remove_weight_norm(conv)


def test_new_remover_raises_on_the_legacy_api():
    conv = quiet(nn.utils.weight_norm, nn.Conv1d(2, 3, 3))
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(conv, "weight")


def test_shimmed_vocoder_cannot_remove_its_weight_norm():
    """The flagged line in ShimmedVocoder raises on any torch with the new API."""
    model = wn302.ShimmedVocoder()
    model.apply_weight_norm()
    assert parametrize.is_parametrized(model.conv, "weight")
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        model.remove_weight_norm()


def test_tolerant_removal_handles_both_apis():
    """The near miss the rule leaves alone really does work for both APIs."""
    for norm in (new_weight_norm, nn.utils.weight_norm):
        model = nn.Sequential(quiet(norm, nn.Conv1d(2, 3, 3)))
        wn302.strip_tolerantly(model)
        conv = model[0]
        assert not parametrize.is_parametrized(conv) and not hasattr(conv, "weight_g")
        assert isinstance(conv.weight, nn.Parameter)


def test_both_removers_leave_bitwise_identical_weights(device):
    torch.manual_seed(0)
    base = nn.Conv1d(4, 5, 3).to(device)
    old = quiet(nn.utils.weight_norm, copy.deepcopy(base))
    new = new_weight_norm(copy.deepcopy(base))
    old(torch.randn(1, 4, 6, device=device))
    nn.utils.remove_weight_norm(old)
    parametrize.remove_parametrizations(new, "weight")
    assert torch.equal(old.weight, new.weight)


def test_legacy_vocoder_round_trip(device):
    """The fixture's legacy pair works on the legacy API alone (what WN302's
    fix must keep working once both rules are fixed together)."""
    torch.manual_seed(0)
    model = quiet(wn302.Vocoder).to(device)
    x = torch.randn(1, 8, 5, device=device)
    before = model(x)
    model.remove_weight_norm()
    assert not hasattr(model.conv_post, "weight_g")
    torch.testing.assert_close(model(x), before)
