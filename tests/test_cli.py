"""The ``wnlint`` command: output layout, exit codes, options, errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, UNKNOWN_CODE, run_cli, run_module

from wnlint import __version__
from wnlint.cli.main import main
from wnlint.rules import ALL_RULES, RULES_BY_CODE

LEGACY = "import torch.nn as nn\nconv = nn.utils.weight_norm(nn.Conv1d(1, 1, 1))\n"
REMOVE = "from torch.nn.utils import remove_weight_norm\nremove_weight_norm(conv)\n"
CLEAN = "import torch.nn as nn\nconv = nn.utils.parametrizations.weight_norm(c)\n"
LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<code>WN\d{3}) \S")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "legacy.py").write_text(LEGACY)
    (tmp_path / "remove.py").write_text(REMOVE)
    (tmp_path / "clean.py").write_text(CLEAN)
    return tmp_path


def test_findings_layout_and_exit_1(project):
    result = run("check", ".", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines == [
        "./legacy.py:2:8: WN301 [*] " + RULES_BY_CODE["WN301"].message,
        "./remove.py:2:1: WN302 [*] " + RULES_BY_CODE["WN302"].message,
    ]
    assert "2 findings in 2 of 3 files checked" in result.stderr
    assert "Traceback" not in result.stderr


def test_clean_exit_0_and_default_path(project):
    (project / "legacy.py").unlink()
    (project / "remove.py").unlink()
    result = run("check", cwd=project)
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no findings in 1 files checked" in result.stderr


@pytest.mark.parametrize(
    "options, codes",
    [
        (["--select", "WN302"], {"WN302"}),
        (["--select", "WN3"], {"WN301", "WN302"}),
        (["--select", "wn301, WN302"], {"WN301", "WN302"}),
        (["--ignore", "WN301"], {"WN302"}),
        (["--select", "WN3", "--ignore", "WN302"], {"WN301"}),
    ],
)
def test_select_and_ignore_take_prefixes(project, options, codes):
    result = run("check", *options, ".", cwd=project)
    assert {LINE.match(x)["code"] for x in result.stdout.splitlines()} == codes


def test_exit_zero_and_quiet(project):
    result = run("check", "--exit-zero", "-q", ".", cwd=project)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args, needle",
    [
        (["check", "--select", "XX9"], "unknown rule code or prefix: 'XX9'"),
        (
            ["check", "--ignore", UNKNOWN_CODE],
            f"unknown rule code or prefix: '{UNKNOWN_CODE}'",
        ),
        (
            ["check", "does-not-exist.py"],
            "no such file or directory: does-not-exist.py",
        ),
        (["check", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["rule", UNKNOWN_CODE], f"unknown rule code: '{UNKNOWN_CODE}'"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, needle, project):
    result = run(*args, cwd=project)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_exits_2():
    result = run()
    assert result.returncode == 2
    assert "check [PATH ...]" in result.stderr


def test_help_explains_commands_and_exit_status():
    result = run("check", "--help")
    assert result.returncode == 0
    for text in ("--select", "--ignore", "exit status", "# noqa"):
        assert text in result.stdout


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"wnlint {__version__}"


def test_rule_prints_documentation():
    result = run("rule", "wn301")
    assert result.returncode == 0
    assert result.stdout.startswith("# WN301 legacy-weight-norm")
    for section in ("## What it does", "## Why is this bad?", "## Fix safety"):
        assert section in result.stdout


def test_rule_without_code_lists_all():
    result = run("rule")
    assert result.returncode == 0
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    shown = {"safe": "safe", "unsafe": "unsafe", "mixed": "safe/unsafe"}
    for rule in ALL_RULES:
        assert f"{rule.code}  {rule.name}" in result.stdout
        fix = [] if rule.fix_safety is None else ["fix:", shown[rule.fix_safety]]
        assert lines[rule.code] == [rule.name, rule.severity, *fix]
    assert lines["WN001"] == ["syntax-error", "error"]
    assert not any(line.endswith(" ") for line in result.stdout.splitlines())


def test_unparsable_file_is_reported_and_others_still_checked(project):
    (project / "broken.py").write_text("import torch.nn as nn\nnn.utils.weight_norm(\n")
    result = run("check", ".", cwd=project)
    assert result.returncode == 1
    out = result.stdout.splitlines()
    broken = [x for x in out if x.startswith("./broken.py")]
    assert len(broken) == 1 and "WN001 cannot parse: " in broken[0]
    assert LINE.match(broken[0])["line"] == "2"
    assert any(x.startswith("./legacy.py:2:8: WN301") for x in out)
    assert "Traceback" not in result.stderr


def test_explicit_file_is_checked_whatever_its_name(project):
    script = project / "build" / "tool"
    script.parent.mkdir()
    script.write_text(LEGACY)
    result = run("check", "build/tool", cwd=project)
    assert result.stdout.startswith("build/tool:2:8: WN301")


def test_python_dash_m_entry_point(project):
    """The one ``python -m wnlint`` run: ``__main__`` passes the exit status
    through; the other tests call ``main`` in this process."""
    result = run_module("wnlint", "check", ".", cwd=project)
    in_process = run("check", ".", cwd=project)
    assert result.returncode == in_process.returncode == 1
    assert result.stdout == in_process.stdout != ""
    assert result.stderr == in_process.stderr


def test_console_script_entry_point(project):
    """The installed ``wnlint`` script is the same command."""
    console = Path(sys.executable).with_name("wnlint")
    assert console.exists(), "the wnlint console script is not installed"
    direct = subprocess.run(
        [str(console), "check", "."], cwd=project, capture_output=True, text=True
    )
    assert direct.returncode == 1
    assert direct.stdout == run("check", ".", cwd=project).stdout != ""


def test_linting_never_imports_torch():
    """A new interpreter: this one has torch and libcst loaded already."""
    code = (
        "import sys, wnlint.cli.main, wnlint.flake8_plugin\n"
        "from wnlint.cli.main import main\n"
        f"assert main(['check', '-q', '--exit-zero', {str(FIXTURES)!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'libcst' not in sys.modules, 'check must not pay for libcst'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_main_returns_codes_in_process(project, capsys):
    assert main(["check", str(project / "clean.py")]) == 0
    assert main(["check", str(project / "legacy.py")]) == 1
    assert main(["check", "--select", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert "wnlint: error: unknown rule code or prefix: 'NOPE'" in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        ["check", str(FIXTURES)],
        ["fix", "--unsafe-fixes", "--diff", str(FIXTURES)],
        ["rule", "--all"],
    ],
    ids=["check", "fix-diff", "rule"],
)
def test_stdout_on_a_full_disk_is_an_error_not_a_traceback(args):
    """The report cannot be written: exit 2 with the reason, as for
    ``--output-file``, never a traceback."""
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "wnlint", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            cwd=ROOT,
        )
    assert result.returncode == 2, result.stderr
    assert "wnlint: error: cannot write the output: No space left" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr
