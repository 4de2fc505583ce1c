from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.norms import NormContext, norm_operand
from wnlint.facts.order import LEAF_ATTRS, ScopeFlow
from wnlint.facts.prefilter import OPTIMIZER_INPUTS
from wnlint.facts.syntax import is_call_to, walk
from wnlint.rules._flow_rules import applied_before
from wnlint.rules.base import Finding, Rule

_PARAM_ATTRS = frozenset({"weight", "bias", *LEAF_ATTRS})


class OptimizerNonLeaf(Rule):
    """
    ## What it does
    Flags an optimizer (`torch.optim.*`, resolved through imports) whose
    parameters include a derived tensor: the `.weight` of a module wrapped
    by either weight-norm API earlier in the same function, or a name bound
    to a tensor computed from a norm (`w = v / v.norm(...)`), in positional
    or `params=` form, in lists, param-group dicts and `itertools.chain`.

    ## Why is this bad?
    With either weight-norm API, `module.weight` is recomputed from `g` and
    `v` and is not a leaf, and neither is a tensor computed from a
    parameter: the optimizer raises `ValueError: can't optimize a non-leaf
    Tensor`. The leaves to train are `g` and `v`.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    layer = weight_norm(nn.Linear(4, 3))
    opt = torch.optim.Adam([layer.weight, layer.bias], lr=1e-3)
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    layer = weight_norm(nn.Linear(4, 3))
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    ```

    ## Fix safety
    No automatic fix: which leaves to train is the author's choice. Pass
    `module.parameters()`, or `parametrizations.weight.original0` and
    `original1` (`weight_g` and `weight_v` with the legacy API).

    ## Known problems
    Only what happens in one function body (or the module body) is seen,
    in source order; a module normed elsewhere and passed in is not.

    ## References
    - https://pytorch.org/docs/stable/optim.html
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrizations.weight_norm.html
    """

    code = "WN201"
    name = "optimizer-non-leaf"
    severity = "error"
    summary = (
        "an optimizer handed the `.weight` of a weight-normed module, or a "
        "tensor computed from a norm: `ValueError: can't optimize a non-leaf "
        "Tensor`"
    )
    message = (
        "`{owner}.{attr}` is recomputed by weight norm (not a leaf): the "
        "optimizer raises ValueError: can't optimize a non-leaf Tensor; pass "
        "`{owner}.parameters()` (g and v)"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "computed": (
            "`{name}` is computed from a parameter's norm (not a leaf): the "
            "optimizer raises ValueError: can't optimize a non-leaf Tensor; pass "
            "the parameters it is computed from"
        )
    }
    fix_title = "Pass the leaf parameters (module.parameters(), or g and v)"
    prefilter = OPTIMIZER_INPUTS

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for flow in analysis.flows:
            for opt in flow.optimizers:
                for owner, attr, node in opt.tensors:
                    if (
                        attr in LEAF_ATTRS
                        or applied_before(flow, owner, opt.order, attr) is None
                    ):
                        continue
                    yield self.finding(node, owner=owner, attr=attr)
                for name in opt.names:
                    found = _latest_def(flow, name.id, opt.order)
                    if found is not None and _computed_from_norm(*found, flow):
                        yield self.finding(name, "computed", name=name.id)


#: How many locals :func:`_computed_from_norm` follows (``n = v.norm()``
#: then ``w = v / n``).
_MAX_LOCALS = 4


def _latest_def(flow: ScopeFlow, name: str, order: int) -> tuple[int, ast.expr] | None:
    """The last assignment to ``name`` before ``order``, with its order."""
    found = None
    for def_order, value in flow.defs.get(name, ()):
        if def_order < order:
            found = (def_order, value)
    return found


def _computed_from_norm(
    order: int, expr: ast.expr, flow: ScopeFlow, depth: int = 0
) -> bool:
    """``v / v.norm()``, ``g * F.normalize(v)``: arithmetic over a norm of a
    parameter (the result of a later ``.detach()`` or ``nn.Parameter`` is a
    leaf again, and the outermost call decides). A norm kept in a local
    first (``n = v.norm(); w = v / n``) is the same norm: locals assigned
    before ``order`` are followed."""
    if not isinstance(expr, (ast.BinOp, ast.Call)):
        return False
    if isinstance(expr, ast.Call) and not _is_normalize(expr, flow):
        return False
    for node in walk(expr):
        if isinstance(node, ast.Call):
            tensor = _norm_argument(node, flow)
            if tensor is not None and _requires_grad(tensor, flow):
                return True
        elif isinstance(node, ast.Name) and depth < _MAX_LOCALS:
            found = _latest_def(flow, node.id, order)
            if found is not None and _holds_norm(*found, flow, depth + 1):
                return True
    return False


def _holds_norm(order: int, expr: ast.expr, flow: ScopeFlow, depth: int) -> bool:
    """A local's value is a norm of a parameter, or computed from one."""
    if isinstance(expr, ast.Call):
        tensor = _norm_argument(expr, flow)
        if tensor is not None and not _is_normalize(expr, flow):
            return _requires_grad(tensor, flow)
    return _computed_from_norm(order, expr, flow, depth)


def _is_normalize(call: ast.Call, flow: ScopeFlow) -> bool:
    return is_call_to(call, flow.scope, tn.NORMALIZE_FUNCTIONS)


def _norm_argument(call: ast.Call, flow: ScopeFlow) -> ast.expr | None:
    """What a norm (or ``F.normalize``) call is computed from."""
    if _is_normalize(call, flow) and call.args:
        return call.args[0]
    found = norm_operand(call, NormContext(flow.scope))
    return found.operand if found is not None else None


def _requires_grad(expr: ast.expr, flow: ScopeFlow) -> bool:
    """A parameter: ``nn.Parameter(...)``, ``requires_grad=True``, ``m.weight``."""
    if isinstance(expr, ast.Attribute):
        return expr.attr in _PARAM_ATTRS
    if not isinstance(expr, ast.Name):
        return False
    for _, value in flow.defs.get(expr.id, ()):
        if isinstance(value, ast.Call):
            if is_call_to(value, flow.scope, tn.PARAMETER):
                return True
            if any(
                k.arg == "requires_grad"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in value.keywords
            ):
                return True
        if isinstance(value, ast.Attribute) and value.attr in _PARAM_ATTRS:
            return True
    return False
