"""The README's Quickstart and CI stay in step."""

from __future__ import annotations

import re

from conftest import ROOT, run_module


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quickstart_has_exactly_two_commands():
    install_and_run, install_and_test = quickstart_commands()
    assert "wnlint check fixtures/" in install_and_run
    assert ".[test]" in install_and_test and "pytest" in install_and_test


def test_ci_runs_the_readme_test_command_after_the_cpu_torch_build():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = quickstart_commands()[1]
    lines = ci.splitlines()
    assert test_command in lines
    torch_line = next(i for i, x in enumerate(lines) if "torch==" in x)
    assert torch_line < lines.index(test_command)


def test_pre_commit_hook_entries_run():
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    entries = re.findall(r"^  entry: (.+)$", hooks, flags=re.MULTILINE)
    assert entries == ["wnlint check", "wnlint fix"]
    for entry in entries:
        command = entry.split()
        result = run_module(command[0], *command[1:], "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
