from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import MethodFacts
from wnlint.facts.prefilter import MODULE_CLASSES
from wnlint.facts.products import WeightNormExpr
from wnlint.facts.syntax import self_attrs_in, walk
from wnlint.rules._edits import inline_locals, statement_of
from wnlint.rules.base import Finding, Rule, edits_fix
from wnlint.rules.fixes import Applicability, Edit, Source, span_of


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
    Unsafe: it changes the gradients (that is the point). The fix drops every
    `.detach()`, `.data`, `.item()` and `float()` between the parameter and
    the product, through local names, and unwraps a `with torch.no_grad():`
    block when the norm's definition is all it holds. A `no_grad` block that
    does more is reported only.

    ## Known problems
    Detached norms that are not the divisor of a parameter's own
    weight-norm product (DoRA's `magnitude / weight_norm.detach()`, whose
    detach is deliberate) are not flagged, and neither is forced weight
    normalization (`with torch.no_grad(): self.weight.copy_(normalize(w))`)
    or a max-norm constraint, where the whole computation runs without
    autograd on purpose. A product computed in a local name assigned more
    than once (`w = self.weight; w = w / w.norm().detach()`), or by a
    module-level helper, is not followed (as for WN101).

    ## References
    - https://pytorch.org/docs/stable/notes/autograd.html#locally-disabling-gradient-computation
    - Salimans & Kingma, Weight Normalization (2016), https://arxiv.org/abs/1602.07868
    """

    code = "WN105"
    name = "detached-norm"
    severity = "error"
    summary = (
        "a weight-norm division whose norm (or direction) is detached: wrong "
        "gradients for the direction"
    )
    message = (
        "the norm of `self.{base}` is detached (no_grad, .detach(), .data or "
        ".item()): the direction's gradient is wrong"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "direction": (
            "direction `self.{base}` is read detached (.data or .detach()): "
            "`self.{base}` gets no gradient through it"
        )
    }
    fix_title = "Compute the norm (and read the direction) with autograd on"
    prefilter = MODULE_CLASSES
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for cls, exprs in analysis.modules.normalizing_classes():
            for expr in exprs:
                method = cls.methods[expr.method]
                if method.in_no_grad(expr.node):
                    continue
                if expr.direction_detached:
                    variant = "direction"
                elif expr.norm is not None and expr.norm.detached:
                    variant = None
                else:
                    continue
                yield self.finding(
                    expr.node,
                    variant,
                    edits_fix(Applicability.UNSAFE, _reattach, expr, method),
                    base=expr.base,
                )


def _reattach(
    expr: WeightNormExpr, method: MethodFacts, src: Source
) -> tuple[Edit, ...]:
    """Drop every ``.detach()``/``.data``/``.item()``/``float()`` on the way
    from the parameter to the direction and the norm, and unwrap a
    ``no_grad`` block that holds only the norm's definition."""
    edits: dict[int, Edit] = {}
    blocks: dict[int, Edit] = {}
    todo: list[ast.expr] = [expr.direction]
    if expr.norm is not None:
        todo.append(expr.norm.node)
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if method.in_no_grad(current):
            unwrapped = _unwrap_no_grad(method, current, src)
            if unwrapped is None:
                return ()
            blocks[unwrapped.start] = unwrapped
        for node in walk(current):
            if isinstance(node, ast.Name) and node.id not in seen:
                seen.add(node.id)
                value = method.single_def(node.id)
                if value is not None:
                    todo.append(value)
            inner = _detached_inner(node)
            if inner is not None and _reads_base(inner, expr.base, method):
                edits[id(node)] = src.replace(node, src.segment(inner))
    # A detach inside an unwrapped block would be a second edit of its span.
    if any(
        b.start < e.end and e.start < b.end
        for b in blocks.values()
        for e in edits.values()
    ):
        return ()
    return (*blocks.values(), *edits.values())


def _detached_inner(node: ast.AST) -> ast.expr | None:
    """``x`` for ``x.detach()``, ``x.data``, ``x.item()``, ``float(x)``."""
    if isinstance(node, ast.Attribute) and node.attr in tn.DETACH_ATTRS:
        return node.value
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in tn.DETACH_METHODS
            and func.attr != "tolist"
            and not node.args
        ):
            return func.value
        if (
            isinstance(func, ast.Name)
            and func.id in tn.DETACH_BUILTINS
            and len(node.args) == 1
        ):
            return node.args[0]
    return None


def _reads_base(expr: ast.expr, base: str, method: MethodFacts) -> bool:
    inlined = inline_locals(expr, method)
    return inlined is not None and base in self_attrs_in(inlined)


def _unwrap_no_grad(method: MethodFacts, value: ast.expr, src: Source) -> Edit | None:
    """The ``with torch.no_grad():`` around ``value``'s statement, replaced by
    its body one level out; None unless that statement is all it holds."""
    stmt = statement_of(method.node, value)
    outer = None
    for node in walk(method.node):
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(
            s is stmt for s in node.body
        ):
            outer = node
    if (
        stmt is None
        or outer is None
        or len(outer.body) != 1
        or len(outer.items) != 1
        or outer.items[0].optional_vars is not None
        or not src.owns_lines(outer)
        or method.in_no_grad(outer)
    ):
        return None
    between = src.lines[outer.lineno : stmt.lineno - 1]
    if any(line.strip() and not line.lstrip().startswith("#") for line in between):
        return None  # a header over several lines
    cut = len(src.indent(stmt)) - len(src.indent(outer))
    if cut <= 0:
        return None
    lines = src.lines[outer.lineno : outer.end_lineno]
    body = "".join(_dedent(line, cut) for line in lines)
    start = src.starts[outer.lineno - 1]
    end = src.line_end(outer.end_lineno)  # type: ignore[arg-type]
    return Edit(start, end, body, span_of(outer), whole_lines=True)


def _dedent(line: str, cut: int) -> str:
    """``line`` less ``cut`` columns of indentation (a form feed Python
    ignores at the start of the line stays in front)."""
    rest = line.lstrip("\f")
    feeds = line[: len(line) - len(rest)]
    return feeds + rest[cut:] if not rest[:cut].strip() else line
