from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping
from typing import ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.pickled import Applied, applied_to
from wnlint.facts.pickling import module_pickles
from wnlint.facts.prefilter import PICKLES_PARAMETRIZED
from wnlint.rules.base import Finding, LineRef, Rule


class PickledParametrizedModule(Rule):
    """
    ## What it does
    Flags a call that pickles a module whole (`torch.save(model, f)`,
    `pickle.dump`/`dumps`, `dill`, `cloudpickle`, `joblib.dump`,
    `torch.package.PackageExporter(...).save_pickle`) when the module is
    parametrized: `torch.nn.utils.parametrizations.weight_norm` (or
    `spectral_norm`, `orthogonal`, or any
    `torch.nn.utils.parametrize.register_parametrization`) was applied to it
    or to a submodule it holds. The module is `self` in a class whose
    `__init__` (or a method it calls, or a base class) applies the
    parametrization, or in a base class whose same-file subclass does and
    inherits the saving method; an attribute so parametrized; an instance of
    such a class (defined here or in a sibling module), the result of the
    function, or a module the same function parametrized earlier; or any of
    these inside a literal list, tuple or dict (a checkpoint dict).

    ## Why is this bad?
    A parametrization swaps the module's class for one that refuses to be
    pickled, so saving the whole model raises (observed on torch 2.13, for
    `torch.save`, `pickle.dumps`, `dill`, `cloudpickle`, `joblib` and
    `torch.package` alike, and for any object holding the module, a
    checkpoint dict included): `RuntimeError: Serialization of parametrized
    modules is only supported through state_dict()`. `copy.deepcopy` still
    works, so the failure typically first shows at the end of a training run,
    when the checkpoint is written. The legacy `torch.nn.utils.weight_norm`
    pickles fine, so migrating to the parametrizations API (WN301's fix)
    turns working `torch.save(model)` calls into this failure.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    class Vocoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = weight_norm(nn.Conv1d(80, 1, 7, padding=3))

    model = Vocoder()
    torch.save(model, "vocoder.pt")
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    class Vocoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = weight_norm(nn.Conv1d(80, 1, 7, padding=3))

    model = Vocoder()
    torch.save(model.state_dict(), "vocoder.pt")
    ```
    and load with `model = Vocoder(); model.load_state_dict(torch.load(...))`.

    ## Fix safety
    No automatic fix: the remedy, saving `model.state_dict()`, changes what
    the file holds, so every reader of it (`torch.load(f)` used as a model,
    other programs, other repositories) must rebuild the module and call
    `load_state_dict` instead.

    ## Known problems
    Only values whose every binding is known are traced: a module passed in
    as an argument, returned by an unknown call, or stored on an object the
    class did not build in `__init__` is not reported. A parametrization
    applied under an `if` in `__init__` counts, as the module then fails
    whenever that option is on. A function that removes a parametrization
    from the value, or calls a `remove*` method on it, is not reported:
    after `remove_parametrizations` a module parametrized by `weight_norm`
    still cannot be pickled (`Can't pickle local object
    'weight_norm.<locals>._weight_norm_compat_hook'`), but other
    parametrizations can. A class (or a base) that defines `__getstate__`,
    `__reduce__` or `__reduce_ex__` is left alone: it may pickle without its
    parametrized modules. `pickle.Pickler(f).dump(model)` and
    `torch.save(model.module)` through a wrapper are not recognized, and a
    version-gated shim that may still pick the legacy API is left alone.

    ## References
    - https://pytorch.org/tutorials/beginner/saving_loading_models.html
    - https://pytorch.org/docs/stable/generated/torch.nn.utils.parametrize.register_parametrization.html
    """

    code = "WN304"
    name = "pickled-parametrized-module"
    severity = "error"
    summary = (
        "a parametrized module (`parametrizations.weight_norm`, "
        "`register_parametrization`) pickled whole with `torch.save`, `pickle` "
        "or `torch.package`: `RuntimeError`, only `state_dict()` serializes"
    )
    message = (
        "{how} pickles `{obj}` whole, but `{holder}` is parametrized "
        "({api} at {where}): raises RuntimeError: Serialization of parametrized "
        "modules is only supported through state_dict()"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "subclass": (
            "{how} pickles `{obj}` whole, and for subclass `{subclass}` "
            "`{holder}` is parametrized ({api} at {where}): raises "
            "RuntimeError: Serialization of parametrized modules is only "
            "supported through state_dict()"
        )
    }
    fix_title = "Save `state_dict()` and rebuild the module with `load_state_dict`"
    prefilter = PICKLES_PARAMETRIZED

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        for pickled in module_pickles(analysis):
            found = applied_to(analysis, pickled, tn.PARAMETRIZING)
            if found is None:
                continue
            yield self.finding(
                pickled.call,
                "subclass" if found.subclass is not None else None,
                how=pickled.how,
                obj=_short(found.part or pickled.obj),
                holder=found.holder,
                api=found.api,
                where=_where(found, analysis.path),
                subclass=found.subclass,
            )


def _short(expr: ast.expr) -> str:
    text = ast.unparse(expr)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(found: Applied, here: str | None) -> LineRef | str:
    """``line N`` in this file (a :class:`LineRef`, which a notebook counts
    in its cells); ``file.py:N`` in a sibling module."""
    if found.path is None or (here is not None and os.path.abspath(here) == found.path):
        return LineRef(found.line)
    return f"{os.path.basename(found.path)}:{found.line}"
