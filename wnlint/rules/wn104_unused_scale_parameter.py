from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import ModuleClass, ModuleFacts, ParamDecl
from wnlint.facts.prefilter import MODULE_CLASSES
from wnlint.facts.syntax import hands_self_away, is_call_to, own_nodes, self_attr
from wnlint.rules._edits import parenthesize
from wnlint.rules.base import Finding, Rule, edits_fix
from wnlint.rules.fixes import Applicability, Edit, Source


class UnusedScaleParameter(Rule):
    """
    ## What it does
    In a module whose `forward` divides a parameter by its norm, flags a
    parameter it declares (typically the scale `weight_g`/`g`) that no method
    reads outside initialisation (`__init__`, `reset_parameters`, ...).

    ## Why is this bad?
    The parameter never enters the graph, so it never trains: after
    `backward()` its `.grad` is `None`, and Adam, AdamW and SGD (weight decay
    and momentum included) skip it silently. `torch.autograd.grad(out,
    [weight_g])` raises `RuntimeError: The differentiated Tensor at index 0
    appears to not have been used in the graph`, and under
    DistributedDataParallel the second iteration raises `RuntimeError:
    Expected to have finished reduction in the prior iteration before
    starting a new one` unless `find_unused_parameters=True`. The layer is a
    normalized layer with a fixed magnitude of 1, not weight norm.

    ## Example
    ```python
    import torch
    import torch.nn as nn

    class WeightNormLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight_g = nn.Parameter(torch.ones(o))
            self.weight_v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            w = self.weight_v / torch.norm(self.weight_v, dim=1, keepdim=True)
            return x @ w.t()
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn

    class WeightNormLinear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight_g = nn.Parameter(torch.ones(o))
            self.weight_v = nn.Parameter(torch.randn(o, i))

        def forward(self, x):
            w = self.weight_v / torch.norm(self.weight_v, dim=1, keepdim=True)
            return x @ (self.weight_g.view(-1, 1) * w).t()
    ```

    ## Fix safety
    Unsafe: multiplying the normalized direction by the scale changes the
    output (from magnitude 1 to `g`; the same at initialisation when `g` is
    initialised to ones) and the training. Offered only when the shapes are
    known from the constructor (`nn.Parameter(torch.ones(o))` or
    `torch.ones(o, 1)` for the scale, `torch.randn(o, i)` for the direction,
    the same `o`), the parameter is named like a scale (`g`, `*_g`,
    `*scale*`, `*gain*`, `*magnitude*`; an unused bias is not a missing
    scale) and the class has exactly one weight-norm product. A 1-D scale is
    applied as `g.view(-1, 1)`.

    ## Known problems
    A class that reads parameters dynamically (`getattr(self, name)`,
    `self.parameters()`, `self.__dict__`) or hands `self` to a function is
    skipped, and so is a parameter that a subclass in the same file reads.
    The spellings of initialisation (`super(Class, self).__init__()`,
    `nn.Module.__init__(self)`) and `type(self)`/`isinstance(self, T)` do
    not count as handing `self` away.
    Parameters inherited from a torch layer (`weight`, `bias`) are not
    reported. Like WN101, the rule starts from a weight-norm product in the
    class: one computed by a module-level helper (`normalize(w)`), or in a
    local name assigned more than once (`w = self.weight; w = w / w.norm()`),
    is not followed, and an unused scale beside it is not reported.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html
    """

    code = "WN104"
    name = "unused-scale-parameter"
    severity = "error"
    summary = (
        "a declared scale parameter that is never read: no gradient, never "
        "trained, DDP errors"
    )
    message = (
        "parameter `self.{name}` is declared but never read: it gets no "
        "gradient and never trains (optimizers skip it, DDP raises)"
    )
    fix_title = "Multiply the normalized direction by the scale parameter"
    prefilter = MODULE_CLASSES
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        for cls, name, decl in _cases(facts):
            fix = None
            if _scale_like(name):  # an unused bias is not a missing scale
                fix = edits_fix(Applicability.UNSAFE, _apply_scale, facts, cls, decl)
            yield self.finding(decl.node, name=name, fix=fix)  # type: ignore[arg-type]


def _apply_scale(
    facts: ModuleFacts, cls: ModuleClass, decl: ParamDecl, src: Source
) -> tuple[Edit, ...]:
    """Multiply the class's one weight-norm product by the scale, when the
    constructor gives both shapes."""
    exprs = facts.weight_norm_exprs(cls)
    if len(exprs) != 1 or exprs[0].scales:
        return ()  # which product the scale belongs to is not known
    expr = exprs[0]
    direction = cls.params.get(expr.base)
    scale = _shape(decl.call, cls)
    shape = _shape(direction.call, cls) if direction else None
    if scale is None or shape is None or len(shape) != 2:
        return ()
    if scale == shape[:1]:
        factor = f"self.{decl.name}.view(-1, 1)"
    elif scale == (shape[0], "1"):
        factor = f"self.{decl.name}"
    else:
        return ()
    text = parenthesize(src.segment(expr.node), expr.node)
    return (src.replace(expr.node, f"{factor} * {text}"),)


def _cases(facts: ModuleFacts) -> Iterator[tuple[ModuleClass, str, ParamDecl]]:
    for cls, _ in facts.normalizing_classes():
        family = [cls, *facts.subclasses(cls)]
        if any(_dynamic(c) for c in family):
            continue
        read = set().union(*(_reads(c) for c in family))
        for name, decl in cls.params.items():
            if decl.node is None or decl.method not in cls.own_methods:
                continue
            if name not in read:
                yield cls, name, decl


def _scale_like(name: str) -> bool:
    """``g``, ``weight_g``, ``gain``, ``log_scale``, ``magnitude``."""
    lower = name.lower()
    return (
        lower == "g"
        or lower.endswith("_g")
        or any(word in lower for word in ("scale", "gain", "magnitude"))
    )


def _shape(call: ast.Call | None, cls: ModuleClass) -> tuple[str, ...] | None:
    """The shape of ``nn.Parameter(torch.ones(a, b))``, as source texts."""
    if call is None or len(call.args) != 1 or call.keywords:
        return None
    factory = call.args[0]
    if not (
        isinstance(factory, ast.Call)
        and isinstance(factory.func, (ast.Name, ast.Attribute))
        and factory.args
        and all(not isinstance(a, ast.Starred) for a in factory.args)
        and all(k.arg in ("dtype", "device") for k in factory.keywords)
    ):
        return None
    init = cls.methods.get("__init__")
    if init is None or not is_call_to(factory, init.scope, tn.SHAPED_FACTORIES):
        return None
    return tuple(ast.unparse(a) for a in factory.args)


def _reads(cls: ModuleClass) -> set[str]:
    """Attributes of self read outside initialisation methods."""
    names: set[str] = set()
    for method in cls.own_methods.values():
        if method.name in tn.INIT_METHODS:
            continue
        for node in own_nodes(method.node):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                name = self_attr(node)
                if name is not None:
                    names.add(name)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                names.add(str(node.args[1].value))
    return names


def _dynamic(cls: ModuleClass) -> bool:
    for method in cls.own_methods.values():
        for node in own_nodes(method.node):
            if self_attr(node) in tn.DYNAMIC_PARAMETER_ACCESS:
                return True
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in (
                    "getattr",
                    "vars",
                ):
                    args = node.args
                    if node.func.id == "vars" or not (
                        len(args) >= 2 and isinstance(args[1], ast.Constant)
                    ):
                        return True
                if hands_self_away(node):
                    return True
    return False
