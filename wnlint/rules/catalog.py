"""Each rule's name, severity, fix safety, fix title and prefilter, for
the front ends and the engine: generated from the rule classes by
`python -m wnlint.cli.docs` (a test fails while it is stale); do not edit."""

from __future__ import annotations

from typing import Literal, NamedTuple


class RuleInfo(NamedTuple):
    name: str
    severity: Literal["error", "warning"]
    fix_safety: str | None
    fix_title: str
    #: The name, in wnlint.facts.prefilter, of the rule's prefilter.
    prefilter: str


RULES: dict[str, RuleInfo] = {
    "WN101": RuleInfo(
        name="norm-derived-scale",
        severity="error",
        fix_safety="unsafe",
        fix_title="Make the scale a leaf nn.Parameter initialised from the norm",
        prefilter="MODULE_CLASSES",
    ),
    "WN102": RuleInfo(
        name="stored-computed-weight",
        severity="error",
        fix_safety="mixed",
        fix_title="Keep the computed weight in a local variable",
        prefilter="WRAPPED_STORES",
    ),
    "WN103": RuleInfo(
        name="normalized-parameter-init",
        severity="error",
        fix_safety="unsafe",
        fix_title="Renormalize the parameter in forward",
        prefilter="MODULE_CLASSES",
    ),
    "WN104": RuleInfo(
        name="unused-scale-parameter",
        severity="error",
        fix_safety="unsafe",
        fix_title="Multiply the normalized direction by the scale parameter",
        prefilter="MODULE_CLASSES",
    ),
    "WN105": RuleInfo(
        name="detached-norm",
        severity="error",
        fix_safety="unsafe",
        fix_title="Compute the norm (and read the direction) with autograd on",
        prefilter="MODULE_CLASSES",
    ),
    "WN106": RuleInfo(
        name="parameter-in-forward",
        severity="error",
        fix_safety=None,
        fix_title="Create the parameter in __init__",
        prefilter="PARAMETER_CALLS",
    ),
    "WN201": RuleInfo(
        name="optimizer-non-leaf",
        severity="error",
        fix_safety=None,
        fix_title="Pass the leaf parameters (module.parameters(), or g and v)",
        prefilter="OPTIMIZER_INPUTS",
    ),
    "WN202": RuleInfo(
        name="optimizer-before-weight-norm",
        severity="error",
        fix_safety="unsafe",
        fix_title="Apply weight norm before building the optimizer",
        prefilter="LEGACY_API",
    ),
    "WN203": RuleInfo(
        name="init-after-weight-norm",
        severity="error",
        fix_safety="unsafe",
        fix_title="Make the init land on the effective weight (through g and v)",
        prefilter="INIT_WRITES",
    ),
    "WN204": RuleInfo(
        name="repeated-weight-norm",
        severity="error",
        fix_safety=None,
        fix_title="Apply weight norm once",
        prefilter="LEGACY_API",
    ),
    "WN301": RuleInfo(
        name="legacy-weight-norm",
        severity="warning",
        fix_safety="unsafe",
        fix_title="Use torch.nn.utils.parametrizations.weight_norm (same arguments)",
        prefilter="LEGACY_API",
    ),
    "WN302": RuleInfo(
        name="legacy-remove-weight-norm",
        severity="warning",
        fix_safety="unsafe",
        fix_title="Use torch.nn.utils.parametrize.remove_parametrizations, together with the WN301 fix",
        prefilter="LEGACY_API",
    ),
    "WN303": RuleInfo(
        name="mismatched-weight-norm-removal",
        severity="error",
        fix_safety="safe",
        fix_title="Remove whichever API applied weight norm (hasattr guard)",
        prefilter="LEGACY_API",
    ),
    "WN304": RuleInfo(
        name="pickled-parametrized-module",
        severity="error",
        fix_safety=None,
        fix_title="Save `state_dict()` and rebuild the module with `load_state_dict`",
        prefilter="PICKLES_PARAMETRIZED",
    ),
    "WN305": RuleInfo(
        name="broken-remover-call",
        severity="error",
        fix_safety=None,
        fix_title="Call torch.nn.utils.parametrize.remove_parametrizations(m, name)",
        prefilter="REMOVERS",
    ),
    "WN306": RuleInfo(
        name="remover-without-weight-norm",
        severity="error",
        fix_safety=None,
        fix_title="Remove weight norm from the tensor it was applied to",
        prefilter="REMOVALS",
    ),
}
