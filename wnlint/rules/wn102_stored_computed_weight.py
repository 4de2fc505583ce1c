from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.analysis import FileAnalysis
from wnlint.modules import MethodFacts, reads_param, self_attr
from wnlint.prefilter import MODULE_CLASSES
from wnlint.rules._module_rules import own_nodes, reachable
from wnlint.rules.base import Finding, Rule


class StoredComputedWeight(Rule):
    """
    ## What it does
    In a module whose `forward` normalizes one of its parameters, flags
    `self.<attr> = <expr>` (and `setattr(self, "<attr>", <expr>)`,
    `setattr(self.<submodule>, "<attr>", <expr>)`) inside `forward` or a
    method it calls, when `<expr>` depends on the module's parameters through
    differentiable operations and is not detached (`.detach()`, `.data`,
    `.item()`, `torch.no_grad()`, `torch.inference_mode()`).

    ## Why is this bad?
    If `<attr>` is a registered parameter (a subclass of `nn.Linear` or
    `nn.Conv*` writing `self.weight`), the assignment raises `TypeError:
    cannot assign 'torch.FloatTensor' as parameter 'weight'
    (torch.nn.Parameter or None expected)`. Otherwise the attribute holds a
    non-leaf tensor (`grad_fn=DivBackward0`) that is in neither
    `parameters()` nor the state_dict: `torch.optim.Adam([model.weight])`
    raises `ValueError: can't optimize a non-leaf Tensor`,
    `copy.deepcopy(model)` after a forward raises `RuntimeError: Only
    Tensors created explicitly by the user (graph leaves) support the
    deepcopy protocol` (EMA and model-averaging code does this),
    `torch.jit.script` fails, and a forward without backward keeps the
    autograd graph alive on the module.

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
            self.weight = None

        def forward(self, x):
            self.weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, self.weight)
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
            weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, weight)
    ```

    ## Fix safety
    Turning the attribute into a local is safe when it is read only later in
    the same method (and set to `None` in `__init__`); when other methods read
    it, the computation has to become a method or property they share, which
    is unsafe (the attribute disappears).

    ## Known problems
    Only modules whose `forward` (or a method it calls) divides one of their
    own parameters by its norm are checked: wnlint is a weight-normalization
    linter, and this keeps it silent on caches of activations elsewhere.
    Torch's own legacy design, a forward pre-hook that is a free function,
    is not a method and is not flagged.

    ## References
    - https://pytorch.org/docs/stable/notes/autograd.html
    - https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.register_parameter
    """

    code = "WN102"
    name = "stored-computed-weight"
    message = (
        "computed weight stored on the module in forward: a non-leaf tensor "
        "outside parameters() and state_dict that breaks deepcopy and optimizers"
    )
    fix_title = "Keep the computed weight in a local variable"
    prefilter = MODULE_CLASSES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for cls, _ in analysis.modules.normalizing_classes():
            for method in reachable(cls):
                for node, target, value in _stores(method):
                    if method.in_no_grad(node) or not reads_param(value, method):
                        continue
                    yield self.finding(node, _message(target, cls.params))


def _stores(method: MethodFacts) -> Iterator[tuple[ast.AST, str, ast.expr]]:
    """(statement, described target, stored value) for each store on self."""
    for node in own_nodes(method):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                name = self_attr(target)
                if name:
                    yield node, f"self.{name}", node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            name = self_attr(node.target)
            if name:
                yield node, f"self.{name}", node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            owner = node.args[0]
            attr = node.args[1].value
            if isinstance(owner, ast.Name) and owner.id == "self":
                yield node, f"self.{attr}", node.args[2]
            elif self_attr(owner):
                yield node, f"self.{self_attr(owner)}.{attr}", node.args[2]


def _message(target: str, params: dict) -> str:
    attr = target.split(".", 1)[1]
    if attr in params:
        return (
            f"computed tensor assigned to the registered parameter `{target}` in "
            "forward: raises TypeError (torch.nn.Parameter or None expected); "
            "keep the computed weight in a local"
        )
    return (
        f"computed weight stored on `{target}` in forward: a non-leaf tensor "
        "outside parameters() and state_dict that breaks copy.deepcopy and "
        "optimizers; keep it in a local"
    )
