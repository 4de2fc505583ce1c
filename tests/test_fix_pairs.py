"""Every fix pair in ``fixtures/fix``: ``wnlint fix --unsafe-fixes`` turns
``*_before.py`` into ``*_after.py`` byte for byte, the result re-lints clean
and re-fixes to itself; and over the rule fixtures, every finding that stays
is one the fixes decline on purpose, for the reason listed here."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES, run_module

PAIRS = sorted((FIXTURES / "fix").glob("*_before.py"))


def after_of(before):
    return before.with_name(before.name.replace("_before.py", "_after.py"))


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_pair_byte_for_byte(before, tmp_path, request):
    target = tmp_path / before.name
    shutil.copy(before, target)
    result = run_module("wnlint", "fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert "0 remaining" in result.stderr, result.stdout + result.stderr
    if request.config.getoption("--update-fixtures"):
        after_of(before).write_bytes(target.read_bytes())
    assert target.read_bytes() == after_of(before).read_bytes()
    assert target.read_bytes() != before.read_bytes()


@pytest.mark.parametrize("before", PAIRS, ids=lambda p: p.stem)
def test_after_relints_clean_and_refixes_to_itself(before, tmp_path):
    target = tmp_path / before.name
    shutil.copy(after_of(before), target)
    check = run_module("wnlint", "check", target.name, cwd=tmp_path)
    assert check.returncode == 0 and check.stdout == "", check.stdout
    again = run_module(
        "wnlint", "fix", "--unsafe-fixes", "--diff", target.name, cwd=tmp_path
    )
    assert again.returncode == 0 and again.stdout == ""


def test_safe_fixes_only_by_default(tmp_path):
    target = tmp_path / "m.py"
    shutil.copy(FIXTURES / "fix" / "wn102_before.py", target)
    result = run_module("wnlint", "fix", target.name, cwd=tmp_path)
    # The local-variable fix is safe; the property fix is not.
    assert "fixed 1 findings in 1 files, 1 remaining" in result.stderr
    assert "(1 fixable with --unsafe-fixes)" in result.stderr
    text = target.read_text()
    assert "weight = self.g * self.v / self.v.norm(dim=1, keepdim=True)" in text
    assert "@property" not in text


#: Findings in the rule fixtures that the fixes decline, and why.
DECLINED = {
    # The parameter is a torch layer's own weight: there is no __init__ in
    # the class to declare the scale in.
    ("wn101_norm_derived_scale.py", 59, "WN101"),
    # A registered parameter, and an attribute of a submodule: a local would
    # not reach the code that reads them (nn.Linear.forward, the conv).
    ("wn102_stored_computed_weight.py", 37, "WN102"),
    ("wn102_stored_computed_weight.py", 72, "WN102"),
    # weight_g/weight_v reads in files that also use the new API, a `noqa`
    # on a legacy call, and remove_weight_norm passed as a value: each file
    # is migrated whole or not at all, and these are left whole.
    ("wn201_optimizer_non_leaf.py", 22, "WN301"),
    ("wn201_optimizer_non_leaf.py", 50, "WN301"),
    ("wn203_init_after_weight_norm.py", 21, "WN301"),
    ("wn203_init_after_weight_norm.py", 47, "WN301"),
    *(
        ("wn301_legacy_weight_norm.py", line, "WN301")
        for line in (23, 29, 33, 34, 35, 36, 49, 51, 52, 55, 68, 80, 86)
    ),
    *(("wn302_legacy_remove_weight_norm.py", line, "WN301") for line in (18, 20)),
    *(
        ("wn302_legacy_remove_weight_norm.py", line, "WN302")
        for line in (30, 31, 52, 58, 64)
    ),
}
FIXABLE = ("WN101", "WN102", "WN103", "WN104", "WN105", "WN202", "WN301", "WN302")


def test_every_fixable_finding_in_the_rule_fixtures_is_fixed(tmp_path):
    for path in FIXTURES.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    result = run_module("wnlint", "fix", "--unsafe-fixes", ".", cwd=tmp_path)
    left = set()
    for line in result.stdout.splitlines():
        location, code = line.split(": ", 1)[0], line.split(": ", 1)[1][:5]
        name, lineno = location.split(":")[0], int(location.split(":")[1])
        if code in FIXABLE:
            left.add((name.removeprefix("./"), lineno, code))
    assert left == DECLINED
    for path in tmp_path.glob("*.py"):  # every rewritten file still parses
        compile(path.read_bytes(), str(path), "exec")
    again = run_module("wnlint", "fix", "--unsafe-fixes", "--diff", ".", cwd=tmp_path)
    assert again.stdout == ""


def test_libcst_tool_runs_every_fix(tmp_path):
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
