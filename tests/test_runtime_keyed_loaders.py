"""Checkpoint loaders that go key by key, in torch, after the real
migration ``fix`` writes: the loader copied from answer to answer (``if
name not in own_state: continue``), PixelCNN++'s ``load_part_of_model``
and diffusers' ``load_model_dict_into_meta`` (a tensor set by name) skip
the legacy ``weight_g``/``weight_v`` entries, so the migrated layer
silently keeps its initial weights; a loop that tests nothing raises
``KeyError``, and so does a conversion script's check of the keys. All
worked before the migration, and a plain ``load_state_dict`` converts the
keys and gives the original outputs exactly. Runs on CUDA when available,
else on the CPU."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import FIXTURES, run_cli

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # legacy API
PROJECT = FIXTURES / "hazards" / "checkpoint_filter"
_names = itertools.count()

#: The loader of a forum answer, copied into many projects.
FORUM = """\
def load_my_state_dict(model, state_dict):
    own_state = model.state_dict()
    for name, param in state_dict.items():
        if name not in own_state:
            continue
        own_state[name].copy_(param)
"""

#: PixelCNN++'s ``load_part_of_model`` (Python 3 spelling).
PIXELCNN = """\
import torch


def load_part_of_model(model, path):
    params = torch.load(path)
    added = 0
    for name, param in params.items():
        if name in model.state_dict().keys():
            try:
                model.state_dict()[name].copy_(param)
                added += 1
            except Exception as e:
                print(e)
    return added
"""

#: Every key copied, none tested.
UNTESTED = """\
def load_all(model, state_dict):
    own = model.state_dict()
    for key, value in state_dict.items():
        own[key].data.copy_(value)
"""

#: diffusers' ``load_model_dict_into_meta``: each tensor set by name.
META = """\
def set_module_tensor_to_device(module, name, device, value=None):
    *path, last = name.split(".")
    for part in path:
        module = getattr(module, part)
    getattr(module, last).data = value.to(device)


def load_model_dict_into_meta(model, state_dict):
    empty_state_dict = model.state_dict()
    for param_name, param in state_dict.items():
        if param_name not in empty_state_dict:
            continue
        device = param.device
        set_module_tensor_to_device(model, param_name, device, value=param)
"""

#: diffusers' conversion script: every key must be the model's.
CONVERT = """\
def convert(model, ckpt):
    expected_keys = set(model.state_dict())
    for key in ckpt:
        if key not in expected_keys:
            raise KeyError(f"Unexpected key: {key}")
    model.load_state_dict(ckpt)
"""

#: whisper-vits-svc's ``load_part``: the checkpoint read by the model's keys.
LOAD_PART = """\
def load_part(model, saved_state_dict):
    state_dict = model.state_dict()
    new_state_dict = {}
    for k, v in state_dict.items():
        new_state_dict[k] = saved_state_dict[k]
    model.load_state_dict(new_state_dict)
"""

#: An EMA update: a loop over a live model's own state, never warned about.
EMA = """\
def update_ema(ema, model):
    ema_state = ema.state_dict()
    for key, value in model.state_dict().items():
        if key in ema_state:
            ema_state[key].copy_(value)
"""


def _load(path: Path) -> ModuleType:
    """Import the project package under a fresh name."""
    name = f"wnlint_keyed_loaders_{next(_names)}"
    spec = importlib.util.spec_from_file_location(
        name, path / "__init__.py", submodule_search_locations=[str(path)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        spec.loader.exec_module(module)
    return module


def _project(tmp_path: Path, loader: str) -> Path:
    root = tmp_path / "checkpoint_filter"
    shutil.copytree(PROJECT, root)
    (root / "utils.py").write_text(loader)
    return root


def _parts(root: Path) -> tuple[type, ModuleType]:
    package = _load(root)
    model = importlib.import_module(f"{package.__name__}.model")
    utils = importlib.import_module(f"{package.__name__}.utils")
    return model.Vocoder, utils


def _load_with(utils: ModuleType, loader: str, model, checkpoint, saved: Path):
    if loader is FORUM:
        utils.load_my_state_dict(model, checkpoint)
    elif loader is PIXELCNN:
        assert utils.load_part_of_model(model, str(saved)) >= 1
    elif loader is META:
        utils.load_model_dict_into_meta(model, checkpoint)
    elif loader is CONVERT:
        utils.convert(model, checkpoint)
    elif loader is LOAD_PART:
        utils.load_part(model, checkpoint)
    else:
        utils.load_all(model, checkpoint)


@pytest.mark.parametrize(
    ("loader", "line", "outcome"),
    [
        (FORUM, 6, "skipped"),
        (PIXELCNN, 10, "skipped"),
        (META, 11, "skipped"),
        (UNTESTED, 4, "raises"),
        (CONVERT, 5, "rejects"),
        (LOAD_PART, 5, "own-keys"),
    ],
    ids=["forum", "pixelcnn", "meta", "untested", "convert", "load-part"],
)
def test_a_loader_copying_by_checkpoint_keys_loses_the_legacy_entries(
    tmp_path, device, loader, line, outcome
):
    torch.manual_seed(0)
    root = _project(tmp_path, loader)
    Vocoder, utils = _parts(root)
    source_model = Vocoder().to(device)
    checkpoint = source_model.state_dict()
    assert {"conv.weight_g", "conv.weight_v"} <= set(checkpoint)
    saved = tmp_path / "model.pt"
    torch.save(checkpoint, saved)
    x = torch.randn(1, 2, 7, device=device)
    expected = source_model(x)
    before = Vocoder().to(device)
    _load_with(utils, loader, before, checkpoint, saved)
    assert torch.equal(before(x), expected)  # the loader worked before

    result = run_cli("fix", "--unsafe-fixes", ".", cwd=root)
    assert "fixed 1 findings in 1 files" in result.stderr
    said = {
        "skipped": "loads a checkpoint key by key, only under the keys",
        "raises": "copies each key of a checkpoint",
        "rejects": "raises on a checkpoint key the model's state_dict() lacks",
        "own-keys": "reads the checkpoint by each of the model's own",
    }[outcome]
    assert f"utils.py: warning: line {line} {said}" in result.stderr
    Vocoder, utils = _parts(root)
    torch.manual_seed(1)
    migrated = Vocoder().to(device)
    if outcome == "own-keys":
        with pytest.raises(KeyError, match="original0"):
            _load_with(utils, loader, migrated, checkpoint, saved)
    elif outcome != "skipped":
        with pytest.raises(KeyError, match="weight_g"):
            _load_with(utils, loader, migrated, checkpoint, saved)
    else:
        _load_with(utils, loader, migrated, checkpoint, saved)
        assert (migrated(x) - expected).abs().max() > 1e-3  # silently wrong
    plain = Vocoder().to(device)
    plain.load_state_dict(checkpoint)  # torch converts weight_g/weight_v
    assert torch.equal(plain(x), expected)


def test_a_copy_between_live_models_is_not_warned_about(tmp_path, device):
    root = _project(tmp_path, EMA)
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=root)
    assert "fixed 1 findings in 1 files" in result.stderr
    assert "utils.py: warning" not in result.stderr
    Vocoder, utils = _parts(root)
    torch.manual_seed(0)
    model, ema = Vocoder().to(device), Vocoder().to(device)
    utils.update_ema(ema, model)  # both hold the migrated keys
    x = torch.randn(1, 2, 7, device=device)
    assert torch.equal(ema(x), model(x))


#: SoundStorm's solvers: a strict load first, the filtered one on failure.
STRICT_FIRST = """\
def restore(model, state):
    try:
        model.load_state_dict(state)
    except Exception:
        model_dict = model.state_dict()
        kept = {k: v for k, v in state.items() if k in model_dict.keys()}
        model_dict.update(kept)
        model.load_state_dict(model_dict)
"""


def test_a_strict_load_tried_first_keeps_the_legacy_entries(tmp_path, device):
    """The strict load raises on a key the model lacks, but only after it
    copied every matching tensor, the legacy keys converted: the filtered
    load that follows keeps them, so there is nothing to warn about."""
    root = _project(tmp_path, STRICT_FIRST)
    torch.manual_seed(0)
    Vocoder, _ = _parts(root)
    source_model = Vocoder().to(device)
    checkpoint = dict(source_model.state_dict())
    checkpoint["extra.weight"] = torch.zeros(1, device=device)
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=root)
    assert "fixed 1 findings in 1 files" in result.stderr
    assert "utils.py: warning" not in result.stderr
    Vocoder, utils = _parts(root)
    torch.manual_seed(1)
    migrated = Vocoder().to(device)
    utils.restore(migrated, checkpoint)
    x = torch.randn(1, 2, 7, device=device)
    assert torch.equal(migrated(x), source_model(x))
