"""``# noqa`` exactly as flake8 reads it.

The CLI and the flake8 plugin must never disagree, so the CLI applies
flake8's own rules: the inline regex and its prefix matching
(``# noqa: WN3`` silences WN301), the mapping that lets one comment after
a multi-line string (or a backslash continuation) cover each of its lines,
and the file-level ``# flake8: noqa``. ``check --add-noqa`` writes its
comments where that mapping reads them (:func:`comment_places`).
"""

from __future__ import annotations

import re
import tokenize
from collections.abc import Iterator, Sequence
from typing import NamedTuple

NOQA_INLINE = re.compile(
    r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE
)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.IGNORECASE)
_SPLIT_CODES = re.compile(r"[,\s]")


def file_is_ignored(lines: Sequence[str]) -> bool:
    """A line that is only ``# flake8: noqa`` silences the whole file."""
    return any(NOQA_FILE.match(line) for line in lines)


def noqa_text_by_line(lines: Sequence[str], upto: int | None = None) -> dict[int, str]:
    """Map each line number to the text searched for ``# noqa``.

    Every physical line of a multi-line token (a triple-quoted string, a
    backslash continuation) maps to the joined text of all of them, so one
    comment after it applies to each. A bracketed call spread over several
    lines is not joined (tokenize ends each of its lines with ``NL``), as
    under flake8. Tokenizing stops after the logical line that holds line
    ``upto``.
    """
    mapping: dict[int, str] = {}
    try:
        for lo, hi in _ranges(lines, upto):
            joined = "".join(lines[lo - 1 : hi])
            for number in range(lo, hi + 1):
                mapping[number] = joined
    except (tokenize.TokenError, SyntaxError):
        # flake8 drops the whole mapping then and reads physical lines.
        return {}
    return mapping


def _ranges(
    lines: Sequence[str],
    upto: int | None = None,
    comments: dict[int, int] | None = None,
) -> Iterator[tuple[int, int]]:
    """flake8's noqa ranges, in order: the first and last line of the tokens
    up to each ``NL`` or ``NEWLINE``; raises what tokenize raises where the
    text stops tokenizing. ``comments`` gets each comment's line and
    character column."""
    # tokenize ends lines at \n only; flake8 reads files with universal
    # newlines, so a line ending in a lone \r is one line to both.
    position = (
        line.rstrip("\r\n") + "\n" if line[-1:] in "\r\n" else line for line in lines
    )
    last = len(lines) if upto is None else upto
    lo, hi = len(lines) + 2, -1
    for tok in tokenize.generate_tokens(lambda: next(position, "")):
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        if comments is not None and tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.start[1]
        lo = min(lo, tok.start[0])
        hi = max(hi, tok.end[0])
        if tok.type in (tokenize.NL, tokenize.NEWLINE):
            yield lo, hi
            if hi >= last:
                return
            lo, hi = len(lines) + 2, -1


class CommentPlaces(NamedTuple):
    """Where a ``# noqa`` comment for a line must go so that flake8 (and
    so ``wnlint check``) reads it for that line (:func:`comment_places`)."""

    #: A line -> the last line of its noqa range, the only one of the range
    #: that ends outside a token: a comment there covers the whole range,
    #: and one anywhere else would land inside a string or after a ``\``.
    #: Lines past the point where the text stops tokenizing, or past the
    #: range of line ``upto``, are missing.
    target: dict[int, int]
    #: A line -> the character column where its comment starts.
    comments: dict[int, int]
    #: The text tokenizes up to line ``upto``. When it does not, flake8
    #: reads each line by itself, so a comment covers only its own line.
    complete: bool


def comment_places(lines: Sequence[str], upto: int | None = None) -> CommentPlaces:
    """Each line's noqa range, as :func:`noqa_text_by_line` reads it with
    the same ``upto`` (the engine's: the last line of any finding, noqa or
    not), and the comments already there (``check --add-noqa``)."""
    target: dict[int, int] = {}
    comments: dict[int, int] = {}
    complete = True
    try:
        for lo, hi in _ranges(lines, upto, comments):
            target.update(dict.fromkeys(range(lo, hi + 1), hi))
    except (tokenize.TokenError, SyntaxError):
        complete = False
    return CommentPlaces(target, comments, complete)


def may_suppress(lines: Sequence[str], codes: set[str]) -> bool:
    """False when no ``# noqa`` in ``lines`` can cover any of ``codes``, so
    that the slow, exact mapping of :func:`noqa_text_by_line` is skipped
    (code bases are full of ``# noqa: E501`` for other tools). A comment
    whose code list ends its line might continue on the next physical line
    of a logical line, so a next line starting with ``WN`` counts too."""
    for number, line in enumerate(lines):
        match = NOQA_INLINE.search(line)
        if match is None:
            continue
        if match.group("codes") is None or any(
            is_suppressed(code, line) for code in codes
        ):
            return True
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if following.lstrip().startswith("WN"):
            return True
    return False


def is_suppressed(code: str, text: str) -> bool:
    """True when ``text`` holds a ``# noqa`` that covers ``code``."""
    match = NOQA_INLINE.search(text)
    if match is None:
        return False
    codes_str = match.group("codes")
    if codes_str is None:
        return True
    codes = tuple(c.strip() for c in _SPLIT_CODES.split(codes_str) if c.strip())
    return code in codes or code.startswith(codes)
