from __future__ import annotations

from collections.abc import Iterator

from wnlint.analysis import FileAnalysis
from wnlint.prefilter import MODULE_CLASSES
from wnlint.rules.base import Finding, Rule


class DetachedNorm(Rule):
    """
    ## What it does
    Flags a weight-norm division whose norm of a parameter is taken under
    `torch.no_grad()`/`torch.inference_mode()`, through `.detach()`, `.data`,
    `.item()` or `float(...)`, or whose direction is read through `.data` or
    `.detach()`, while the division itself runs with autograd on.

    ## Why is this bad?
    The forward output is unchanged and `g.grad` is right, but the direction's
    gradient is wrong: autograd no longer sees that the norm depends on `v`,
    so the projection that makes weight norm work is lost (observed in
    float64 against torch's weight norm: `v.grad` off by up to 52.0 for
    no_grad/detach/.data and 9.66 for `.item()`; `torch.autograd.gradcheck`
    fails with `Jacobian mismatch for output 0 with respect to input 1`).
    When `v` itself is read through `.data`, `v.grad` is `None` and the
    direction never trains.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class WNLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.g = nn.Parameter(torch.ones(o, 1))
            self.v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            norm = self.v.norm(dim=1, keepdim=True).detach()
            return F.linear(x, self.g * self.v / norm)
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class WNLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.g = nn.Parameter(torch.ones(o, 1))
            self.v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            norm = self.v.norm(dim=1, keepdim=True)
            return F.linear(x, self.g * self.v / norm)
    ```

    ## Fix safety
    Dropping the `.detach()`/`.data`/`.item()`, or moving the norm out of the
    `no_grad` block, changes the gradients (that is the point), so the fix is
    unsafe.

    ## Known problems
    Detached norms that are not the divisor of a parameter's own
    weight-norm product (DoRA's `magnitude / weight_norm.detach()`, whose
    detach is deliberate) are not flagged, and neither is forced weight
    normalization (`with torch.no_grad(): self.weight.copy_(normalize(w))`)
    or a max-norm constraint, where the whole computation runs without
    autograd on purpose.

    ## References
    - https://pytorch.org/docs/stable/notes/autograd.html#locally-disabling-gradient-computation
    - Salimans & Kingma, Weight Normalization (2016), https://arxiv.org/abs/1602.07868
    """

    code = "WN105"
    name = "detached-norm"
    message = (
        "weight-norm division with a detached norm or direction: the "
        "direction's gradient is wrong"
    )
    fix_title = "Compute the norm (and read the direction) with autograd on"
    prefilter = MODULE_CLASSES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for cls, exprs in analysis.modules.normalizing_classes():
            for expr in exprs:
                if cls.methods[expr.method].in_no_grad(expr.node):
                    continue
                if expr.direction_detached:
                    yield self.finding(
                        expr.node,
                        f"direction `self.{expr.base}` is read detached (.data or "
                        f".detach()): `self.{expr.base}` gets no gradient through it",
                    )
                elif expr.norm is not None and expr.norm.detached:
                    yield self.finding(
                        expr.node,
                        f"the norm of `self.{expr.base}` is detached (no_grad, "
                        ".detach(), .data or .item()): the direction's gradient "
                        "is wrong",
                    )
