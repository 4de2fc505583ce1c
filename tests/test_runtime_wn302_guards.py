"""``fixtures/wn302_guarded_removers.py`` in torch: the remover under a
``try`` that swallows the ``ValueError`` removes nothing from a module the
new API normed, silently (reported); the removers behind a test of the
legacy API leave such a module alone and remove legacy weight norm (not
reported)."""

from __future__ import annotations

import warnings

import pytest
import torch.nn as nn
from conftest import load_fixture
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

fixture = load_fixture("wn302_guarded_removers")
GUARDED = ["remove_by_hook_name", "remove_by_hook_class", "remove_by_tensor"]


def legacy() -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.Sequential(nn.utils.weight_norm(nn.Conv1d(2, 2, 1)))


def parametrized() -> nn.Module:
    return nn.Sequential(weight_norm(nn.Conv1d(2, 2, 1)))


def test_the_swallowing_remover_silently_keeps_the_new_apis_weight_norm():
    model = parametrized()
    fixture.remove_swallowing(model)  # no error
    assert parametrize.is_parametrized(model[0], "weight")
    model = legacy()
    fixture.remove_swallowing(model)
    assert not hasattr(model[0], "weight_g")


@pytest.mark.parametrize("name", GUARDED)
def test_the_guarded_removers_cannot_raise(name):
    model = parametrized()
    getattr(fixture, name)(model)
    assert parametrize.is_parametrized(model[0], "weight")  # left alone
    model = legacy()
    getattr(fixture, name)(model)
    assert not hasattr(model[0], "weight_g")  # removed
