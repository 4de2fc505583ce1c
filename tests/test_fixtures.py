"""Every fixture's inline markers are exactly what the linter reports."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import fixture_files, markers

from wnlint.engine.linter import Linter, select_rules
from wnlint.rules import ALL_RULES

FILES = fixture_files()


def test_there_are_fixtures():
    assert len(FILES) >= len(ALL_RULES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_markers_match_findings(path):
    found = Linter(select_rules()).lint_file(str(path))
    actual = Counter((d.line, d.code) for d in found)
    assert actual == markers(path), "\n".join(d.format() for d in found)


def test_known_gaps_still_silent():
    """``# todo-expect`` marks a known miss; when it starts firing, update it.

    A gap that is also expected would pass without saying anything, and no
    gap at all would make this test vacuous: both fail.
    """
    linter = Linter(select_rules())
    gaps = 0
    for path in FILES:
        todo = set(markers(path, "todo-expect"))
        expected_lines = {line for line, _ in markers(path)}
        assert not {line for line, _ in todo} & expected_lines, path.name
        found = {(d.line, d.code) for d in linter.lint_file(str(path))}
        assert not found & todo, path.name
        gaps += len(todo)
    assert gaps, "no fixture marks a known gap with # todo-expect"


@pytest.mark.parametrize(
    "comment",
    [
        "# expect WN101",
        "# expect: WN1011",
        "# expect: wn101",
        "# expect:WN101",
        "# expect: WN101,WN102",
        "# expect: WN101 (unfixed)",
        "# expect: WN101 (unfixed: )",
        "# todo-expect: WN101 (unfixed: not a finding, so not a remaining one)",
        "# unfixed: WN101",
    ],
)
def test_malformed_markers_are_rejected(comment, tmp_path):
    path = tmp_path / "m.py"
    path.write_text(f"x = 1  {comment}\n")
    with pytest.raises(ValueError, match="malformed marker"):
        markers(path)


def test_marker_kinds(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "a = 1  # noqa: WN302  # expect: WN301 (unfixed: a reason, with a comma), WN303\n"
        "b = 2  # todo-expect: WN204\n"
        '"""# expect: WN999 in a docstring is text"""\n'
    )
    assert markers(path) == Counter({(1, "WN301"): 1, (1, "WN303"): 1})
    assert markers(path, "unfixed") == Counter({(1, "WN301"): 1})
    assert markers(path, "todo-expect") == Counter({(2, "WN204"): 1})


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_its_fixture(rule):
    own = [p for p in FILES if p.name.startswith(rule.code.lower() + "_")]
    assert own, f"fixtures/{rule.code.lower()}_*.py is missing"
    positives = [code for p in own for (_, code) in markers(p)]
    assert rule.code in positives
