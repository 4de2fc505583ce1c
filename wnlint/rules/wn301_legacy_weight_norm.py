from __future__ import annotations

from collections.abc import Iterator

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.prefilter import LEGACY_API
from wnlint.rules._legacy_api import legacy_sites_by_code
from wnlint.rules._legacy_fix import migration_of
from wnlint.rules.base import Finding, Rule


class LegacyWeightNorm(Rule):
    """
    ## What it does
    Flags calls resolved to `torch.nn.utils.weight_norm`, through any import
    spelling (`import torch.nn as nn`, `from torch.nn import utils as U`,
    `from torch.nn.utils import weight_norm as wn`, an alias assignment),
    and places where that function is picked as a value
    (`norm_f = weight_norm if use_wn else spectral_norm`, or
    `norm_fn = torch.nn.utils.weight_norm` in one `if` arm and another
    function in the next: the assignment is reported, since the calls of
    `norm_fn` are not the legacy API's alone).

    ## Why is this bad?
    The function is deprecated: calling it emits `FutureWarning:
    torch.nn.utils.weight_norm is deprecated in favor of
    torch.nn.utils.parametrizations.weight_norm`. It implements weight norm
    with a forward pre-hook that stores the recomputed weight as a plain
    attribute, so the module's `.weight` is a non-leaf tensor:
    `copy.deepcopy(module)` fails even right after the call (`RuntimeError:
    Only Tensors created explicitly by the user (graph leaves) support the
    deepcopy protocol at the moment ... this may be because of a
    torch.nn.utils.weight_norm usage`), which breaks EMA and model-averaging
    code, and `torch.jit.script` fails (`AttributeError: 'WeightNorm' object
    has no attribute '__name__'`).

    ## Example
    ```python
    import torch.nn as nn
    from torch.nn.utils import weight_norm

    conv = weight_norm(nn.Conv1d(80, 256, kernel_size=7, padding=3))
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv1d(80, 256, kernel_size=7, padding=3))
    ```

    ## Fix safety
    The replacement takes the same arguments `(module, name="weight",
    dim=0)` with the same `dim` semantics, and checkpoints saved with the old
    API still load strictly (the new API's load hook renames
    `weight_g`/`weight_v` to `parametrizations.weight.original0/original1`).
    The fix is unsafe all the same, and the migration breaks:
    - **whole-module pickling**: `torch.save(model)`, `pickle`, `dill`,
      `torch.package` of a parametrized module (or of anything holding one)
      raise `RuntimeError: Serialization of parametrized modules is only
      supported through state_dict()`, where the legacy module pickled fine;
      `copy.deepcopy` still works;
    - **the state_dict keys**: a consumer still on the old API cannot load
      new checkpoints, and code that handles the keys by name
      (`k.endswith("weight_g")`), loads a checkpoint filtered by the
      model's own keys with `strict=False`, or fills each of the model's
      keys from the checkpoint with the model's own value for a missing
      one (VITS' `load_checkpoint`, wavenet_vocoder's `restore_parts`,
      so-vits-svc-fork's `safe_load`, whose strict loads then pass), in the
      loader itself or through a helper of the project (FunCodec's
      `filter_state_dict`), silently loses the legacy entries;
    - **names read as strings**: `hasattr(m, "weight_g")` turns False,
      `getattr(m, "weight_v")` raises, and tests for torch's `WeightNorm`
      hook stop finding it (`module.weight_g`/`weight_v` attribute reads are
      rewritten to `parametrizations.weight.original0`/`original1`);
    - **removers**: `torch.nn.utils.remove_weight_norm` on the new module
      raises `ValueError`, so WN302's calls are rewritten in the same pass.

    So the migration of a file is declined, with the line and the reason,
    when the file pickles a module it normalizes, spells
    `"weight_g"`/`"weight_v"` as strings (or picks parameters by the
    suffix `"_g"` where it applies or removes weight norm, as fairseq's
    `remove_weight_norm_from_model` does), uses the `WeightNorm` hook
    class, chooses between the two APIs (a `weight_norm="legacy"` mode,
    a fallback for old torch), or defines a class deriving from diffusers'
    `ModelMixin` (its `from_pretrained` sets each tensor by name and skips
    the published checkpoints' `weight_g`/`weight_v`); and after a run that
    migrated files, the
    other files of the run and of the migrated files' project (its root
    directory, or the working directory where none is marked; so a hook
    handed only the changed files still warns) that load a checkpoint
    filtered by the model's own keys (either way above) or read the
    model's own state by each checkpoint key (a `load_state_dict` override
    that reshapes entries: `KeyError` on a legacy key), go key by key past
    `load_state_dict` (`own_state[name].copy_(param)` or a tensor set by
    name under the keys the model has: the legacy entries are skipped; a
    raise on a key the model lacks; the checkpoint read by the model's own
    keys with no fallback: `KeyError`), pickle a class a migrated sibling
    defines,
    remove weight norm from a model unpickled whole (`torch.load`: one
    saved whole before the migration keeps the legacy API, and the migrated
    remover raises on it), name `weight_g`/`weight_v` beside a migrated
    module, or still import a legacy function that a migrated module
    re-exported and no longer binds (`from .layers import weight_norm`; a
    migrated importer drops that import itself) get a warning, and so does
    a requirement of the project that admits a torch older than 2.1
    (`torch==1.4.0`), which has no `parametrizations.weight_norm`. Pickling
    through a base class of another package (descript-audio-codec's
    `DAC.save` comes from `audiotools`) is beyond what one project's source
    shows: save `state_dict()` instead before migrating. The imports the fix
    inserts take an alias (`torch_parametrizations`) where the file already
    uses the name for something else. The migration also declines a file
    with a call it cannot rewrite (weight norm of a parameter other than
    `weight`, `remove_weight_norm` passed as a value or with no module).
    `check` counts none of a declined file's WN301/WN302 findings as
    fixable, except where only pickling declines it, which `fix` alone
    traces.

    ## Known problems
    Not flagged: names that may also be bound to the new API (a try/except
    fallback import, the version-gated shim `weight_norm =
    nn.utils.weight_norm` followed by `if hasattr(nn.utils.parametrizations,
    "weight_norm"): weight_norm = nn.utils.parametrizations.weight_norm`),
    calls in a branch that tests for the new API or the torch version, and
    the function reached through `self.<attr>` or `getattr`. Bindings are
    taken flow-insensitively, so a name rebound to the new API anywhere in
    its scope is never flagged.

    The migration sees the source, not the checkpoints: a model unpickled
    whole from a file saved before it (`torch.load(path)["model"]`, as
    WaveGlow's published checkpoints are) still carries the legacy hooks,
    and the migrated remover raises `ValueError` on it. Load such a model
    once with the old code and save its `state_dict()` before migrating.

    ## References
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.weight_norm.html
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrizations.weight_norm.html
    """

    code = "WN301"
    name = "legacy-weight-norm"
    severity = "warning"
    summary = (
        "calls to the deprecated `torch.nn.utils.weight_norm`, whose non-leaf "
        "`.weight` breaks `copy.deepcopy` and `torch.jit.script`"
    )
    message = (
        "legacy torch.nn.utils.weight_norm is deprecated; its non-leaf .weight "
        "breaks copy.deepcopy and torch.jit.script"
    )
    fix_title = "Use torch.nn.utils.parametrizations.weight_norm (same arguments)"
    prefilter = LEGACY_API
    fix_safety = "unsafe"

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        fix = migration_of(analysis)
        for code, node in legacy_sites_by_code(analysis):
            if code == self.code:
                yield self.finding(node, fix=fix)
