"""What the migration note on parameters picked by a legacy name warns
about, in torch: ``n.endswith("weight_g")`` picks the scale of a module the
legacy API normed and nothing of the same module after the migration, so
a weight-decay group built that way silently decays the scale."""

from __future__ import annotations

import warnings

import torch.nn as nn


def picked(module: nn.Module, suffix: str = "weight_g") -> list[str]:
    return [n for n, _ in module.named_parameters() if n.endswith(suffix)]


def test_the_pick_matches_the_legacy_scale_and_nothing_after_the_migration():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        legacy = nn.utils.weight_norm(nn.Conv1d(2, 2, 1))
    migrated = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 2, 1))
    assert picked(legacy) == ["weight_g"]
    assert picked(migrated) == []
    assert "parametrizations.weight.original0" in dict(migrated.named_parameters())
