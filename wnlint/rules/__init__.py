"""The rule registry: every rule, once, in code order."""

from __future__ import annotations

from wnlint.rules.base import Finding, Rule
from wnlint.rules.wn301_legacy_weight_norm import LegacyWeightNorm
from wnlint.rules.wn302_legacy_remove_weight_norm import LegacyRemoveWeightNorm

ALL_RULES: tuple[type[Rule], ...] = (
    LegacyWeightNorm,
    LegacyRemoveWeightNorm,
)

RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Finding", "Rule"]
