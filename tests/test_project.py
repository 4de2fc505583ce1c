"""The README's Quickstart, CI and the pinned dev tools stay in step."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT, run_module

LINT_COMMANDS = ("ruff check .", "ruff format --check .", "mypy")
DEV_EXTRA_INSTALL = 'pip install -q -e ".[dev]"'


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quickstart_has_exactly_two_commands():
    install_and_run, install_and_test = quickstart_commands()
    assert "wnlint check fixtures/" in install_and_run
    assert ".[test]" in install_and_test and "pytest" in install_and_test


def ci_lines() -> list[str]:
    return (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def dev_pins() -> dict[str, str]:
    """The `dev` extra as {package: version}; every entry must be an exact pin."""
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = {}
    for requirement in pyproject["project"]["optional-dependencies"]["dev"]:
        package, sep, version = requirement.partition("==")
        assert sep and version.strip(), f"{requirement!r} is not an exact pin"
        pins[package.strip().lower()] = version.strip()
    return pins


def test_ci_runs_the_readme_test_command_after_the_cpu_torch_build():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = quickstart_commands()[1]
    lines = ci.splitlines()
    assert test_command in lines
    torch_line = next(i for i, x in enumerate(lines) if "torch==" in x)
    assert torch_line < lines.index(test_command)


def test_ci_lints_before_the_readme_test_command():
    lines = ci_lines()
    test_line = lines.index(quickstart_commands()[1])
    for command in LINT_COMMANDS:
        assert command in lines, command
        assert lines.index(command) < test_line, command


def test_ci_installs_the_dev_extra_after_torch_and_before_lint():
    lines = ci_lines()
    torch_line = next(i for i, x in enumerate(lines) if "torch==" in x)
    dev_line = lines.index(DEV_EXTRA_INSTALL)
    first_lint = min(lines.index(command) for command in LINT_COMMANDS)
    assert torch_line < dev_line < first_lint


def test_ci_tool_pins_equal_the_dev_extra():
    pins = dev_pins()
    # Every tool CI lints with comes pinned from the extra...
    for command in LINT_COMMANDS:
        assert command.split()[0] in pins, command
    # ...and a pin written into the script itself may not drift from it.
    code = "\n".join(x for x in ci_lines() if not x.lstrip().startswith("#"))
    ci_pins = dict(re.findall(r"([A-Za-z0-9_.-]+)==([^\s\"']+)", code))
    for package, version in ci_pins.items():
        if package.lower() in pins:
            assert version == pins[package.lower()], package


def test_pre_commit_hook_entries_run():
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    entries = re.findall(r"^  entry: (.+)$", hooks, flags=re.MULTILINE)
    assert entries == ["wnlint check", "wnlint fix"]
    for entry in entries:
        command = entry.split()
        result = run_module(command[0], *command[1:], "--help")
        assert result.returncode == 0 and "usage:" in result.stdout


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_build_requires_the_setuptools_that_reads_the_license_string():
    build = _pyproject()["build-system"]
    assert build["requires"] == ["setuptools>=77; python_version >= '3.9'"]
    assert build["build-backend"] == "wnlint_build"
    (path,) = build["backend-path"]
    assert (ROOT / path / "wnlint_build.py").is_file()
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert f"include {path}/wnlint_build.py" in manifest.splitlines()


def test_tomli_is_the_only_conditional_dependency():
    dependencies = _pyproject()["project"]["dependencies"]
    assert "tomli>=1.1; python_version < '3.11'" in dependencies


def _import_backend(version: str) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        f"sys.version_info = {version}\n"
        "sys.path.insert(0, 'build_backend')\n"
        "import wnlint_build\n"
        "print(wnlint_build.build_wheel.__module__)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_build_backend_refuses_python_38_with_the_python_floor():
    result = _import_backend("(3, 8, 18, 'final', 0)")
    assert result.returncode == 1
    assert result.stderr == "wnlint requires Python >= 3.9; this is Python 3.8.18\n"


def test_the_build_backend_is_setuptools_elsewhere():
    result = _import_backend("sys.version_info")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "setuptools.build_meta"
