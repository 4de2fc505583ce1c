"""After a migration, a requirement that admits a torch older than 2.1
(which has no ``torch.nn.utils.parametrizations.weight_norm``) is named in
a warning: HiFi-GAN's ``torch==1.4.0``, VITS' ``torch==1.6.0``, AudioLDM's
``torch>=1.13.0``."""

from __future__ import annotations

import pytest
from conftest import run_cli

from wnlint.fixing.torch_floor import _admits_old

LEGACY = "import torch.nn as nn\n\nconv = nn.utils.weight_norm(nn.Conv1d(2, 2, 3))\n"


@pytest.mark.parametrize(
    "clauses, old",
    [
        ("==1.4.0", True),
        (">=1.13.0", True),
        ("~=1.12", True),
        (">2.0", True),
        (">=1.13,<3", True),
        ("<2.1", True),
        ("<=2.0.1", True),
        (">=2.1", False),
        ("==2.13.0", False),
        (">=2.1.0,!=2.1.1", False),
        ("<=2.1", False),
        ("<3", False),
        ("!=1.4", False),
    ],
)
def test_which_version_clauses_admit_a_torch_without_the_new_api(clauses, old):
    assert _admits_old(clauses.encode()) is old


@pytest.mark.parametrize(
    "name, text, warned",
    [
        ("requirements.txt", "numpy\ntorch==1.6.0\n", "requirements.txt line 2"),
        ("requirements-dev.txt", "torch >= 1.13  # cpu\n", "requirements-dev.txt"),
        ("requirements.txt", "torch>=2.1\ntorchaudio==0.7.0\n", None),
        ("requirements.txt", "# torch==1.4.0\ntorch\n", None),
        (
            "setup.py",
            'install_requires=["torch>=1.13.0", "numpy"]\n',
            "setup.py line 1",
        ),
        (
            "pyproject.toml",
            '[build-system]\nrequires = ["torch>=1.10"]\n\n'
            '[project]\nname = "p"\ndependencies = ["torch>=1.13"]\n',
            "pyproject.toml line 6",
        ),
        ("pyproject.toml", '[build-system]\nrequires = ["torch>=1.10"]\n', None),
        ("setup.cfg", "[options]\ninstall_requires =\n    torch==1.7.1\n", "setup.cfg"),
    ],
)
def test_a_requirement_without_the_new_api_is_warned_about(
    tmp_path, name, text, warned
):
    (tmp_path / name).write_text(text)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(LEGACY)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert "model.py: WN301 x1" in result.stderr
    note = "torch older than 2.1"
    assert (note in result.stderr) is (warned is not None)
    if warned is not None:
        assert f"pkg/model.py: warning: {warned}" in result.stderr


def test_a_run_that_migrates_nothing_says_nothing_of_torch(tmp_path):
    (tmp_path / "requirements.txt").write_text("torch==1.4.0\n")
    (tmp_path / "model.py").write_text(
        LEGACY.replace("nn.utils.", "nn.utils.parametrizations.")
    )
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert "torch older" not in result.stderr


def test_one_note_per_requirement_file_on_the_first_migrated_file(tmp_path):
    (tmp_path / "requirements.txt").write_text("torch==1.6.0\n")
    for name in ("b.py", "a.py"):
        (tmp_path / name).write_text(LEGACY)
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert result.stderr.count("torch older") == 1
    assert (
        "a.py: warning: requirements.txt line 1 pins a torch older than 2.1 "
        "(`torch==1.6.0`)" in result.stderr
    )
