from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import MethodFacts, ModuleClass, ModuleFacts
from wnlint.facts.prefilter import WRAPPED_STORES
from wnlint.facts.stores import computed_self_stores
from wnlint.facts.syntax import (
    own_nodes,
    self_attr,
    self_attrs_in,
    walk,
)
from wnlint.rules._edits import (
    block_of,
    inline_locals,
    local_names,
    statement_of,
)
from wnlint.rules._wrapped_stores import (
    dropped_weight_cases,
    hook_object_stores,
    installed_forward_stores,
    wrapper_cases,
)
from wnlint.rules.base import Finding, Rule
from wnlint.rules.fixes import Applicability, Edit, Fix, FixContext, LazyFix, Source


class StoredComputedWeight(Rule):
    """
    ## What it does
    In a module whose `forward` normalizes one of its parameters, flags
    `self.<attr> = <expr>` (and `setattr(self, "<attr>", <expr>)`,
    `setattr(self.<submodule>, "<attr>", <expr>)`) inside `forward` or a
    method it calls, when `<expr>` depends on the module's parameters through
    differentiable operations and is not detached (`.detach()`, `.data`,
    `.item()`, `torch.no_grad()`, `torch.inference_mode()`). So is what lands
    on `self.<attr>` by unpacking or from a method of the class:
    `self.weight, s = <expr>, ...`, `self.weight = self._get_weight()` (what
    the method returns) and `self.weight, log_s = self._get_weight()` (the
    element of the tuple it returns, as Glow's `InvConvNear` writes it); a
    parameter itself (a leaf, registered again under the new name) is not.

    In any `nn.Module`, flags a computed weight stored on a wrapped module
    in `forward` or a method it calls: `self.<sub>.<attr> = <expr>`,
    `setattr(self.<sub>, <name>, <expr>)` or
    `self.<sub>._parameters[<name>] = <expr>`, the wrapper design of
    hand-written weight norm, weight dropout, spectral norm and pruning
    masks. `<expr>` must be computed, through differentiable operations that
    are not detached, from the wrapper's parameters: its own, or those it
    registered on the wrapped module, under a literal or a computed name
    (`self.register_parameter(f"{name}_g", ...)` read back as
    `getattr(self, f"{name}_g")`, with the same name expression). A value
    that depends on the method's arguments is an activation, not a weight,
    and is not flagged; neither is a parameter itself or a new
    `nn.Parameter(...)` (leaves), nor a store under `torch.no_grad()`.

    A subclass of a torch layer (`nn.Linear`, `nn.Conv*`, ...) is read the
    same way, whatever its forward normalizes: its stores on `self` of a
    weight computed from its own tensors in `forward` or a method it calls,
    the weight dropout (DropConnect) of Ordered-Neurons'
    `LinearDropConnect(nn.Linear)`
    (`self._weight = self.weight.masked_fill(mask, 0.)`), are flagged; so
    is what a method of the class computes and returns, as NVAE's
    hand-written weight norm keeps it
    (`self.weight_normalized = self.normalize_weight()`).

    A function that installs a closure as a module's forward
    (`module.forward = forward`, `setattr(module, "forward", forward)`) is
    read the same way: the closure's stores on `module` of a value computed
    from `module`'s tensors (`setattr(module, name_w,
    F.dropout(getattr(module, name_w + "_raw"), p))`) are flagged, unless the
    closure stores the name again afterwards (a restore). So is a forward
    hook object that its own class registers
    (`module.register_forward_pre_hook(fn)` with `fn = Hook(name)`, as
    copies of torch's hook-based weight norm and equalized learning rate
    do): its `__call__(self, module, inputs)` storing on `module` a value
    computed from `module`'s tensors, directly or by a method of the hook
    (`setattr(module, self.name, self.compute_weight(module))`).

    ## Why is this bad?
    If `<attr>` is a registered parameter (a subclass of `nn.Linear` or
    `nn.Conv*` writing `self.weight`), the assignment raises `TypeError:
    cannot assign 'torch.FloatTensor' as parameter 'weight'
    (torch.nn.Parameter or None expected)`. Otherwise the attribute holds a
    non-leaf tensor (`grad_fn=DivBackward0`) that is in neither
    `parameters()` nor the state_dict: `torch.optim.Adam([model.weight])`
    raises `ValueError: can't optimize a non-leaf Tensor`,
    `copy.deepcopy(model)` after a forward raises `RuntimeError: Only
    Tensors created explicitly by the user (graph leaves) support the
    deepcopy protocol` (EMA and model-averaging code does this),
    `torch.jit.script` fails, and a forward without backward keeps the
    autograd graph alive on the module. A wrapper leaves the non-leaf on
    the module it wraps, with the same effect on `copy.deepcopy` of the
    whole model after its first forward in training.

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
            self.weight = None

        def forward(self, x):
            self.weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, self.weight)
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
            weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)
            return F.linear(x, weight)
    ```

    ## Fix safety
    Safe when the attribute is stored by a plain `self.<attr> = ...` in the
    method body and read only later in that same method (and, elsewhere in
    the class, only set to `None` in `__init__`): it becomes a local of the
    same name and the placeholder is deleted. When nothing reads it at all,
    the store is deleted with the locals that only fed it (a local would be
    an unused variable); not when that would empty the method or the value
    calls one of the module's own methods. Reads from outside the class
    (`model.<attr>`) cannot be seen and would break.
    Unsafe when other methods read it: the computation becomes a read-only
    `@property` of the class, recomputed at every read, and the store (with
    locals that only fed it) is deleted; the attribute is no longer
    assignable, and each read costs a recomputation. Offered only when the
    value depends on nothing but parameters and module-level names, nothing
    else stores the attribute or reaches it by name, the method does not read
    the previous value first, and no code tests it against `None`.
    A registered parameter (`self.weight` of an `nn.Linear` subclass) or a
    wrapped module's attribute is reported only: the code that reads it is
    torch's. So is a layer subclass's dropped weight: a local or a property
    would change when its mask is drawn. So is a weight unpacked or returned
    by a helper: the statement stores more than the weight, or the weight is
    the helper's to keep.

    ## Known problems
    A store on `self.<attr>` is checked only in modules whose `forward` (or
    a method it calls) divides one of their own parameters by its norm:
    wnlint is a weight-normalization linter, and this keeps it silent on
    caches of activations elsewhere. Torch's own legacy design, a forward
    pre-hook that is a free function, is not a method and is not flagged.
    On a wrapped module, a parameter registered and read back through
    different expressions (`name + "_g"` with `name` an argument, then
    `self.name + "_g"`), or through a bare argument or loop variable, is not
    matched; a weight computed from the method's arguments (a hypernetwork)
    is taken for an activation; a local rebound to `nn.Parameter(...)`
    anywhere in the method is taken for a leaf; and a wrapped module reached
    through another name (`m = self.module`) is not followed.

    ## References
    - https://pytorch.org/docs/stable/notes/autograd.html
    - https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.register_parameter
    """

    code = "WN102"
    name = "stored-computed-weight"
    severity = "error"
    summary = (
        "a computed weight stored on `self` in `forward`: a non-leaf tensor "
        "that breaks `deepcopy` and optimizers (or a `TypeError` over a "
        "registered parameter)"
    )
    message = (
        "computed weight stored on `{target}` in forward: a non-leaf tensor "
        "outside parameters() and state_dict that breaks copy.deepcopy and "
        "optimizers; keep it in a local"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "parameter": (
            "computed tensor assigned to the registered parameter `{target}` in "
            "forward: raises TypeError (torch.nn.Parameter or None expected); "
            "keep the computed weight in a local"
        ),
        "hook": (
            "computed weight stored on the module (`{target}`) by a forward "
            "hook object, as torch's legacy weight norm does: a non-leaf tensor "
            "that makes copy.deepcopy (EMA, model averaging) raise after the "
            "first training forward; register a parametrization "
            "(torch.nn.utils.parametrize) instead of the hook"
        ),
        "installed-forward": (
            "computed weight stored on the module (`{target}`) by the forward "
            "installed on it: a non-leaf tensor that makes copy.deepcopy (EMA, "
            "model averaging) raise after the first forward; register a "
            "parametrization (torch.nn.utils.parametrize) or pass the weight "
            "to a functional call"
        ),
        "dropped": (
            "computed weight stored on `{target}` in forward, from the layer's "
            "own weight: a non-leaf tensor that makes "
            "copy.deepcopy (EMA, model averaging) raise after a training "
            "forward; compute it in forward and hand it to the functional call"
        ),
        "submodule": (
            "computed weight stored on the wrapped module (`{target}`) in "
            "forward: a non-leaf tensor that makes copy.deepcopy (EMA, model "
            "averaging) raise after the first forward; register a "
            "parametrization (torch.nn.utils.parametrize) or pass the weight "
            "to a functional call"
        ),
    }
    fix_title = "Keep the computed weight in a local variable"
    prefilter = WRAPPED_STORES
    fix_safety = "mixed"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        facts = analysis.modules
        reported: set[int] = set()
        for cls, method, node, target, value, whole in computed_self_stores(facts):
            reported.add(id(node))
            attr = target.split(".", 1)[1]
            if "." in attr:
                # A submodule's: the code that reads it is torch's, so there
                # is nothing to rewrite here.
                yield self.finding(node, "submodule", target=target)
                continue
            fix = None
            # (Unpacked or returned by a helper, `value` is only a part of
            # the statement: a local would not say which.)
            if whole and attr not in cls.params and attr not in cls.methods:
                # A registered parameter is read by torch's code too.
                fix = LazyFix(_fixer(facts, cls, method, node, attr, value))
            yield self.finding(
                node,
                "parameter" if attr in cls.params else None,
                fix,
                target=target,
            )
        for node, target in wrapper_cases(analysis, reported):
            yield self.finding(node, "submodule", target=target)
        for node, target, param in dropped_weight_cases(analysis, reported):
            # Report only: what reads it (a mask drawn per call) is the
            # author's design, which a local or a property would change.
            yield self.finding(node, "parameter" if param else "dropped", target=target)
        for node, target in installed_forward_stores(analysis):
            if id(node) not in reported:
                yield self.finding(node, "installed-forward", target=target)
        for node, target in hook_object_stores(analysis):
            if id(node) not in reported:
                yield self.finding(node, "hook", target=target)


def _fixer(
    facts: ModuleFacts,
    cls: ModuleClass,
    method: MethodFacts,
    node: ast.AST,
    attr: str,
    value: ast.expr,
) -> Callable[[FixContext], Fix | None]:
    """The fix: a local when only this method reads the value (safe), else a
    read-only property (unsafe)."""

    def build(ctx: FixContext) -> Fix | None:
        src = ctx.source
        stmt = statement_of(method.node, node)
        if stmt is None or not src.owns_lines(stmt):
            return None
        uses = _mentions(facts.family(cls), attr)
        placeholders = [u for u in uses["placeholder"] if src.owns_lines(u)]
        if len(placeholders) != len(uses["placeholder"]):
            return None
        edits = _to_local(method, stmt, attr, uses, src)
        safe = bool(edits)
        if not edits:
            edits = _to_property(cls, method, stmt, attr, value, uses, src)
        if not edits:
            return None
        edits += tuple(src.delete(p) for p in placeholders)  # type: ignore[misc]
        level = Applicability.SAFE if safe else Applicability.UNSAFE
        return Fix(level, edits)

    return build


def _mentions(classes: list[ast.ClassDef], attr: str) -> dict[str, list]:
    """Every ``self.<attr>`` and ``"<attr>"`` in the classes, sorted into
    ``None`` placeholders in initialisation methods and everything else, and
    the comparisons that test it (``self.<attr> is None``)."""
    found: dict[str, list] = {"placeholder": [], "other": [], "compared": []}
    placeholder_targets: set[int] = set()
    nodes = [n for c in classes for n in walk(c)]
    for func in nodes:
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if func.name not in tn.INIT_METHODS:
            continue
        for stmt in own_nodes(func):
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and self_attr(stmt.targets[0]) == attr
                and isinstance(stmt.value, ast.Constant)
                and stmt.value.value is None
            ):
                found["placeholder"].append(stmt)
                placeholder_targets.add(id(stmt.targets[0]))
    for node in nodes:
        if self_attr(node) == attr:
            if id(node) not in placeholder_targets:
                found["other"].append(node)
        elif isinstance(node, ast.Constant) and node.value == attr:
            found["other"].append(node)
        elif isinstance(node, ast.Compare) and any(
            self_attr(e) == attr for e in walk(node)
        ):
            found["compared"].append(node)
    return found


def _to_local(
    method: MethodFacts, stmt: ast.stmt, attr: str, uses: dict[str, list], src: Source
) -> tuple[Edit, ...]:
    """Safe: ``self.<attr> = ...`` in the method body, read only later in that
    method: the attribute becomes a local of the same name."""
    if not (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and self_attr(stmt.targets[0]) == attr
        and any(s is stmt for s in method.node.body)
    ):
        return ()
    if attr in local_names(method) or any(
        isinstance(n, ast.Name) and n.id == attr for n in own_nodes(method.node)
    ):
        return ()
    mine = {id(n) for n in own_nodes(method.node)}
    target = stmt.targets[0]
    reads = [n for n in uses["other"] if n is not target]
    for read in reads:
        if (
            id(read) not in mine
            or self_attr(read) != attr
            or not isinstance(read.ctx, ast.Load)
            or (read.lineno, read.col_offset) <= (stmt.end_lineno, stmt.end_col_offset)
        ):
            return ()
    if not reads:
        return _delete_unread(method, stmt, src)
    return (
        src.replace(target, attr),
        *(src.replace(read, attr) for read in reads),
    )


def _delete_unread(
    method: MethodFacts, stmt: ast.stmt, src: Source
) -> tuple[Edit, ...]:
    """A store nothing reads: a local in its place would be an unused
    variable (what pyflakes flags), so the statement goes, with the locals
    that only fed it. Kept when that would empty the method, or when the
    value calls a method of the module itself (which may do more than
    compute)."""
    doomed = [stmt, *_feeders(method, stmt, method.node.body)]
    if len(doomed) >= len(method.node.body):
        return ()
    for dead in doomed:
        for node in walk(dead):
            if isinstance(node, ast.Call) and self_attr(node.func) is not None:
                return ()
    edits = [src.delete(dead) for dead in doomed]
    if any(edit is None for edit in edits):
        return ()
    return tuple(edits)  # type: ignore[arg-type]


def _to_property(
    cls: ModuleClass,
    method: MethodFacts,
    stmt: ast.stmt,
    attr: str,
    value: ast.expr,
    uses: dict[str, list],
    src: Source,
) -> tuple[Edit, ...]:
    """Unsafe: other methods read it, so the computation becomes a read-only
    property of the class, recomputed at every read."""
    if any(
        isinstance(n, ast.Attribute) and not isinstance(n.ctx, ast.Load)
        for n in uses["other"]
        if not _is_target_of(n, stmt)
    ):
        return ()  # stored (or deleted) elsewhere too
    if any(isinstance(n, ast.Constant) and not _in(n, stmt) for n in uses["other"]):
        return ()  # reached by name elsewhere (getattr/setattr/hasattr)
    mine = {id(n) for n in own_nodes(method.node)}
    if any(
        id(n) in mine and not _in(n, stmt) and n.lineno <= stmt.lineno
        for n in uses["other"]
    ):
        return ()  # the method reads the previous call's value
    if uses["placeholder"] and uses["compared"]:
        return ()  # `self.w is None` tests: the placeholder means something
    portable = inline_locals(value, method)
    if portable is None or not self_attrs_in(portable) <= set(cls.params):
        return ()
    block = block_of(method.node, stmt)
    if block is None:
        return ()
    gone = [stmt, *_feeders(method, stmt, block)]
    deletions = [src.delete(s) for s in gone]
    if None in deletions:
        return ()
    if len(gone) == len(block):  # the body would be empty
        last = max(deletions, key=lambda e: e.start)  # type: ignore[union-attr]
        deletions.remove(last)
        deletions.append(
            Edit(last.start, last.end, f"{src.indent(stmt)}pass{src.newline}")  # type: ignore[union-attr]
        )
    prop = [
        "",
        "@property",
        f"def {attr}(self):",
        f"    return {ast.unparse(portable)}",
    ]
    return (*deletions, src.insert_after(method.node, prop))  # type: ignore[arg-type]


def _feeders(
    method: MethodFacts, stmt: ast.stmt, block: list[ast.stmt]
) -> list[ast.stmt]:
    """Local definitions in ``block`` read only by ``stmt``: dead once it goes."""
    inside = {id(n) for n in walk(stmt)}
    found: list[ast.stmt] = []
    for name in {n.id for n in walk(stmt) if isinstance(n, ast.Name)}:
        value = method.single_def(name)
        if value is None:
            continue
        feeder = next(
            (s for s in block if isinstance(s, ast.Assign) and s.value is value),
            None,
        )
        if feeder is None or len(feeder.targets) != 1:
            continue
        loads = [
            n
            for n in own_nodes(method.node)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        ]
        if isinstance(feeder.targets[0], ast.Name) and all(
            id(n) in inside for n in loads
        ):
            found.append(feeder)
    return found


def _is_target_of(node: ast.AST, stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and any(t is node for t in stmt.targets)


def _in(node: ast.AST, stmt: ast.stmt) -> bool:
    return any(n is node for n in walk(stmt))
