from __future__ import annotations

from collections.abc import Iterator

from wnlint import torchnames as tn
from wnlint.analysis import FileAnalysis
from wnlint.prefilter import MODULE_CLASSES
from wnlint.rules.base import Finding, Rule
from wnlint.syntax import is_call_to, own_nodes


class ParameterInForward(Rule):
    """
    ## What it does
    In a module whose `forward` normalizes one of its parameters, flags
    `nn.Parameter(...)` constructed inside `forward` (or a method it calls),
    whether assigned to `self` or to a local.

    ## Why is this bad?
    The tensor receives a gradient but is never learned. A local one never
    appears in `parameters()`. `self.g = nn.Parameter(...)` in forward is
    registered only after the first forward, so an optimizer built before it
    does not have it, and it is re-created (reset to its initial value) on
    every call that runs the line.

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
            g = nn.Parameter(torch.ones(self.v.shape[0], 1))
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
            self.g = nn.Parameter(torch.ones(o, 1))

        def forward(self, x):
            return F.linear(x, self.g * self.v / self.v.norm(dim=1, keepdim=True))
    ```

    ## Fix safety
    No automatic fix: where the parameter belongs and how it is initialised
    depends on the module. Create it in `__init__`, or use a `nn.Lazy*`
    module or `torch.nn.parameter.UninitializedParameter` when its shape is
    known only at the first call.

    ## Known problems
    Only modules whose `forward` (or a method it calls) divides one of their
    own parameters by its norm are checked.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.parameter.UninitializedParameter.html
    """

    code = "WN106"
    name = "parameter-in-forward"
    summary = (
        "`nn.Parameter(...)` created in `forward`: never registered in time, "
        "never learned"
    )
    message = (
        "nn.Parameter created in forward is never learned: create it in "
        "__init__ (or use nn.Lazy*/UninitializedParameter)"
    )
    fix_title = "Create the parameter in __init__"
    prefilter = MODULE_CLASSES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for cls, _ in analysis.modules.normalizing_classes():
            for method in cls.reachable():
                for node in own_nodes(method.node):
                    if is_call_to(node, method.scope, tn.PARAMETER):
                        yield self.finding(node)
