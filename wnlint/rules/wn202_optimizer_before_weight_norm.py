from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.order import Application, OptimizerCall, ScopeFlow, covers
from wnlint.facts.prefilter import LEGACY_API
from wnlint.facts.syntax import walk
from wnlint.rules._edits import block_of, statement_of
from wnlint.rules.base import Finding, LineRef, Rule, edits_fix
from wnlint.rules.fixes import Applicability, Edit, Source


class OptimizerBeforeWeightNorm(Rule):
    """
    ## What it does
    In one function (or the module body), flags a weight-norm call (either
    API) on a module, or on a submodule of one, whose `.parameters()` were
    handed to an optimizer built earlier in that scope, when no optimizer is
    built over it again afterwards.

    ## Why is this bad?
    Weight norm replaces the module's `weight` parameter with new ones (`g`
    and `v`). The optimizer still holds the removed `weight`: `g` and `v`
    get gradients but are never stepped (observed with both APIs: no change
    at all after every step), and `opt.zero_grad()` does not clear them, so
    their `.grad` keeps accumulating. Only the other parameters train and
    the loss still falls, so nothing looks wrong.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    weight_norm(model[0])
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    weight_norm(model[0])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## Fix safety
    Unsafe: it changes which tensors train. The weight-norm statement moves
    just above the optimizer's, only when both are plain statements of the
    same block, nothing between them mentions a name the weight-norm
    statement uses, and the optimizer statement does not bind one. Otherwise
    the finding is reported only.

    ## Known problems
    Only one function body is seen, in source order; loops are not unrolled,
    and statements in different arms of an `if` or `try` are never paired.

    ## References
    - https://pytorch.org/docs/stable/optim.html#constructing-it
    """

    code = "WN202"
    name = "optimizer-before-weight-norm"
    severity = "error"
    summary = (
        "weight norm applied after the module's parameters went to an "
        "optimizer: `g` and `v` are never stepped"
    )
    message = (
        "weight norm applied to `{key}` after `{module}.parameters()` went to "
        "the optimizer on {line}: it keeps the removed weight, and g and v "
        "are never stepped"
    )
    fix_title = "Apply weight norm before building the optimizer"
    prefilter = LEGACY_API
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for flow, app, opt, module, key in _cases(analysis):
            yield self.finding(
                app.node,
                key=key,
                module=module,
                line=LineRef(opt.node.lineno),
                fix=edits_fix(Applicability.UNSAFE, _move_above, flow, app, opt),
            )


def _cases(
    analysis: FileAnalysis,
) -> Iterator[tuple[ScopeFlow, Application, OptimizerCall, str, str]]:
    for flow in analysis.flows:
        for app in flow.applications:
            for opt in flow.optimizers:
                if opt.order >= app.order or flow.exclusive(opt.order, app.order):
                    continue
                hit = next(
                    (
                        (module, key)
                        for module, _ in opt.modules
                        for key in app.keys
                        if covers(module, key)
                        and not flow.rebound_between(module, opt.order, app.order)
                    ),
                    None,
                )
                if hit is None:
                    continue
                module, key = hit
                rebuilt = any(
                    later.order > app.order
                    and any(covers(m, key) for m, _ in later.modules)
                    for later in flow.optimizers
                )
                if not rebuilt:
                    yield flow, app, opt, module, key
                    break


def _move_above(
    flow: ScopeFlow, app: Application, opt: OptimizerCall, src: Source
) -> tuple[Edit, ...]:
    """Move the weight-norm statement just above the optimizer's, when both
    are plain statements of one block and nothing between them (nor the
    optimizer statement's own targets) touches a name the move depends on."""
    scope_node = flow.scope.node
    if scope_node is None:
        return ()
    app_stmt = statement_of(scope_node, app.node)
    opt_stmt = statement_of(scope_node, opt.node)
    if app_stmt is None or opt_stmt is None:
        return ()
    if not (
        (isinstance(app_stmt, ast.Expr) and app_stmt.value is app.node)
        or (isinstance(app_stmt, ast.Assign) and app_stmt.value is app.node)
    ):
        return ()
    block = block_of(scope_node, app_stmt)
    if block is None or not any(s is opt_stmt for s in block):
        return ()
    first = next(i for i, s in enumerate(block) if s is opt_stmt)
    last = next(i for i, s in enumerate(block) if s is app_stmt)
    moved = _names(app_stmt)
    for stmt in [opt_stmt, *block[first + 1 : last]]:
        touched = _stored(stmt) if stmt is opt_stmt else _names(stmt)
        if touched & moved:
            return ()
    deletion = src.delete(app_stmt)
    if deletion is None or not src.owns_lines(opt_stmt):
        return ()
    text = src.text[deletion.start : deletion.end]
    if text[-1:] not in ("\n", "\r"):
        text += src.newline
    return (src.insert_before(opt_stmt, text), deletion)


def _names(stmt: ast.AST) -> set[str]:
    return {n.id for n in walk(stmt) if isinstance(n, ast.Name)}


def _stored(stmt: ast.AST) -> set[str]:
    return {
        n.id
        for n in walk(stmt)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
