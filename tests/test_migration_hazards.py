"""What the WN301/WN302 migration would break is found and said: each
fixture in ``fixtures/hazards`` is declined with its reason, or migrated
with a warning on the file of the run that depends on the old API; and the
imports the migration inserts never collide with the file's own names."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

HAZARDS = FIXTURES / "hazards"

#: fixture -> what the decline note must say (the line and the reason).
DECLINED = {
    "pickled_model.py": "`torch.save` on line 18 pickles a module normed on line 12",
    "state_dict_keys.py": 'the string "weight_g" on line 21 handles the legacy',
    "hasattr_names.py": '`hasattr(..., "weight_g")` on line 13 does not follow',
    "getattr_names.py": '`getattr(..., "weight_v")` on line 13 does not follow',
    "weight_norm_hook.py": "line 14 uses torch's WeightNorm hook class",
    "legacy_mode.py": "line 17 applies the legacy API in a branch, beside the "
    "parametrizations API on line 13",
}


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "hazards"
    shutil.copytree(HAZARDS, target)
    return target


@pytest.mark.parametrize("name", sorted(DECLINED))
@pytest.mark.parametrize("diff", [True, False], ids=["diff", "write"])
def test_each_in_file_hazard_declines_the_migration_with_its_reason(
    tmp_path, name, diff
):
    target = _copy(tmp_path) / name
    before = target.read_bytes()
    args = ["fix", "--unsafe-fixes", *(["--diff"] if diff else []), name]
    result = run_cli(*args, cwd=target.parent)
    assert result.stdout == "" if diff else "WN301" in result.stdout
    assert f"{name}: WN301/WN302 not fixed: {DECLINED[name]}" in result.stderr
    assert target.read_bytes() == before


def test_every_hazard_fixture_is_covered():
    files = {p.name for p in HAZARDS.glob("*.py")}
    assert files == set(DECLINED)


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "write"])
def test_a_checkpoint_filtered_by_the_models_keys_is_warned_about(tmp_path, diff):
    """stable-audio-tools' ``copy_state_dict``: the model is migrated, the
    loader in another file gets the warning (in either mode: when writing,
    the model is already rewritten when the loader is read)."""
    root = _copy(tmp_path) / "checkpoint_filter"
    args = ["fix", "--unsafe-fixes", *(["--diff"] if diff else []), "."]
    result = run_cli(*args, cwd=root)
    assert "model.py: WN301 x1" in result.stderr or not diff
    assert (
        "utils.py: warning: line 12 loads a checkpoint filtered by the model's "
        "own keys with strict=False"
    ) in result.stderr
    changed = "parametrizations" in (root / "model.py").read_text()
    assert changed is not diff
    assert (root / "utils.py").read_bytes() == (
        HAZARDS / "checkpoint_filter" / "utils.py"
    ).read_bytes()


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "write"])
def test_pickling_a_class_migrated_in_a_sibling_module_is_warned_about(tmp_path, diff):
    root = _copy(tmp_path) / "pickled_elsewhere"
    args = ["fix", "--unsafe-fixes", *(["--diff"] if diff else []), "."]
    result = run_cli(*args, cwd=root)
    assert (
        "train.py: warning: `torch.save` on line 11 pickles `model` whole, and "
        "the migrated layers.py normalizes Generator.conv"
    ) in result.stderr


def test_no_warning_when_nothing_is_migrated(tmp_path):
    root = _copy(tmp_path) / "checkpoint_filter"
    result = run_cli("fix", "--unsafe-fixes", "--diff", "utils.py", cwd=root)
    assert "warning" not in result.stderr
    safe_only = run_cli("fix", "--diff", ".", cwd=root)  # the migration is unsafe
    assert "warning" not in safe_only.stderr


def test_loaders_that_keep_every_key_are_not_warned_about(tmp_path):
    """Loading another module's state, or a checkpoint as it is, with
    strict=False: torch's key conversion still sees the legacy keys."""
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text(
        "import torch\n\n\n"
        "def load(model, path, other):\n"
        "    model.load_state_dict(torch.load(path), strict=False)\n"
        "    model.load_state_dict(other.state_dict(), strict=False)\n"
        "    own = model.state_dict()\n"
        "    model.load_state_dict(own)\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "model.py: WN301 x1" in result.stderr
    assert "warning" not in result.stderr


def test_a_comprehension_keeping_the_models_keys_is_a_filter(tmp_path):
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text(
        "def load(model, sd):\n"
        "    kept = {k: v for k, v in sd.items() if k in model.state_dict()}\n"
        "    model.load_state_dict(kept, strict=False)\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "utils.py: warning: line 3 loads a checkpoint filtered" in result.stderr


def test_docstrings_naming_weight_g_do_not_decline(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        '"""Legacy checkpoints hold weight_g and weight_v keys."""\n'
        "import torch.nn as nn\n"
        "from torch.nn.utils import weight_norm\n\n"
        "def build():\n"
        '    """Returns a conv; its "weight_g" is the magnitude."""\n'
        "    return weight_norm(nn.Conv1d(2, 2, 3))\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert "not fixed" not in result.stderr
    assert "parametrizations.weight_norm" in path.read_text()


def test_a_plain_legacy_call_under_an_if_is_still_migrated(tmp_path):
    """A branch is a choice only beside the new API in the same function."""
    path = tmp_path / "m.py"
    path.write_text(
        "import torch.nn as nn\n"
        "from torch.nn.utils import weight_norm\n\n"
        "def build(use_wn):\n"
        "    conv = nn.Conv1d(2, 2, 3)\n"
        "    if use_wn:\n"
        "        conv = weight_norm(conv)\n"
        "    return conv\n"
    )
    run_cli("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert "parametrizations.weight_norm(conv)" in path.read_text()


# -- free names ----------------------------------------------------------------

FREE_NAMES = """\
import torch.nn as nn
from torch.nn.utils import remove_weight_norm, weight_norm


def build(parametrizations, channels):
    conv = weight_norm(nn.Conv1d(channels, channels, 3))
    return conv, parametrizations


class Block(nn.Module):
    def __init__(self, parametrize=None):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(4, 4, 3))
        self.parametrize = parametrize

    def remove(self):
        remove_weight_norm(self.conv)
"""


@pytest.mark.parametrize(
    "source, aliased",
    [
        (FREE_NAMES, {"parametrizations", "parametrize"}),
        # a module-level name, and a function of that name
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
            "parametrizations = None\n\n"
            "def f():\n    return weight_norm(nn.Linear(2, 2))\n",
            {"parametrizations"},
        ),
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n"
            "def parametrizations():\n    return weight_norm(nn.Linear(2, 2))\n",
            {"parametrizations"},
        ),
        # the alias itself is taken too: the next one
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
            "torch_parametrizations = parametrizations = 1\n\n"
            "def f():\n    return weight_norm(nn.Linear(2, 2))\n",
            {"parametrizations"},
        ),
        # bound only by the right import: no alias
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
            "from torch.nn.utils import parametrizations\n\n"
            "def f():\n    return weight_norm(nn.Linear(2, 2))\n",
            set(),
        ),
    ],
    ids=["parameters", "module-name", "function", "alias-taken", "right-import"],
)
def test_inserted_imports_never_shadow_the_files_names(tmp_path, source, aliased):
    path = tmp_path / "m.py"
    path.write_text(source)
    result = run_cli("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    fixed = path.read_text()
    tree = ast.parse(fixed)
    imported = {
        alias.name: alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "torch.nn.utils"
        for alias in node.names
    }
    for submodule in aliased:
        alias = imported[submodule]
        assert alias is not None and alias.startswith(f"torch_{submodule}")
        assert f"{alias}." in fixed
        assert alias not in source
    for submodule in {"parametrizations", "parametrize"} - aliased:
        assert imported.get(submodule) is None
    assert run_cli("fix", "--unsafe-fixes", "--diff", "m.py", cwd=tmp_path).stdout == ""
