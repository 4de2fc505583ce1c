"""The repository's own pre-commit hooks run the pinned dev tools, offline."""

from __future__ import annotations

import re

from conftest import ROOT
from test_project import dev_pins

CONFIG = ROOT / ".pre-commit-config.yaml"


def hooks() -> list[dict[str, str]]:
    """The hooks' scalar keys, read without a YAML library (not a test dep)."""
    text = CONFIG.read_text(encoding="utf-8")
    out: list[dict[str, str]] = []
    for line in text.splitlines():
        item = re.match(r"^ {6}- id: (\S+)$", line)
        if item:
            out.append({"id": item.group(1)})
            continue
        field = re.match(r"^ {8}(\w+): (.+)$", line)
        if field and out:
            out[-1][field.group(1)] = field.group(2)
    return out


def test_hooks_are_local_system_hooks():
    text = CONFIG.read_text(encoding="utf-8")
    repos = re.findall(r"^  - repo: (\S+)$", text, flags=re.MULTILINE)
    assert repos == ["local"]
    assert [h["language"] for h in hooks()] == ["system"] * len(hooks())


def test_hooks_run_ruff_lint_ruff_format_and_mypy():
    entries = {h["id"]: h["entry"] for h in hooks()}
    assert entries == {
        "ruff": "ruff check --force-exclude",
        "ruff-format": "ruff format --force-exclude",
        "mypy": "mypy",
    }


def test_hook_tools_are_pinned_in_the_dev_extra():
    pins = dev_pins()
    for hook in hooks():
        assert hook["entry"].split()[0] in pins, hook["id"]


def test_mypy_hook_checks_the_configured_files():
    (mypy,) = [h for h in hooks() if h["id"] == "mypy"]
    assert mypy["pass_filenames"] == "false"
