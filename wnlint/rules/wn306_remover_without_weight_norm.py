from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.classes import ClassGraph
from wnlint.facts.events import LEGACY, NEW, removal_api
from wnlint.facts.guards import weight_norm_test
from wnlint.facts.held_layers import ClassLayers
from wnlint.facts.prefilter import REMOVALS
from wnlint.facts.resolve import resolve
from wnlint.facts.syntax import call_arg, self_attr, string_value, walk
from wnlint.rules._legacy_api import swallows_value_error
from wnlint.rules.base import Finding, LineRef, Rule


class RemoverWithoutWeightNorm(Rule):
    """
    ## What it does
    Flags a remover of either API (`torch.nn.utils.remove_weight_norm`,
    `parametrize.remove_parametrizations`) on a `self.<attr>` of an
    `nn.Module` class whose weight norm was never applied under that
    tensor's name:
    - the attribute holds torch layers that the class never weight-norms
      (`self.source_downs.append(nn.Conv1d(...))`, then
      `for l in self.source_downs: remove_weight_norm(l)`);
    - the class norms the attribute only on other tensors
      (`weight_norm(self.lstm, "weight_hh_l0")`, then
      `remove_weight_norm(self.lstm)`, which removes `"weight"`);
    - no class of the family ever sets the attribute (StyleTTS2's
      `Generator.remove_weight_norm` removes it from a `self.conv_pre` its
      `__init__` never builds): reading it raises `AttributeError`, and the
      method stops there. Reported where the class derives from
      `nn.Module` itself, binds no such name in its body, defines no
      `__getattr__`, and no `try` or test of the attribute surrounds the
      remover.

    ## Why is this bad?
    Each remover raises on a module that carries no weight norm on the
    tensor it names (observed on torch 2.13): `ValueError: weight_norm of
    'weight' not found in Conv1d(...)` (legacy) or `ValueError: Module
    Conv1d(...) does not have a parametrization on weight`. Removers run
    when a model is prepared for inference or export, so the error comes
    long after training. Under a `try` that swallows the `ValueError`, the
    remover removes nothing, and the weight norm on the other tensors
    stays in the exported model.

    ## Example
    ```python
    import torch.nn as nn
    from torch.nn.utils import parametrizations, parametrize

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = parametrizations.weight_norm(nn.LSTM(8, 8), "weight_hh_l0")

        def remove_weight_norm(self):
            parametrize.remove_parametrizations(self.lstm, "weight")
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torch.nn.utils import parametrizations, parametrize

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = parametrizations.weight_norm(nn.LSTM(8, 8), "weight_hh_l0")

        def remove_weight_norm(self):
            parametrize.remove_parametrizations(self.lstm, "weight_hh_l0")
    ```

    ## Fix safety
    No automatic fix: whether the remover should name the normed tensor,
    or the layers should have been weight-normed, is the author's call.

    ## Known problems
    Reported only where the class's own code says everything that happens
    to the attribute: every value stored in it is a torch layer, or a layer
    class of the project's other modules that cannot weight-norm itself
    (its module and its bases' never spell weight norm, nor import a
    project module that does: CosyVoice's `CausalConv1d`), or a class of
    this file deriving from `nn.Module` alone that never gives itself a
    weight or a weight norm (a wrapper that norms the layer it holds, as
    FAcodec's `NormConv1d` does: a remover on the wrapper raises), or a
    `nn.ModuleList`/`nn.Sequential` or list of them (a comprehension's
    element stands for each), filled with `append`,
    `extend` or `insert`; weight-normed in place or not; every tensor name
    it is normed on is a string, and the attribute (or a loop variable over
    it) is used only to call the layers, to norm them, to remove the norm,
    and to `.apply` an init function from a project module that never
    spells weight norm (Applio's `self.input_conv.apply(init_weights)`).
    A layer weight-normed in one arm of an `if` counts as normed, so a
    remover that raises only when the other arm ran is not reported.
    The class derives from `torch.nn` classes only, does not hand `self`
    away (`init_weights(self)`, `self.apply(fn)`), and is read with its
    subclasses in the file. A subclass in another file that norms the
    attribute is not seen. A remover under an `if` that tests the module, or (for layers
    never normed) under a `try` that swallows the `ValueError`, is not
    reported; but for layers never normed, the `else:` arm of a test of
    weight norm (`if hasattr(m, "parametrizations"): ... else:
    remove_weight_norm(m)`, as WN303's fix writes it) still reaches every
    plain layer, and is.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.remove_weight_norm.html
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.remove_parametrizations.html
    """

    code = "WN306"
    name = "remover-without-weight-norm"
    severity = "error"
    summary = (
        "a remover on a module the class never weight-normed under that "
        "tensor's name: `ValueError` at removal time, or nothing removed "
        "when it is swallowed"
    )
    message = (
        "{remover} on `{target}`, which holds layers this class never "
        "weight-norms: raises ValueError (no weight norm on '{tensor}')"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "never-set": (
            "{remover} on `{target}`, which this class never sets: reading it "
            "raises AttributeError"
        ),
        "other-tensor": (
            "{remover} removes weight norm from '{tensor}', but `{target}` is "
            "weight-normed only on {normed} ({line}): raises ValueError"
        ),
        "swallowed": (
            "{remover} removes weight norm from '{tensor}', but `{target}` is "
            "weight-normed only on {normed} ({line}): removes nothing, its "
            "ValueError is swallowed, and weight norm stays"
        ),
    }
    fix_title = "Remove weight norm from the tensor it was applied to"
    prefilter = REMOVALS

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        by_class: dict[int, list[tuple[Site, str]]] = {}
        classes: dict[int, ast.ClassDef] = {}
        for site in analysis.calls:
            kind = removal_api(site.node.func, site.scope)  # type: ignore[attr-defined]
            owner = site.scope.enclosing("class") if kind in (LEGACY, NEW) else None
            if owner is not None and isinstance(owner.node, ast.ClassDef):
                classes[id(owner)] = owner.node
                by_class.setdefault(id(owner), []).append((site, kind))  # type: ignore[arg-type]
        if not by_class:
            return
        graph = ClassGraph(analysis.class_nodes)
        for key, removers in by_class.items():
            held = ClassLayers.of(classes[key], analysis, graph)
            if held is None:
                continue
            for site, kind in removers:
                yield from self._check_remover(held, site, kind)

    def _check_remover(
        self, held: ClassLayers, site: Site, kind: str
    ) -> Iterator[Finding]:
        call: ast.Call = site.node  # type: ignore[assignment]
        found = held.removers.get(id(call))
        if found is None:
            return
        attr, target = found
        if _never_set(held, call) is not None:
            yield from self._never_set(site, kind, attr, target)
            return
        contents = held.attrs.get(attr)
        if contents is None or contents.unknown or not contents.elements:
            return
        name_node = call_arg(call, 1, "name" if kind == LEGACY else "tensor_name")
        if name_node is None and kind == NEW:
            return  # WN305: the call itself raises TypeError
        tensor = (
            tn.DEFAULT_WEIGHT_NAME if name_node is None else string_value(name_node)
        )
        normed = contents.normed_names()
        if tensor is None or tensor in normed or _tests_module(site, attr, normed):
            return
        remover = "remove_weight_norm" if kind == LEGACY else "remove_parametrizations"
        swallowed = swallows_value_error(site)
        if not normed:
            if not swallowed:  # nothing normed, nothing left behind
                yield self.finding(call, remover=remover, target=target, tensor=tensor)
            return
        yield self.finding(
            call,
            "swallowed" if swallowed else "other-tensor",
            remover=remover,
            target=target,
            tensor=tensor,
            normed=", ".join(f"'{n}'" for n in sorted(normed)),
            line=LineRef(contents.first_norm_line),
        )

    def _never_set(
        self, site: Site, kind: str, attr: str, target: str
    ) -> Iterator[Finding]:
        """A remover on an attribute no class of the family sets: reported
        unless a ``try`` may catch the ``AttributeError`` or an ``if``
        tests the attribute."""
        if any(guard == "try" for guard, _, _ in site.guards):
            return
        if _tests_module(site, attr, set()):
            return
        remover = "remove_weight_norm" if kind == LEGACY else "remove_parametrizations"
        yield self.finding(site.node, "never-set", remover=remover, target=target)


def _never_set(held: ClassLayers, call: ast.Call) -> str | None:
    """The attribute the remover ``call`` acts on, when no class of the
    family ever sets it: no method stores to it, no class body binds
    it, none defines ``__getattr__``, and every base outside the family
    is ``nn.Module`` itself. Reading it raises ``AttributeError``
    (StyleTTS2's ``remove_weight_norm(self.conv_pre)``)."""
    found = held.removers.get(id(call))
    contents = None if found is None else held.attrs.get(found[0])
    if found is None or contents is None:
        return None
    if contents.unknown or contents.assigned or contents.elements:
        return None
    if held.methods & {"__getattr__", "__getattribute__"}:
        return None
    attr = found[0]
    names = {member.name for member in held.family}
    for member in held.family:
        scope = held.analysis.scopes.get(id(member))
        if scope is None or attr in _class_body_names(member):
            return None
        for base in member.bases:
            if isinstance(base, ast.Name) and base.id in names:
                continue
            bound = resolve(base, scope.parent)  # type: ignore[arg-type]
            if not bound or not bound <= tn.MODULE_BASE:
                return None
    return attr


def _class_body_names(cls: ast.ClassDef) -> set[str]:
    """Names a class body binds (class attributes, methods)."""
    out: set[str] = set()
    for stmt in cls.body:
        targets = (
            stmt.targets
            if isinstance(stmt, ast.Assign)
            else [stmt.target]
            if isinstance(stmt, ast.AnnAssign)
            else []
        )
        out.update(t.id for t in targets if isinstance(t, ast.Name))
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(stmt.name)
    return out


def _tests_module(site: Site, attr: str, normed: set[str]) -> bool:
    """The remover sits under an ``if`` whose test reads the module (or
    the loop variable over it): it may skip modules without weight norm.
    Of layers never normed, the arm where a weight-norm API's test fails
    (``else:`` under ``hasattr(m, "parametrizations")``, the shape WN303's
    fix writes) still reaches every one."""
    module = call_arg(site.node, 0, "module")  # type: ignore[arg-type]
    for kind, node, scope in site.guards:
        if kind not in ("if", "else") or not _mentions(node, attr, module):
            continue
        if kind == "else" and not normed:
            tested = weight_norm_test(node, scope)
            if tested is not None and _mentions(tested[0], attr, module):
                continue
        return True
    return False


def _mentions(node: ast.AST, attr: str, module: ast.expr | None) -> bool:
    """``node`` reads ``self.<attr>`` or the remover's loop variable."""
    for part in walk(node):
        if self_attr(part) == attr:
            return True
        if (
            isinstance(part, ast.Name)
            and isinstance(module, ast.Name)
            and part.id == module.id != "self"
        ):
            return True
    return False
