"""``wnlint check -`` and ``wnlint fix -``: what editors and format-on-save
tools call. stdin gives exactly the findings of the same file on disk, under
the ``--stdin-filename`` it names, with that path's configuration."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture_files, run_cli

MIGRATE_BEFORE = FIXTURES / "fix" / "legacy_api_before.py"
MIGRATE_AFTER = FIXTURES / "fix" / "legacy_api_after.py"
IN_FORWARD = FIXTURES / "wn106_parameter_in_forward.py"


def run_stdin(data: bytes, *args: str, cwd: Path) -> tuple[int, bytes, str]:
    """``wnlint <args>`` in this process, in ``cwd``, with ``data`` on stdin:
    the exit status, stdout's bytes and stderr's text."""
    from wnlint.cli.main import main

    out = io.BytesIO()
    err = io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr, os.getcwd()
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, err
    os.chdir(cwd)
    try:
        status = main(list(args))
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_check_stdin_equals_check_on_disk(path):
    root = FIXTURES.parent
    name = str(path.relative_to(root))
    on_disk = run_cli("check", name, cwd=root)
    status, out, err = run_stdin(
        path.read_bytes(), "check", "--stdin-filename", name, "-", cwd=root
    )
    assert out.decode() == on_disk.stdout
    assert status == on_disk.returncode
    assert err == on_disk.stderr


def test_check_stdin_without_a_path_or_name(tmp_path):
    status, out, _ = run_stdin(IN_FORWARD.read_bytes(), "check", "-", cwd=tmp_path)
    assert status == 1
    assert out.decode().startswith("-:")
    status, out, _ = run_stdin(
        IN_FORWARD.read_bytes(), "check", "--stdin-filename", "x.py", cwd=tmp_path
    )
    assert status == 1 and out.decode().startswith("x.py:")


def test_stdin_uses_the_configuration_of_its_filename(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wnlint.per-file-ignores]\n"tests/*" = ["WN106"]\n'
        '[tool.wnlint]\nextend-exclude = ["gen"]\n',
        encoding="utf-8",
    )
    data = IN_FORWARD.read_bytes()
    assert (
        run_stdin(data, "check", "--stdin-filename", "src/m.py", "-", cwd=tmp_path)[0]
        == 1
    )
    status, out, _ = run_stdin(
        data, "check", "--stdin-filename", "tests/m.py", "-", cwd=tmp_path
    )
    assert (status, out) == (0, b"")
    # Excludes apply to stdin only with --force-exclude, as in ruff.
    name = ("--stdin-filename", "gen/m.py", "-")
    assert run_stdin(data, "check", *name, cwd=tmp_path)[0] == 1
    assert run_stdin(data, "check", "--force-exclude", *name, cwd=tmp_path)[:2] == (
        0,
        b"",
    )
    status, out, _ = run_stdin(data, "fix", "--force-exclude", *name, cwd=tmp_path)
    assert (status, out) == (0, data)


def test_fix_stdin_prints_the_fixed_source_and_writes_nothing(tmp_path):
    target = tmp_path / "m.py"
    shutil.copy(MIGRATE_BEFORE, target)
    data = MIGRATE_BEFORE.read_bytes()
    status, out, err = run_stdin(
        data, "fix", "--unsafe-fixes", "--stdin-filename", "m.py", "-", cwd=tmp_path
    )
    assert status == 0, err
    assert out == MIGRATE_AFTER.read_bytes()
    assert target.read_bytes() == data  # nothing written to disk
    assert "fixed 7 findings, 0 remaining" in err


def test_fix_stdin_reports_what_remains_on_stderr(tmp_path):
    data = IN_FORWARD.read_bytes()  # WN106 has no fix
    args = ("fix", "--stdin-filename", "m.py", "-")
    status, out, err = run_stdin(data, *args, cwd=tmp_path)
    assert status == 1
    assert out == data
    assert "m.py:" in err and "WN106" in err
    assert run_stdin(data, *args, "--exit-zero", cwd=tmp_path)[0] == 0
    status, out, err = run_stdin(data, *args, "--quiet", cwd=tmp_path)
    assert "WN106" in err and "remaining" not in err


def test_fix_stdin_diff(tmp_path):
    data = MIGRATE_BEFORE.read_bytes()
    status, out, _ = run_stdin(
        data,
        "fix",
        "--unsafe-fixes",
        "--diff",
        "--stdin-filename",
        "m.py",
        "-",
        cwd=tmp_path,
    )
    assert status == 1
    assert out.decode().startswith("--- a/m.py\n+++ b/m.py\n")


def test_stdin_cannot_be_mixed_with_paths(tmp_path):
    result = run_cli("check", "-", "other.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "'-' (stdin) cannot be combined with other paths" in result.stderr


def test_flake8_stdin_matches_wnlint_stdin():
    """flake8 parity from stdin: same lines, columns and text."""
    # A fixture whose findings have fixes: WN301's own file is migrated
    # whole or not at all, and a site there declines it (no marks).
    path = FIXTURES / "wn303_mismatched_weight_norm_removal.py"
    name = "fixtures/wn303_mismatched_weight_norm_removal.py"
    flake8 = subprocess.run(
        [
            sys.executable,
            "-m",
            "flake8",
            "--select",
            "WN",
            "--stdin-display-name",
            name,
            "-",
        ],
        input=path.read_bytes(),
        capture_output=True,
        cwd=FIXTURES.parent,
        check=False,
    )
    _, out, _ = run_stdin(
        path.read_bytes(), "check", "--stdin-filename", name, "-", cwd=FIXTURES.parent
    )
    # wnlint marks a fixable finding with [*]; flake8 has no fixes to mark.
    marked = re.compile(r"^(.*?: WN\d{3}) \[\*\] ", flags=re.MULTILINE)
    assert flake8.stdout.decode() == marked.sub(r"\1 ", out.decode())
    assert out and " [*] " in out.decode()


def test_fix_stdin_applies_the_per_file_ignores_of_its_filename(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.wnlint]\nunsafe-fixes = true\n"
        '[tool.wnlint.per-file-ignores]\n"keep/*" = ["WN301", "WN302"]\n',
        encoding="utf-8",
    )
    data = MIGRATE_BEFORE.read_bytes()
    status, out, err = run_stdin(
        data, "fix", "--stdin-filename", "keep/m.py", "-", cwd=tmp_path
    )
    assert (status, out) == (0, data), err
    status, out, err = run_stdin(
        data, "fix", "--stdin-filename", "src/m.py", "-", cwd=tmp_path
    )
    assert (status, out) == (0, MIGRATE_AFTER.read_bytes()), err
