"""What WN303 says of a mismatched remover whose ``ValueError`` is
swallowed, in torch: it removes nothing, with either API, and weight norm
stays."""

from __future__ import annotations

import contextlib
import warnings

import torch.nn as nn
from torch.nn.utils import parametrize


def test_the_legacy_remover_on_the_new_api_removes_nothing():
    conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 2, 1))
    with contextlib.suppress(ValueError):
        nn.utils.remove_weight_norm(conv)
    assert parametrize.is_parametrized(conv, "weight")


def test_the_new_remover_on_the_legacy_api_removes_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        conv = nn.utils.weight_norm(nn.Conv1d(2, 2, 1))
    with contextlib.suppress(ValueError):
        parametrize.remove_parametrizations(conv, "weight")
    assert hasattr(conv, "weight_g") and hasattr(conv, "weight_v")


def test_the_fixtures_swallowing_remover_leaves_the_legacy_norm():
    from conftest import load_fixture

    fixture = load_fixture("wn303_mismatched_weight_norm_removal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        block = fixture.TolerantLegacyBlock()
    block.remove_weight_norm()  # no error: swallowed
    assert hasattr(block.conv, "weight_g") and hasattr(block.conv, "weight_v")
