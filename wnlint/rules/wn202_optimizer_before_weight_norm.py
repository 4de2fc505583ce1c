from __future__ import annotations

from collections.abc import Iterator

from wnlint.analysis import FileAnalysis
from wnlint.flow import covers
from wnlint.prefilter import LEGACY_API
from wnlint.rules.base import Finding, Rule


class OptimizerBeforeWeightNorm(Rule):
    """
    ## What it does
    In one function (or the module body), flags a weight-norm call (either
    API) on a module, or on a submodule of one, whose `.parameters()` were
    handed to an optimizer built earlier in that scope, when no optimizer is
    built over it again afterwards.

    ## Why is this bad?
    Weight norm replaces the module's `weight` parameter with new ones (`g`
    and `v`). The optimizer still holds the removed `weight`: `g` and `v`
    get gradients but are never stepped (observed with both APIs: no change
    at all after every step), and `opt.zero_grad()` does not clear them, so
    their `.grad` keeps accumulating. Only the other parameters train and
    the loss still falls, so nothing looks wrong.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    weight_norm(model[0])
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    weight_norm(model[0])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## Fix safety
    Moving the weight-norm statement above the optimizer's is correct when
    both are plain statements of the same block and nothing between them
    reads the module; it changes which tensors train, so the fix is unsafe.

    ## Known problems
    Only one function body is seen, in source order; loops are not unrolled,
    and statements in different arms of an `if` or `try` are never paired.

    ## References
    - https://pytorch.org/docs/stable/optim.html#constructing-it
    """

    code = "WN202"
    name = "optimizer-before-weight-norm"
    message = (
        "weight norm applied after the module's parameters went to an optimizer: "
        "g and v are never stepped"
    )
    fix_title = "Apply weight norm before building the optimizer"
    prefilter = LEGACY_API

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for flow in analysis.flows:
            for app in flow.applications:
                for opt in flow.optimizers:
                    if opt.order >= app.order or flow.exclusive(opt.order, app.order):
                        continue
                    hit = next(
                        (
                            (module, key)
                            for module, _ in opt.modules
                            for key in app.keys
                            if covers(module, key)
                            and not flow.rebound_between(module, opt.order, app.order)
                        ),
                        None,
                    )
                    if hit is None:
                        continue
                    module, key = hit
                    rebuilt = any(
                        later.order > app.order
                        and any(covers(m, key) for m, _ in later.modules)
                        for later in flow.optimizers
                    )
                    if not rebuilt:
                        yield self.finding(
                            app.node,
                            f"weight norm applied to `{key}` after "
                            f"`{module}.parameters()` went to the optimizer on line "
                            f"{opt.node.lineno}: it keeps the removed weight, and g "
                            "and v are never stepped",
                        )
                        break
