"""WN306 in torch: each remover the fixture flags raises ``ValueError`` on
the modules it names (or, swallowed, leaves weight norm in place), and the
near misses remove what they normed. Runs on CUDA when available, else on
the CPU."""

from __future__ import annotations

import pytest
import torch
from conftest import load_fixture
from torch.nn.utils import parametrize

f = load_fixture("wn306_remover_without_weight_norm")

LEGACY = "weight_norm of 'weight' not found in Conv1d"
NEW = "does not have a parametrization on weight"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("SourceFilter", f"Conv1d.*{NEW}"),
        ("LegacySourceFilter", LEGACY),
        ("GuardedSourceFilter", LEGACY),
        ("RecurrentEncoder", f"LSTM.*{NEW}"),
        ("StreamingEncoder", f"LSTM.*{NEW}"),
        ("PlainHead", f"Conv1d.*{NEW}"),
        ("WrappedLayers", f"NormedInside.*{NEW}"),
    ],
)
def test_the_flagged_remover_raises(name, error, device):
    torch.manual_seed(0)
    model = getattr(f, name)().to(device)
    with pytest.raises(ValueError, match=f"(?s){error}"):
        model.remove_weight_norm()


def test_a_remover_on_a_layer_never_built_raises_attribute_error(device):
    """StyleTTS2's generator: ``remove_weight_norm`` stops at a layer its
    class never builds, and the layers after it keep their weight norm."""
    torch.manual_seed(0)
    model = f.UnbuiltPre().to(device)
    with pytest.raises(AttributeError, match="conv_pre"):
        model.remove_weight_norm()
    assert not parametrize.is_parametrized(model.ups[0], "weight")
    assert parametrize.is_parametrized(model.conv_post, "weight")


def test_a_swallowed_remover_leaves_weight_norm(device):
    torch.manual_seed(0)
    model = f.NormedInPlace().to(device)
    model.remove_weight_norm()  # no error: it is swallowed
    for tensor in ("weight_ih_l0", "weight_hh_l0"):
        assert parametrize.is_parametrized(model.rnn, tensor)


def test_the_recurrent_model_trains_before_removal(device):
    torch.manual_seed(0)
    model = f.RecurrentEncoder().to(device)
    model(torch.randn(3, 2, 4, device=device)).square().sum().backward()
    original = model.lstm.parametrizations.weight_hh_l0.original0
    assert original.grad is not None


@pytest.mark.parametrize(
    "name",
    [
        "Vocoder",
        "RecurrentBoth",
        "Optional",
        "NormedInLoop",
        "Tested",
        "Tolerant",
        "Child",
        "Spectral",
        "FromHelper",
        "HandedAway",
        "Applied",
        "BuiltPre",
        "OptionalPre",
        "TolerantPre",
        "SelfNormedLayers",
    ],
)
def test_near_misses_remove_without_error(name, device):
    torch.manual_seed(0)
    model = getattr(f, name)().to(device)
    model.remove_weight_norm()
    left = [n for n, m in model.named_modules() if n and parametrize.is_parametrized(m)]
    if name == "Spectral":
        return  # spectral norm is a parametrization too, on `weight`: removed
    assert left == []
