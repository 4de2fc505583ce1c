"""What the WN301/WN302 migration would break is found and said: each
fixture in ``fixtures/hazards`` is declined with its reason, or migrated
with a warning on the file of the run that depends on the old API; and the
imports the migration inserts never collide with the file's own names."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, KEYED_OVERRIDE, REMOVER_ONLY, VITS_LOADER, run_cli

HAZARDS = FIXTURES / "hazards"
#: A module whose weight norm a run migrates.
LAYERS = "import torch.nn as nn\n\nconv = nn.utils.weight_norm(nn.Conv1d(2, 2, 3))\n"

#: fixture -> what the decline note must say (the line and the reason).
DECLINED = {
    "pickled_model.py": "`torch.save` on line 18 pickles a module normed on line 12",
    "state_dict_keys.py": 'the string "weight_g" on line 21 handles the legacy',
    "hasattr_names.py": '`hasattr(..., "weight_g")` on line 13 does not follow',
    "getattr_names.py": '`getattr(..., "weight_v")` on line 13 does not follow',
    "weight_norm_hook.py": "line 14 uses torch's WeightNorm hook class",
    "legacy_mode.py": "line 17 applies the legacy API in a branch, beside the "
    "parametrizations API on line 13",
    "diffusers_model.py": "class Vocoder on line 12 derives from diffusers' "
    "ModelMixin, whose from_pretrained sets each tensor by name",
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
        # the right import, read: it is the submodule, no alias
        (
            "import torch.nn as nn\n"
            "from torch.nn.utils import parametrizations, weight_norm\n\n"
            "def f():\n"
            "    a = parametrizations.weight_norm(nn.Linear(2, 2))\n"
            "    return a, weight_norm(nn.Linear(2, 2))\n",
            set(),
        ),
        (
            "import torch.nn as nn\n"
            "import torch.nn.utils.parametrize as parametrize\n"
            "from torch.nn.utils import remove_weight_norm\n\n"
            "def f(m):\n"
            "    remove_weight_norm(m)\n"
            "    return parametrize.is_parametrized(m)\n",
            set(),
        ),
        # the name imported from elsewhere: another module, a relative one
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
            "from mylib import parametrizations\n\n"
            "def f():\n    return weight_norm(nn.Linear(2, 2)), parametrizations\n",
            {"parametrizations"},
        ),
        (
            "import torch.nn as nn\nfrom torch.nn.utils import remove_weight_norm\n"
            "from .utils import parametrize\n\n"
            "def f(m):\n    remove_weight_norm(m)\n    return parametrize(m)\n",
            {"parametrize"},
        ),
        # read without being imported (here from a star import)
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
            "from mylib import *\n\n"
            "def f():\n    return weight_norm(nn.Linear(2, 2)), parametrizations\n",
            {"parametrizations"},
        ),
        # bound by an except clause, or a match pattern
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n"
            "def f():\n"
            "    try:\n        return weight_norm(nn.Linear(2, 2))\n"
            "    except ValueError as parametrizations:\n"
            "        pass\n",
            {"parametrizations"},
        ),
        pytest.param(
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n"
            "def f(x):\n"
            "    match x:\n"
            "        case [*parametrizations]:\n"
            "            pass\n"
            "    return weight_norm(nn.Linear(2, 2))\n",
            {"parametrizations"},
            marks=pytest.mark.skipif(
                sys.version_info < (3, 10), reason="match needs Python 3.10"
            ),
        ),
        # the first alias taken by an import: the next one
        (
            "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
            "from mylib import parametrizations, torch_parametrizations\n\n"
            "def f():\n"
            "    return weight_norm(nn.Linear(2, 2)), parametrizations\n",
            {"parametrizations"},
        ),
    ],
    ids=[
        "parameters",
        "module-name",
        "function",
        "alias-taken",
        "right-import",
        "right-import-read",
        "right-dotted-import",
        "other-module",
        "relative-import",
        "star-import-read",
        "except-name",
        "match-capture",
        "alias-taken-by-import",
    ],
)
def test_inserted_imports_never_shadow_the_files_names(tmp_path, source, aliased):
    path = tmp_path / "m.py"
    path.write_text(source)
    # A file that only removes weight norm is migrated in a run that
    # migrates weight norm too: this one.
    (tmp_path / "layers.py").write_text(LAYERS)
    result = run_cli("fix", "--unsafe-fixes", "m.py", "layers.py", cwd=tmp_path)
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


# -- near misses and variants found by mutation checking ------------------------------


def _migrate(tmp_path: Path, source: str, name: str = "m.py"):
    """``fix --unsafe-fixes --diff`` on one file: (stderr, whether migrated)."""
    (tmp_path / name).write_text(source)
    result = run_cli("fix", "--unsafe-fixes", "--diff", name, cwd=tmp_path)
    return result.stderr, "parametrizations.weight_norm" in result.stdout


LEGACY_CONV = (
    "import torch.nn as nn\n"
    "from torch.nn.utils import weight_norm\n"
    "conv = weight_norm(nn.Conv1d(2, 2, 3))\n"
)


def test_a_docstring_that_ends_like_a_key_does_not_decline(tmp_path):
    """Docstrings are prose, even when one ends in ``conv.weight_g``."""
    stderr, migrated = _migrate(
        tmp_path,
        LEGACY_CONV + "\n\ndef magnitude(m):\n"
        '    """The magnitude lives in conv.weight_g"""\n'
        "    return m\n",
    )
    assert "not fixed" not in stderr and migrated


def test_a_dotted_state_dict_key_declines(tmp_path):
    stderr, migrated = _migrate(
        tmp_path,
        LEGACY_CONV + "\n\ndef direction(sd):\n" + '    return sd["conv.weight_v"]\n',
    )
    assert not migrated
    assert 'not fixed: the string "conv.weight_v" on line 7 handles the legacy' in (
        stderr
    )


@pytest.mark.parametrize(
    "line",
    [
        '    return sd["conv_weight_g"]',  # another naming scheme
        '    return sd["encoder._weight_g"]',
        '    return getattr(m, "weight_gain")',
        '    return hasattr(m, "parametrizations")',  # the new API's test
        '    return m  # legacy checkpoints hold "conv.weight_g"',  # a comment
    ],
    ids=["underscore", "private", "prefix", "hasattr-new-api", "comment"],
)
def test_strings_that_are_not_the_legacy_names_do_not_decline(tmp_path, line):
    stderr, migrated = _migrate(
        tmp_path, LEGACY_CONV + "\n\ndef f(m, sd):\n" + line + "\n"
    )
    assert "not fixed" not in stderr and migrated


def test_a_local_function_called_hasattr_is_not_the_builtin(tmp_path):
    """Still declined (the string is the legacy name), but the note does not
    claim the builtin's behaviour."""
    stderr, migrated = _migrate(
        tmp_path,
        LEGACY_CONV + "\n\ndef hasattr(m, name):\n    return True\n\n\n"
        'def f(m):\n    return hasattr(m, "weight_g")\n',
    )
    assert not migrated
    assert 'not fixed: the string "weight_g" on line 11 handles the legacy' in stderr
    assert "`hasattr(" not in stderr


@pytest.mark.parametrize(
    "source, note",
    [
        (
            LEGACY_CONV + "from torch.nn.utils.weight_norm import WeightNorm\n",
            "line 4 imports torch's WeightNorm hook class",
        ),
        (
            LEGACY_CONV + "\n\ndef hooks(m):\n"
            "    return [h for h in m._forward_pre_hooks.values()"
            ' if type(h).__name__ == "WeightNorm"]\n',
            "line 7 recognizes torch's WeightNorm hook by name",
        ),
        (
            LEGACY_CONV + "\n\ndef hooks(m):\n"
            "    return [h for h in m._forward_pre_hooks.values()"
            ' if type(h).__module__ == "torch.nn.utils.weight_norm"]\n',
            "line 7 recognizes torch's WeightNorm hook by name",
        ),
        (
            LEGACY_CONV + "\n\ndef hooks(m):\n"
            "    return [h for h in m._forward_pre_hooks.values()"
            ' if type(h).__name__ in ("WeightNorm", "SpectralNorm")]\n',
            "line 7 recognizes torch's WeightNorm hook by name",
        ),
    ],
    ids=["import-only", "name-equals", "module-equals", "name-in-tuple"],
)
def test_the_weight_norm_hook_class_declines_however_it_is_spelled(
    tmp_path, source, note
):
    stderr, migrated = _migrate(tmp_path, source)
    assert not migrated
    assert f"not fixed: {note}" in stderr


@pytest.mark.parametrize(
    "extra",
    [
        "\n\nclass WeightNorm:\n    pass\n\n\ndef mine(h):\n"
        "    return isinstance(h, WeightNorm)\n",
        '\nLABEL = "WeightNorm"\n',
    ],
    ids=["own-class", "uncompared-string"],
)
def test_a_weight_norm_that_is_not_torchs_hook_does_not_decline(tmp_path, extra):
    stderr, migrated = _migrate(tmp_path, LEGACY_CONV + extra)
    assert "not fixed" not in stderr and migrated


BOTH_APIS = (
    "import torch.nn as nn\n"
    "from torch.nn.utils import parametrizations, weight_norm\n\n\n"
)


@pytest.mark.parametrize(
    "body, line",
    [
        (
            "def build(conv, new):\n"
            "    if new:\n"
            "        return parametrizations.weight_norm(conv)\n"
            "    else:\n"
            "        return weight_norm(conv)\n",
            9,
        ),
        (
            "def build(conv, legacy):\n"
            "    return weight_norm(conv) if legacy else "
            "parametrizations.weight_norm(conv)\n",
            6,
        ),
        (
            "LEGACY = False\n"
            "if LEGACY:\n"
            "    conv = weight_norm(nn.Conv1d(2, 2, 3))\n"
            "else:\n"
            "    conv = parametrizations.weight_norm(nn.Conv1d(2, 2, 3))\n",
            7,
        ),
    ],
    ids=["if-else", "conditional-expression", "module-body"],
)
def test_a_choice_between_the_apis_declines(tmp_path, body, line):
    stderr, migrated = _migrate(tmp_path, BOTH_APIS + body)
    assert not migrated
    assert f"not fixed: line {line} applies the legacy API in a branch" in stderr


@pytest.mark.parametrize(
    "body",
    [
        # both APIs, one after the other: nothing to choose
        "def build():\n"
        "    a = parametrizations.weight_norm(nn.Conv1d(2, 2, 3))\n"
        "    b = weight_norm(nn.Conv1d(2, 2, 3))\n"
        "    return a, b\n",
        # the `if` belongs to the enclosing function, not to the one that
        # applies both APIs
        "def outer(flag):\n"
        "    if flag:\n"
        "        def inner():\n"
        "            a = parametrizations.weight_norm(nn.Conv1d(2, 2, 3))\n"
        "            b = weight_norm(nn.Conv1d(2, 2, 3))\n"
        "            return a, b\n"
        "        return inner\n",
    ],
    ids=["sequential", "enclosing-if"],
)
def test_both_apis_without_a_choice_are_migrated(tmp_path, body):
    stderr, migrated = _migrate(tmp_path, BOTH_APIS + body)
    assert "not fixed" not in stderr and migrated


TRAIN_WITH_OWN_LEGACY = """\
import torch
import torch.nn as nn
from torch.nn.utils import weight_norm

from .layers import Generator


def export(f):
    head = weight_norm(nn.Linear(2, 2))
    model = Generator()
    torch.save(model, f)
    return head
"""


def test_pickling_a_siblings_module_does_not_decline_the_pickling_file(tmp_path):
    """``train.py`` pickles a ``Generator`` that ``layers.py`` normalizes:
    whether that breaks depends on ``layers.py``'s migration, not on
    ``train.py``'s; and with ``layers.py`` left as it is, no warning."""
    root = _copy(tmp_path) / "pickled_elsewhere"
    (root / "train.py").write_text(TRAIN_WITH_OWN_LEGACY)
    result = run_cli("fix", "--unsafe-fixes", "--diff", "train.py", cwd=root)
    assert "train.py: WN301 x1" in result.stderr
    assert "not fixed" not in result.stderr
    assert "warning" not in result.stderr


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "write"])
def test_a_migrated_file_pickling_a_migrated_siblings_class_is_warned_about(
    tmp_path, diff
):
    """Both files migrated in one run: ``train.py``'s own hazard check leaves
    the sibling's module to the run's notes, which must then read it too."""
    root = _copy(tmp_path) / "pickled_elsewhere"
    (root / "train.py").write_text(TRAIN_WITH_OWN_LEGACY)
    args = ["fix", "--unsafe-fixes", *(["--diff"] if diff else []), "."]
    result = run_cli(*args, cwd=root)
    assert (
        "train.py: warning: `torch.save` on line 11 pickles `model` whole, and "
        "the migrated layers.py normalizes Generator.conv"
    ) in result.stderr
    if not diff:
        assert "parametrizations" in (root / "train.py").read_text()


def test_a_file_pickling_its_own_parametrized_module_gets_no_duplicate_warning(
    tmp_path,
):
    """A module parametrized in the migrated file itself is WN304's finding,
    not a note about a sibling's migration (the file imports a migrated
    sibling too, so the notes do read it)."""
    root = _copy(tmp_path) / "pickled_elsewhere"
    (root / "train.py").write_text(
        "import torch\nimport torch.nn as nn\n"
        "from torch.nn.utils import parametrizations, weight_norm\n\n"
        "from .layers import Generator\n\n\n"
        "def export(f):\n"
        "    model = parametrizations.weight_norm(nn.Linear(2, 2))\n"
        "    torch.save(model, f)\n"
        "    return Generator(), weight_norm(nn.Linear(2, 2))\n"
    )
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=root)
    assert "warning" not in result.stderr
    assert "weight_norm(nn.Linear(2, 2))\n" in (root / "train.py").read_text()
    assert "from torch.nn.utils import weight_norm" not in (
        (root / "train.py").read_text()
    )
    assert "train.py:10:5: WN304 " in result.stdout


# -- the strings note --------------------------------------------------------------


def test_legacy_names_as_strings_beside_a_migrated_module_are_warned_about(tmp_path):
    """``convert.py`` spells the legacy keys next to the migrated
    ``model.py``: warned about; the same code in a sub-directory, or when
    nothing is migrated, is not."""
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").unlink()
    convert = (
        '"""Converts checkpoints saved with weight_g and weight_v keys."""\n\n\n'
        "def convert(sd):\n"
        '    g = sd["conv.weight_g"]\n'
        '    v = sd.get("conv.weight_v")\n'
        "    return g, v\n"
    )
    (root / "convert.py").write_text(convert)
    (root / "sub").mkdir()
    (root / "sub" / "other.py").write_text(convert)
    for diff in (["--diff"], []):
        result = run_cli("fix", "--unsafe-fixes", *diff, ".", cwd=root)
        assert (
            "convert.py: warning: weight_g/weight_v named as strings (line 5, 6) "
            "beside a migrated module"
        ) in result.stderr
        assert "other.py" not in result.stderr
        assert "model.py: warning" not in result.stderr
    assert (root / "convert.py").read_text() == convert
    nothing = run_cli("fix", "--unsafe-fixes", ".", cwd=root)  # already migrated
    assert "warning" not in nothing.stderr


@pytest.mark.parametrize(
    "body, warned",
    [
        (
            "    own = model.state_dict().copy()\n"
            "    own.update({k: v for k, v in sd.items() if k in own})\n"
            "    model.load_state_dict(own, strict=False)\n",
            True,
        ),
        (
            "    kept = {k: v for k, v in sd.items() if k not in model.state_dict()}\n"
            "    model.load_state_dict(kept, strict=False)\n",
            False,
        ),
        (
            "    kept = {k: v for k, v in sd.items() if k in other.state_dict()}\n"
            "    model.load_state_dict(kept, strict=False)\n",
            False,
        ),
        (
            "    own = model.state_dict()\n"
            "    kept = {\n"
            "        k: v\n"
            "        for k, v in sd.items()\n"
            "        if k in own and v.shape == own[k].shape\n"
            "    }\n"
            "    model.load_state_dict(kept, strict=False)\n",
            True,
        ),
        (
            "    own = model.state_dict()\n"
            '    kept = {k: v for k, v in sd.items() if k in own or "g" in k}\n'
            "    model.load_state_dict(kept, strict=False)\n",
            False,
        ),
    ],
    ids=[
        "copy-of-own-state",
        "not-in-own-keys",
        "another-modules-keys",
        "own-keys-and-same-shape",
        "own-keys-or-another-test",
    ],
)
def test_which_filtered_loads_are_warned_about(tmp_path, body, warned):
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text("def load(model, other, sd):\n" + body)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "model.py: WN301 x1" in result.stderr
    assert ("utils.py: warning: line" in result.stderr) is warned


def _warns_of(root: Path, loader: str) -> bool:
    """Whether a run that migrates ``model.py`` (legacy weight norm) warns
    about the checkpoint loader ``utils.py`` holds (``loader``)."""
    (root / "model.py").write_text(LAYERS)
    (root / "utils.py").write_text(loader)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "model.py: WN301 x1" in result.stderr
    return "utils.py: warning: line" in result.stderr


#: A helper that keeps the entries of ``src`` whose key is in ``dst`` (of
#: the same size): FunCodec's and ESPnet's ``filter_state_dict``.
FILTER_HELPER = (
    "def filter_state_dict(dst, src):\n"
    "    kept = {}\n"
    "    for key, value in src.items():\n"
    "        if key in dst:\n"
    "            if dst[key].size() == value.size():\n"
    "                kept[key] = value\n"
    "    return kept\n"
)


@pytest.mark.parametrize(
    "helper, warned",
    [
        (FILTER_HELPER, True),
        (FILTER_HELPER.replace("if key in dst:", "if key not in dst:"), False),
        (
            FILTER_HELPER.replace(
                "    return kept\n", "    kept.update(src)\n    return kept\n"
            ),
            False,
        ),
        (FILTER_HELPER.replace("        if key in dst:\n", "        if key:\n"), False),
    ],
    ids=["own-keys", "other-keys", "then-updated-whole", "unguarded"],
)
@pytest.mark.parametrize("where", ["imported", "same-file"])
def test_a_loader_filtering_through_a_helper_is_warned_about(
    tmp_path, helper, warned, where
):
    """``dst = model.state_dict(); dst.update(filter_state_dict(dst, src));
    model.load_state_dict(dst)``: FunCodec's loader, whose helper sits in
    another module (imported inside the function); a strict load passes,
    with the migrated layers' initial weights."""
    loader = (
        "def load(model, src):\n"
        "    dst = model.state_dict()\n"
        "    src = filter_state_dict(dst, src)\n"
        "    dst.update(src)\n"
        "    model.load_state_dict(dst)\n"
    )
    if where == "imported":
        (tmp_path / "filters.py").write_text(helper)
        loader = loader.replace(
            "    dst = ", "    from filters import filter_state_dict\n\n    dst = ", 1
        )
    else:
        loader = helper + "\n\n" + loader
    assert _warns_of(tmp_path, loader) is warned


#: A helper that overwrites, in place, the entries of ``to_`` whose key it
#: already has: so-vits-svc-fork's ``_substitute_if_same_shape``.
IN_PLACE_HELPER = (
    "def substitute(to_, from_):\n"
    "    for k, v in from_.items():\n"
    "        if k not in to_:\n"
    "            pass\n"
    "        elif to_[k].shape == v.shape:\n"
    "            to_[k] = v\n"
)


#: mozilla TTS's ``set_init_dict``: the parameter updated with the entries
#: whose key it has, filtered again by size, and returned.
UPDATING_HELPER = (
    "def substitute(to_, from_):\n"
    "    kept = {k: v for k, v in from_.items() if k in to_}\n"
    "    kept = {k: v for k, v in kept.items() if v.numel() == to_[k].numel()}\n"
    "    to_.update(kept)\n"
    "    return to_\n"
)


@pytest.mark.parametrize(
    "helper, warned",
    [
        (UPDATING_HELPER, True),
        (UPDATING_HELPER.replace(" if k in to_}", "}"), False),
        (UPDATING_HELPER.replace("    return to_\n", "    return kept\n"), False),
        (UPDATING_HELPER.replace("to_.update(kept)", "to_.update(from_)"), False),
        (
            UPDATING_HELPER.replace(
                "    to_.update(kept)\n",
                "    kept = dict(from_)\n    to_.update(kept)\n",
            ),
            False,
        ),
    ],
    ids=["own-keys", "all-keys", "returns-another", "updated-whole", "rebound"],
)
def test_a_loader_updating_its_own_state_through_a_helper_is_warned_about(
    tmp_path, helper, warned
):
    """``dst = model.state_dict(); dst = substitute(dst, src);
    model.load_state_dict(dst)``: mozilla TTS's partial initialization,
    the fallback loader of its training scripts."""
    loader = (
        "def load(model, src):\n"
        "    dst = model.state_dict()\n"
        "    dst = substitute(dst, src)\n"
        "    model.load_state_dict(dst)\n"
    )
    assert _warns_of(tmp_path, helper + "\n\n" + loader) is warned


@pytest.mark.parametrize(
    "helper, warned",
    [
        (IN_PLACE_HELPER, True),
        (
            IN_PLACE_HELPER.replace(
                "            pass\n        elif to_[k].shape == v.shape:\n",
                "            continue\n        if True:\n",
            ),
            True,
        ),
        (
            IN_PLACE_HELPER.replace(
                "        if k not in to_:\n            pass\n        elif",
                "        if k in to_ and",
            ),
            True,
        ),
        # Every checkpoint key is added: torch converts the legacy ones.
        (IN_PLACE_HELPER.replace("        elif to_[k]", "        if to_[k]"), False),
        (IN_PLACE_HELPER.replace("if k not in to_:", "if k not in from_:"), False),
        (IN_PLACE_HELPER + "    to_.update(from_)\n", False),
        (IN_PLACE_HELPER + "    to_[name] = from_[name]\n", False),
    ],
    ids=[
        "else-of-not-in",
        "after-continue",
        "in-and",
        "unguarded",
        "other-keys",
        "then-updated-whole",
        "another-key",
    ],
)
@pytest.mark.parametrize("where", ["imported", "same-file"])
def test_a_loader_overwriting_its_own_state_through_a_helper_is_warned_about(
    tmp_path, helper, warned, where
):
    """``dst = model.state_dict(); substitute(dst, src);
    model.load_state_dict(dst)``: so-vits-svc-fork's ``safe_load``, whose
    helper keeps the model's keys only; a strict load passes, with the
    migrated layers' initial weights."""
    loader = (
        "def load(model, src, name):\n"
        "    dst = model.state_dict()\n"
        "    substitute(dst, src)\n"
        "    model.load_state_dict(dst)\n"
    )
    if where == "imported":
        (tmp_path / "filters.py").write_text(
            helper.replace("(to_, from_)", "(to_, from_, name='')")
        )
        loader = "from filters import substitute\n\n\n" + loader
    else:
        loader = (
            helper.replace("(to_, from_)", "(to_, from_, name='')") + "\n\n" + loader
        )
    assert _warns_of(tmp_path, loader) is warned


def test_the_migration_runs_where_ast_has_no_match_statement(tmp_path):
    """Python 3.9 (``requires-python >= 3.9``) has neither ``ast.Match`` nor
    ``ast.pattern``: the migration, its free names included, must not need
    them (it raised ``AttributeError`` for every file). Simulated in a
    subprocess by removing them from ``ast`` before wnlint is imported."""
    (tmp_path / "m.py").write_text(FREE_NAMES)
    code = (
        "import ast, sys\n"
        "for name in ('Match', 'match_case', 'pattern', 'MatchAs', 'MatchStar'):\n"
        "    if hasattr(ast, name):\n"
        "        delattr(ast, name)\n"
        "from wnlint.cli.main import main\n"
        "sys.exit(main(['fix', '--unsafe-fixes', '--diff', 'm.py']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "internal error" not in result.stderr, result.stderr
    assert "m.py: WN301 x2" in result.stderr
    assert "torch_parametrizations.weight_norm(" in result.stdout


def test_parameters_picked_by_a_legacy_name_anywhere_in_the_run_are_warned_about(
    tmp_path,
):
    """``get_param_groups(net, wd, norm_suffix="weight_g")`` with
    ``n.endswith(norm_suffix)``, in another directory of the run than the
    migrated model: warned about (the group loses the scale); a file that
    only names the key in a subscript there is not."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.py").write_text(
        "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n\n"
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = weight_norm(nn.Conv1d(2, 2, 1))\n"
    )
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "opt.py").write_text(
        'def get_param_groups(net, wd, norm_suffix="weight_g"):\n'
        "    decay, no_decay = [], []\n"
        "    for n, p in net.named_parameters():\n"
        "        (no_decay if n.endswith(norm_suffix) else decay).append(p)\n"
        "    return decay, no_decay\n"
    )
    (tmp_path / "train" / "keys.py").write_text(
        'def g(sd):\n    return sd["conv.weight_g"]\n'
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert (
        "opt.py: warning: parameters picked by a name ending in weight_g/weight_v "
        "(line 4)"
    ) in result.stderr
    assert "keys.py" not in result.stderr


_PICKING_OPT = (
    'def get_param_groups(net, wd, norm_suffix="weight_g"):\n'
    "    decay, no_decay = [], []\n"
    "    for n, p in net.named_parameters():\n"
    "        (no_decay if n.endswith(norm_suffix) else decay).append(p)\n"
    "    return decay, no_decay\n"
)
_NORMED_MODEL = (
    "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n\n"
    "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.conv = weight_norm(nn.Conv1d(2, 2, 1))\n"
)
_PICKS_WARNING = "warning: parameters picked by a name ending in weight_g/weight_v"


def _project(root: Path, *marker: str) -> None:
    """A model to migrate, the optimizer groups that pick its scales by
    name in another directory, and the same file in places the walk skips
    (a virtual environment, a configured exclude)."""
    for name in ("models", "train", ".venv", "scratch"):
        (root / name).mkdir(parents=True)
    (root / "models" / "m.py").write_text(_NORMED_MODEL)
    for name in ("train", ".venv", "scratch"):
        (root / name / "opt.py").write_text(_PICKING_OPT)
    for name in marker:
        (root / name).write_text("")


def test_a_migrated_file_named_alone_warns_about_the_rest_of_its_project(tmp_path):
    """A pre-commit hook names only the changed files: the unchanged
    optimizer groups of the project are still read (its root found by its
    ``setup.cfg``, from its subdirectory too), the skipped directories not."""
    root = tmp_path / "proj"
    _project(root, "setup.cfg")
    (root / "pyproject.toml").write_text(
        '[tool.wnlint]\nextend-exclude = ["scratch"]\n'
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", "models/m.py", cwd=root)
    assert "models/m.py: WN301 x1" in result.stderr
    assert f"train/opt.py: {_PICKS_WARNING} (line 4)" in result.stderr
    assert ".venv" not in result.stderr and "scratch" not in result.stderr
    inside = run_cli("fix", "--unsafe-fixes", "--diff", "m.py", cwd=root / "models")
    assert f"{root / 'train' / 'opt.py'}: {_PICKS_WARNING}" in inside.stderr
    written = run_cli("fix", "--unsafe-fixes", "models/m.py", cwd=root)
    assert f"train/opt.py: {_PICKS_WARNING} (line 4)" in written.stderr
    assert (root / "train" / "opt.py").read_text() == _PICKING_OPT  # only read
    again = run_cli("fix", "--unsafe-fixes", "models/m.py", cwd=root)
    assert _PICKS_WARNING not in again.stderr  # nothing migrated this time


def test_without_a_project_root_the_working_directory_stands_for_it(tmp_path):
    """No marker above: the working directory is the project when the
    migrated file lies under it (a script run from there imports it), else
    only the file's own directory is read."""
    root = tmp_path / "export"
    _project(root)
    result = run_cli("fix", "--unsafe-fixes", "--diff", "models/m.py", cwd=root)
    assert f"train/opt.py: {_PICKS_WARNING} (line 4)" in result.stderr
    inside = run_cli("fix", "--unsafe-fixes", "--diff", "m.py", cwd=root / "models")
    assert "m.py: WN301 x1" in inside.stderr
    assert _PICKS_WARNING not in inside.stderr


def test_in_a_monorepo_only_the_code_that_can_use_the_model_is_read(tmp_path):
    """DeepLearningExamples: the migrated model's own project (the directory
    above its package) and any file that imports it are read; another
    model's scripts are not (their loaders and groups are not this model's)."""
    (tmp_path / ".git").mkdir()
    for name in ("A/pkg", "A/train", "B", "C"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "A" / "pkg" / "m.py").write_text(_NORMED_MODEL)
    (tmp_path / "A" / "train" / "opt.py").write_text(_PICKING_OPT)
    (tmp_path / "B" / "opt.py").write_text(_PICKING_OPT)
    (tmp_path / "C" / "uses.py").write_text("from A.pkg.m import M\n" + _PICKING_OPT)
    result = run_cli("fix", "--unsafe-fixes", "--diff", "A/pkg/m.py", cwd=tmp_path)
    assert f"A/train/opt.py: {_PICKS_WARNING} (line 4)" in result.stderr
    assert f"C/uses.py: {_PICKS_WARNING} (line 5)" in result.stderr
    assert "B/opt.py" not in result.stderr


def test_the_project_directories_are_the_outermost_roots(tmp_path):
    from wnlint.fixing.migration_notes import project_directories

    outer, inner, loose = tmp_path / "outer", tmp_path / "outer" / "sub", tmp_path / "x"
    for directory, marker in ((outer, "setup.py"), (inner, "pyproject.toml")):
        (directory / "pkg").mkdir(parents=True)
        (directory / marker).write_text("")
    (loose / "deep").mkdir(parents=True)
    migrated = [str(outer / "pkg" / "a.py"), str(inner / "pkg" / "b.py")]
    assert project_directories(migrated, str(tmp_path)) == [str(outer)]
    assert project_directories([str(loose / "deep" / "c.py")], str(tmp_path)) == [
        str(tmp_path)
    ]
    assert project_directories([str(loose / "deep" / "c.py")], str(outer)) == [
        str(loose / "deep")
    ]


def test_an_override_reading_its_own_state_by_checkpoint_keys_is_warned_about(
    tmp_path,
):
    """DeepLearningExamples' HiFi-GAN reshapes each entry to its own
    tensor's shape: after the migration a legacy checkpoint's keys are not
    among its own (KeyError). Reads after a test of the key, and loops over
    keys picked by name, are left alone."""
    (tmp_path / "model.py").write_text(KEYED_OVERRIDE)
    result = run_cli("fix", "--unsafe-fixes", "--diff", "model.py", cwd=tmp_path)
    assert "model.py: WN301 x1" in result.stderr
    warned = [
        int(line.split("line ")[1].split()[0])
        for line in result.stderr.splitlines()
        if "reads the model's own state_dict() by each key" in line
    ]
    assert warned == [17, 24]


def test_a_loader_filling_the_models_keys_is_warned_about_at_any_strictness(
    tmp_path,
):
    """Every key is there, so even the strict load passes: with the
    migrated layers' initial weights (checked in torch on a published
    HierSpeech++ checkpoint: 38 of 134 entries fell back)."""
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text(VITS_LOADER)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "model.py: WN301 x1" in result.stderr
    for line, how in ((17, " with strict=False"), (19, "")):
        assert (
            f"utils.py: warning: line {line} loads a checkpoint filtered by the "
            f"model's own keys{how}: after the WN301 migration"
        ) in result.stderr


@pytest.mark.parametrize(
    "loader",
    [
        # The checkpoint's own keys: the legacy ones reach torch's hook.
        VITS_LOADER.replace(
            "for k, v in state_dict.items()", "for k, v in saved_state_dict.items()"
        ),
        # The model's own values only: nothing is read from a checkpoint.
        VITS_LOADER.replace("saved_state_dict[k]", "v"),
        # Another dict filled: what is loaded is the checkpoint as it is.
        VITS_LOADER.replace("new_state_dict[k] = saved", "other[k] = saved").replace(
            "new_state_dict = {}", "new_state_dict, other = saved_state_dict, {}"
        ),
    ],
    ids=["checkpoint-keys", "own-values", "another-dict"],
)
def test_loops_that_keep_the_checkpoints_keys_are_not_warned_about(tmp_path, loader):
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text(loader)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "model.py: WN301 x1" in result.stderr
    assert "warning" not in result.stderr


@pytest.mark.parametrize(
    "loader",
    [
        # No fallback for a missing key (whisper-vits-svc's load_part).
        VITS_LOADER.replace(
            "        try:\n            new_state_dict[k] = saved_state_dict[k]\n"
            "        except KeyError:\n            new_state_dict[k] = v\n",
            "        new_state_dict[k] = saved_state_dict[k]\n",
        ),
        # A test of another kind: a missing key still raises KeyError.
        VITS_LOADER.replace(
            "        try:\n            new_state_dict[k] = saved_state_dict[k]\n"
            "        except KeyError:\n            new_state_dict[k] = v\n",
            "        if k.startswith('TODO'):\n            new_state_dict[k] = v\n"
            "        else:\n            new_state_dict[k] = saved_state_dict[k]\n",
        ),
    ],
    ids=["no-fallback", "other-test"],
)
def test_a_read_of_the_checkpoint_by_the_models_own_keys_is_said_to_raise(
    tmp_path, loader
):
    """After the migration the model's keys are the parametrization's, which
    a checkpoint saved before it lacks: KeyError, said before it happens."""
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text(loader)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    assert "model.py: WN301 x1" in result.stderr
    assert (
        "reads the checkpoint by each of the model's own state_dict() keys"
        in result.stderr
    )
    assert "raises KeyError" in result.stderr


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "write"])
def test_a_file_that_only_removes_weight_norm_waits_for_a_run_that_migrates_it(
    tmp_path, diff
):
    (tmp_path / "strip.py").write_text(REMOVER_ONLY)
    mode = ["--diff"] if diff else []
    alone = run_cli("fix", "--unsafe-fixes", *mode, "strip.py", cwd=tmp_path)
    assert "strip.py: WN302 not fixed: this file applies no weight norm" in alone.stderr
    assert (tmp_path / "strip.py").read_text() == REMOVER_ONLY
    assert alone.returncode == (0 if diff else 1)  # no diff; a finding left
    if not diff:  # what remains has no fix in such a run, as `check` says
        assert "strip.py:6:9: WN302 torch.nn.utils" in alone.stdout
        assert "[*]" not in alone.stdout

    (tmp_path / "layers.py").write_text(LAYERS)
    both = run_cli("fix", "--unsafe-fixes", *mode, ".", cwd=tmp_path)
    assert "not fixed" not in both.stderr
    done = "would fix" if diff else "fixed"
    assert f"{done} 2 findings in 2 files, 0 remaining" in both.stderr
    migrated = both.stdout if diff else (tmp_path / "strip.py").read_text()
    assert 'parametrize.remove_parametrizations(layer, "weight")' in migrated
    assert both.returncode == (1 if diff else 0)


@pytest.mark.parametrize("package", [True, False], ids=["package", "project"])
def test_removers_of_another_packages_modules_never_migrate(tmp_path, package):
    """Amphion's and VALL-E's tokenizers remove weight norm from the modules
    of the ``encodec`` package (the classes their ``isinstance`` tests
    name), which keeps the legacy API: the legacy remover stays, though the
    run migrates the project's own weight norm. Testing for a class of the
    project is no such sign."""
    (tmp_path / "layers.py").write_text(
        LAYERS + "\n\nclass SConv1d(nn.Module):\n    pass\n"
    )
    source = "from encodec.modules" if package else "from layers"
    source += (
        " import SConv1d\n"
        "from torch.nn.utils import remove_weight_norm\n\n\n"
        "def strip(model):\n"
        "    for m in model.modules():\n"
        "        if isinstance(m, SConv1d):\n"
        "            remove_weight_norm(m.conv)\n"
    )
    (tmp_path / "strip.py").write_text(source)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert "layers.py: WN301 x1" in result.stderr
    refused = "strip.py: WN302 not fixed: its removers act on modules of the encodec"
    assert (refused in result.stderr) is package
    assert ('remove_parametrizations(m.conv, "weight")' in result.stdout) is not package
    assert ("this file applies no weight norm" in result.stderr) is False
    # `check` knows it from the file alone: no fix is offered there.
    checked = run_cli("check", ".", cwd=tmp_path)
    assert "strip.py:8:13: WN302 " in checked.stdout
    assert ("strip.py:8:13: WN302 [*]" in checked.stdout) is not package
    as_json = run_cli("check", "--output-format", "json", ".", cwd=tmp_path)
    found = {Path(o["filename"]).name: o for o in json.loads(as_json.stdout)}
    assert (found["strip.py"]["fix"] is None) is package


def test_a_run_without_weight_norm_to_migrate_leaves_the_remover(tmp_path):
    """Another file with findings, but no legacy weight norm migrated."""
    (tmp_path / "strip.py").write_text(REMOVER_ONLY)
    (tmp_path / "layers.py").write_text(
        "import torch.nn as nn\n\n"
        "conv = nn.utils.weight_norm(nn.Conv1d(2, 2, 3))  # noqa: WN301\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert (
        "strip.py: WN302 not fixed: this file applies no weight norm" in result.stderr
    )
    assert result.stdout == ""


def test_a_file_that_applies_the_new_api_migrates_its_removers_alone(tmp_path):
    """Its removers act on what it normed with the parametrizations API: the
    legacy remover raises there (WN303), and the migration is the repair."""
    source = (
        "import torch.nn as nn\n"
        "from torch.nn.utils import remove_weight_norm\n"
        "from torch.nn.utils.parametrizations import weight_norm\n\n"
        "conv = weight_norm(nn.Conv1d(2, 2, 3))\n"
        "remove_weight_norm(conv)\n"
    )
    (tmp_path / "m.py").write_text(source)
    result = run_cli("fix", "--unsafe-fixes", "--diff", "m.py", cwd=tmp_path)
    assert "not fixed" not in result.stderr
    assert 'remove_parametrizations(conv, "weight")' in result.stdout


@pytest.mark.parametrize("with_weight_norm", [True, False])
def test_json_offers_the_removers_migration_as_fix_would(tmp_path, with_weight_norm):
    (tmp_path / "strip.py").write_text(REMOVER_ONLY)
    if with_weight_norm:
        (tmp_path / "layers.py").write_text(LAYERS)
    result = run_cli("check", "--output-format", "json", ".", cwd=tmp_path)
    found = {Path(o["filename"]).name: o for o in json.loads(result.stdout)}
    offered = found["strip.py"]["fix"]
    assert (offered is not None) is with_weight_norm


@pytest.mark.parametrize("cached", [False, True])
@pytest.mark.parametrize("with_weight_norm", [True, False])
def test_text_marks_the_removers_migration_as_fix_would(
    tmp_path, with_weight_norm, cached
):
    """The ``[*]`` mark and the fixable count of a remover-only file say
    what ``fix --unsafe-fixes`` will do: migrate it only beside a migration
    of weight norm, which ``--select WN302`` leaves out. A cached run
    answers the same (the report decides, not the file)."""
    (tmp_path / "strip.py").write_text(REMOVER_ONLY)
    if with_weight_norm:
        (tmp_path / "layers.py").write_text(LAYERS)
    cache = [] if cached else ["--no-cache"]
    for _ in range(2 if cached else 1):
        result = run_cli("check", *cache, ".", cwd=tmp_path)
    marked = "strip.py:6:9: WN302 [*]" in result.stdout
    assert marked is with_weight_norm
    fixable = 2 if with_weight_norm else None
    summary = f"[*] {fixable} fixable with `wnlint fix --unsafe-fixes`"
    assert (summary in result.stderr) is with_weight_norm
    if not with_weight_norm:
        assert "fixable" not in result.stderr
    alone = run_cli("check", *cache, "--select", "WN302", ".", cwd=tmp_path)
    assert "WN302 [*]" not in alone.stdout and "fixable" not in alone.stderr
    fixed = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert ("remove_parametrizations(layer" in fixed.stdout) is marked


@pytest.mark.parametrize(
    "loader",
    [
        # The fallback in the lookup itself.
        "def load(model, saved):\n"
        "    new = {}\n"
        "    for k, v in model.state_dict().items():\n"
        "        new[k] = saved.get(k, v)\n"
        "    model.load_state_dict(new)\n",
        # wavenet_vocoder's restore_parts: the model's own state updated with
        # the checkpoint's entries it has, then loaded strictly.
        "def restore_parts(model, state):\n"
        "    model_dict = model.state_dict()\n"
        "    valid = {k: v for k, v in state.items() if k in model_dict}\n"
        "    model_dict.update(valid)\n"
        "    model.load_state_dict(model_dict)\n",
        # The fallback in the arms of a test of the key.
        "def load(model, saved):\n"
        "    new = {}\n"
        "    for k, v in model.state_dict().items():\n"
        "        new[k] = saved[k] if k in saved else v\n"
        "    model.load_state_dict(new)\n",
        "def load(model, saved):\n"
        "    new = {}\n"
        "    for k in model.state_dict():\n"
        "        if k not in saved:\n"
        "            new[k] = model.state_dict()[k]\n"
        "        else:\n"
        "            new[k] = saved[k]\n"
        "    model.load_state_dict(new)\n",
    ],
    ids=["get-default", "own-state-updated", "conditional", "if-not-in"],
)
def test_strict_loads_of_every_own_key_are_warned_about(tmp_path, loader):
    root = _copy(tmp_path) / "checkpoint_filter"
    (root / "utils.py").write_text(loader)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=root)
    line = loader.count("\n")
    assert (
        f"utils.py: warning: line {line} loads a checkpoint filtered by the model's "
        "own keys: after the WN301 migration"
    ) in result.stderr


UNPICKLING_LAYERS = (
    "import torch.nn as nn\n\n\n"
    "class Vocoder(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.conv = nn.utils.weight_norm(nn.Conv1d(2, 2, 3))\n\n"
    "    def remove_weightnorm(self):\n"
    "        nn.utils.remove_weight_norm(self.conv)\n"
    "        return self\n"
)


@pytest.mark.parametrize(
    "script, warned",
    [
        # WaveGlow's inference.py.
        (
            "model = torch.load(path)['model']\nmodel = model.remove_weightnorm()\n",
            True,
        ),
        ("ckpt = torch.load(path)\nm = ckpt['model']\nm.remove_weightnorm()\n", True),
        ("torch.nn.utils.remove_weight_norm(torch.load(path).conv)\n", True),
        # A state_dict loaded into a new model: what the note advises.
        (
            "model = Vocoder()\n"
            "model.load_state_dict(torch.load(path)['model'])\n"
            "model.remove_weightnorm()\n",
            False,
        ),
        ("state = torch.load(path)\nVocoder().remove_weightnorm()\n", False),
        ("model = torch.load(path)['model']\nmodel.eval()\n", False),
    ],
    ids=["item", "item-of-name", "part", "state-dict", "other-model", "no-remover"],
)
def test_removing_weight_norm_from_a_model_unpickled_whole_is_warned_about(
    tmp_path, script, warned
):
    (tmp_path / "layers.py").write_text(UNPICKLING_LAYERS)
    body = "".join(f"    {line}\n" for line in script.splitlines())
    (tmp_path / "infer.py").write_text(
        "import torch\nfrom layers import Vocoder\n\n\ndef main(path):\n" + body
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert "layers.py: WN301 x1" in result.stderr
    assert ("unpickled whole" in result.stderr) is warned


@pytest.mark.parametrize("migrated", [True, False])
def test_a_migrated_files_own_remover_of_an_unpickled_model_is_warned_about(
    tmp_path, migrated
):
    """WaveGlow's convert_model.py: its own function removes weight norm
    from the model it unpickled. Left on the legacy API (its migration
    declined), that remover fits a legacy pickle."""
    source = (
        "import torch\n\n\n"
        "def update(model):\n"
        "    torch.nn.utils.remove_weight_norm(model.conv)\n"
        "    return model\n\n\n"
        "def convert(path):\n"
        "    model = torch.load(path)\n"
        "    model['model'] = update(model['model'])\n"
    )
    if not migrated:
        source += "    print(model.weight_g)\n"  # declines its migration
    (tmp_path / "layers.py").write_text(UNPICKLING_LAYERS)
    (tmp_path / "convert.py").write_text(source)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert ("convert.py: WN302 x1" in result.stderr) is migrated
    note = "convert.py: warning: line 11 removes weight norm from a model unpickled"
    assert (note in result.stderr) is migrated


#: fairseq's ``remove_weight_norm_from_model``: the normed modules found by
#: their parameters' names.
SUFFIX_PICK = (
    "import torch\n"
    "from functools import reduce\n\n\n"
    "def remove_weight_norm_from_model(model):\n"
    "    normed = []\n"
    "    for name, _ in model.named_parameters():\n"
    '        if name.endswith("_g"):\n'
    '            normed.append(reduce(getattr, name.split(".")[:-1], model))\n'
    "    for module in normed:\n"
    "        torch.nn.utils.remove_weight_norm(module)\n"
)


@pytest.mark.parametrize(
    "source, declined",
    [
        (SUFFIX_PICK, True),
        (SUFFIX_PICK.replace('endswith("_g")', 'endswith(("_v", "x"))'), True),
        # The suffix in a function with no weight norm: another meaning.
        (
            SUFFIX_PICK + "\n\ndef greens(names):\n"
            '    return [n for n in names if n.endswith("_g")]\n',
            True,
        ),
        (
            SUFFIX_PICK.replace('name.endswith("_g")', "name")
            + "\n\ndef greens(names):\n"
            '    return [n for n in names if n.endswith("_g")]\n',
            False,
        ),
    ],
    ids=["suffix", "in-a-tuple", "beside-another-use", "another-use-only"],
)
def test_parameters_picked_by_the_legacy_suffix_decline_the_migration(
    tmp_path, source, declined
):
    (tmp_path / "m.py").write_text(source)
    (tmp_path / "layers.py").write_text(LAYERS)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    reason = "picks weight norm's legacy parameters by name"
    assert (reason in result.stderr) is declined
    assert ("remove_parametrizations" in result.stdout) is not declined


@pytest.mark.parametrize(
    "loader, warned",
    [
        (
            "def load(model, sd):\n"
            "    own = model.state_dict()\n"
            "    for k, v in sd.items():\n"
            "        if k in own:\n"
            "            own[k].copy_(v)\n",
            True,
        ),
        (
            "import torch\n\n\ndef load(model, path):\n"
            "    ckpt = torch.load(path)['model']\n"
            "    for k in ckpt:\n"
            "        model.state_dict()[k].copy_(ckpt[k])\n",
            True,
        ),
        (
            "def sync(model, other):\n"
            "    own = model.state_dict()\n"
            "    for k, v in other.state_dict().items():\n"
            "        own[k].copy_(v)\n",
            False,
        ),
        (
            "def fill(model):\n"
            "    own = model.state_dict()\n"
            "    values = make_values()\n"
            "    for k, v in values.items():\n"
            "        own[k].copy_(v)\n",
            False,
        ),
        (
            "def load(model, sd):\n"
            "    own = model.state_dict()\n"
            "    for k, v in sd.items():\n"
            "        own['prefix.' + k].copy_(v)\n",
            False,
        ),
        (
            "def report(model, ckpt):\n"
            "    own = model.state_dict()\n"
            "    for key, value in ckpt.items():\n"
            "        if key not in own:\n"
            "            print('unused', key, value.shape)\n",
            False,
        ),
        (
            "def load(model, ckpt):\n"
            "    own = model.state_dict()\n"
            "    for key, value in ckpt.items():\n"
            "        if key in own:\n"
            "            assign(model, key, value)\n",
            True,
        ),
        (
            # NATSpeech's load_ckpt: mismatched shapes reported and dropped,
            # the rest (the legacy keys too) loaded by load_state_dict.
            "def load(cur_model, state_dict):\n"
            "    own = cur_model.state_dict()\n"
            "    unmatched = []\n"
            "    for key, param in state_dict.items():\n"
            "        if key in own:\n"
            "            if own[key].shape != param.shape:\n"
            "                unmatched.append(key)\n"
            "                print('unmatched', key, param.shape)\n"
            "    for key in unmatched:\n"
            "        del state_dict[key]\n"
            "    cur_model.load_state_dict(state_dict, strict=False)\n",
            False,
        ),
    ],
    ids=[
        "tested",
        "loaded-untested",
        "live-model",
        "computed",
        "other-key",
        "report-only",
        "set-by-name",
        "shape-report-then-load",
    ],
)
def test_which_copies_by_checkpoint_keys_are_warned_about(tmp_path, loader, warned):
    """A copy into the model's own state by each key of a checkpoint (an
    argument, or what a load call returned) is warned about; a copy from
    another live model's state, from a mapping the code computes, or under
    a key other than the loop's is not."""
    assert _warns_of(tmp_path, loader) is warned


def test_a_copy_that_raises_on_a_missing_key_is_said_to_raise(tmp_path):
    """``if name not in own_state: raise KeyError(...)``: the legacy entries
    are not skipped, the loop raises on them."""
    (tmp_path / "model.py").write_text(LAYERS)
    (tmp_path / "utils.py").write_text(
        "def load(model, state_dict):\n"
        "    own_state = model.state_dict()\n"
        "    for name, param in state_dict.items():\n"
        "        if name not in own_state:\n"
        "            raise KeyError(f'unexpected key {name}')\n"
        "        own_state[name].copy_(param)\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert "utils.py: warning: line 6 copies each key" in result.stderr
    assert "raises on them" in result.stderr


def test_a_copy_then_a_load_of_the_same_state_gets_one_note(tmp_path):
    """The copy into the model's own state by checkpoint keys is also a read
    of that state by them: one note says it, not two."""
    (tmp_path / "model.py").write_text(LAYERS)
    (tmp_path / "utils.py").write_text(
        "def load(model, sd):\n"
        "    own = model.state_dict()\n"
        "    for k, v in sd.items():\n"
        "        own[k].copy_(v)\n"
        "    model.load_state_dict(own)\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert result.stderr.count("utils.py: warning: line 4") == 1
    assert "copies each key" in result.stderr


def test_a_read_after_the_checkpoint_is_pruned_to_the_models_keys_is_not_warned_about(
    tmp_path,
):
    """diffusers' ``_load_norm_into_transformer`` pops the keys the model
    lacks before it reads the model's state by the rest: no KeyError."""
    loader = (
        "def load_norm_layers(transformer, state_dict):\n"
        "    transformer_state_dict = transformer.state_dict()\n"
        "    extra_keys = list(set(state_dict) - set(transformer_state_dict))\n"
        "    for key in extra_keys:\n"
        "        state_dict.pop(key)\n"
        "    overwritten = {}\n"
        "    for key in state_dict.keys():\n"
        "        overwritten[key] = transformer_state_dict[key].clone()\n"
        "    transformer.load_state_dict(state_dict)\n"
        "    return overwritten\n"
    )
    assert not _warns_of(tmp_path, loader)
    assert _warns_of(
        tmp_path, loader.replace("        state_dict.pop(key)\n", "        pass\n")
    )


@pytest.mark.parametrize(
    "imports, declined",
    [
        ("from diffusers.models.modeling_utils import ModelMixin as Base\n", True),
        ("import diffusers\nBase = diffusers.ModelMixin\n", True),
        ("from mylib import ModelMixin as Base\n", False),
        ("from .modeling_utils import ModelMixin as Base\n", False),
    ],
    ids=["diffusers-module", "diffusers-alias", "another-package", "relative-outside"],
)
def test_a_model_loaded_by_name_declines_only_for_diffusers(
    tmp_path, imports, declined
):
    """diffusers' ``ModelMixin`` however it is imported declines the
    migration; a class of that name from elsewhere does not (a relative
    import counts only inside a ``diffusers`` package directory)."""
    (tmp_path / "model.py").write_text(
        "import torch.nn as nn\n" + imports + "\n\nclass Vocoder(Base):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.utils.weight_norm(nn.Conv1d(2, 2, 3))\n"
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", "model.py", cwd=tmp_path)
    assert ("derives from diffusers' ModelMixin" in result.stderr) is declined
