from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import MethodFacts, ModuleClass
from wnlint.facts.prefilter import PARAMETER_CALLS
from wnlint.facts.syntax import call_arg, is_call_to, method_class, own_nodes, self_attr
from wnlint.rules.base import Finding, Rule


class ParameterInForward(Rule):
    """
    ## What it does
    In any `nn.Module`, flags `nn.Parameter(...)` constructed inside
    `forward` (or a method it calls), whether assigned to `self`, to a
    local, or stored elsewhere. A parameter that is not meant to learn is
    not flagged: created with `requires_grad=False`, turned off in the same
    method (`.requires_grad_(False)` on the call, or on the name or
    `self.<attr>` it is assigned to, or `<that>.requires_grad = False`), or
    created under `torch.no_grad()`.

    ## Why is this bad?
    The tensor receives a gradient but is never learned. A local one never
    appears in `parameters()`. `self.g = nn.Parameter(...)` in forward is
    registered only after the first forward, so an optimizer built before it
    does not have it, and it is re-created (reset to its initial value) on
    every call that runs the line; re-wrapping an existing parameter
    (`self.emb = nn.Parameter(self.emb.half())`) leaves the optimizer
    stepping the old one, which forward no longer uses. `nn.Parameter(w)` of
    a computed `w` is also a new leaf, cut from what `w` was computed from:
    those parameters get no gradient either (weight dropout that wraps its
    dropped weight in a Parameter never trains the raw weight).

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
            g = nn.Parameter(torch.ones(self.v.shape[0], 1))
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
            self.g = nn.Parameter(torch.ones(o, 1))

        def forward(self, x):
            return F.linear(x, self.g * self.v / self.v.norm(dim=1, keepdim=True))
    ```

    ## Fix safety
    No automatic fix: where the parameter belongs and how it is initialised
    depends on the module. Create it in `__init__`, or use a `nn.Lazy*`
    module or `torch.nn.parameter.UninitializedParameter` when its shape is
    known only at the first call.

    ## Known problems
    The class must be an `nn.Module` subclass as this file shows it: a
    class whose base is imported from another module of the project is not
    recognized. Methods reached through another object, nested functions
    and module-level helpers that forward calls are not followed. A class
    that mixes in a lazy-initialization protocol (a base named
    `Lazy...Mixin`, such as pytorch-pfn-extras' `LazyInitializationMixin`)
    is not checked: its documented contract is a dry-run forward before the
    optimizer is built, which the rule cannot see.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.parameter.UninitializedParameter.html
    """

    code = "WN106"
    name = "parameter-in-forward"
    severity = "error"
    summary = (
        "`nn.Parameter(...)` created in `forward`: never registered in time, "
        "never learned"
    )
    message = (
        "nn.Parameter created in forward is never learned: create it in "
        "__init__ (or use nn.Lazy*/UninitializedParameter)"
    )
    fix_title = "Create the parameter in __init__"
    prefilter = PARAMETER_CALLS

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        holders = {
            id(holder)
            for site in analysis.calls
            if (holder := method_class(site.scope)) is not None
            and is_call_to(site.node, site.scope, tn.PARAMETER)
        }
        if not holders:
            return
        reported: set[int] = set()
        for cls in analysis.modules.classes_around(holders):
            if _lazy_protocol(cls):
                continue
            for method in cls.reachable():
                created = [
                    node
                    for node in own_nodes(method.node)
                    if id(node) not in reported
                    and isinstance(node, ast.Call)
                    and is_call_to(node, method.scope, tn.PARAMETER)
                ]
                frozen = _frozen(method) if created else set()
                for node in created:
                    if id(node) not in frozen and not method.in_no_grad(node):
                        reported.add(id(node))
                        yield self.finding(node)


def _lazy_protocol(cls: ModuleClass) -> bool:
    """The class, or a same-file base, mixes in a lazy-initialization
    protocol (a base named ``Lazy...Mixin``: torch's ``LazyModuleMixin``,
    pytorch-pfn-extras' ``LazyInitializationMixin``), whose contract is a
    dry-run forward before the optimizer is built."""
    todo = [cls]
    while todo:
        current = todo.pop()
        for base in current.node.bases:
            name = ast.unparse(base).rsplit(".", 1)[-1]
            if name.startswith("Lazy") and name.endswith("Mixin"):
                return True
        todo.extend(current.file_bases)
    return False


def _frozen(method: MethodFacts) -> set[int]:
    """ids of the ``nn.Parameter(...)`` calls of ``method`` that are not
    meant to learn: ``requires_grad=False``, ``.requires_grad_(False)`` on
    the call, or on (or ``.requires_grad = False`` to) the name or
    ``self.<attr>`` it is assigned to in the same method."""
    found: set[int] = set()
    created: dict[str, ast.Call] = {}
    turned_off: set[str] = set()
    for node in own_nodes(method.node):
        if isinstance(node, ast.Call):
            if _is_false(call_arg(node, 1, "requires_grad")):
                found.add(id(node))
            elif _is_method(node, "requires_grad_") and _is_false(
                call_arg(node, 0, "requires_grad")
            ):
                receiver = node.func.value  # type: ignore[attr-defined]
                found.add(id(receiver))
                turned_off.add(_ref(receiver))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(node.value, ast.Call):
                created[_ref(target)] = node.value
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "requires_grad"
                and _is_false(node.value)
            ):
                turned_off.add(_ref(target.value))
    found.update(id(call) for ref, call in created.items() if ref in turned_off - {""})
    return found


def _is_method(node: ast.Call, name: str) -> bool:
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr == name


def _is_false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _ref(node: ast.AST) -> str:
    """A local name or ``self.<attr>``, whatever the context; "" otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    attr = self_attr(node)
    return f"self.{attr}" if attr is not None else ""
