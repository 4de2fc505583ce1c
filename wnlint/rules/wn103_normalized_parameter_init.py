from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint import torchnames as tn
from wnlint.analysis import FileAnalysis
from wnlint.modules import (
    DETACH_METHODS,
    INIT_METHODS,
    SHAPE_METHODS,
    MethodFacts,
    ModuleClass,
    ModuleFacts,
    norm_call_argument,
    reads_param,
)
from wnlint.prefilter import MODULE_CLASSES
from wnlint.resolve import resolves_only_to
from wnlint.rules._module_rules import own_nodes, reachable
from wnlint.rules.base import Finding, Rule


class NormalizedParameterInit(Rule):
    """
    ## What it does
    Flags `nn.Parameter(<normalized value>)` in `__init__` (a division by the
    norm of the same tensor, or `F.normalize(...)`) when `forward`
    multiplies that parameter by a scale and never renormalizes it.

    ## Why is this bad?
    It looks like weight normalization at initialisation, but it is not after
    the first optimizer step: nothing keeps the direction on the unit sphere,
    so the effective per-row `||w||` stops equalling `|g|` (observed after
    200 Adam steps: `||w||` [0.18, 0.76, 0.55] vs `|g|` [1.75, 1.11, 0.51]),
    and the direction's gradient is the unprojected `g * dL/dw` (it differs
    from torch's weight-norm gradient by up to 3.27 at initialisation even
    though the outputs match). `||v|| != 1` alone is not the symptom (correct
    weight norm lets `||v||` grow too); `||w|| != |g|` is.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ScaledLinear(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.g = nn.Parameter(w.norm(dim=1, keepdim=True))
            self.v = nn.Parameter(w / w.norm(dim=1, keepdim=True))

        def forward(self, x):
            return F.linear(x, self.g * self.v)
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ScaledLinear(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.g = nn.Parameter(w.norm(dim=1, keepdim=True))
            self.v = nn.Parameter(w / w.norm(dim=1, keepdim=True))

        def forward(self, x):
            v = self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, self.g * v)
    ```

    ## Fix safety
    Renormalizing in `forward` keeps the parameter and its normalized
    initialisation, and leaves the initial output unchanged, but it changes
    the training dynamics (that is the point), so the fix is unsafe.

    ## Known problems
    Parameters that `forward` renormalizes (`F.normalize(self.protos)`) and
    normalized inits with no scale product (cosine-classifier prototypes,
    codebooks) are correct and not flagged. The scale must be a product in
    the module's own methods; a scale applied by a caller is not seen.

    ## References
    - Salimans & Kingma, Weight Normalization (2016), https://arxiv.org/abs/1602.07868
    """

    code = "WN103"
    name = "normalized-parameter-init"
    message = (
        "parameter initialised normalized but forward scales it without "
        "renormalizing: after the first step ||w|| no longer equals |g|"
    )
    fix_title = "Renormalize the parameter in forward"
    prefilter = MODULE_CLASSES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        for cls in facts.classes:
            for name, decl in cls.params.items():
                if decl.call is None or decl.method not in INIT_METHODS:
                    continue
                if decl.method not in cls.own_methods:
                    continue
                init = cls.own_methods[decl.method]
                value = _parameter_value(decl.call)
                if value is None or not _is_normalized(value, init):
                    continue
                if _renormalized(facts, cls, name) or not _scaled(cls, name, facts):
                    continue
                yield self.finding(
                    decl.call,
                    f"`self.{name}` is initialised normalized, but forward scales it "
                    "without renormalizing: after the first step ||w|| no longer "
                    "equals |g|",
                )


def _parameter_value(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg == "data":
            return keyword.value
    return None


def _peel(expr: ast.expr) -> ast.expr:
    """Drop reshapes, detach and clone: they do not change what is normalized."""
    while (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and (expr.func.attr in SHAPE_METHODS or expr.func.attr in DETACH_METHODS)
    ):
        expr = expr.func.value
    while isinstance(expr, ast.Attribute) and expr.attr == "data":
        expr = expr.value
    return expr


def _is_normalized(value: ast.expr, method: MethodFacts) -> bool:
    """``x / norm(x)`` or ``F.normalize(x)``, through one local name."""
    value = _peel(value)
    if isinstance(value, ast.Name):
        defs = method.defs.get(value.id) or []
        return (
            len(defs) == 1 and defs[0] is not None and _is_normalized(defs[0], method)
        )
    if isinstance(value, ast.Call) and isinstance(
        value.func, (ast.Name, ast.Attribute)
    ):
        return resolves_only_to(value.func, method.scope, tn.NORMALIZE_FUNCTIONS)
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div)):
        return False
    numerator = ast.dump(_peel(value.left))
    argument = _norm_argument(value.right, method)
    return argument is not None and ast.dump(_peel(argument)) == numerator


def _norm_argument(expr: ast.expr, method: MethodFacts) -> ast.expr | None:
    """The tensor whose norm ``expr`` is (epsilons and clamps allowed)."""
    expr = _peel(expr)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _norm_argument(expr.left, method) or _norm_argument(expr.right, method)
    if not isinstance(expr, ast.Call):
        return None
    tensor = norm_call_argument(expr, method.scope)
    if tensor is not None:
        return tensor
    func = expr.func
    if (
        isinstance(func, (ast.Name, ast.Attribute))
        and expr.args
        and resolves_only_to(func, method.scope, tn.CLAMP_FUNCTIONS)
    ):
        return _norm_argument(expr.args[0], method)
    if isinstance(func, ast.Attribute) and func.attr in ("clamp", "clamp_min", "add"):
        return _norm_argument(func.value, method)
    return None


def _renormalized(facts: ModuleFacts, cls: ModuleClass, name: str) -> bool:
    return any(expr.base == name for expr in facts.weight_norm_exprs(cls))


def _scaled(cls: ModuleClass, name: str, facts: ModuleFacts) -> bool:
    """Forward multiplies ``self.<name>`` by another parameter-derived factor."""
    for method in reachable(cls):
        for node in own_nodes(method):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
                continue
            for mine, other in ((node.left, node.right), (node.right, node.left)):
                found = facts.param_of(mine, method)
                if found and found[0] == name and reads_param(other, method):
                    return True
    return False
