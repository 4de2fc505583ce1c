from __future__ import annotations

from collections.abc import Iterator

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.prefilter import LEGACY_API
from wnlint.rules._legacy_api import legacy_sites_by_code
from wnlint.rules._legacy_fix import migration_of
from wnlint.rules.base import Finding, Rule


class LegacyRemoveWeightNorm(Rule):
    """
    ## What it does
    Flags calls resolved to `torch.nn.utils.remove_weight_norm(module[,
    name])`, through any import spelling, and places where that function is
    taken as a value (`self.apply(remove_weight_norm)`).

    ## Why is this bad?
    It belongs to the deprecated weight-norm API and removes only that API's
    hook. Each API removes only its own: on a module normed by
    `torch.nn.utils.parametrizations.weight_norm` (what WN301's fix and
    the common version-gated shim produce) it raises `ValueError:
    weight_norm of 'weight' not found in ParametrizedConv1d(...)`, typically
    when a model is prepared for inference.

    ## Example
    ```python
    from torch.nn.utils import remove_weight_norm

    def remove_weight_norms(layers):
        for layer in layers:
            remove_weight_norm(layer)
    ```

    ## Use instead
    ```python
    from torch.nn.utils import parametrize

    def remove_weight_norms(layers):
        for layer in layers:
            parametrize.remove_parametrizations(layer, "weight")
    ```

    ## Fix safety
    `torch.nn.utils.parametrize.remove_parametrizations(module, name)`
    leaves a weight bitwise identical to the legacy remover's, but only on a
    module normed by the new API. The fix is therefore unsafe and applies
    only together with WN301's fix in the same file: applying either alone
    makes the remover raise `ValueError` at run time. (A file with no
    remover is migrated by WN301's fix alone, `--select WN301` included.)
    A file that removes weight norm and applies none is migrated only in a
    run that migrates weight norm in another file, where the modules its
    removers act on are normed; fixed alone, or in a run with no weight
    norm to migrate, it keeps the legacy remover, which is the right call
    on modules that a package normed with the legacy API. Where the
    function holding a remover tests for a class of another package
    (`isinstance(m, SConv1d)` with `SConv1d` from `encodec.modules`, in
    VALL-E's and Amphion's tokenizers), the removers are never migrated,
    and `check` offers no fix for them. `check` counts the findings of the
    other remover-only files fixable (the text mark, JSON's `fix`) only
    when its report has weight norm to migrate, as `fix --unsafe-fixes`
    would.

    ## Known problems
    Not flagged, since they handle both APIs and cannot raise:
    - removals in a branch that tests which API is in effect (`if
      hasattr(m, "parametrizations"): ... else: remove_weight_norm(m)`);
    - removals behind a test that holds only where the legacy API is in
      effect: its hook class (`isinstance(hook, WeightNorm)`,
      `hook.__class__.__name__ == "WeightNorm"`) or its tensors (`if
      hasattr(m, "weight_g"):`);
    - removals in a `try` whose handler swallows the `ValueError`, in a
      function that also handles the new API (the remove-whichever-is-there
      idiom).

    A `try` that swallows the `ValueError` in a function that never handles
    the new API is flagged: on a module the new API normed (after a
    migration anywhere in the project), the remover raises, the handler
    swallows it, and weight norm silently stays. Also not flagged: the
    function reached through `self.<attr>` or `getattr`. A user method named
    `remove_weight_norm` is never confused with torch's.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.remove_weight_norm.html
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.remove_parametrizations.html
    """

    code = "WN302"
    name = "legacy-remove-weight-norm"
    severity = "warning"
    summary = (
        "calls to `torch.nn.utils.remove_weight_norm`, which raises "
        "`ValueError` on a module normed by `torch.nn.utils.parametrizations`"
    )
    message = (
        "torch.nn.utils.remove_weight_norm belongs to the deprecated weight-norm "
        "API and raises ValueError on a module normed by "
        "torch.nn.utils.parametrizations"
    )
    fix_title = (
        "Use torch.nn.utils.parametrize.remove_parametrizations, together with "
        "the WN301 fix"
    )
    prefilter = LEGACY_API
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        fix = migration_of(analysis, removers=True)
        for code, node in legacy_sites_by_code(analysis):
            if code == self.code:
                yield self.finding(node, fix=fix)
