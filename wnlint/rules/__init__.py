"""The rule registry: every rule, once, in code order."""

from __future__ import annotations

from wnlint.rules.base import Finding, Rule
from wnlint.rules.wn101_norm_derived_scale import NormDerivedScale
from wnlint.rules.wn102_stored_computed_weight import StoredComputedWeight
from wnlint.rules.wn103_normalized_parameter_init import NormalizedParameterInit
from wnlint.rules.wn104_unused_scale_parameter import UnusedScaleParameter
from wnlint.rules.wn105_detached_norm import DetachedNorm
from wnlint.rules.wn106_parameter_in_forward import ParameterInForward
from wnlint.rules.wn201_optimizer_non_leaf import OptimizerNonLeaf
from wnlint.rules.wn202_optimizer_before_weight_norm import OptimizerBeforeWeightNorm
from wnlint.rules.wn203_init_after_weight_norm import InitAfterWeightNorm
from wnlint.rules.wn204_repeated_weight_norm import RepeatedWeightNorm
from wnlint.rules.wn301_legacy_weight_norm import LegacyWeightNorm
from wnlint.rules.wn302_legacy_remove_weight_norm import LegacyRemoveWeightNorm
from wnlint.rules.wn303_mismatched_weight_norm_removal import (
    MismatchedWeightNormRemoval,
)
from wnlint.rules.wn304_pickled_parametrized_module import PickledParametrizedModule

ALL_RULES: tuple[type[Rule], ...] = (
    NormDerivedScale,
    StoredComputedWeight,
    NormalizedParameterInit,
    UnusedScaleParameter,
    DetachedNorm,
    ParameterInForward,
    OptimizerNonLeaf,
    OptimizerBeforeWeightNorm,
    InitAfterWeightNorm,
    RepeatedWeightNorm,
    LegacyWeightNorm,
    LegacyRemoveWeightNorm,
    MismatchedWeightNormRemoval,
    PickledParametrizedModule,
)

RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Finding", "Rule"]
