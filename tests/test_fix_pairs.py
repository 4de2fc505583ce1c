"""Every fix pair in ``fixtures/fix``: ``wnlint fix --unsafe-fixes`` turns
``*_before.py`` into ``*_after.py`` byte for byte, the result re-lints clean
and re-fixes to itself; and over the rule fixtures, every finding that stays
is one the fixes decline on purpose: its line in the fixture is marked
``(unfixed: REASON)`` (see conftest)."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from conftest import FIXTURES, fixture_files, markers, run_cli, run_module

from wnlint.rules import ALL_RULES

PAIRS = sorted((FIXTURES / "fix").glob("*_before.py"))


def after_of(before):
    return before.with_name(before.name.replace("_before.py", "_after.py"))


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_pair_byte_for_byte(before, tmp_path, request):
    target = tmp_path / before.name
    shutil.copy(before, target)
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert "0 remaining" in result.stderr, result.stdout + result.stderr
    if request.config.getoption("--update-fixtures"):
        after_of(before).write_bytes(target.read_bytes())
    assert target.read_bytes() == after_of(before).read_bytes()
    assert target.read_bytes() != before.read_bytes()


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_after_relints_clean_and_refixes_to_itself(before, tmp_path):
    target = tmp_path / before.name
    shutil.copy(after_of(before), target)
    check = run_cli("check", target.name, cwd=tmp_path)
    assert check.returncode == 0 and check.stdout == "", check.stdout
    again = run_cli("fix", "--unsafe-fixes", "--diff", target.name, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == ""


def _pyflakes(text: str) -> list[str]:
    """pyflakes' messages (flake8's F codes) without their line numbers."""
    from pyflakes import api, reporter

    out = io.StringIO()
    api.check(text, "m.py", reporter.Reporter(out, out))
    return sorted(line.split(" ", 1)[1] for line in out.getvalue().splitlines())


def _new_messages(before: str, after: str) -> list[str]:
    left = _pyflakes(before)
    new = []
    for message in _pyflakes(after):
        if message in left:
            left.remove(message)
        else:
            new.append(message)
    return new


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_a_fix_leaves_nothing_pyflakes_flags(before):
    after = after_of(before).read_text()
    assert _new_messages(before.read_text(), after) == []


def test_fixed_rule_fixtures_gain_no_pyflakes_messages(tmp_path):
    for path in fixture_files():
        shutil.copy(path, tmp_path / path.name)
    run_cli("fix", "--unsafe-fixes", "--jobs", "1", ".", cwd=tmp_path)
    for path in fixture_files():
        after = (tmp_path / path.name).read_text()
        assert _new_messages(path.read_text(), after) == [], path.name


def test_safe_fixes_only_by_default(tmp_path):
    target = tmp_path / "m.py"
    shutil.copy(FIXTURES / "fix" / "wn102_before.py", target)
    result = run_cli("fix", target.name, cwd=tmp_path)
    # The local-variable fix is safe; the property fix is not.
    assert "fixed 1 findings in 1 files, 1 remaining" in result.stderr
    assert "(1 fixable with --unsafe-fixes)" in result.stderr
    text = target.read_text()
    assert "weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)" in text
    assert "@property" not in text


#: Codes with a fix; the others are report-only and always remain.
FIXABLE = frozenset(rule.code for rule in ALL_RULES if rule.fix_safety is not None)
FINDING = re.compile(r"^(?:\./)?(?P<name>[^:/]+):(?P<line>\d+):\d+: (?P<code>WN\d{3}) ")


def test_every_fixable_finding_in_the_rule_fixtures_is_fixed(tmp_path):
    """What ``fix --unsafe-fixes`` leaves is exactly what the fixtures mark
    unfixed. The marks are read back from the rewritten copies: a declined
    line keeps its comment, and fixes elsewhere may move it."""
    originals = fixture_files()
    for path in originals:
        shutil.copy(path, tmp_path / path.name)
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=tmp_path)
    left = set()
    for line in result.stdout.splitlines():
        finding = FINDING.match(line)
        assert finding, line
        if finding["code"] in FIXABLE:
            left.add((finding["name"], int(finding["line"]), finding["code"]))
    declined = {
        (path.name, line, code)
        for path in tmp_path.glob("*.py")
        for line, code in markers(path, "unfixed")
    }
    assert declined, "the fixtures mark no finding unfixed"
    assert {code for _, _, code in declined} <= FIXABLE, "report-only codes"
    assert left == declined
    assert len(declined) == sum(sum(markers(p, "unfixed").values()) for p in originals)
    for path in tmp_path.glob("*.py"):  # every rewritten file still parses
        compile(path.read_bytes(), str(path), "exec")
    again = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert again.stdout == ""


def test_libcst_tool_runs_every_fix(tmp_path):
    """``python -m libcst.tool codemod`` finds the command by its dotted name
    in a new interpreter, as a user runs it."""
    for before in PAIRS:
        shutil.copy(before, tmp_path / before.name)
    result = run_module(
        "libcst.tool",
        "codemod",
        "--no-format",
        "-x",
        "wnlint.codemod.WnlintFixCommand",
        "--unsafe-fixes",
        ".",
        cwd=tmp_path,
    )
    assert f"Transformed {len(PAIRS)} files successfully" in result.stderr, (
        result.stderr
    )
    for before in PAIRS:
        assert (tmp_path / before.name).read_bytes() == after_of(before).read_bytes()


def test_libcst_codemod_applies_safe_fixes_only_by_default():
    from libcst.codemod import CodemodContext, TransformSuccess, transform_module

    from wnlint.codemod import WnlintFixCommand

    before = (FIXTURES / "fix" / "wn102_before.py").read_text()
    result = transform_module(WnlintFixCommand(CodemodContext()), before)
    assert isinstance(result, TransformSuccess)
    assert "        weight = self.g * self.v" in result.code
    assert "@property" not in result.code and "self._update_weight()" in result.code
