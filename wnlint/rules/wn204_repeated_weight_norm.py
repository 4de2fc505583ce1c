from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.analysis import FileAnalysis
from wnlint.prefilter import LEGACY_API
from wnlint.rules._flow_rules import applied_before
from wnlint.rules.base import Finding, Rule


class RepeatedWeightNorm(Rule):
    """
    ## What it does
    Flags weight norm (either API) applied to a module that is already
    weight-normed on the same parameter: twice in one function, through an
    alias (`conv = weight_norm(conv)` then `weight_norm(conv)`), or nested
    (`weight_norm(weight_norm(conv))`).

    ## Why is this bad?
    The legacy API raises `RuntimeError: Cannot register two weight_norm
    hooks on the same parameter weight`. The parametrizations API accepts
    the second call silently and stacks a second parametrization, and the
    module then fails on first use (observed on torch 2.13: reading
    `.weight` or calling the module raises `TypeError: _WeightNorm.forward()
    missing 1 required positional argument: 'weight_v'`), far from the line
    that caused it.

    ## Example
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv1d(16, 16, 3))
    conv = weight_norm(conv)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv1d(16, 16, 3))
    ```

    ## Fix safety
    No automatic fix: which of the two applications is intended is the
    author's call.

    ## Known problems
    Only one function body is seen, in source order; applications in
    different arms of an `if` or `try` are never paired, and loops are not
    unrolled.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.register_parametrization.html
    """

    code = "WN204"
    name = "repeated-weight-norm"
    summary = (
        "weight norm applied twice to one module: `RuntimeError` (legacy API), "
        "or a stacked parametrization that raises `TypeError` on first use"
    )
    message = (
        "weight norm applied to `{key}` again (first on line {line}): the "
        "legacy API raises RuntimeError, the new one stacks a second "
        "parametrization that fails on first use"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "nested": "weight norm applied to a module that is already weight-normed"
    }
    fix_title = "Apply weight norm once"
    prefilter = LEGACY_API

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for flow in analysis.flows:
            applications = {id(app.node): app for app in flow.applications}
            for app in flow.applications:
                target = app.node.args[0] if app.node.args else None
                inner = (
                    applications.get(id(target))
                    if isinstance(target, ast.Call)
                    else None
                )
                if inner is not None and inner.name == app.name:
                    yield self.finding(app.node, "nested")
                    continue
                for key in sorted(app.keys):
                    earlier = applied_before(flow, key, app.order, app.name)
                    if earlier is not None:
                        yield self.finding(app.node, key=key, line=earlier.node.lineno)
                        break
