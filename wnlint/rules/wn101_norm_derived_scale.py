from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.facts import norms
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import ModuleClass, ModuleFacts
from wnlint.facts.prefilter import MODULE_CLASSES
from wnlint.facts.products import WeightNormExpr
from wnlint.facts.syntax import own_nodes, self_attrs_in, walk
from wnlint.rules._edits import (
    family_attrs,
    inline_locals,
    local_names,
    replace_self_attr,
    statement_of,
)
from wnlint.rules._module_rules import source
from wnlint.rules.base import Finding, Rule, edits_fix
from wnlint.rules.fixes import Applicability, Edit, Source


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
    Unsafe. The fix declares `self.<g> = nn.Parameter(<the same norm of
    self.<v>.detach()>)` at the end of `__init__` (after anything that
    initialises the direction), reads `self.<g>` where the product used the
    computed scale, and deletes the local scale when nothing else reads it.
    The initial output is unchanged (g0 = ||v0||), but `parameters()` and the
    state_dict gain an entry and the magnitude starts to train. It is
    offered only when the class declares the direction in its own
    `__init__` and the norm reads nothing but that parameter and module-level
    names; otherwise the finding is reported only.

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
    severity = "error"
    summary = (
        "a weight-norm scale computed from the norm of its own direction: the "
        "weight equals the direction and has no learnable magnitude"
    )
    message = (
        "scale `{scale}` is the norm of {direction}, the direction it "
        "multiplies: the weight equals {direction} and has no learnable magnitude"
    )
    fix_title = "Make the scale a leaf nn.Parameter initialised from the norm"
    prefilter = MODULE_CLASSES
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        for cls, expr, scale in _cases(facts):
            yield self.finding(
                expr.node,
                scale=source(scale),
                direction=f"`self.{expr.base}`",
                fix=edits_fix(
                    Applicability.UNSAFE, _leaf_scale, facts, cls, expr, scale
                ),
            )


def _cases(
    facts: ModuleFacts,
) -> Iterator[tuple[ModuleClass, WeightNormExpr, ast.expr]]:
    """(class, product, scale) where the scale is the norm of the direction."""
    for cls, exprs in facts.normalizing_classes():
        for expr in exprs:
            method = cls.methods[expr.method]
            for scale in expr.scales:
                norm = norms.norm_of(scale, method)
                if norm is not None and norm.base == expr.base:
                    yield cls, expr, scale
                    break


def _leaf_scale(
    facts: ModuleFacts,
    cls: ModuleClass,
    expr: WeightNormExpr,
    scale: ast.expr,
    src: Source,
) -> tuple[Edit, ...]:
    """Declare ``self.<g> = nn.Parameter(<norm of self.<v>.detach()>)`` at the
    end of ``__init__`` (after anything that initialises v) and read it
    where the product used the computed scale."""
    decl = cls.params.get(expr.base)
    init = cls.own_methods.get("__init__")
    if decl is None or decl.call is None or init is None or decl.method != "__init__":
        return ()
    if any(isinstance(n, ast.Return) for n in own_nodes(init.node)):
        return ()
    method = cls.methods[expr.method]
    portable = inline_locals(scale, method)
    if portable is None or self_attrs_in(portable) != {expr.base}:
        return ()
    shadowed = local_names(init) - {"self"}
    if any(isinstance(n, ast.Name) and n.id in shadowed for n in walk(portable)):
        return ()  # a global the expression uses is rebound in __init__
    detached = ast.parse(f"self.{expr.base}.detach()", mode="eval").body
    value = ast.unparse(replace_self_attr(portable, expr.base, detached))
    stale = None
    if isinstance(scale, ast.Name):
        # The local scale's definition goes when nothing else reads it.
        reads = [
            node
            for node in own_nodes(method.node)
            if isinstance(node, ast.Name)
            and node.id == scale.id
            and isinstance(node.ctx, ast.Load)
        ]
        stmt = statement_of(method.node, method.single_def(scale.id))  # type: ignore[arg-type]
        if (
            reads == [scale]
            and isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            stale = src.delete(stmt)
    taken = family_attrs(facts, cls)
    wanted = [scale.id] if isinstance(scale, ast.Name) and stale else []
    candidates = [*wanted, "g", f"{expr.base}_g", f"{expr.base}_scale"]
    candidates += [f"g{i}" for i in range(1, 100)]
    name = next(n for n in candidates if n not in taken)
    parameter = src.segment(decl.call.func)
    edits = [
        src.insert_after(init.node.body[-1], [f"self.{name} = {parameter}({value})"]),
        src.replace(scale, f"self.{name}"),
    ]
    if stale is not None:
        edits.append(stale)
    return tuple(edits)
