from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.calls import FileSummaries
from wnlint.facts.guards import reaches
from wnlint.facts.prefilter import INIT_WRITES
from wnlint.rules._flow_rules import applied_before
from wnlint.rules._init_followed import followed
from wnlint.rules._init_repair import Target, declines, repair
from wnlint.rules.base import Finding, Rule
from wnlint.rules.fixes import Applicability, LazyFix


class InitAfterWeightNorm(Rule):
    """
    ## What it does
    Flags writes to the weight of a module that weight norm (either API) has
    already wrapped: `nn.init.*_(m.weight)` (or `m.weight.data`, or an init
    looked up by name: `getattr(nn.init, name)(m.weight)`, or from a table of
    them: `INITS[name]`, `fn = get_init(name)`; no fix is offered for a
    local or helper's pick), in-place
    writes such as `m.weight.data.normal_()` or `m.weight.copy_(...)`,
    assignments to `m.weight.data`, and calls of functions that make such a write
    (transformers' `initialization` wrappers included). It follows the code
    the way real models are written, within the file and into sibling
    modules of the same package (`from .utils import init_weights`,
    `from pkg.layers import WNConv1d`) or of a repository run as scripts
    (`from utils import init_weights` finds `utils.py` beside the file, as
    Python does for a script there, else in the nearest directory above it
    that holds one, up to the project's root, the nearest directory above
    with `pyproject.toml`, `setup.py`, `setup.cfg` or `.git`: where the
    scripts of one model of a monorepo run), which are read, never imported:
    - the same function: weight norm, or a helper that returns
      `weight_norm(...)` (or a module it normed in place:
      `weight_norm(conv); return conv`, or the module it is handed:
      `weight_norm_modules(nn.Conv1d(...))`, or a layer's own method that
      norms it and returns `self`: `SConv(...).weight_norm()`), then the
      write; a helper or a class that norms only under a test of its
      parameter against a string (EnCodec's `if norm == "weight_norm":`,
      reached through `SConv1d(..., norm="weight_norm")`) is decided by what
      each call passes, and a class's own `__init__` by the parameter's
      default;
    - `<modules>.apply(init_fn)`, reported at the call, when `init_fn`
      writes `m.weight` and the modules hold weight-normed ones that its type
      test admits (`isinstance(m, nn.Conv1d)`, which a user subclass of
      `nn.Conv1d` passes too, `classname.find("Conv")`; either layer of
      `weight_norm(A(...) if causal else B(...))`):
      containers (`nn.ModuleList`, `nn.Sequential`, `.append`, and a local
      list or `nn.ModuleDict` filled first: `layers += [...]`,
      `model["x"] = ...`), helpers,
      instances of classes that hold them (a subclass holds its parent's
      unless it skips the parent's `__init__`, calling
      `nn.Module.__init__(self)`, or rebinds the attribute to a plain
      layer), and modules weight-normed by an
      earlier `self.apply(fn)` or `self.conv.apply(fn)` whose `fn` norms
      what it is handed (the layers an `isinstance` test or a class-name
      test, `classname.find("Conv") != -1`, picks), or handed to a function
      that norms its argument in place (`norm_any(self.conv)`);
    - a helper that runs `<what it is handed>.apply(fn)` (`init_net(self)`,
      with `fn` a closure defined inside it or a module-level hook),
      reported at the helper's call, as for `.apply(fn)` there;
    - a method that writes `self.X.weight` when `__init__` weight-norms
      `self.X` and the method runs after it (called later in `__init__`, or
      afterwards; not when every call of it in the file follows a
      weight-norm remover, as hilcodec's `merge_scaling` does);
    - a hook typed by `isinstance(module, SomeClass)` that writes
      `module.conv.weight` when `SomeClass.__init__` weight-norms `self.conv`:
      every instance is past that point.

    ## Why is this bad?
    After weight norm, `m.weight` is recomputed from `g` and `v` (on every
    forward with the legacy API, on every access with the parametrizations
    API). Writing into it changes a temporary: the next forward recomputes
    the weight and the initialisation has no effect (observed with both
    APIs).

    ## Example
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv1d(16, 16, 3))
    nn.init.kaiming_normal_(conv.weight)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = nn.Conv1d(16, 16, 3)
    nn.init.kaiming_normal_(conv.weight)
    conv = weight_norm(conv)
    ```

    ## Fix safety
    Unsafe: it changes the initial weights, on purpose, to the ones the init
    asks for. Each write becomes a branch on the module it writes, and the
    original statement stays as the last arm, so a function shared by
    weight-normed and plain modules still initialises the plain ones exactly
    as before (same values for the same seed):
    - new API (`parametrize.is_parametrized(m, "weight")`): the init runs on
      a copy of the weight and the copy is assigned to `m.weight`, which
      goes through the parametrization (`g = ||w||`, `v = w`);
    - legacy API (`hasattr(m, "weight_g")`, emitted whenever the legacy API
      may reach the write): the init runs on `m.weight_v` and `m.weight_g`
      is set to its norm over the normed dimension;
    - a zero init sets the magnitude to zero and keeps the direction (a zero
      `v` would make the forward NaN); a scale (`mul_`, `div_`, `*=`,
      `/=`) scales the magnitude.
    When the file's own legacy calls are being migrated in the same run
    (WN301), the repair waits for the migration and writes the new API's
    arm only. An init helper in a sibling module is edited there, when that
    file is part of the run (else the finding stays, with a note naming
    it). Never changed: parameter names, the state_dict's keys, and what a
    checkpoint loaded over the init sets. Declined, with the reason: a
    write whose new value reads the stale weight (`renorm` of it), a write
    made inside a function it calls (transformers' `init.normal_`, which
    may skip a loaded tensor), a write by an init function looked up at run
    time, a write that is part of a larger statement or shares its line
    with other code. `check` neither marks nor counts as fixable a finding
    whose repair is declined for any of these reasons but the shared line
    (which only the text the fix is built on tells); `fix` says why.
    The new API's arm tests `is_parametrized`, so a module parametrized
    otherwise (spectral norm through `parametrizations`) that a shared hook
    also reaches takes it too: its init then goes through that
    parametrization, and a zero init or a scale, which set the magnitude
    `original0`, raise `AttributeError` there.

    ## Known problems
    In one function body, statements are seen in source order; a removal of
    weight norm (or a rebinding of the name) in between ends the effect.
    Not reported: a hook that writes the weight of every `nn.Conv1d` (no
    class test) and reaches a weight-normed one only because a base class
    in another package runs it over every submodule (transformers'
    `PreTrainedModel._init_weights`, hubert); a file that neither applies
    weight norm nor calls `.apply(` is not parsed, so a hook there typed by
    a class that inherits its weight norm from another file is not seen;
    modules built under a condition are treated as built.

    ## References
    - https://pytorch.org/docs/stable/nn.init.html
    """

    code = "WN203"
    name = "init-after-weight-norm"
    severity = "error"
    summary = (
        "`nn.init.*_(m.weight)` or `m.weight.data` writes after weight norm, "
        "also through helpers, `.apply(init_fn)`, later methods, typed hooks and "
        "sibling modules: no effect"
    )
    message = (
        "`{key}.{attr}` is recomputed by weight norm: writing to it has no "
        "effect; initialise before weight norm, or write to g and v"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "apply": (
            "`{init}` writes the weight of each module `.apply()` hands it "
            "(`{target}` and every module in it), weight-normed ones among "
            "them (weight norm on {where}): the write has no effect; "
            "initialise before weight norm, or write to g and v"
        ),
        "attribute": (
            "`{target}.weight` is recomputed by weight norm (applied on {where}): "
            "writing to it has no effect; initialise before weight norm, or "
            "write to g and v"
        ),
    }
    fix_title = "Make the init land on the effective weight (through g and v)"
    fix_safety = "unsafe"
    prefilter = INIT_WRITES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        seen: set[int] = set()
        summaries = analysis.summaries
        for flow in analysis.flows:
            for write in flow.writes:
                app = applied_before(flow, write.key, write.order, write.attr)
                if app is None or not reaches(write.plain, app.api):
                    continue
                seen.add(id(write.node))
                owner: Any = flow.scope.node  # the function or the module
                target = Target(write.node, owner, summaries, {app.api}, flow.scope)
                fix = _fix([target], summaries)
                yield self.finding(write.node, fix=fix, key=write.key, attr=write.attr)
        for node, variant, fields, targets in followed(analysis, summaries):
            if id(node) not in seen:
                seen.add(id(node))
                fix = _fix(targets, summaries)
                yield self.finding(node, variant, fix, **fields)


def _fix(targets: list[Target], summaries: FileSummaries) -> LazyFix:
    """Each write made to land on the weight (see :mod:`._init_repair`).
    Where the repair of a write declines whatever the text says
    (:func:`._init_repair.declines`), the whole repair declines: ``check``
    marks no ``[*]``, and ``fix`` still builds it, to say why."""
    return LazyFix(
        lambda ctx: repair(targets, summaries, ctx),
        Applicability.UNSAFE,
        declines=any(declines(t) for t in targets),
    )
