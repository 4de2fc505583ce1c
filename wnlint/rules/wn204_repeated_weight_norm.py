from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.branches import Branches, same_tensor, tensor_name
from wnlint.facts.prefilter import LEGACY_API
from wnlint.rules._flow_rules import reapplied_before, reapplied_in_methods
from wnlint.rules.base import Finding, LineRef, Rule


class RepeatedWeightNorm(Rule):
    """
    ## What it does
    Flags weight norm (either API) applied to a module that is already
    weight-normed on the same parameter: twice in one function, through an
    alias (`conv = weight_norm(conv)` then `weight_norm(conv)`), nested
    (`weight_norm(weight_norm(conv))`), or by a method (`apply_weight_norm`)
    to a `self.<attr>` that `__init__` (or a method it calls) already normed.

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
    Applications that never run in one call are not paired: arms of one
    `if`/`try`/`match`, and separate `if` statements whose tests contradict
    on one variable (`kind == "new"` / `kind == "legacy"`, disjoint `in`
    tuples, `if x` / `if not x`) that is not rebound in between. Names of
    the normed tensor are compared as written: distinct strings, or
    f-strings with different constant parts, never pair; an expression
    pairs only with the same expression. Loops are not unrolled. Across
    methods, only a method of the same class that `__init__` does not reach
    is paired with `__init__`, and not when it first removes weight norm
    from the module, rebinds it, or calls a method that does; a class that
    applies weight norm only outside `__init__` (an `apply_weight_norm` /
    `remove_weight_norm` pair) is never reported. Which methods run after
    which is otherwise not known: a method that `__init__` reaches and that
    removes or rebinds the module silences the pairing.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.register_parametrization.html
    """

    code = "WN204"
    name = "repeated-weight-norm"
    severity = "error"
    summary = (
        "weight norm applied twice to one module: `RuntimeError` (legacy API), "
        "or a stacked parametrization that raises `TypeError` on first use"
    )
    message = (
        "weight norm applied to `{key}` again (first on {line}): the "
        "legacy API raises RuntimeError, the new one stacks a second "
        "parametrization that fails on first use"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "nested": "weight norm applied to a module that is already weight-normed",
        "method": (
            "weight norm applied to `{key}` again (first on {line}, in "
            "`{method}`): the legacy API raises RuntimeError, the new one stacks "
            "a second parametrization that fails on first use"
        ),
    }
    fix_title = "Apply weight norm once"
    prefilter = LEGACY_API

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        reported: set[int] = set()
        for flow in analysis.flows:
            branches = Branches(flow) if len(flow.applications) > 1 else None
            applications = {id(app.node): app for app in flow.applications}
            for app in flow.applications:
                target = app.node.args[0] if app.node.args else None
                inner = (
                    applications.get(id(target))
                    if isinstance(target, ast.Call)
                    else None
                )
                if inner is not None and same_tensor(
                    tensor_name(inner, flow), tensor_name(app, flow)
                ):
                    reported.add(id(app.node))
                    yield self.finding(app.node, "nested")
                    continue
                earlier = branches and reapplied_before(flow, branches, app)
                if earlier:
                    key, first = earlier
                    reported.add(id(app.node))
                    yield self.finding(
                        app.node, key=key, line=LineRef(first.node.lineno)
                    )
        for found in reapplied_in_methods(analysis):
            if id(found.app.node) not in reported:
                reported.add(id(found.app.node))
                yield self.finding(
                    found.app.node,
                    "method",
                    key=found.key,
                    line=LineRef(found.first.node.lineno),
                    method=found.first_method,
                )
