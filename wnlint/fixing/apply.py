"""One pass's fixes put into a file's text: which fixes may go together (no
two edits collide), the edits applied back to front, and whether the
result parses, so that it may be written.

Apart from the fix loop (:mod:`wnlint.fixing.fixer`, which picks a pass's
fixes and notes what fails) because these are operations on text and edit
spans alone: no notes, no linter, no rule (a test reads this module with
the loop's).
"""

from __future__ import annotations

import bisect
from typing import TypeVar

import libcst as cst

from wnlint.facts.syntax import parse_quietly
from wnlint.rules.fixes import Edit, Fix

Who = TypeVar("Who")


def non_colliding(candidates: list[tuple[Who, Fix]]) -> list[tuple[Who, Fix]]:
    """Fixes in order, skipping any whose edits collide with an earlier
    one's: the next pass picks those up. An edit equal to one taken is the
    same repair asked twice (findings that share an init helper), made once:
    no collision."""
    chosen: list[tuple[Who, Fix]] = []
    starts: list[int] = []  # the taken edits, sorted by start
    taken: list[Edit] = []
    made: set[tuple[int, int, str]] = set()
    for d, fix in candidates:
        new = [e for e in fix.edits if (e.start, e.end, e.new) not in made]
        if any(_collides_taken(e, starts, taken) for e in new):
            continue
        chosen.append((d, fix))
        for e in new:
            made.add((e.start, e.end, e.new))
            i = bisect.bisect_left(starts, e.start)
            starts.insert(i, e.start)
            taken.insert(i, e)
    return chosen


def _collides_taken(edit: Edit, starts: list[int], taken: list[Edit]) -> bool:
    """``edit`` collides with one of ``taken`` (disjoint, sorted by start):
    only its neighbours by start can."""
    i = bisect.bisect_left(starts, edit.start)
    return any(
        _collide(edit, taken[j]) for j in (i - 1, i, i + 1) if 0 <= j < len(taken)
    )


def apply_fixes(text: str, fixes: list[Fix]) -> str:
    unique = {(e.start, e.end, e.new): e for f in fixes for e in f.edits}
    edits = sorted(unique.values(), key=lambda e: (e.start, e.end), reverse=True)
    parts: list[str] = []
    end = len(text)
    for edit in edits:  # back to front: each edit's text, then what follows it
        parts.append(text[edit.end : end])
        parts.append(edit.new)
        end = edit.start
    parts.append(text[:end])
    return "".join(reversed(parts))


def parsed(text: str, encoding: str) -> bytes | None:
    """The encoded text if both parsers accept it: never write broken code."""
    try:
        data = text.encode(encoding)
        parse_quietly(data)
    except (SyntaxError, ValueError, UnicodeError, cst.ParserSyntaxError):
        return None
    except (RecursionError, MemoryError):
        return None  # what cannot be verified is not written
    return data


def keep_final_newline(old: str, new: str) -> str:
    """``new`` ending in the line terminator ``old`` ends in: a whole-file
    rewrite may drop a final lone ``\\r`` (old Mac line endings)."""
    for ending in ("\r\n", "\r", "\n"):
        if old.endswith(ending):
            return new if new.endswith(("\r", "\n")) else new + ending
    return new


def _collide(a: Edit, b: Edit) -> bool:
    """Overlapping spans, or two insertions at one point (order unknowable)."""
    if a.start == a.end or b.start == b.end:
        return a.start == b.start or (
            a.start < b.start < a.end or b.start < a.start < b.end
        )
    return a.start < b.end and b.start < a.end
