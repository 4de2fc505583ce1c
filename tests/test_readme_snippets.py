"""The README's configuration, editor, pre-commit and flake8 snippets are
run (or, for pre-commit, checked against the hooks and the version), so
they cannot drift from what the code does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_readme_config_table_is_generated_from_the_options():
    from wnlint.cli.config import OPTIONS
    from wnlint.cli.docs import with_config_table

    assert with_config_table(README) == README, "run: python -m wnlint.cli.docs"
    for option in OPTIONS:
        assert f"| `{option.name}` |" in section("Configuration")


def test_readme_configuration_example_does_what_the_readme_says(tmp_path):
    (toml,) = blocks(section("Configuration"), "toml")
    (tmp_path / "pyproject.toml").write_text(toml, encoding="utf-8")
    legacy = FIXTURES / "wn301_legacy_weight_norm.py"
    files = {
        "src/legacy.py": legacy,
        "scripts/legacy.py": legacy,
        "src/in_forward.py": FIXTURES / "wn106_parameter_in_forward.py",
        "tests/in_forward.py": FIXTURES / "wn106_parameter_in_forward.py",
        "src/unused_scale.py": FIXTURES / "wn104_unused_scale_parameter.py",
        "experiments/legacy.py": legacy,
    }
    for name, source in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / name)
    result = run_cli("check", ".", cwd=tmp_path)
    found: dict[str, set[str]] = {}
    for line in result.stdout.splitlines():
        path, _, _, rest = line.split(":", 3)
        found.setdefault(path.removeprefix("./"), set()).add(rest.split()[0])
    assert "WN301" in found["src/legacy.py"]  # the legacy API is fine outside src/
    assert "WN301" not in found.get("scripts/legacy.py", set())
    assert "WN106" in found["src/in_forward.py"]
    assert "WN106" not in found.get("tests/in_forward.py", set())
    assert all("WN104" not in codes for codes in found.values())
    assert not any(path.startswith("experiments/") for path in found)


def test_readme_stdin_commands_run_as_written(tmp_path):
    (sh,) = blocks(section("Editors and stdin"), "sh")
    commands = [line for line in sh.splitlines() if line.strip()]
    assert len(commands) == 2
    (tmp_path / "src").mkdir()
    before = FIXTURES / "fix" / "legacy_api_before.py"
    shutil.copy(before, tmp_path / "src" / "model.py")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.wnlint]\nunsafe-fixes = true\n", encoding="utf-8"
    )
    wnlint = f"{sys.executable} -m wnlint"
    check = subprocess.run(
        ["bash", "-c", commands[0].replace("wnlint", wnlint, 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    on_disk = run_cli("check", "src/model.py", cwd=tmp_path)
    assert check.returncode == 1
    assert check.stdout == on_disk.stdout and check.stdout.startswith("src/model.py:")
    fix = subprocess.run(
        ["bash", "-c", commands[1].replace("wnlint", wnlint, 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fix.returncode == 0, fix.stderr
    after = FIXTURES / "fix" / "legacy_api_after.py"
    assert (tmp_path / "fixed.py").read_bytes() == after.read_bytes()
    assert (tmp_path / "src" / "model.py").read_bytes() == before.read_bytes()


def hook_ids() -> list[str]:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    return re.findall(r"^- id: (\S+)$", text, flags=re.MULTILINE)


def test_readme_pre_commit_snippet_uses_a_rev_that_exists_and_real_hooks():
    """The snippet works as written: its rev is a commit of this
    repository whose .pre-commit-hooks.yaml defines the hooks it names."""
    remote, local = blocks(section("pre-commit"), "yaml")
    assert re.search(r"^  - repo: https://\S+", remote, flags=re.MULTILINE)
    (rev,) = re.findall(r"^    rev: (\S+)$", remote, flags=re.MULTILINE)
    ids = re.findall(r"^      - id: (\S+)$", remote, flags=re.MULTILINE)
    assert ids and set(ids) <= set(hook_ids())
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the rev cannot be looked up")
    shown = subprocess.run(
        ["git", "show", f"{rev}:.pre-commit-hooks.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, f"rev {rev} is not a commit here: {shown.stderr}"
    at_rev = re.findall(r"^- id: (\S+)$", shown.stdout, flags=re.MULTILINE)
    assert set(ids) <= set(at_rev)
    # Only the keys pre-commit knows, at the nesting it expects.
    for line in remote.splitlines():
        assert re.match(r"^(repos:|  - repo: |    rev: |    hooks:|      - id: )", line)
    assert "entry: wnlint check" in local


def test_pre_commit_hooks_run_the_cli_commands():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    entries = re.findall(r"^  entry: (.+)$", text, flags=re.MULTILINE)
    assert entries == ["wnlint check", "wnlint fix"]
    assert hook_ids() == ["wnlint", "wnlint-fix"]


def flake8(*args: str, path: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return {line.split(": ", 1)[1].split()[0] for line in result.stdout.splitlines()}


def test_readme_flake8_advice(tmp_path):
    (sh,) = blocks(section("flake8"), "sh")
    assert sh.strip() == "flake8 --extend-select WN src/"
    assert "flake8 --select WN" not in README
    source = tmp_path / "m.py"
    source.write_text(
        "import os\n"  # F401
        + (FIXTURES / "wn301_legacy_weight_norm.py").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    # --extend-select WN keeps pyflakes on.
    assert {"F401", "WN301"} <= flake8("--extend-select", "WN", path=source)
    # --extend-ignore W also ignores WN, as the README says plainly ...
    text = " ".join(section("flake8").split())
    assert "`flake8 --extend-ignore W` (or `ignore = W` in its configuration)" in text
    assert "also ignores every wnlint rule" in text
    codes = flake8("--extend-ignore", "W", path=source)
    assert "F401" in codes and not any(c.startswith("WN") for c in codes)
    # ... and ignoring pycodestyle's warnings by their groups keeps WN.
    (groups,) = re.findall(r"Ignore `(W[\d,W]+)`", text)
    assert "WN301" in flake8("--extend-ignore", groups, path=source)


def test_readme_pre_commit_snippet_points_at_the_repository():
    from wnlint.cli.docs import REPOSITORY_URL

    remote, _ = blocks(section("pre-commit"), "yaml")
    assert f"  - repo: {REPOSITORY_URL}\n" in remote


def test_the_vs_code_settings_map_every_code_to_a_severity():
    """The settings the README's VS Code section links to (on the rules
    page) parse, name the environment's flake8 (the bundled one has no
    plugins) and give every wnlint code a VS Code severity."""
    import json

    from wnlint.cli.docs import RULES_PAGE, VSCODE_ANCHOR
    from wnlint.engine.linter import known_codes

    text = section("Editors and stdin").split("### VS Code", 1)[1]
    assert f"({RULES_PAGE}#{VSCODE_ANCHOR})" in text
    page = (ROOT / RULES_PAGE).read_text(encoding="utf-8")
    text = page.split(f'<a id="{VSCODE_ANCHOR}"></a>', 1)[1].split("\n## ", 2)[1]
    (settings,) = blocks(text, "json")
    parsed = json.loads(settings)
    assert parsed["flake8.importStrategy"] == "fromEnvironment"
    severity = parsed["flake8.severity"]
    assert set(severity) == set(known_codes())
    assert set(severity.values()) <= {"Error", "Warning", "Information", "Hint"}
