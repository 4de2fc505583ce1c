"""``wnlint fix``: byte-exact rewrites, safety gates, and never a broken file."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
import warnings

import pytest
from conftest import FIXTURES, run_cli

from wnlint.engine.linter import Linter, select_rules

BEFORE = FIXTURES / "fix" / "legacy_api_before.py"
AFTER = FIXTURES / "fix" / "legacy_api_after.py"


def wnlint(*args: str, cwd) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def before(tmp_path):
    target = tmp_path / "vocoder.py"
    shutil.copy(BEFORE, target)
    return target


def test_fix_pair_byte_for_byte(before):
    result = wnlint("fix", "--unsafe-fixes", before.name, cwd=before.parent)
    assert result.returncode == 0, result.stderr
    assert before.read_bytes() == AFTER.read_bytes()
    assert "fixed 7 findings in 1 files, 0 remaining" in result.stderr


def test_fixed_file_relints_clean_and_refixes_to_itself(before):
    wnlint("fix", "--unsafe-fixes", before.name, cwd=before.parent)
    assert (
        wnlint("check", "--select", "WN3", before.name, cwd=before.parent).stdout == ""
    )
    again = wnlint("fix", "--unsafe-fixes", "--diff", before.name, cwd=before.parent)
    assert again.returncode == 0 and again.stdout == ""
    assert before.read_bytes() == AFTER.read_bytes()


def test_unsafe_fixes_need_the_flag(before):
    result = wnlint("fix", before.name, cwd=before.parent)
    assert result.returncode == 1
    assert before.read_bytes() == BEFORE.read_bytes()
    assert "fixed 0 findings" in result.stderr
    assert "(7 fixable with --unsafe-fixes)" in result.stderr
    assert f"{before.name}:" in result.stdout  # the findings are still reported


def test_diff_writes_nothing_and_exits_1(before):
    result = wnlint("fix", "--unsafe-fixes", "--diff", before.name, cwd=before.parent)
    assert result.returncode == 1
    assert before.read_bytes() == BEFORE.read_bytes()
    assert "+from torch.nn.utils import parametrizations, parametrize" in result.stdout
    assert "would fix 7 findings" in result.stderr


def test_crlf_encoding_and_comments_are_kept(tmp_path):
    source = (
        "# -*- coding: latin-1 -*-\n"
        "import torch.nn as nn  # caf\xe9\n"
        "conv = nn.utils.weight_norm(nn.Conv1d(1, 1, 1))  # keep me\n"
    ).replace("\n", "\r\n")
    target = tmp_path / "m.py"
    target.write_bytes(source.encode("latin-1"))
    assert wnlint("fix", "--unsafe-fixes", "m.py", cwd=tmp_path).returncode == 0
    expected = source.replace(
        "nn.utils.weight_norm", "nn.utils.parametrizations.weight_norm"
    )
    assert target.read_bytes() == expected.encode("latin-1")


def test_mode_is_kept_and_no_temporary_file_is_left(before):
    os.chmod(before, 0o640)
    wnlint("fix", "--unsafe-fixes", before.name, cwd=before.parent)
    assert os.stat(before).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in before.parent.iterdir()) == [before.name]


@pytest.mark.parametrize(
    "source, note",
    [
        (
            "from torch.nn.utils import weight_norm, remove_weight_norm\n"
            "a = weight_norm(x)\n"
            "remove_weight_norm(a)  # noqa: WN302\n",
            "a legacy call is silenced with noqa",
        ),
        (
            "import torch.nn as nn\nfrom torch.nn.utils import remove_weight_norm\n"
            "a = nn.utils.weight_norm(x)\nmodel.apply(remove_weight_norm)\n",
            "remove_weight_norm is passed as a value on line 4",
        ),
        (
            "import torch.nn as nn\na = nn.utils.weight_norm(x, name='bias')\n",
            "weight norm of a parameter other than `weight` on line 2",
        ),
        # GPT-SoVITS' attentions: the name is a variable (which may well
        # hold "weight"), so it is not known which tensors to rename.
        (
            "import torch.nn as nn\na = nn.utils.weight_norm(x, name=tensor)\n",
            "on line 2 is named by an expression, not a string",
        ),
        (
            "import torch.nn as nn\na = nn.utils.weight_norm(x)\n"
            "class W(nn.Module):\n    def __init__(self):\n"
            "        self.weight_g = nn.Parameter(x)\n",
            "the file defines weight_g/weight_v of its own",
        ),
    ],
)
def test_a_file_is_fixed_whole_or_not_at_all(tmp_path, source, note):
    target = tmp_path / "m.py"
    target.write_text(source)
    result = wnlint("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert target.read_text() == source
    assert note in result.stderr
    assert result.returncode == 1 and "WN30" in result.stdout


@pytest.mark.parametrize(
    "source, marked",
    [
        (
            "import torch.nn as nn\nfrom torch.nn.utils import remove_weight_norm\n"
            "a = nn.utils.weight_norm(x)\nmodel.apply(remove_weight_norm)\n",
            False,
        ),
        ("import torch.nn as nn\na = nn.utils.weight_norm(x, name='bias')\n", False),
        ("import torch.nn as nn\na = nn.utils.weight_norm(x)\n", True),
        # An attribute the migration renames is no hazard: the mark stays.
        (
            "import torch.nn as nn\na = nn.utils.weight_norm(x)\n"
            "class W(nn.Module):\n    def __init__(self):\n"
            "        self.weight_g = nn.Parameter(x)\n",
            True,
        ),
        # A hazard in a function that never spells weight norm: check
        # reads it too (the prefilter keeps it), and so declines as fix.
        (
            "import torch.nn as nn\na = nn.utils.weight_norm(x)\n\n\n"
            "def keys(sd):\n    return [k for k in sd if k.endswith('weight_g')]\n",
            False,
        ),
        (
            "import torch.nn as nn\na = nn.utils.weight_norm(x)\n\n\n"
            "def hooked(m):\n"
            "    return any(type(h).__name__ == 'WeightNorm' for h in m.hooks)\n",
            False,
        ),
        # Pickling is traced through the whole file: only `fix` reads it.
        (
            "import torch\nimport torch.nn as nn\n"
            "a = nn.utils.weight_norm(nn.Conv1d(2, 2, 1))\n\n\n"
            "def save(path):\n    torch.save(a, path)\n",
            True,
        ),
    ],
)
def test_check_marks_no_fix_where_the_migration_refuses_a_site(source, marked):
    """A site the migration refuses leaves the whole file as it is: none of
    its WN301/WN302 findings is counted fixable."""
    found = Linter(select_rules()).lint_bytes(source.encode(), "m.py")
    legacy = [d for d in found if d.code in ("WN301", "WN302")]
    assert legacy and all(d.unfixable is not marked for d in legacy)


def test_the_unsafe_hint_leaves_out_a_migration_check_knows_is_refused(tmp_path):
    """``fix`` without ``--unsafe-fixes`` counts what that flag would fix:
    not a file whose migration refuses a site (``check`` marks it without a
    fix, and ``fix --unsafe-fixes`` leaves it)."""
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\n\n"
        'lstm = nn.utils.weight_norm(nn.LSTM(2, 2), name="weight_hh_l0")\n'
    )
    result = wnlint("fix", "--diff", ".", cwd=tmp_path)
    assert "1 remaining" in result.stderr
    assert "fixable with --unsafe-fixes" not in result.stderr
    unsafe = wnlint("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert unsafe.stdout == "" and "1 remaining" in unsafe.stderr


def test_the_pair_is_fixed_together_only(before):
    result = wnlint(
        "fix", "--unsafe-fixes", "--select", "WN301", before.name, cwd=before.parent
    )
    assert before.read_bytes() == BEFORE.read_bytes()
    assert "the two fixes apply together only" in result.stderr


def test_unparsable_file_is_reported_and_left_alone(tmp_path):
    target = tmp_path / "broken.py"
    target.write_text("from torch.nn.utils import weight_norm\nweight_norm(\n")
    result = wnlint("fix", "--unsafe-fixes", ".", cwd=tmp_path)
    assert "WN001" in result.stdout and "Traceback" not in result.stderr
    assert (
        target.read_text() == "from torch.nn.utils import weight_norm\nweight_norm(\n"
    )


def test_libcst_codemod_command():
    from libcst.codemod import CodemodContext, TransformSuccess, transform_module

    from wnlint.codemod import LegacyWeightNormCommand

    result = transform_module(
        LegacyWeightNormCommand(CodemodContext()), BEFORE.read_text()
    )
    assert isinstance(result, TransformSuccess)
    assert result.code == AFTER.read_text()


def test_libcst_tool_runs_the_codemod(before, capsys, monkeypatch):
    """libcst's command line, in this process: one file is transformed
    here, without a worker pool (test_fix_pairs starts the tool itself)."""
    from libcst.tool import main

    monkeypatch.chdir(before.parent)
    args = ["codemod", "--no-format", "-x", "wnlint.codemod.LegacyWeightNormCommand"]
    assert main("libcst.tool", [*args, before.name]) == 0
    stderr = capsys.readouterr().err
    assert "Transformed 1 files successfully" in stderr, stderr
    assert before.read_bytes() == AFTER.read_bytes()


# -- runtime equivalence (torch) -------------------------------------------------


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(module, seed):
    import torch

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return module.Vocoder()


def test_fixed_vocoder_matches_the_legacy_one(device):
    import torch

    legacy = _build(_load(BEFORE, "wnlint_fix_before"), 0).to(device)
    fixed = _build(_load(AFTER, "wnlint_fix_after"), 0).to(device)
    fixed.load_state_dict(legacy.state_dict())  # old checkpoints still load
    mel = torch.randn(2, 8, 11, device=device)

    # (1) the same output at initialisation
    out_legacy, out_fixed = legacy(mel), fixed(mel)
    torch.testing.assert_close(out_fixed, out_legacy)

    # (2) the same gradients for g, v and bias
    out_legacy.square().sum().backward()
    out_fixed.square().sum().backward()
    new_conv = fixed.conv_pre.parametrizations.weight
    torch.testing.assert_close(new_conv.original0.grad, legacy.conv_pre.weight_g.grad)
    torch.testing.assert_close(new_conv.original1.grad, legacy.conv_pre.weight_v.grad)
    torch.testing.assert_close(fixed.conv_pre.bias.grad, legacy.conv_pre.bias.grad)
    torch.testing.assert_close(fixed.magnitudes(), legacy.magnitudes())

    # (3) an optimizer moves g and v, and the fixed module can be deep-copied
    g_before = new_conv.original0.detach().clone()
    opt = torch.optim.Adam(fixed.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        fixed(mel).square().mean().backward()
        opt.step()
    assert not torch.equal(new_conv.original0, g_before)
    copy.deepcopy(fixed)

    # The rewritten removers work on the new API and match the legacy ones.
    legacy_out = legacy(mel)
    fixed.load_state_dict(legacy.state_dict())
    legacy.remove_weight_norm()
    fixed.remove_weight_norm()
    torch.testing.assert_close(fixed(mel), legacy(mel))
    torch.testing.assert_close(legacy(mel), legacy_out)
