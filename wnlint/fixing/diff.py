"""Unified diffs of a fixed file, as ``git diff`` writes them (``fix --diff``).

Apart from the fix loop (:mod:`wnlint.fixing.fixer`) because a diff is only
shown, never applied: it reads two versions of a file's bytes and knows
nothing of fixes. Its own part is speed: difflib's matching is quadratic on
big files with many repeated lines, so those are matched between anchors
first (:func:`_unified_diff`), with the hunks difflib would write.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import lru_cache


def file_diff(path: str, original: bytes, fixed: bytes) -> str:
    """A unified diff with ``a/``/``b/`` headers, as ``git diff`` writes
    them, so that ``git apply`` and ``patch -p1`` take it."""

    def lines(data: bytes) -> list[str]:
        # git's lines, which end at \n only: a lone \r stays inside one.
        # The file's own bytes, whatever its encoding: what is not UTF-8
        # travels as surrogates, which the CLI writes back as bytes.
        text = data.decode("utf-8", "surrogateescape")
        return [line for line in re.split(r"(?<=\n)", text) if line]

    name = os.path.normpath(path).replace(os.sep, "/").lstrip("/")
    out = []
    for line in _unified_diff(lines(original), lines(fixed), f"a/{name}", f"b/{name}"):
        if line.endswith("\n"):
            out.append(line)
        else:  # the file's last line, without a line break
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _unified_diff(
    a: list[str], b: list[str], name_a: str, name_b: str
) -> Iterator[str]:
    """``difflib.unified_diff(a, b, name_a, name_b)``; for big files, in time
    linear in their size where difflib's is quadratic.

    difflib looks for the longest matching run over the whole remaining
    range again and again; in a big file with many repeated lines (blank
    lines, ``super().__init__()``) and edits all over it, that took longer
    than the whole fix (53 s on a 50,000-line file). Lines that occur once
    in each file and in the same order are matched first (they cannot be
    matched any other way), and difflib matches what lies between them;
    its own grouping then makes the hunks.
    """
    if len(a) + len(b) <= _DIFFLIB_LINES:
        yield from difflib.unified_diff(a, b, name_a, name_b)
        return
    matcher = _AnchoredMatcher(a, b)
    header = [f"--- {name_a}\n", f"+++ {name_b}\n"]
    for group in matcher.get_grouped_opcodes(3):
        yield from header
        header = []
        first, last = group[0], group[-1]
        yield (
            f"@@ -{_hunk_range(first[1], last[2])} "
            f"+{_hunk_range(first[3], last[4])} @@\n"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            yield from ("-" + line for line in a[i1:i2])
            yield from ("+" + line for line in b[j1:j2])


#: Up to this many lines (both sides), difflib's own diff: fast enough there,
#: and the hunks stay exactly difflib's.
_DIFFLIB_LINES = 10_000


def _hunk_range(start: int, stop: int) -> str:
    """A hunk's lines in the unified format: ``first,count``, just ``first``
    for one line, and the line before it for none."""
    count = stop - start
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


class _AnchoredMatcher(difflib.SequenceMatcher):
    """difflib's matcher whose matching blocks are found between anchors:
    lines unique on both sides, in the same order on both."""

    def __init__(self, a: list[str], b: list[str]) -> None:
        super().__init__(None, a, b)
        self._sides = (a, b)
        self._blocks: list[difflib.Match] | None = None

    def get_matching_blocks(self) -> list[difflib.Match]:
        if self._blocks is None:
            self._blocks = _anchored_blocks(*self._sides)
        return self._blocks


def line_before(original: bytes, fixed: bytes, line: int) -> int:
    """The line of ``original`` that line ``line`` of ``fixed`` was (both
    1-based, lines as Python counts them): where ``check`` reported what a
    note about the fixed text names. A line the fix wrote maps to the first
    line of what it replaced."""
    if original == fixed:
        return line
    before = 0
    for block in _line_blocks(original, fixed):
        if block.b <= line - 1 < block.b + block.size:
            return block.a + (line - 1 - block.b) + 1
        if block.b + block.size <= line - 1:
            before = block.a + block.size
    return before + 1


@lru_cache(maxsize=4)
def _line_blocks(original: bytes, fixed: bytes) -> list[difflib.Match]:
    """The matching lines of two versions of a file: matched once for all
    the notes on one file."""

    def lines(data: bytes) -> list[str]:
        text = data.decode("utf-8", "surrogateescape")
        return [part for part in _PYTHON_LINE_END.split(text) if part]

    return _anchored_blocks(lines(original), lines(fixed))


#: Where a line ends for Python: after ``\n``, ``\r\n`` or a lone ``\r``.
_PYTHON_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def _anchored_blocks(a: Sequence[str], b: Sequence[str]) -> list[difflib.Match]:
    # difflib never starts a match on a line that fills more than 1% of a
    # file of 200 lines or more; the gaps keep that rule of the whole file.
    counts = Counter(b)
    popular = (
        {line for line, n in counts.items() if n > len(b) // 100 + 1}
        if len(b) >= 200
        else set()
    )
    blocks: list[tuple[int, int, int]] = []
    i0 = j0 = 0
    for i, j in [*_anchors(a, b), (len(a), len(b))]:
        if i > i0 and j > j0:
            gap = difflib.SequenceMatcher(None, a[i0:i], b[j0:j], autojunk=False)
            seeds = gap.b2j  # type: ignore[attr-defined]
            for line in popular.intersection(seeds):
                del seeds[line]
            blocks += [
                (i0 + x, j0 + y, n) for x, y, n in gap.get_matching_blocks() if n
            ]
        if i < len(a):
            blocks.append((i, j, 1))
        i0, j0 = i + 1, j + 1
    merged: list[difflib.Match] = []
    for i, j, n in blocks:
        if (
            merged
            and merged[-1].a + merged[-1].size == i
            and merged[-1].b + merged[-1].size == j
        ):
            last = merged.pop()
            merged.append(difflib.Match(last.a, last.b, last.size + n))
        else:
            merged.append(difflib.Match(i, j, n))
    merged.append(difflib.Match(len(a), len(b), 0))
    return merged


def _anchors(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """The longest run of (i, j), increasing in both, of lines that occur
    once in ``a`` and once in ``b``."""
    count_a = Counter(a)
    count_b = Counter(b)
    where_b = {line: j for j, line in enumerate(b) if count_b[line] == 1}
    pairs = [
        (i, where_b[line])
        for i, line in enumerate(a)
        if count_a[line] == 1 and line in where_b
    ]
    # Longest increasing subsequence of the j's (pairs are sorted by i).
    tails: list[int] = []  # the j of the last pair of the best run of each length
    tail_at: list[int] = []  # ... and that pair's index
    back: list[int] = []
    for k, (_, j) in enumerate(pairs):
        n = bisect.bisect_left(tails, j)
        if n == len(tails):
            tails.append(j)
            tail_at.append(k)
        else:
            tails[n] = j
            tail_at[n] = k
        back.append(tail_at[n - 1] if n else -1)
    run: list[tuple[int, int]] = []
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        run.append(pairs[k])
        k = back[k]
    return run[::-1]
