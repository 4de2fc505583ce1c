"""The fix loop applies, per pass, only fixes whose edits do not collide
with an earlier one's; the others wait for the next pass, which re-reads
the rewritten file. Applying colliding edits together would duplicate or
lose text."""

from __future__ import annotations

import pytest

from wnlint.engine.linter import Diagnostic
from wnlint.fixing.apply import apply_fixes, non_colliding
from wnlint.rules.fixes import Applicability, Edit, Fix


def _fix(*spans: tuple[int, int, str]) -> Fix:
    return Fix(Applicability.SAFE, tuple(Edit(a, b, new) for a, b, new in spans))


def _kept(*fixes: Fix) -> list[int]:
    """Which of ``fixes`` (by position) one pass applies."""
    pairs = [
        (Diagnostic("t.py", i + 1, 1, "TEST", "m"), f) for i, f in enumerate(fixes)
    ]
    chosen = non_colliding(pairs)
    return [d.line - 1 for d, _ in chosen]


@pytest.mark.parametrize(
    ("second", "kept"),
    [
        ((15, 25, "x"), [0]),  # overlaps the end of the first
        ((5, 12, "x"), [0]),  # overlaps its start
        ((12, 18, "x"), [0]),  # inside it
        ((5, 30, "x"), [0]),  # around it
        ((15, 15, "x"), [0]),  # an insertion inside it
        ((20, 30, "x"), [0, 1]),  # touching its end
        ((0, 10, "x"), [0, 1]),  # touching its start
        ((20, 20, "x"), [0, 1]),  # an insertion where it ends
        ((30, 40, "x"), [0, 1]),  # apart
    ],
)
def test_a_fix_that_collides_with_an_earlier_one_waits(second, kept):
    assert _kept(_fix((10, 20, "y")), _fix(second)) == kept


def test_two_insertions_at_one_point_wait_for_each_other():
    """Their order cannot be known: one is applied, the other re-built."""
    assert _kept(_fix((10, 10, "a")), _fix((10, 10, "b"))) == [0]


def test_a_fix_waits_whole_when_any_of_its_edits_collides():
    first = _fix((10, 20, "y"))
    second = _fix((40, 50, "x"), (18, 22, "z"))
    third = _fix((40, 45, "w"))
    assert _kept(first, second, third) == [0, 2]


def test_the_edits_of_one_pass_apply_back_to_front():
    text = "0123456789abcdefghij"
    fixes = [_fix((2, 4, "XY")), _fix((10, 10, "+")), _fix((15, 20, ""))]
    assert _kept(*fixes) == [0, 1, 2]
    assert apply_fixes(text, fixes) == "01XY456789+abcde"
