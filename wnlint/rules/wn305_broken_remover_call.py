from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.prefilter import REMOVERS
from wnlint.facts.resolve import resolves_only_to
from wnlint.facts.syntax import walk
from wnlint.rules.base import Finding, Rule


class BrokenRemoverCall(Rule):
    """
    ## What it does
    Flags the parametrizations API's remover where it cannot run:
    - `remove_parametrizations` looked up in `torch.nn.utils.parametrizations`
      (`from torch.nn.utils.parametrizations import remove_parametrizations`,
      or `nn.utils.parametrizations.remove_parametrizations(m, "weight")`):
      it lives in `torch.nn.utils.parametrize`;
    - `torch.nn.utils.parametrize.remove_parametrizations(m)` without the
      name of the tensor (its `tensor_name` has no default).

    ## Why is this bad?
    Observed on torch 2.13: the lookup raises `AttributeError: module
    'torch.nn.utils.parametrizations' has no attribute
    'remove_parametrizations'` (`ImportError` for the import), and the call
    without a name raises `TypeError: remove_parametrizations() missing 1
    required positional argument: 'tensor_name'`. Both usually sit in a
    method run only when a model is exported for inference, often under a
    `try` that falls back to the legacy remover or swallows the error: then
    weight norm is silently left in the exported model, or the legacy
    remover runs on a parametrized module and raises `ValueError`.

    ## Example
    ```python
    import torch.nn as nn

    def remove_weight_norms(model):
        for module in model.modules():
            nn.utils.parametrizations.remove_parametrizations(module, "weight")
    ```

    ## Use instead
    ```python
    import torch.nn as nn

    def remove_weight_norms(model):
        for module in model.modules():
            if nn.utils.parametrize.is_parametrized(module, "weight"):
                nn.utils.parametrize.remove_parametrizations(module, "weight")
    ```

    ## Fix safety
    No automatic fix: the module that holds the remover must be imported
    (`from torch.nn.utils import parametrize`), and the name of the tensor
    is the one weight norm was applied to, which the call does not say.

    ## Known problems
    The remover reached through `getattr` or a variable is not followed.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.remove_parametrizations.html
    """

    code = "WN305"
    name = "broken-remover-call"
    severity = "error"
    summary = (
        "`remove_parametrizations` looked up in `torch.nn.utils.parametrizations` "
        "(`AttributeError`/`ImportError`: it lives in `parametrize`), or called "
        "without the tensor's name (`TypeError`)"
    )
    message = (
        "torch.nn.utils.parametrizations has no remove_parametrizations "
        "(AttributeError): it is torch.nn.utils.parametrize.remove_parametrizations"
    )
    messages: ClassVar[dict[str, str]] = {
        "import": (
            "torch.nn.utils.parametrizations has no remove_parametrizations "
            "(ImportError): import it from torch.nn.utils.parametrize"
        ),
        "name": (
            "parametrize.remove_parametrizations needs the name of the tensor "
            '(TypeError without it): remove_parametrizations(module, "weight")'
        ),
    }
    fix_title = "Call torch.nn.utils.parametrize.remove_parametrizations(m, name)"
    prefilter = REMOVERS

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for node in walk(analysis.tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and node.module == tn.MISPLACED_REMOVER_MODULE
                and any(a.name == "remove_parametrizations" for a in node.names)
            ):
                yield self.finding(node, "import")
        for site in analysis.calls:
            call: ast.Call = site.node  # type: ignore[assignment]
            func = call.func
            if isinstance(func, ast.Attribute) and resolves_only_to(
                func, site.scope, tn.MISPLACED_REMOVER
            ):
                yield self.finding(call)
            elif _without_name(call) and resolves_only_to(
                func, site.scope, tn.REMOVE_PARAMETRIZATIONS
            ):
                yield self.finding(call, "name")
        for site in analysis.references:
            node = site.node
            if (
                isinstance(node, ast.Attribute)
                and not (isinstance(site.parent, ast.Call) and site.parent.func is node)
                and resolves_only_to(node, site.scope, tn.MISPLACED_REMOVER)
            ):
                yield self.finding(node)  # taken as a value: `fn = ...`


def _without_name(call: ast.Call) -> bool:
    """One positional argument, no ``tensor_name=``, nothing unpacked."""
    if any(isinstance(a, ast.Starred) for a in call.args):
        return False
    if any(k.arg in (None, "tensor_name") for k in call.keywords):
        return False
    return len(call.args) < 2
