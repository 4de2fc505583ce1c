from __future__ import annotations

from collections.abc import Iterator

from wnlint.analysis import FileAnalysis
from wnlint.prefilter import MODULE_CLASSES
from wnlint.rules._module_rules import source
from wnlint.rules.base import Finding, Rule


class NormDerivedScale(Rule):
    """
    ## What it does
    Flags a weight-norm product inside `forward` (or a method it calls) whose
    scale is computed from the norm of the very direction it multiplies:
    `g = v.norm(...)` then `w = g * v / v.norm(...)`, or `scale *
    F.normalize(v)` with `scale = vector_norm(v)`. Epsilons (`norm + 1e-8`),
    clamps, reshapes (`flatten(1)` for conv weights) and local aliases
    (`v = self.direction`) are seen through.

    ## Why is this bad?
    `g * v / ||v||` with `g = ||v||` is just `v`: the layer is a plain layer
    with no learnable magnitude. Observed on torch 2.13: `w` equals `v` up to
    rounding, `v.grad` equals a plain layer's gradient and training follows
    the same trajectory, and the gradient is not projected (row-wise
    `<grad_v, v>` is far from 0; weight norm's is ~1e-6). `v.grad` is not
    `None`, as is often claimed; only the local `g` has no gradient.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class WNLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            g = self.v.norm(dim=1, keepdim=True)
            return F.linear(x, g * self.v / self.v.norm(dim=1, keepdim=True))
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class WNLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.v = nn.Parameter(torch.randn(o, i))
            self.g = nn.Parameter(self.v.detach().norm(dim=1, keepdim=True))

        def forward(self, x):
            return F.linear(x, self.g * self.v / self.v.norm(dim=1, keepdim=True))
    ```

    ## Fix safety
    Making the scale a leaf `nn.Parameter` initialised from the direction's
    norm keeps the initial output unchanged (g0 = ||v0||), but it adds an entry
    to `parameters()` and the state_dict, so the fix is unsafe.

    ## Known problems
    Only `nn.Module` classes defined in the file are checked, and only
    parameters they declare (`nn.Parameter`, `register_parameter`, a torch
    layer's `weight`). Norms computed in module-level helper functions, or in
    a local name assigned more than once, are not followed.

    ## References
    - Salimans & Kingma, Weight Normalization (2016), https://arxiv.org/abs/1602.07868
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrizations.weight_norm.html
    """

    code = "WN101"
    name = "norm-derived-scale"
    message = (
        "scale is the norm of the direction it multiplies, so the weight equals "
        "the direction and the layer has no learnable magnitude"
    )
    fix_title = "Make the scale a leaf nn.Parameter initialised from the norm"
    prefilter = MODULE_CLASSES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        for cls, exprs in facts.normalizing_classes():
            for expr in exprs:
                method = cls.methods[expr.method]
                for scale in expr.scales:
                    norm = facts.norm_of(scale, method)
                    if norm is not None and norm.base == expr.base:
                        direction = f"`self.{expr.base}`"
                        yield self.finding(
                            expr.node,
                            f"scale `{source(scale)}` is the norm of {direction}, "
                            f"the direction it multiplies: the weight equals "
                            f"{direction} and has no learnable magnitude",
                        )
                        break
