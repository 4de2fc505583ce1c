"""Checkpoint loaders that copy a checkpoint into the model's own state by
each of its keys, in torch, after the real migration ``fix`` writes: the
loader copied from answer to answer (``if name not in own_state:
continue``) and PixelCNN++'s ``load_part_of_model`` skip the legacy
``weight_g``/``weight_v`` entries, so the migrated layer silently keeps its
initial weights; a loop that tests nothing raises ``KeyError``. Both were
silent before the migration, and a plain ``load_state_dict`` converts the
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
    name = f"wnlint_state_copies_{next(_names)}"
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
    else:
        utils.load_all(model, checkpoint)


@pytest.mark.parametrize(
    ("loader", "line", "outcome"),
    [(FORUM, 6, "skipped"), (PIXELCNN, 10, "skipped"), (UNTESTED, 4, "raises")],
    ids=["forum", "pixelcnn", "untested"],
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
    said = "only under the keys" if outcome == "skipped" else "raises on them"
    assert f"utils.py: warning: line {line} copies" in result.stderr
    assert said in result.stderr
    Vocoder, utils = _parts(root)
    torch.manual_seed(1)
    migrated = Vocoder().to(device)
    if outcome == "raises":
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
