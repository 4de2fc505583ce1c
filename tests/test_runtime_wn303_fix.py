"""WN303's fix in torch: ``fixtures/fix/wn303_before.py`` and its fixed
twin. Before the fix, removing weight norm raises ``ValueError`` on the API
the module was not normed with; after it, removal works whichever API
applied the norm (the version-gated shim's new-API path, its legacy path
on a torch without ``parametrizations.weight_norm``, and a legacy applier
the migration converted), and the outputs match those before removal.

Runs on CUDA when available, else on the CPU.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture

CHANNELS = 3


def build(side: str, cls: str, device) -> nn.Module:
    module = load_fixture(f"fix/wn303_{side}")
    torch.manual_seed(0)
    return getattr(module, cls)(CHANNELS).to(device)


def batch(device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(2, CHANNELS, 8, generator=generator).to(device)


def normed(side: str, cls: str, device) -> nn.Module:
    model = build(side, cls, device)
    model.apply_weight_norm()
    return model


@pytest.mark.parametrize("cls", ["Block", "LegacyBlock"])
def test_removal_raises_before_the_fix(cls, device):
    model = normed("before", cls, device)
    with pytest.raises(ValueError):
        model.remove_weight_norm()


@pytest.mark.parametrize("cls", ["Block", "LegacyBlock"])
def test_removal_works_after_the_fix_with_the_same_outputs(cls, device):
    model = normed("after", cls, device)
    x = batch(device)
    with torch.no_grad():
        expected = model(x)
        model.remove_weight_norm()
        got = model(x)
    assert not any(hasattr(m, "parametrizations") for m in model.modules())
    assert not any(
        n.endswith(("weight_g", "weight_v")) for n, _ in model.named_parameters()
    )
    torch.testing.assert_close(got, expected)


def test_the_shims_legacy_path_is_removed_too(monkeypatch, device):
    """On a torch without the new API the shim applies the legacy one: the
    guarded remover takes its other branch."""
    monkeypatch.delattr(nn.utils.parametrizations, "weight_norm")
    with pytest.warns(FutureWarning):  # the legacy API is deprecated
        model = normed("after", "Block", device)
    assert all(hasattr(m, "weight_g") for m in (model.conv, *model.convs))
    x = batch(device)
    with torch.no_grad():
        expected = model(x)
        model.remove_weight_norm()
        got = model(x)
    assert not any(hasattr(m, "weight_g") for m in model.modules())
    torch.testing.assert_close(got, expected)
