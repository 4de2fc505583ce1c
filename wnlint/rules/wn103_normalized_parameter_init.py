from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from wnlint.facts import norms
from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import MethodFacts, ModuleClass, ModuleFacts, ParamDecl
from wnlint.facts.prefilter import MODULE_CLASSES
from wnlint.facts.syntax import (
    call_arg,
    is_call_to,
    own_nodes,
    self_attr,
    self_attrs_in,
    shape,
    walk,
)
from wnlint.rules._edits import local_names, parenthesize
from wnlint.rules.base import Finding, Rule, edits_fix
from wnlint.rules.fixes import Applicability, Edit, Source


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
    Unsafe. Each read of the parameter in a scale product becomes the
    parameter normalized the way `__init__` normalized its value
    (`self.v / self.v.norm(dim=1, keepdim=True)`, or `F.normalize(self.v,
    dim=1)`), so the parameter and its normalized initialisation stay, and
    the initial output is unchanged up to rounding. It changes the training
    dynamics (that is the point). Offered only when the normalized value is
    a division or `F.normalize` call (through local names, not through
    reshapes) and the product reads `self.<v>` directly.

    ## Known problems
    Parameters that `forward` renormalizes (`F.normalize(self.protos)`) and
    normalized inits with no scale product (cosine-classifier prototypes,
    codebooks) are correct and not flagged. The scale must be a product in
    the module's own methods; a scale applied by a caller is not seen.
    An init normalized by a module-level helper (`nn.Parameter(l2norm(w))`
    with `def l2norm(t): return F.normalize(t, dim=-1)`) is not followed.

    ## References
    - Salimans & Kingma, Weight Normalization (2016), https://arxiv.org/abs/1602.07868
    """

    code = "WN103"
    name = "normalized-parameter-init"
    severity = "error"
    summary = (
        "a parameter initialised normalized that `forward` scales without "
        "renormalizing: `||w||` drifts away from `|g|`"
    )
    message = (
        "`self.{name}` is initialised normalized, but forward scales it "
        "without renormalizing: after the first step ||w|| no longer equals |g|"
    )
    fix_title = "Renormalize the parameter in forward"
    prefilter = MODULE_CLASSES
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        for cls, name, decl in _cases(facts):
            yield self.finding(
                decl.call,  # type: ignore[arg-type]
                name=name,
                fix=edits_fix(
                    Applicability.UNSAFE, _renormalize, facts, cls, name, decl
                ),
            )


def _renormalize(
    facts: ModuleFacts, cls: ModuleClass, name: str, decl: ParamDecl, src: Source
) -> tuple[Edit, ...]:
    """Each read of ``self.<name>`` in a scale product becomes the parameter
    normalized the way ``__init__`` normalized its value."""
    init = cls.own_methods[decl.method]  # type: ignore[index]
    renorm = _renormalizer(decl.call, init, name)  # type: ignore[arg-type]
    if renorm is None:
        return ()
    text = parenthesize(ast.unparse(renorm), renorm)
    needs = _free_names(renorm)
    edits: dict[int, Edit] = {}
    for method in cls.reachable():
        if local_names(method) & needs:
            return ()
        for mine in _scaled_reads(name, method):
            if _free_names(mine):
                continue  # through a local alias: left to the user
            for node in walk(mine):
                if self_attr(node) == name:
                    edits[id(node)] = src.replace(node, text)
    return tuple(edits.values())


def _cases(facts: ModuleFacts) -> Iterator[tuple[ModuleClass, str, ParamDecl]]:
    for cls in facts.classes:
        for name, decl in cls.params.items():
            if decl.call is None or decl.method not in tn.INIT_METHODS:
                continue
            if decl.method not in cls.own_methods:
                continue
            init = cls.own_methods[decl.method]
            value = _parameter_value(decl.call)
            if value is None or not _is_normalized(value, init):
                continue
            if _renormalized(facts, cls, name) or not _scaled(cls, name):
                continue
            yield cls, name, decl


def _renormalizer(call: ast.Call, init: MethodFacts, name: str) -> ast.expr | None:
    """``self.<name>`` normalized the way ``__init__`` normalized its value:
    ``self.v / torch.norm(self.v)`` or ``F.normalize(self.v, dim=1)``."""
    value = _parameter_value(call)
    for _ in range(3):  # through local names, but never through a reshape
        if not isinstance(value, ast.Name):
            break
        value = init.single_def(value.id)
    param = ast.parse(f"self.{name}", mode="eval").body
    out: ast.expr
    if (
        isinstance(value, ast.Call)
        and value.args
        and is_call_to(value, init.scope, tn.NORMALIZE_FUNCTIONS)
    ):
        call = copy.deepcopy(value)
        call.args[0] = param
        out = call
    elif isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
        # The parameter is the numerator: wherever the norm reads that same
        # expression, it now reads the parameter.
        numerator = shape(value.left)

        class _Swap(ast.NodeTransformer):
            def visit(self, node: ast.AST) -> ast.AST:
                if isinstance(node, ast.expr) and shape(node) == numerator:
                    return copy.deepcopy(param)
                return super().visit(node)

        norm = _Swap().visit(copy.deepcopy(value.right))
        out = ast.BinOp(param, ast.Div(), norm)  # type: ignore[arg-type]
    else:
        return None
    if self_attrs_in(out) != {name} or _free_names(out) & local_names(init):
        return None
    return out


def _free_names(expr: ast.AST) -> set[str]:
    return {n.id for n in walk(expr) if isinstance(n, ast.Name) and n.id != "self"}


def _parameter_value(call: ast.Call) -> ast.expr | None:
    return call_arg(call, 0, "data")


def _peel(expr: ast.expr) -> ast.expr:
    """Drop reshapes, detach and clone: they do not change what is normalized."""
    while (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and (expr.func.attr in tn.SHAPE_METHODS or expr.func.attr in tn.DETACH_METHODS)
    ):
        expr = expr.func.value
    while isinstance(expr, ast.Attribute) and expr.attr in tn.DETACH_ATTRS:
        expr = expr.value
    return expr


def _is_normalized(value: ast.expr, method: MethodFacts) -> bool:
    """``x / norm(x)`` or ``F.normalize(x)``, through one local name."""
    value = _peel(value)
    if isinstance(value, ast.Name):
        inner = method.single_def(value.id)
        return inner is not None and _is_normalized(inner, method)
    if isinstance(value, ast.Call):
        return is_call_to(value, method.scope, tn.NORMALIZE_FUNCTIONS)
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div)):
        return False
    norm = norms.norm_operand(value.right, norms.MethodNorms(method))
    return norm is not None and shape(_peel(norm.operand)) == shape(_peel(value.left))


def _renormalized(facts: ModuleFacts, cls: ModuleClass, name: str) -> bool:
    return any(expr.base == name for expr in facts.weight_norm_exprs(cls))


def _scaled(cls: ModuleClass, name: str) -> bool:
    """Forward multiplies ``self.<name>`` by another parameter-derived factor."""
    return any(True for method in cls.reachable() for _ in _scaled_reads(name, method))


def _scaled_reads(name: str, method: MethodFacts) -> Iterator[ast.expr]:
    """The factors of products in ``method`` that read ``self.<name>``."""
    for node in own_nodes(method.node):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
            continue
        for mine, other in ((node.left, node.right), (node.right, node.left)):
            found = norms.param_of(mine, method)
            if found and found[0] == name and norms.reads_param(other, method):
                yield mine
