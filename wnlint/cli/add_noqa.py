"""``wnlint check --add-noqa``: silence today's findings in place, so that a
large code base can adopt wnlint now and fix the findings later (ruff's
``--add-noqa``).

Each finding gets its code in a ``# noqa: CODE`` comment on the line that
flake8 reads for it (:func:`wnlint.engine.noqa.comment_places`): the reported line,
or, when that line ends inside a multi-line string or a backslash
continuation, the last line of that range; never inside a string. A line
that already has a ``# noqa: X`` comment gets the code added to its list; a
bare ``# noqa`` already silences everything and is left alone.

A file is written only when the result, linted again, has lost exactly the
findings that were meant to go (so a second run adds nothing, and ``check``
then reports nothing there), through :func:`wnlint.fixing.safe_write.write_fixed`.
Files that do not parse, notebooks (flake8 does not read them, and their
cells are not rewritten here) and findings with no line that can hold the
comment are left as they are, with a note; they stay findings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wnlint.engine.linter import NOTEBOOK_SUFFIX, SYSTEM_CODES, Diagnostic, source_lines
from wnlint.engine.noqa import NOQA_INLINE, comment_places, is_suppressed
from wnlint.facts.sources import encoding_of

if TYPE_CHECKING:
    from wnlint.engine.linter import Linter

_LINE_END = re.compile(r"(\r\n|\r|\n)?\Z")


@dataclass
class Placed:
    """What :func:`add_noqa_comments` did to one text."""

    text: str
    #: Lines whose comment was written or extended (one directive each).
    directives: int = 0
    #: (line, code) of the findings it found no line for.
    unplaced: list[tuple[int, str]] = field(default_factory=list)


def add_noqa_comments(
    text: str, findings: Iterable[tuple[int, str]], upto: int | None = None
) -> Placed:
    """``text`` with a ``# noqa`` comment covering each (line, code) of
    ``findings``; lines are 1-based, as the findings report them. ``upto``
    is where the engine stops reading noqa ranges: the last line of any
    finding, silenced or not (None: the whole text)."""
    lines = source_lines(text)
    places = comment_places(lines, upto)
    wanted: dict[int, list[str]] = {}
    placed = Placed(text)
    for line, code in sorted(set(findings)):
        target = places.target.get(line)
        # Without a full tokenization flake8 reads each line by itself: only
        # a line that ends its own range can then hold the comment.
        if target is None or (not places.complete and target != line):
            placed.unplaced.append((line, code))
            continue
        codes = wanted.setdefault(target, [])
        if code not in codes:
            codes.append(code)
    for target, codes in wanted.items():
        new = _with_codes(lines[target - 1], places.comments.get(target), codes)
        if new != lines[target - 1]:
            lines[target - 1] = new
            placed.directives += 1
    placed.text = "".join(lines)
    return placed


def _with_codes(line: str, comment: int | None, codes: Sequence[str]) -> str:
    """``line`` whose comment (starting at column ``comment``, if any) also
    silences ``codes``."""
    ending = _LINE_END.search(line)
    assert ending is not None  # the pattern matches the empty end
    body, end = line[: ending.start()], line[ending.start() :]
    if comment is not None:
        match = NOQA_INLINE.search(body, comment)
        if match is not None:
            listed = match.group("codes")
            if listed is None:  # a bare noqa comment silences every code
                return line
            missing = [c for c in codes if not is_suppressed(c, body[comment:])]
            if not missing:
                return line
            kept = listed.rstrip(", \t")
            at = match.start("codes") + len(kept)
            return f"{body[:at]}{_separator(kept)}{', '.join(missing)}{body[at:]}{end}"
    body = body.rstrip(" \t")
    return f"{body}  # noqa: {', '.join(codes)}{end}"


def _separator(codes: str) -> str:
    """Join a code to a list as the list joins its own."""
    if "," in codes:
        return ", " if ", " in codes else ","
    return " " if " " in codes.strip() else ", "


# -- files -------------------------------------------------------------------------
@dataclass
class FileNoqa:
    """One file's outcome."""

    path: str
    directives: int = 0
    #: The findings left as they were (they are still reported).
    remaining: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The file was meant to change but could not be written.
    failed: bool = False


def add_noqa(
    diagnostics: Sequence[Diagnostic],
    linter_for: Callable[[str], Linter],
    read: Callable[[str], bytes],
) -> list[FileNoqa]:
    """Silence the rule findings among ``diagnostics`` in their files, one
    result per file that has any (the engine's own codes, WN001-WN003, are
    never silenced: they remain). Each file is read and linted again with
    its own rules, so positions are those of its bytes now."""
    by_file: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_file.setdefault(d.path, []).append(d)
    results = []
    done: set[str] = set()
    for path, found in by_file.items():
        result = FileNoqa(path)
        results.append(result)
        result.remaining = [d for d in found if d.code in SYSTEM_CODES]
        rules = [d for d in found if d.code not in SYSTEM_CODES]
        target = os.path.realpath(path)
        if not rules or target in done:  # nothing to do, or another name
            continue
        done.add(target)
        if path.endswith(NOTEBOOK_SUFFIX) or any(d.cell is not None for d in rules):
            result.remaining += rules
            noun = "finding" if len(rules) == 1 else "findings"
            result.notes.append(
                f"notebooks are not edited by --add-noqa; {len(rules)} {noun} "
                "left as they are"
            )
            continue
        _add_to_file(result, rules, linter_for(path), read)
    for result in results:
        result.remaining.sort(key=lambda d: (d.cell or 0, d.line, d.col, d.code))
    return results


def _add_to_file(
    result: FileNoqa,
    reported: list[Diagnostic],
    linter: Linter,
    read: Callable[[str], bytes],
) -> None:
    from wnlint.fixing.safe_write import WriteRefused, write_fixed

    path = result.path
    try:
        data = read(path)
    except OSError as exc:
        result.remaining += reported
        result.notes.append(f"not changed: cannot read: {exc.strerror or exc}")
        return
    found = linter.lint_bytes(data, path)
    if any(d.code in SYSTEM_CODES for d in found):  # it stopped parsing since
        result.remaining += found
        result.notes.append("not changed: the file does not parse now")
        return
    try:
        encoding = encoding_of(data)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeError, LookupError):
        result.remaining += found
        result.notes.append("not changed: cannot decode the file")
        return
    if text.encode(encoding) != data:
        result.remaining += found
        result.notes.append(f"not changed: its bytes do not round-trip {encoding}")
        return
    # The engine reads noqa ranges up to its last finding, silenced or not.
    every = linter.lint_bytes(data, path, honor_noqa=False)
    upto = max((d.line for d in every), default=None)
    placed = add_noqa_comments(text, ((d.line, d.code) for d in found), upto)
    unplaced = set(placed.unplaced)
    left = [d for d in found if (d.line, d.code) in unplaced]
    for line, code in placed.unplaced:
        result.notes.append(
            f"line {line}: {code} not silenced: the file does not tokenize up "
            "to it, so no comment is sure to be read for it"
        )
    if placed.text == text:
        result.remaining += left
        return
    new = placed.text.encode(encoding)
    after = linter.lint_bytes(new, path)
    if _key(after) != _key(left):
        result.remaining += found
        result.notes.append(
            "not changed: the comments would not silence exactly these "
            "findings (" + ", ".join(f"{d.code} line {d.line}" for d in after) + ")"
        )
        return
    try:
        result.notes += write_fixed(path, data, new)
    except WriteRefused as exc:
        result.remaining += found
        result.notes.append(f"not changed: {exc}")
        result.failed = True
        return
    result.remaining += after
    result.directives = placed.directives


def _key(found: Iterable[Diagnostic]) -> list[tuple[int, int, str]]:
    return sorted((d.line, d.col, d.code) for d in found)
