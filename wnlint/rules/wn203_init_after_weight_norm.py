from __future__ import annotations

from collections.abc import Iterator

from wnlint.analysis import FileAnalysis
from wnlint.prefilter import LEGACY_API
from wnlint.rules._flow_rules import applied_before
from wnlint.rules.base import Finding, Rule


class InitAfterWeightNorm(Rule):
    """
    ## What it does
    Flags `nn.init.*_(m.weight)`, in-place writes such as
    `m.weight.data.normal_()` or `m.weight.copy_(...)`, and assignments to
    `m.weight.data`, after `m` was weight-normed (either API) earlier in the
    same function.

    ## Why is this bad?
    After weight norm, `m.weight` is recomputed from `g` and `v` (on every
    forward with the legacy API, on every access with the parametrizations
    API). Writing into it changes a temporary: the next forward recomputes
    the weight and the initialisation has no effect (observed with both
    APIs).

    ## Example
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv1d(16, 16, 3))
    nn.init.kaiming_normal_(conv.weight)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = nn.Conv1d(16, 16, 3)
    nn.init.kaiming_normal_(conv.weight)
    conv = weight_norm(conv)
    ```

    ## Fix safety
    No automatic fix. Initialise before applying weight norm, or write to the
    leaves: `m.parametrizations.weight.original0`/`original1` (the new API)
    or `m.weight_g`/`m.weight_v` (the legacy API); those writes are correct
    and not flagged.

    ## Known problems
    Only one function body is seen, in source order; a removal of weight
    norm (or a rebinding of the name) in between ends the effect.

    ## References
    - https://pytorch.org/docs/stable/nn.init.html
    """

    code = "WN203"
    name = "init-after-weight-norm"
    summary = (
        "`nn.init.*_(m.weight)` or `m.weight.data` writes after weight norm: no effect"
    )
    message = (
        "`{key}.{attr}` is recomputed by weight norm: writing to it has no "
        "effect; initialise before weight norm, or write to g and v"
    )
    fix_title = "Initialise before weight norm, or write to g and v"
    prefilter = LEGACY_API

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for flow in analysis.flows:
            for write in flow.writes:
                if applied_before(flow, write.key, write.order, write.attr) is None:
                    continue
                yield self.finding(write.node, key=write.key, attr=write.attr)
