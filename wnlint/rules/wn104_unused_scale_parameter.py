from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.analysis import FileAnalysis
from wnlint.modules import INIT_METHODS, ModuleClass, self_attr
from wnlint.prefilter import MODULE_CLASSES
from wnlint.rules._module_rules import own_nodes
from wnlint.rules.base import Finding, Rule

#: Ways a method can reach parameters without naming them.
_DYNAMIC_METHODS = frozenset(
    {"parameters", "named_parameters", "state_dict", "_parameters", "__dict__"}
)


class UnusedScaleParameter(Rule):
    """
    ## What it does
    In a module whose `forward` divides a parameter by its norm, flags a
    parameter it declares (typically the scale `weight_g`/`g`) that no method
    reads outside initialisation (`__init__`, `reset_parameters`, ...).

    ## Why is this bad?
    The parameter never enters the graph, so it never trains: after
    `backward()` its `.grad` is `None`, and Adam, AdamW and SGD (weight decay
    and momentum included) skip it silently. `torch.autograd.grad(out,
    [weight_g])` raises `RuntimeError: The differentiated Tensor at index 0
    appears to not have been used in the graph`, and under
    DistributedDataParallel the second iteration raises `RuntimeError:
    Expected to have finished reduction in the prior iteration before
    starting a new one` unless `find_unused_parameters=True`. The layer is a
    normalized layer with a fixed magnitude of 1, not weight norm.

    ## Example
    ```python
    import torch
    import torch.nn as nn

    class WeightNormLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight_g = nn.Parameter(torch.ones(o))
            self.weight_v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            w = self.weight_v / torch.norm(self.weight_v, dim=1, keepdim=True)
            return x @ w.t()
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn

    class WeightNormLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight_g = nn.Parameter(torch.ones(o))
            self.weight_v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            w = self.weight_v / torch.norm(self.weight_v, dim=1, keepdim=True)
            return x @ (self.weight_g.view(-1, 1) * w).t()
    ```

    ## Fix safety
    Multiplying the normalized direction by the scale changes the output
    (from magnitude 1 to `g`) and the training, so the fix is unsafe, and it
    is offered only when the shapes are known from the constructor (a 1-D
    scale and a 2-D direction, viewed as `g.view(-1, 1)`).

    ## Known problems
    A class that reads parameters dynamically (`getattr(self, name)`,
    `self.parameters()`, `self.__dict__`) or hands `self` to a function is
    skipped, and so is a parameter that a subclass in the same file reads.
    Parameters inherited from a torch layer (`weight`, `bias`) are not
    reported.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html
    """

    code = "WN104"
    name = "unused-scale-parameter"
    message = "declared parameter is never read: it gets no gradient and never trains"
    fix_title = "Multiply the normalized direction by the scale parameter"
    prefilter = MODULE_CLASSES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        for cls, _ in facts.normalizing_classes():
            family = [cls, *(c for c in facts.classes if _inherits(c, cls))]
            if any(_dynamic(c) for c in family):
                continue
            read = set().union(*(_reads(c) for c in family))
            for name, decl in cls.params.items():
                if decl.node is None or decl.method not in cls.own_methods:
                    continue
                if name in read:
                    continue
                yield self.finding(
                    decl.node,
                    f"parameter `self.{name}` is declared but never read: it gets "
                    "no gradient and never trains (optimizers skip it, DDP raises)",
                )


def _inherits(cls: ModuleClass, base: ModuleClass) -> bool:
    todo = list(cls.file_bases)
    while todo:
        current = todo.pop()
        if current is base:
            return True
        todo.extend(current.file_bases)
    return False


def _reads(cls: ModuleClass) -> set[str]:
    """Attributes of self read outside initialisation methods."""
    names: set[str] = set()
    for method in cls.own_methods.values():
        if method.name in INIT_METHODS:
            continue
        for node in own_nodes(method):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                name = self_attr(node)
                if name is not None:
                    names.add(name)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                names.add(str(node.args[1].value))
    return names


def _dynamic(cls: ModuleClass) -> bool:
    for method in cls.own_methods.values():
        for node in own_nodes(method):
            if self_attr(node) in _DYNAMIC_METHODS:
                return True
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in (
                    "getattr",
                    "vars",
                ):
                    args = node.args
                    if node.func.id == "vars" or not (
                        len(args) >= 2 and isinstance(args[1], ast.Constant)
                    ):
                        return True
                if any(isinstance(a, ast.Name) and a.id == "self" for a in node.args):
                    return True
    return False
