from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.classes import ClassGraph
from wnlint.facts.events import LEGACY, NEW, norm_api, removal_api
from wnlint.facts.held_layers import ClassLayers
from wnlint.facts.prefilter import LEGACY_API
from wnlint.facts.resolve import Scope, module_spelling, resolves_only_to
from wnlint.facts.syntax import call_arg, string_value
from wnlint.rules._legacy_api import in_dual_api_branch, swallows_value_error
from wnlint.rules.base import Finding, Rule, edits_fix
from wnlint.rules.fixes import Applicability, Edit, Source


class MismatchedWeightNormRemoval(Rule):
    """
    ## What it does
    Flags a remover that does not match the API that applied weight norm in
    the same class (or, outside classes, the same file):
    `torch.nn.utils.remove_weight_norm` where weight norm comes from
    `torch.nn.utils.parametrizations.weight_norm` (always, or whenever it is
    available, as with the common shim `weight_norm = nn.utils.weight_norm`
    followed by `if hasattr(nn.utils.parametrizations, "weight_norm"):
    weight_norm = nn.utils.parametrizations.weight_norm`), and
    `parametrize.remove_parametrizations(m, "weight")` where it comes only
    from the legacy API.

    ## Why is this bad?
    Each API removes only its own, and the mismatch raises at removal time,
    typically when a model is prepared for inference: `ValueError:
    weight_norm of 'weight' not found in ParametrizedConv1d(...)`, or
    `ValueError: Module ... does not have a parametrization on weight`. With
    the shim, every torch with the parametrizations API (2.1 and later) takes
    the failing path.

    ## Example
    ```python
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(8, 8, 3)

        def apply_weight_norm(self):
            weight_norm = nn.utils.weight_norm
            if hasattr(nn.utils.parametrizations, "weight_norm"):
                weight_norm = nn.utils.parametrizations.weight_norm
            weight_norm(self.conv)

        def remove_weight_norm(self):
            nn.utils.remove_weight_norm(self.conv)
    ```

    ## Use instead
    ```python
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(8, 8, 3)

        def apply_weight_norm(self):
            weight_norm = nn.utils.weight_norm
            if hasattr(nn.utils.parametrizations, "weight_norm"):
                weight_norm = nn.utils.parametrizations.weight_norm
            weight_norm(self.conv)

        def remove_weight_norm(self):
            if hasattr(self.conv, "parametrizations"):
                nn.utils.parametrize.remove_parametrizations(self.conv, "weight")
            else:
                nn.utils.remove_weight_norm(self.conv)
    ```

    ## Fix safety
    Safe: the remover becomes the guarded form shown above, which removes
    whichever API applied weight norm (`hasattr(m, "parametrizations")`
    tells them apart), so it is right for an unconditional applier, a
    version-gated shim and an `if`/`else` on the API alike. Offered for a
    remover that is a statement of its own on one line, whose module is a
    name, an attribute chain or a subscript by a name or literal (evaluated
    twice), and whose other remover can be spelled from the same prefix
    (`nn.utils.remove_weight_norm` gives `nn.utils.parametrize...`) or from
    a module-level `import torch`/`torch.nn`/`torch.nn.utils` binding.

    ## Known problems
    The API in effect is judged per class (or per file for code outside
    classes); a class that applies both APIs is left alone. A removal that
    checks which API is in effect, or that tolerates the `ValueError` next
    to a removal of the other kind, is correct and not flagged; a remover
    whose `ValueError` is swallowed with no remover of the other kind in
    its function removes nothing, and is reported as such. A remover on
    layers its class holds and never weight-norms (CosyVoice's
    `source_downs`) fails with either API: WN306 reports it, not this rule,
    whose fix would not help there.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.remove_parametrizations.html
    """

    code = "WN303"
    name = "mismatched-weight-norm-removal"
    severity = "error"
    summary = (
        "a remover that does not match the API that applied weight norm in the "
        "class or file (the version-gated shim included): `ValueError` at "
        "removal time"
    )
    message = (
        "torch.nn.utils.remove_weight_norm on modules normed with "
        "torch.nn.utils.parametrizations.weight_norm (always, or whenever "
        "available): raises ValueError: weight_norm of 'weight' not found"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "legacy-applied": (
            "parametrize.remove_parametrizations on modules normed with the "
            "legacy torch.nn.utils.weight_norm: raises ValueError: the module "
            "does not have a parametrization on weight"
        ),
        "legacy-swallowed": (
            "parametrize.remove_parametrizations on modules normed with the "
            "legacy torch.nn.utils.weight_norm: removes nothing: its "
            "ValueError is swallowed by the except, and weight norm stays"
        ),
        "swallowed": (
            "torch.nn.utils.remove_weight_norm on modules normed with "
            "torch.nn.utils.parametrizations.weight_norm (always, or whenever "
            "available): removes nothing: its ValueError is swallowed by the "
            "except, and weight norm stays"
        ),
    }
    fix_title = "Remove whichever API applied weight norm (hasattr guard)"
    fix_safety = "safe"
    prefilter = LEGACY_API

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        applied: dict[int | None, set[str]] = {}
        removals: list[tuple[Site, str]] = []
        for site in analysis.calls:
            func = site.node.func  # type: ignore[attr-defined]
            owner = _class_of(site)
            api = norm_api(func, site.scope)
            if api is not None:
                # A shim that may be either counts as the new API.
                applied.setdefault(owner, set()).add(LEGACY if api == LEGACY else NEW)
                continue
            removes = removal_api(func, site.scope)
            if removes == LEGACY or (
                removes == NEW and _tensor_name(site.node) == tn.DEFAULT_WEIGHT_NAME  # type: ignore[arg-type]
            ):
                removals.append((site, removes))
        everywhere = set().union(*applied.values()) if applied else set()
        # Functions that call the legacy remover: a new-API remover's
        # fallback there.
        legacy = {id(_function_of(s)) for s, kind in removals if kind == LEGACY}
        plain = _PlainTargets(analysis)
        for site, kind in removals:
            kinds = applied.get(_class_of(site)) or everywhere
            if _handles_both(site, kind, id(_function_of(site)) in legacy):
                continue
            if plain.of(site):
                continue  # never normed at all: WN306's finding, not an API's
            fix = edits_fix(Applicability.SAFE, _guarded, site, kind)
            swallowed = swallows_value_error(site)
            if kind == LEGACY and kinds == {NEW}:
                variant = "swallowed" if swallowed else None
                yield self.finding(site.node, variant, fix=fix)
            elif kind == NEW and kinds == {LEGACY}:
                variant = "legacy-swallowed" if swallowed else "legacy-applied"
                yield self.finding(site.node, variant, fix=fix)


class _PlainTargets:
    """Which removers act on layers their class holds and never
    weight-norms (:meth:`ClassLayers.holds_no_weight_norm`), each class
    read once, and only where a remover would be reported."""

    def __init__(self, analysis: FileAnalysis) -> None:
        self.analysis = analysis
        self.graph: ClassGraph | None = None
        self.held: dict[int, ClassLayers | None] = {}

    def of(self, site: Site) -> bool:
        owner = site.scope.enclosing("class")
        if owner is None or not isinstance(owner.node, ast.ClassDef):
            return False
        if id(owner) not in self.held:
            if self.graph is None:
                self.graph = ClassGraph(self.analysis.class_nodes)
            self.held[id(owner)] = ClassLayers.of(owner.node, self.analysis, self.graph)
        held = self.held[id(owner)]
        return held is not None and held.holds_no_weight_norm(site.node)  # type: ignore[arg-type]


def _handles_both(site: Site, kind: str, legacy_nearby: bool) -> bool:
    """The remover sits where the code removes whichever API is there
    (:func:`in_dual_api_branch`). A new-API remover under a ``try`` that
    swallows the ``ValueError`` does so only when its function also calls
    the legacy remover (the fallback): the function's mention of the new
    API is the remover itself (``legacy_nearby``: the function calls the
    legacy remover)."""
    if kind == LEGACY:
        return in_dual_api_branch(site, tolerant_try=True)
    if in_dual_api_branch(site):
        return True
    return legacy_nearby and in_dual_api_branch(site, tolerant_try=True)


def _function_of(site: Site) -> Scope:
    """The function (else the module) whose body holds the call."""
    return site.scope.enclosing("function") or site.scope.module


def _class_of(site: Site) -> int | None:
    scope = site.scope.enclosing("class")
    return id(scope.node) if scope is not None else None


def _tensor_name(call: ast.Call) -> str | None:
    return string_value(call_arg(call, 1, "tensor_name"))


#: Where each remover takes its module and its tensor's name.
_ARGS = {LEGACY: ("module", "name"), NEW: ("module", "tensor_name")}


def _guarded(site: Site, kind: str, src: Source) -> tuple[Edit, ...]:
    """``if hasattr(m, "parametrizations"): <new remover> else: <legacy
    remover>`` in place of the remover statement ``site`` calls."""
    call: ast.Call = site.node  # type: ignore[assignment]
    stmt = site.parent
    if not (
        isinstance(stmt, ast.Expr)
        and stmt.value is call
        and stmt.lineno == stmt.end_lineno
        and src.owns_lines(stmt)
    ):
        return ()
    module_key, name_key = _ARGS[kind]
    module = call_arg(call, 0, module_key)
    name_arg = call_arg(call, 1, name_key)
    name = tn.DEFAULT_WEIGHT_NAME if name_arg is None else string_value(name_arg)
    if module is None or name is None or not _stable(module):
        return ()
    utils = _utils_prefix(call.func, kind, site.scope, src)
    if utils is None:
        return ()
    target = src.segment(module)
    if kind == LEGACY:
        new = f'{utils}.parametrize.remove_parametrizations({target}, "{name}")'
        legacy = src.segment(stmt)
    else:
        new = src.segment(stmt)
        legacy = f"{utils}.remove_weight_norm({target}"
        legacy += ")" if name == tn.DEFAULT_WEIGHT_NAME else f', "{name}")'
    indent = src.indent(stmt)
    inner = indent + ("\t" if "\t" in indent else "    ")
    nl = src.newline
    text = (
        f'if hasattr({target}, "{tn.NEW_API_ATTRIBUTE}"):{nl}'
        f"{inner}{new}{nl}{indent}else:{nl}{inner}{legacy}"
    )
    return (src.replace(stmt, text),)


def _stable(node: ast.expr) -> bool:
    """Evaluating ``node`` twice gives the same module, with no side effect:
    ``m``, ``self.conv``, ``self.convs[i]``, ``layers[0].conv``."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _stable(node.value)
    if isinstance(node, ast.Subscript):
        index = node.slice
        return _stable(node.value) and isinstance(index, (ast.Name, ast.Constant))
    return False


def _utils_prefix(func: ast.expr, kind: str, scope: Scope, src: Source) -> str | None:
    """How the file spells ``torch.nn.utils`` at the remover: the prefix of
    ``nn.utils.remove_weight_norm`` / ``nn.utils.parametrize.remove_...``,
    else a module-level name bound to torch, torch.nn or torch.nn.utils."""
    if isinstance(func, ast.Attribute):
        owner = func.value
        if kind == NEW:
            if not (isinstance(owner, ast.Attribute) and owner.attr == "parametrize"):
                return module_spelling(scope, tn.PATH_TO_UTILS)
            owner = owner.value
        if resolves_only_to(owner, scope, frozenset({tn.UTILS})):
            return src.segment(owner)
    return module_spelling(scope, tn.PATH_TO_UTILS)
