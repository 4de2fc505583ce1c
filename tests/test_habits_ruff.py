"""The habits ruff and flake8 users bring: ``check --fix``, ``--diff`` and
``--unsafe-fixes`` on ``check``, ``--output-format concise``,
``--show-settings``, ``--show-files``, ``--exit-non-zero-on-fix`` and
``--statistics`` on ``fix``; and clear answers for a binary file, a
directory with no Python file, and a file with a syntax error outside its
weight-norm code (which flake8 does not lint either)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, run_cli

BEFORE = FIXTURES / "fix" / "legacy_api_before.py"
AFTER = FIXTURES / "fix" / "legacy_api_after.py"
SAFE = FIXTURES / "fix" / "wn102_unread_before.py"  # its fix is safe


@pytest.fixture
def legacy(tmp_path):
    shutil.copy(BEFORE, tmp_path / "m.py")
    return tmp_path


def test_check_fix_is_fix(legacy):
    result = run_cli("check", "--fix", "--unsafe-fixes", "m.py", cwd=legacy)
    assert result.returncode == 0, result.stderr
    assert (legacy / "m.py").read_bytes() == AFTER.read_bytes()
    assert "fixed 7 findings in 1 files, 0 remaining" in result.stderr


def test_check_fix_without_unsafe_fixes_applies_only_safe_ones(legacy):
    result = run_cli("check", "--fix", "m.py", cwd=legacy)
    assert (legacy / "m.py").read_bytes() == BEFORE.read_bytes()  # all unsafe
    assert result.returncode == 1


def test_check_diff_is_fix_diff(legacy):
    check = run_cli("check", "--diff", "--unsafe-fixes", "m.py", cwd=legacy)
    fix = run_cli("fix", "--diff", "--unsafe-fixes", "m.py", cwd=legacy)
    assert check.stdout == fix.stdout and check.stdout.startswith("--- a/m.py")
    assert check.returncode == fix.returncode == 1
    assert (legacy / "m.py").read_bytes() == BEFORE.read_bytes()


def test_check_accepts_unsafe_fixes_without_fix(legacy):
    result = run_cli("check", "--unsafe-fixes", "m.py", cwd=legacy)
    assert result.returncode == 1 and "WN301" in result.stdout
    assert (legacy / "m.py").read_bytes() == BEFORE.read_bytes()


def test_concise_is_the_one_line_layout(legacy):
    concise = run_cli("check", "--output-format", "concise", "m.py", cwd=legacy)
    text = run_cli("check", "--output-format", "text", "m.py", cwd=legacy)
    assert concise.stdout == text.stdout and concise.returncode == 1


def test_show_files_lists_what_would_be_checked(legacy):
    (legacy / "sub").mkdir()
    (legacy / "sub" / "n.py").write_text("x = 1\n")
    (legacy / "build").mkdir()
    (legacy / "build" / "skipped.py").write_text("x = 1\n")
    result = run_cli("check", "--show-files", ".", cwd=legacy)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["./m.py", "./sub/n.py"]


def test_show_settings_says_what_applies(legacy):
    (legacy / "pyproject.toml").write_text(
        '[tool.wnlint]\nextend-ignore = ["WN302"]\nunsafe-fixes = true\n'
    )
    result = run_cli("check", "--show-settings", ".", cwd=legacy)
    assert result.returncode == 0 and result.stderr == ""
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines() if line)
    assert rows["configuration"] == str(legacy / "pyproject.toml")
    assert "WN301" in rows["enabled"] and "WN302" not in rows["enabled"]
    assert rows["unsafe-fixes"] == "true"
    fix = run_cli("fix", "--show-settings", "m.py", cwd=legacy)
    assert fix.returncode == 0 and "\ncache " not in fix.stdout


def test_exit_non_zero_on_fix(tmp_path):
    shutil.copy(SAFE, tmp_path / "m.py")
    plain = run_cli("fix", "m.py", cwd=tmp_path)
    assert plain.returncode == 0 and "fixed 1 findings" in plain.stderr
    shutil.copy(SAFE, tmp_path / "m.py")
    strict = run_cli("fix", "--exit-non-zero-on-fix", "m.py", cwd=tmp_path)
    assert strict.returncode == 1 and "0 remaining" in strict.stderr
    untouched = run_cli("fix", "--exit-non-zero-on-fix", "m.py", cwd=tmp_path)
    assert untouched.returncode == 0  # nothing left to fix


def test_fix_statistics_counts_what_remains(legacy):
    result = run_cli("fix", "--statistics", "m.py", cwd=legacy)
    assert result.returncode == 1
    counts = {
        line.split()[1]: int(line.split()[0]) for line in result.stdout.splitlines()
    }
    assert counts == {"WN301": 4, "WN302": 3}


def test_a_binary_file_named_on_the_command_line_is_wn001(tmp_path):
    (tmp_path / "data.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run_cli("check", "data.py", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith(
        "data.py:1:1: WN001 cannot parse: the file holds null"
    )


def test_a_directory_without_python_files_is_warned_about(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# nothing to lint\n")
    result = run_cli("check", "docs", cwd=tmp_path)
    assert result.returncode == 0
    assert "wnlint: warning: no Python files found under docs" in result.stderr


SYNTAX_ERROR_ELSEWHERE = (
    "import torch.nn as nn\n"
    "from torch.nn.utils import weight_norm\n"
    "\n"
    "m = weight_norm(nn.Linear(1, 1))\n"
    "\n\n"
    "def broken(:\n"
    "    pass\n"
)


def test_a_syntax_error_elsewhere_is_what_check_and_flake8_both_report(tmp_path):
    """The prefilter parses the weight-norm part alone; a finding there in
    a file Python rejects is not reported (flake8 runs no plugin on it)."""
    path = tmp_path / "m.py"
    path.write_text(SYNTAX_ERROR_ELSEWHERE)
    check = run_cli("check", "m.py", cwd=tmp_path)
    assert check.stdout.splitlines() == [
        "m.py:7:12: WN001 cannot parse: invalid syntax"
    ]
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "WN,E999", "m.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert [line.split()[1] for line in flake8.stdout.splitlines()] == ["E999"]
    assert "7:" in flake8.stdout


def test_fix_select_wn301_migrates_a_file_without_removers(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\n"
        "from torch.nn.utils import weight_norm\n"
        "\n"
        "conv = weight_norm(nn.Conv1d(1, 1, 1))\n"
    )
    shutil.copy(BEFORE, tmp_path / "with_removers.py")
    result = run_cli("fix", "--unsafe-fixes", "--select", "WN301", ".", cwd=tmp_path)
    assert "parametrizations.weight_norm(nn.Conv1d" in (tmp_path / "m.py").read_text()
    assert (tmp_path / "with_removers.py").read_bytes() == BEFORE.read_bytes()
    assert (
        "with_removers.py: WN301/WN302 not fixed: the two fixes apply together only"
        in (result.stderr)
    )
    assert "m.py: WN301/WN302 not fixed" not in result.stderr


def test_help_names_the_new_options():
    result = subprocess.run(
        [sys.executable, "-m", "wnlint", "check", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    for option in (
        "--fix",
        "--diff",
        "--unsafe-fixes",
        "--show-settings",
        "--show-files",
    ):
        assert option in result.stdout
