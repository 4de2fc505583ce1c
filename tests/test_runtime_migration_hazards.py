"""The migration hazards in torch: what the WN301/WN302 migration would do
to each ``fixtures/hazards`` file if it did not decline (the migration is
run with its hazard checks switched off), and that the warned-about
checkpoint loader really loses the weights while a plain load keeps them.
Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import importlib.util
import io
import itertools
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import torch
from conftest import FIXTURES, KEYED_OVERRIDE, REMOVER_ONLY, VITS_LOADER, run_cli
from torch.nn.utils import parametrize

import wnlint.rules._legacy_migration as migration
from wnlint.engine.linter import Linter, select_rules
from wnlint.fixing.fixer import fix_bytes

HAZARDS = FIXTURES / "hazards"
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # legacy API
REFUSED = "Serialization of parametrized modules is only supported through state_dict"
_names = itertools.count()


def _load(path: Path) -> ModuleType:
    """Import one file, or a package directory, under a fresh name."""
    name = f"wnlint_hazard_{next(_names)}"
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the legacy API's
        spec.loader.exec_module(module)
    return module


def _submodule(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{name}")


def _migrated_anyway(tmp_path: Path, name: str, monkeypatch) -> ModuleType:
    """The fixture as the migration would rewrite it without its checks."""
    target = tmp_path / name
    shutil.copy(HAZARDS / name, target)
    with monkeypatch.context() as patch:
        patch.setattr(migration, "file_hazard", lambda analysis: None)
        result = run_cli("fix", "--unsafe-fixes", name, cwd=tmp_path)
    assert "WN301 x" in result.stderr or "parametrizations" in target.read_text()
    assert "parametrizations" in target.read_text()
    return _load(target)


def test_pickling_a_migrated_module_raises(tmp_path, monkeypatch, device):
    original = _load(HAZARDS / "pickled_model.py")
    original.Generator().to(device).save(io.BytesIO())  # legacy weight norm pickles
    migrated = _migrated_anyway(tmp_path, "pickled_model.py", monkeypatch)
    model = migrated.Generator().to(device)
    with pytest.raises(RuntimeError, match=REFUSED):
        model.save(io.BytesIO())
    # The remedy the decline note names: the state_dict saves and restores.
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    again = migrated.Generator().to(device)
    again.load_state_dict(torch.load(buffer))
    x = torch.randn(1, 2, 5, device=device)
    assert torch.equal(again(x), model(x))


def test_hasattr_weight_g_turns_false_and_the_remover_never_runs(
    tmp_path, monkeypatch, device
):
    original = _load(HAZARDS / "hasattr_names.py")
    conv = original.build().to(device)
    assert original.is_weight_normed(conv)
    assert not hasattr(original.strip(conv), "weight_g")  # removed
    migrated = _migrated_anyway(tmp_path, "hasattr_names.py", monkeypatch)
    conv = migrated.build().to(device)
    assert not migrated.is_weight_normed(conv)  # silently False
    assert parametrize.is_parametrized(migrated.strip(conv), "weight")  # kept
    # What the note suggests instead answers as the original did.
    assert parametrize.is_parametrized(conv, "weight")


def test_getattr_weight_v_raises(tmp_path, monkeypatch, device):
    original = _load(HAZARDS / "getattr_names.py")
    assert original.Head().to(device).direction().shape == (2, 4)
    migrated = _migrated_anyway(tmp_path, "getattr_names.py", monkeypatch)
    with pytest.raises(AttributeError, match="weight_v"):
        migrated.Head().to(device).direction()


def test_the_weight_norm_hook_is_no_longer_found(tmp_path, monkeypatch, device):
    original = _load(HAZARDS / "weight_norm_hook.py")
    assert len(original.weight_norm_hooks(original.build().to(device))) == 1
    migrated = _migrated_anyway(tmp_path, "weight_norm_hook.py", monkeypatch)
    assert migrated.weight_norm_hooks(migrated.build().to(device)) == []


def test_the_legacy_mode_would_build_the_new_api(tmp_path, monkeypatch, device):
    original = _load(HAZARDS / "legacy_mode.py")
    legacy = original.positional_conv(2, weight_norm="legacy").to(device)
    assert {"weight_g", "weight_v"} <= set(legacy.state_dict())
    migrated = _migrated_anyway(tmp_path, "legacy_mode.py", monkeypatch)
    legacy = migrated.positional_conv(2, weight_norm="legacy").to(device)
    assert "weight_g" not in legacy.state_dict()  # "legacy" no longer is


def test_state_dict_keys_by_name_stop_matching(tmp_path, monkeypatch, device):
    original = _load(HAZARDS / "state_dict_keys.py")
    sd = original.Discriminator().to(device).state_dict()
    assert set(original.drop_weight_norm_keys(sd)) == {"conv.bias"}
    migrated = _migrated_anyway(tmp_path, "state_dict_keys.py", monkeypatch)
    sd = migrated.Discriminator().to(device).state_dict()
    assert set(migrated.drop_weight_norm_keys(sd)) == set(sd)  # drops nothing


#: wavenet_vocoder's ``restore_parts``: the model's own state updated with
#: the checkpoint entries it has, then loaded strictly.
RESTORE_PARTS = """\
def restore_parts(state, model):
    model_dict = model.state_dict()
    valid = {k: v for k, v in state.items() if k in model_dict}
    model_dict.update(valid)
    model.load_state_dict(model_dict)
"""

#: mozilla TTS's ``set_init_dict``: the model's own state updated, by a
#: helper, with the checkpoint entries whose key it has and whose size
#: matches, then loaded strictly.
SET_INIT_DICT = """\
def set_init_dict(model_dict, checkpoint_state):
    pretrained_dict = {k: v for k, v in checkpoint_state.items() if k in model_dict}
    pretrained_dict = {
        k: v
        for k, v in pretrained_dict.items()
        if v.numel() == model_dict[k].numel()
    }
    model_dict.update(pretrained_dict)
    return model_dict


def restore(model, checkpoint):
    model_dict = model.state_dict()
    model_dict = set_init_dict(model_dict, checkpoint)
    model.load_state_dict(model_dict)
"""

#: so-vits-svc-fork's ``safe_load``: the model's own state overwritten in
#: place, by a helper, with the checkpoint entries whose key it has (and
#: a warning naming the others), then loaded strictly.
SAFE_LOAD = """\
import warnings


def _substitute_if_same_shape(to_, from_):
    not_in_to = [k for k in from_ if k not in to_]
    if not_in_to:
        warnings.warn(f"Keys not found in model state dict:{not_in_to}")
    for k, v in from_.items():
        if k not in to_:
            pass
        elif to_[k].shape == v.shape:
            to_[k] = v


def safe_load(model, state_dict):
    model_state_dict = model.state_dict()
    _substitute_if_same_shape(model_state_dict, state_dict)
    model.load_state_dict(model_state_dict)
"""


@pytest.mark.parametrize(
    ("loader", "line"),
    [
        (None, 12),
        (VITS_LOADER, 19),
        (RESTORE_PARTS, 5),
        (SAFE_LOAD, 18),
        (SET_INIT_DICT, 15),
    ],
    ids=[
        "copy_state_dict",
        "vits_load_checkpoint",
        "restore_parts",
        "safe_load",
        "set_init_dict",
    ],
)
def test_a_checkpoint_filtered_by_the_models_keys_loses_its_weights(
    tmp_path, device, loader, line
):
    """The warned-about loaders, after the real migration of ``model.py``
    (the one ``fix`` writes): stable-audio-tools' ``copy_state_dict`` drops
    the legacy keys (``strict=False``); VITS' ``load_checkpoint`` fills
    every key of the model, its own initial value standing in, and
    wavenet_vocoder's ``restore_parts`` updates the model's own state, so
    that even their strict loads pass, as so-vits-svc-fork's ``safe_load``
    does through a helper that overwrites it in place (with a warning
    naming the legacy keys as unknown, easy to take for noise). Either way the layer keeps its random
    initial weights, silently; loading the checkpoint as it is converts the
    keys and gives the original outputs exactly."""
    torch.manual_seed(0)
    original = _load(HAZARDS / "checkpoint_filter")
    source_model = _submodule(original, "model").Vocoder().to(device)
    checkpoint = source_model.state_dict()
    assert {"conv.weight_g", "conv.weight_v"} <= set(checkpoint)
    saved = tmp_path / "G_0.pth"
    torch.save({"model": checkpoint}, saved)

    root = tmp_path / "checkpoint_filter"
    shutil.copytree(HAZARDS / "checkpoint_filter", root)
    if loader is not None:
        (root / "utils.py").write_text(loader)
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=root)
    assert (
        f"utils.py: warning: line {line} loads a checkpoint filtered" in result.stderr
    )
    migrated = _load(root)
    Vocoder = _submodule(migrated, "model").Vocoder
    utils = _submodule(migrated, "utils")

    x = torch.randn(1, 2, 7, device=device)
    expected = source_model(x)
    torch.manual_seed(1)
    filtered = Vocoder().to(device)
    if loader is None:
        utils.copy_state_dict(filtered, checkpoint)
    elif loader is RESTORE_PARTS:
        utils.restore_parts(checkpoint, filtered)  # a strict load, no error
    elif loader is SAFE_LOAD:
        with pytest.warns(UserWarning, match="weight_g"):
            utils.safe_load(filtered, checkpoint)  # a strict load, no error
    elif loader is SET_INIT_DICT:
        utils.restore(filtered, checkpoint)  # a strict load, no error
    else:
        utils.load_checkpoint(str(saved), filtered)  # a strict load, no error
    assert (filtered(x) - expected).abs().max() > 1e-3  # silently wrong
    plain = Vocoder().to(device)
    plain.load_state_dict(checkpoint)  # torch converts weight_g/weight_v
    assert torch.equal(plain(x), expected)


@pytest.mark.parametrize("name", ["Vocoder", "Reshaped"])
def test_an_override_reading_its_own_state_by_checkpoint_keys_raises(
    tmp_path, device, name
):
    """The warned-about override, after the real migration: a checkpoint of
    the original model raises KeyError on its ``weight_g`` key (before, it
    loaded); torch's own load converts the keys and gives the original
    outputs exactly."""
    (tmp_path / "model.py").write_text(KEYED_OVERRIDE)
    torch.manual_seed(0)
    source_model = getattr(_load(tmp_path / "model.py"), name)().to(device)
    checkpoint = source_model.state_dict()
    getattr(_load(tmp_path / "model.py"), name)().to(device).load_state_dict(
        checkpoint
    )  # loads before the migration
    result = run_cli("fix", "--unsafe-fixes", "model.py", cwd=tmp_path)
    assert "reads the model's own state_dict() by each key" in result.stderr
    migrated = getattr(_load(tmp_path / "model.py"), name)().to(device)
    with pytest.raises(KeyError, match="weight_g"):
        migrated.load_state_dict(checkpoint)
    x = torch.randn(1, 2, 7, device=device)
    nn_load = torch.nn.Module.load_state_dict
    nn_load(migrated, checkpoint)  # torch converts weight_g/weight_v
    assert torch.equal(migrated(x), source_model(x))


def test_the_legacy_remover_is_right_for_modules_another_package_normed(
    tmp_path, device
):
    """VALL-E's tokenizer removes weight norm from EnCodec's modules, which
    that package norms with the legacy API: the legacy remover works, and
    the migrated one raises ``ValueError``. So ``fix`` leaves a file that
    only removes weight norm, unless its run migrates weight norm too."""
    path = tmp_path / "strip.py"
    path.write_text(REMOVER_ONLY)
    result = run_cli("fix", "--unsafe-fixes", "strip.py", cwd=tmp_path)
    assert (
        "strip.py: WN302 not fixed: this file applies no weight norm" in result.stderr
    )

    def packaged() -> SimpleNamespace:  # normed by "the package", legacy API
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            conv = torch.nn.utils.weight_norm(torch.nn.Conv1d(2, 2, 3))
        return SimpleNamespace(layers=[conv.to(device)])

    model = packaged()
    _load(path).strip(model)
    assert not hasattr(model.layers[0], "weight_g")  # removed
    forced = fix_bytes(
        REMOVER_ONLY.encode(), str(path), Linter(select_rules()), True, True
    )
    assert forced.changed  # what the migration would write in such a run
    (tmp_path / "migrated.py").write_bytes(forced.fixed)
    with pytest.raises(ValueError, match="does not have a parametrization"):
        _load(tmp_path / "migrated.py").strip(packaged())


def test_pickling_a_class_migrated_in_a_sibling_raises(tmp_path, device):
    """The warned-about pickle in ``train.py`` after ``fix`` migrated
    ``layers.py``: it worked before, it raises now."""
    original = _load(HAZARDS / "pickled_elsewhere")
    _submodule(original, "train").export(io.BytesIO())
    root = tmp_path / "pickled_elsewhere"
    shutil.copytree(HAZARDS / "pickled_elsewhere", root)
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=root)
    assert "train.py: warning: `torch.save` on line 11" in result.stderr
    migrated = _load(root)
    with pytest.raises(RuntimeError, match=REFUSED):
        _submodule(migrated, "train").export(io.BytesIO())


#: WaveGlow's shape: a class whose remover the migration rewrites, and an
#: inference script that unpickles a model saved whole and strips it.
UNPICKLED_MODEL = """\
import torch.nn as nn


class Vocoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv1d(2, 2, 3))

    def forward(self, x):
        return self.conv(x)

    def remove_weightnorm(self):
        nn.utils.remove_weight_norm(self.conv)
        return self
"""
UNPICKLED_INFERENCE = """\
import torch


def load(path):
    model = torch.load(path, weights_only=False)["model"]
    return model.remove_weightnorm()
"""


def test_a_model_pickled_whole_before_the_migration_cannot_be_stripped(
    tmp_path, monkeypatch, device
):
    """WaveGlow's published checkpoints are models pickled whole: unpickled
    after the migration, they keep the legacy weight norm, and the class's
    migrated remover raises on them (the note says so). Their state_dict
    loads into a new model, which then strips cleanly, with the outputs of
    the original."""
    package = tmp_path / "unpickled_vocoder"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(UNPICKLED_MODEL)
    (package / "infer.py").write_text(UNPICKLED_INFERENCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("unpickled_vocoder")]:
        monkeypatch.delitem(sys.modules, name)
    original = importlib.import_module("unpickled_vocoder.model")
    torch.manual_seed(0)
    saved = original.Vocoder().to(device)
    x = torch.randn(1, 2, 7, device=device)
    expected = saved(x)
    checkpoint = tmp_path / "waveglow.pt"
    torch.save({"model": saved}, checkpoint)
    torch.save({"model": saved.state_dict()}, tmp_path / "state.pt")
    assert importlib.import_module("unpickled_vocoder.infer").load(checkpoint)

    result = run_cli("fix", "--unsafe-fixes", ".", cwd=package)
    assert "fixed 2 findings in 1 files" in result.stderr
    assert (
        "infer.py: warning: line 6 removes weight norm from a model unpickled "
        "whole (`torch.load` on line 5)" in result.stderr
    )
    for name in [n for n in sys.modules if n.startswith("unpickled_vocoder")]:
        monkeypatch.delitem(sys.modules, name)
    infer = importlib.import_module("unpickled_vocoder.infer")
    with pytest.raises(ValueError, match="does not have a parametrization"):
        infer.load(checkpoint)
    migrated = importlib.import_module("unpickled_vocoder.model").Vocoder().to(device)
    migrated.load_state_dict(torch.load(tmp_path / "state.pt")["model"])
    assert torch.equal(migrated.remove_weightnorm()(x), expected)


def test_picking_normed_modules_by_the_legacy_suffix_finds_none_after_migration(
    device,
):
    """fairseq's ``remove_weight_norm_from_model`` finds the normed modules
    by a parameter name ending in ``_g``: the legacy API's ``weight_g``. On
    the parametrizations API's modules no name ends so: it would remove
    nothing, silently, so such a file is not migrated."""

    def picked(model: torch.nn.Module) -> list[str]:
        return [n for n, _ in model.named_parameters() if n.endswith("_g")]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        legacy = torch.nn.utils.weight_norm(torch.nn.Conv1d(2, 2, 3)).to(device)
    assert picked(torch.nn.Sequential(legacy)) == ["0.weight_g"]
    migrated = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(2, 2, 3))
    assert picked(torch.nn.Sequential(migrated.to(device))) == []
    assert parametrize.is_parametrized(migrated, "weight")
