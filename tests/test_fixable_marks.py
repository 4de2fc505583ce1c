"""``check`` says what ``fix`` can repair: ``[*]`` on a fixable finding in
``text``, and the counts at the end of the summary, which agree with
``--statistics`` and ``--show-fixes``."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import FIXTURES, run_cli
from conftest import IN_FORWARD_SNIPPET as IN_FORWARD
from conftest import LEGACY_SNIPPET as LEGACY

from wnlint.rules import RULES_BY_CODE

SAFE = "wnlint: [*] {} fixable with `wnlint fix`"
UNSAFE = "wnlint: [*] {} more fixable with `wnlint fix --unsafe-fixes`"
UNSAFE_ONLY = "wnlint: [*] {} fixable with `wnlint fix --unsafe-fixes`"


@pytest.fixture
def project(tmp_path):
    """A safe fix (WN303), unsafe ones (WN101, WN301, WN302) and a report-only
    rule (WN106)."""
    rules = RULES_BY_CODE
    (tmp_path / "shim.py").write_text(rules["WN303"].doc_code("Example"))
    (tmp_path / "scale.py").write_text(rules["WN101"].doc_code("Example"))
    (tmp_path / "legacy.py").write_text(LEGACY)
    (tmp_path / "bug.py").write_text(IN_FORWARD)
    return tmp_path


def codes_marked(stdout: str) -> dict[str, bool]:
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^\S+:\d+:\d+: (WN\d{3}) (\[\*\] )?", line)
        assert match, line
        found[match[1]] = bool(match[2])
    return found


def test_text_marks_the_findings_whose_rule_has_a_fix(project):
    result = run_cli("check", ".", cwd=project)
    assert result.returncode == 1
    assert codes_marked(result.stdout) == {
        "WN101": True,
        "WN106": False,
        "WN301": True,
        "WN302": True,
        "WN303": True,
    }
    # The mark sits between the code and the message; the message is whole.
    line = next(x for x in result.stdout.splitlines() if " WN301 " in x)
    assert line == "./legacy.py:2:8: WN301 [*] " + RULES_BY_CODE["WN301"].message


def test_the_summary_ends_with_what_fix_can_repair(project):
    result = run_cli("check", ".", cwd=project)
    assert result.stderr.splitlines() == [
        "wnlint: 5 findings in 4 of 4 files checked",
        SAFE.format(1),
        UNSAFE.format(3),
    ]
    assert result.stdout.count(" [*] ") == 1 + 3


def test_the_counts_are_those_of_statistics_and_show_fixes(project):
    summary = run_cli("check", ".", cwd=project).stderr
    safe = int(re.search(r"\[\*\] (\d+) fixable with `wnlint fix`\n", summary)[1])
    unsafe = int(re.search(r"(\d+) more fixable with `wnlint fix --unsafe", summary)[1])
    shown = run_cli("check", "--show-fixes", ".", cwd=project).stdout
    header = re.search(r"Fixes available \((\d+) safe, (\d+) with --unsafe", shown)
    assert (safe, unsafe) == (int(header[1]), int(header[2]))
    stats = run_cli("check", "--statistics", ".", cwd=project).stdout
    fixable = sum(
        int(line.split("\t")[0])
        for line in stats.splitlines()
        if line.split("\t")[2].startswith("[*]")
    )
    assert safe + unsafe == fixable


def test_only_unsafe_fixes_say_so_without_more(tmp_path):
    (tmp_path / "legacy.py").write_text(LEGACY)
    result = run_cli("check", ".", cwd=tmp_path)
    assert result.stderr.splitlines()[1:] == [UNSAFE_ONLY.format(1)]


def test_a_rule_whose_fixes_may_be_either_counts_with_unsafe_fixes(tmp_path):
    """WN102's fixes are safe or unsafe, which only building them tells:
    ``check`` does not build them, so it promises them to --unsafe-fixes."""
    assert RULES_BY_CODE["WN102"].fix_safety == "mixed"
    shutil.copy(FIXTURES / "fix" / "wn102_before.py", tmp_path / "m.py")
    result = run_cli("check", "m.py", cwd=tmp_path)
    assert result.stderr.splitlines()[1:] == [UNSAFE_ONLY.format(2)]
    assert all(codes_marked(result.stdout).values())


def test_nothing_fixable_and_quiet_say_nothing_more(tmp_path):
    (tmp_path / "bug.py").write_text(IN_FORWARD)
    result = run_cli("check", ".", cwd=tmp_path)
    assert result.stderr.splitlines() == ["wnlint: 1 finding in 1 of 1 files checked"]
    (tmp_path / "legacy.py").write_text(LEGACY)
    quiet = run_cli("check", "-q", ".", cwd=tmp_path)
    assert quiet.stderr == "" and " [*] " in quiet.stdout


@pytest.mark.parametrize("fmt", ["full", "json", "sarif", "github"])
def test_only_the_text_format_gets_the_mark_and_the_counts(project, fmt):
    result = run_cli("check", "--output-format", fmt, ".", cwd=project)
    assert result.returncode == 1
    assert "[*]" not in result.stdout
    assert "fixable with" not in result.stderr


def test_full_headlines_stay_flake8s_layout(project):
    result = run_cli("check", "--output-format", "full", "legacy.py", cwd=project)
    headline = result.stdout.splitlines()[0]
    assert headline == "legacy.py:2:8: WN301 " + RULES_BY_CODE["WN301"].message


def test_a_finding_reported_without_a_fix_is_neither_marked_nor_counted(tmp_path):
    """WN102 has fixes, but none for a forward hook's store: its findings
    carry no ``[*]``, the summary counts none, ``--statistics`` marks the
    code ``[ ]``, and a warm cache answers the same."""
    shutil.copy(FIXTURES / "wn102_hook_objects.py", tmp_path / "hooks.py")
    cold = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert codes_marked(cold.stdout) == {"WN102": False}
    assert "fixable" not in cold.stderr
    for _ in range(2):  # the second run answers from the cache
        warm = run_cli("check", ".", cwd=tmp_path)
        assert warm.stdout == cold.stdout and warm.stderr == cold.stderr
    stats = run_cli("check", "--no-cache", "--statistics", ".", cwd=tmp_path)
    assert "[ ] stored-computed-weight" in stats.stdout
    fixed = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert "would fix 0 findings in 0 files, 4 remaining" in fixed.stderr


def test_the_counts_match_what_fix_repairs_when_a_rule_fixes_some(tmp_path):
    """WN102's fixture: a few stores get a local or a property, the rest
    (wrapped modules, hooks) none; ``check`` counts what ``fix`` fixes."""
    shutil.copy(FIXTURES / "wn102_stored_computed_weight.py", tmp_path / "m.py")
    check = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    counted = re.search(r"\[\*\] (\d+) fixable", check.stderr)
    fixed = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    repaired = re.search(r"would fix (\d+) finding", fixed.stderr)
    assert counted and repaired and counted[1] == repaired[1]
