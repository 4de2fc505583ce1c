"""The WN203 fixtures of real-code constructs, in torch:

* ``wn203_gathered``: layers gathered in a list or an ``nn.ModuleDict``
  before they reach the module, and helpers that norm in place;
* ``wn203_layer_kinds``: an ``isinstance(m, nn.Conv1d)`` hook reaching a
  user subclass of ``nn.Conv1d``, and a layer a conditional expression
  picks as weight norm's argument;
* ``wn203_init_lookups``: ``getattr(nn.init, name)``;
* ``wn203_init_tables``: an init function from a table of them, through a
  local or a function of the file (its fix declines);
* ``wn203_norm_by_name``: the norm chosen by a string through EnCodec's
  wrapper classes (``SConv1d(..., norm="weight_norm")``);
* ``wn203_attribution``: a subclass that skips its parent's ``__init__``
  or rebinds its attributes holds none of the parent's normed layers; a
  rebinding in another ``if`` arm may not run;
* ``wn203_helpers``: a helper that runs ``<its argument>.apply(fn)``, with
  ``fn`` a closure defined inside it or a module-level hook;
* ``wn203_methods``: a layer's own method norms it and returns it
  (``SConv(...).weight_norm()``), directly, through a factory, or on a
  class a conditional expression picks;
* ``wn203_name_hooks``: weight norm applied by ``self.apply(fn)`` with
  ``fn`` picking layers by class name (``classname.find("Conv")``), by
  ``self.conv.apply(fn)``, or by a helper norming its argument in place.

Each positive's init has no effect on its weight-normed layers: they differ
from the same code built with weight norm replaced by the identity (which
draws no random numbers and starts at ``g = ||v||``), from the same seed.
Each near miss's layers equal that reference. After ``wnlint fix
--unsafe-fixes`` every positive's do.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest
import torch
from conftest import FIXTURES, load_fixture, run_cli

CASES = {
    "wn203_gathered": (
        [
            "MelGANGenerator",
            "Appended",
            "NLayerDiscriminator",
            "InPlace",
            "Handed",
            "Switchable",
            "Reassigned",
            "Deep",
        ],
        [
            "GatheredPlain",
            "InitBeforeNorm",
            "Rebound",
            "HandedLinear",
            "ReassignedLinear",
        ],
    ),
    "wn203_layer_kinds": (
        ["Subclassed", "Picked"],
        ["SubclassedLinearInit", "SubclassedExcluded"],
    ),
    "wn203_init_lookups": (["Direct", "Hooked"], ["InitFirst", "OtherLookup"]),
    "wn203_init_tables": (
        ["FromModuleTable", "FromHelper", "FromHelperTable", "Hooked"],
        ["InitFirst", "Measured"],
    ),
    "wn203_norm_by_name": (
        ["Normed", "Configured", "PickedNormed"],
        ["Plain", "GroupNormed", "ConfiguredPlain", "PickedPlain"],
    ),
    "wn203_attribution": (
        ["Keeps", "OtherArm"],
        ["SkipsParent", "Rebinds", "RebindsAround"],
    ),
    "wn203_helpers": (["Closure", "Handed"], ["InitFirst", "PlainHanded"]),
    "wn203_methods": (
        ["Chained", "Factory", "Picked"],
        ["OtherMethod", "InitFirst", "PickedPlain"],
    ),
    "wn203_name_hooks": (
        ["ByName", "InOperator", "SubmoduleApply", "NormedInPlace"],
        ["InitFirst", "OtherNames", "LinearInPlace"],
    ),
}
#: Fixtures whose findings no fix can repair (an init function looked up
#: at run time): offered no fix, so `check` marks none `[*]`.
DECLINED = {"wn203_init_tables"}
POSITIVES = [(f, c) for f, (pos, _) in CASES.items() for c in pos]
NEAR_MISSES = [(f, c) for f, (_, near) in CASES.items() for c in near]


def build(module, cls: str, plain: bool = False) -> dict[str, torch.Tensor]:
    """The convolutions' weights of ``cls()`` from seed 0 (``plain``: with
    the module's ``weight_norm`` replaced by the identity)."""
    saved = module.weight_norm
    if plain:
        module.weight_norm = lambda m, name="weight", dim=0: m
    try:
        torch.manual_seed(0)
        model = getattr(module, cls)()
    finally:
        module.weight_norm = saved
    return {
        name: layer.weight.detach().clone()
        for name, layer in model.named_modules()
        if isinstance(layer, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))
    }


def normed_names(module, cls: str) -> list[str]:
    torch.manual_seed(0)
    model = getattr(module, cls)()
    return [
        name
        for name, layer in model.named_modules()
        if torch.nn.utils.parametrize.is_parametrized(layer, "weight")
    ]


@pytest.mark.parametrize(("fixture", "cls"), POSITIVES)
def test_the_init_misses_every_normed_layer(fixture, cls):
    module = load_fixture(fixture)
    written, meant = build(module, cls), build(module, cls, plain=True)
    normed = normed_names(module, cls)
    assert normed
    for name in normed:
        assert not torch.allclose(written[name], meant[name]), name


@pytest.mark.parametrize(("fixture", "cls"), NEAR_MISSES)
def test_the_near_misses_get_their_init(fixture, cls):
    module = load_fixture(fixture)
    written, meant = build(module, cls), build(module, cls, plain=True)
    assert written.keys() == meant.keys() and written
    for name, weight in written.items():
        torch.testing.assert_close(weight, meant[name])


@pytest.mark.parametrize("fixture", sorted(DECLINED))
def test_no_fix_is_offered_for_what_it_cannot_know(fixture, tmp_path):
    target = tmp_path / f"{fixture}.py"
    shutil.copy(FIXTURES / f"{fixture}.py", target)
    positives = len(CASES[fixture][0])
    checked = run_cli("check", target.name, cwd=tmp_path)
    assert checked.stdout.count("WN203") == positives, checked.stdout
    assert "[*]" not in checked.stdout and "fixable" not in checked.stderr
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert f"{positives} remaining" in result.stderr, result.stderr
    assert target.read_bytes() == (FIXTURES / f"{fixture}.py").read_bytes()


@pytest.mark.parametrize("fixture", sorted(set(CASES) - set(DECLINED)))
def test_the_fix_makes_the_init_land(fixture, tmp_path):
    target = tmp_path / f"{fixture}.py"
    shutil.copy(FIXTURES / f"{fixture}.py", target)
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert "0 remaining" in result.stderr, result.stderr
    spec = importlib.util.spec_from_file_location(f"{fixture}_fixed", target)
    fixed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed)
    original = load_fixture(fixture)
    for cls in CASES[fixture][0]:
        meant = build(original, cls, plain=True)
        for name, weight in build(fixed, cls).items():
            torch.testing.assert_close(weight, meant[name], rtol=1e-5, atol=1e-6)
