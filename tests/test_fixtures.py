"""Every fixture's inline markers are exactly what the linter reports."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import fixture_files, markers

from wnlint.engine import Linter, select_rules
from wnlint.rules import ALL_RULES

FILES = fixture_files()


def test_there_are_fixtures():
    assert len(FILES) >= len(ALL_RULES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_markers_match_findings(path):
    found = Linter(select_rules()).lint_file(str(path))
    actual = Counter((d.line, d.code) for d in found)
    assert actual == markers(path), "\n".join(d.format() for d in found)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_known_gaps_still_silent(path):
    """``# todo-expect`` marks a known miss; when it starts firing, update it."""
    found = {(d.line, d.code) for d in Linter(select_rules()).lint_file(str(path))}
    assert not found & set(markers(path, "todo-expect"))


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_its_fixture(rule):
    own = [p for p in FILES if p.name.startswith(rule.code.lower() + "_")]
    assert own, f"fixtures/{rule.code.lower()}_*.py is missing"
    positives = [code for p in own for (_, code) in markers(p)]
    assert rule.code in positives
