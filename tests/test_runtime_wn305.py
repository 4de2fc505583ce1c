"""WN305 in torch: the remover looked up in ``parametrizations`` and the
remover called without the tensor's name fail as the rule says, the
fallback import the fixture shows always takes the legacy remover (which
then raises on a parametrized module), and the near misses work."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm


def normed() -> nn.Module:
    return weight_norm(nn.Conv1d(2, 2, 3))


def test_the_remover_is_not_in_parametrizations():
    with pytest.raises(AttributeError, match="remove_parametrizations"):
        torch.nn.utils.parametrizations.remove_parametrizations(normed(), "weight")
    with pytest.raises(ImportError):
        exec("from torch.nn.utils.parametrizations import remove_parametrizations")


def test_the_remover_needs_the_tensor_name():
    with pytest.raises(TypeError, match="tensor_name"):
        parametrize.remove_parametrizations(normed())


def test_the_fixtures_positives_fail_and_its_fallback_is_the_legacy_remover():
    fixture = load_fixture("wn305_broken_remover_call")
    assert fixture.remover() is torch.nn.utils.remove_weight_norm
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        fixture.remover()(normed())
    model = nn.Sequential(normed())
    with pytest.raises(AttributeError):
        fixture.remove_weight_norms(model)
    with pytest.raises(TypeError):
        fixture.remove_all(model)
    with pytest.raises(AttributeError):
        fixture.remover_taken_as_value(model)
    with pytest.raises(TypeError):
        fixture.Vocoder().remove_weight_norm()


def test_the_near_misses_remove_weight_norm():
    fixture = load_fixture("wn305_broken_remover_call")
    model = nn.Sequential(normed(), nn.Tanh())
    weight = model[0].weight.detach().clone()
    fixture.correct(model)
    assert not parametrize.is_parametrized(model[0])
    torch.testing.assert_close(model[0].weight.detach(), weight)
    for remove in (fixture.by_keyword, lambda m: fixture.forwarded(m, "weight")):
        layer = normed()
        remove(layer)
        assert not parametrize.is_parametrized(layer)
