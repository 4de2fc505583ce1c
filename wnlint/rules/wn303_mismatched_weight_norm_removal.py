from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint import torchnames as tn
from wnlint.analysis import FileAnalysis, Site
from wnlint.prefilter import LEGACY_API
from wnlint.resolve import resolve, resolves_only_to
from wnlint.rules._legacy_api import in_dual_api_branch
from wnlint.rules.base import Finding, Rule
from wnlint.syntax import call_arg, string_value


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
    No automatic fix yet. Write the guarded remover shown above: it removes
    whichever API applied weight norm, so it stays right when the applying
    side is a version-gated shim or an `if`/`else` on the API.

    ## Known problems
    The API in effect is judged per class (or per file for code outside
    classes); a class that applies both APIs is left alone. A removal that
    checks which API is in effect, or that tolerates the `ValueError` next
    to a removal of the other kind, is correct and not flagged.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.remove_parametrizations.html
    """

    code = "WN303"
    name = "mismatched-weight-norm-removal"
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
        )
    }
    fix_title = "Use the remover of the API that applied weight norm"
    prefilter = LEGACY_API

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        applied: dict[int | None, set[str]] = {}
        removals: list[tuple[Site, str]] = []
        for site in analysis.calls:
            func = site.node.func  # type: ignore[attr-defined]
            owner = _class_of(site)
            if resolves_only_to(func, site.scope, tn.WEIGHT_NORM_ANY):
                names = resolve(func, site.scope)
                kinds = applied.setdefault(owner, set())
                if any(n in tn.PARAMETRIZATIONS_WEIGHT_NORM for n in names):
                    kinds.add("new")
                if all(n in tn.LEGACY_WEIGHT_NORM for n in names):
                    kinds.add("legacy")
            elif resolves_only_to(func, site.scope, tn.LEGACY_REMOVE_WEIGHT_NORM):
                removals.append((site, "legacy"))
            elif (
                resolves_only_to(func, site.scope, tn.REMOVE_PARAMETRIZATIONS)
                and _tensor_name(site.node) == tn.DEFAULT_WEIGHT_NAME  # type: ignore[arg-type]
            ):
                removals.append((site, "new"))
        everywhere = set().union(*applied.values()) if applied else set()
        for site, kind in removals:
            kinds = applied.get(_class_of(site)) or everywhere
            if in_dual_api_branch(site, tolerant_try=True):
                continue
            if kind == "legacy" and kinds == {"new"}:
                yield self.finding(site.node)
            elif kind == "new" and kinds == {"legacy"}:
                yield self.finding(site.node, "legacy-applied")


def _class_of(site: Site) -> int | None:
    scope = site.scope.enclosing("class")
    return id(scope.node) if scope is not None else None


def _tensor_name(call: ast.Call) -> str | None:
    return string_value(call_arg(call, 1, "tensor_name"))
