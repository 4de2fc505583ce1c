"""Fixes whose edits are to another file of the run, applied last.

A finding can be repaired only in another file: ``.apply(init_weights)``
here, with ``init_weights`` in a sibling ``utils.py``. The fix
loop (:mod:`wnlint.fixing.fixer`) keeps such fixes aside; once every file
of the run is fixed, this module puts them into their files:

* each edit is found again in the file as it is now (the run's own fixes
  may have moved it): the lines it replaces, at the same line or, failing
  that, the one place they occur; else it is declined with a note;
* the same edit asked by several findings is made once;
* the result must parse, and is written like any fixed file (or shown by
  ``--diff``); the findings it repairs count as fixed in their own files.
"""

from __future__ import annotations

import os

from wnlint.facts import sources
from wnlint.fixing.apply import apply_fixes, non_colliding, parsed
from wnlint.fixing.diff import line_before
from wnlint.fixing.fixer import FileFix
from wnlint.fixing.safe_write import WriteRefused, write_fixed
from wnlint.rules.fixes import Applicability, Edit, Fix, Source


def apply_elsewhere(results: list[FileFix], write: bool) -> None:
    """Apply the fixes the run's files keep for other files of the run (see
    the module doc); a file the run does not fix is never edited: the
    finding stays, with a note naming the file to add."""
    asks: dict[str, list[Ask]] = {}
    for result in results:
        for key, fix in result.foreign.items():
            if fix.path is not None:
                target = os.path.realpath(fix.path)
                asks.setdefault(target, []).append((result, key, fix))
        result.foreign = {}
    if not asks:
        return
    by_path = {os.path.realpath(r.path): r for r in results}
    for target, asked in asks.items():
        owner = by_path.get(target)
        if owner is None:
            name = sources.shown_path(target)
            for requester, key, _ in asked:
                requester.note(
                    f"{key[2]} on line {_reported(requester, key)} is fixed in "
                    f"{name}, which this run does not fix: name it too"
                )
            continue
        _apply(owner, asked, write)


Ask = tuple[FileFix, tuple[int, int, str], Fix]
#: A finding that asked for an edit: its file's result and its key.
Asker = tuple[FileFix, tuple[int, int, str]]


def _apply(owner: FileFix, asked: list[Ask], write: bool) -> None:
    name = os.path.basename(owner.path)
    read = _current(owner)
    if isinstance(read, Exception):
        _not_fixed([(r, key) for r, key, _ in asked], f"cannot read {name} ({read})")
        return
    current, encoding, source = read
    edits, done, made = _chosen(asked, source, name)
    for requester, key in made:
        _credit(requester, key, name)
    if not done:
        return
    new = parsed(apply_fixes(source.text, [Fix(Applicability.UNSAFE, edits)]), encoding)
    if new is None:
        _not_fixed(done, f"the edit of {name} did not parse")
        return
    if write:
        try:
            for note in write_fixed(owner.path, current, new):
                owner.note(note)
        except WriteRefused as exc:
            _not_fixed(done, str(exc))
            return
    if not owner.changed:
        owner.original = current
    owner.fixed = new
    for requester, key in done:
        _credit(requester, key, name)


def _not_fixed(askers: list[Asker], why: str) -> None:
    for requester, key in askers:
        requester.note(f"{key[2]} not fixed: {why}")


def _credit(requester: FileFix, key: tuple[int, int, str], name: str) -> None:
    """The finding ``key`` of ``requester`` is fixed by an edit of ``name``."""
    requester.applied += 1
    requester.applied_codes[key[2]] += 1
    requester.remaining = [
        d for d in requester.remaining if (d.line, d.col, d.code) != key
    ]
    requester.note(f"{key[2]} on line {_reported(requester, key)} fixed in {name}")


def _current(owner: FileFix) -> tuple[bytes, str, Source] | Exception:
    """The file as the run leaves it: its fixed bytes, or the disk's."""
    try:
        current = owner.fixed if owner.changed else sources.read_source(owner.path)
        encoding = sources.encoding_of(current)
        return current, encoding, Source(current.decode(encoding))
    except (OSError, SyntaxError, UnicodeError, LookupError) as exc:
        return exc


def _chosen(
    asked: list[Ask], source: Source, name: str
) -> tuple[tuple[Edit, ...], list[Asker], list[Asker]]:
    """The edits found again in ``source``, held back where they collide as
    the fix loop holds them back (the same edit asked twice is made once),
    and the findings they repair; the findings whose edits ``source``
    already holds (the file's own fix made the same repair); the others
    get a note."""
    moved: list[tuple[Asker, Fix]] = []
    made: list[Asker] = []
    for requester, key, fix in asked:
        base = Source(fix.base or "")
        found = [_relocated(e, base, source) for e in fix.edits]
        edits = tuple(e for e in found if e is not None)
        if len(edits) == len(found):
            moved.append(((requester, key), Fix(fix.applicability, edits)))
        elif all(_made_already(e, base, source) for e in fix.edits):
            made.append((requester, key))
        else:
            requester.note(_changed(requester, key, name))
    kept = non_colliding(moved)
    for (requester, key), fix in moved:
        if not any(fix is k for _, k in kept):
            requester.note(_changed(requester, key, name))
    # (apply_fixes makes an edit asked twice once.)
    edits = tuple(e for _, fix in kept for e in fix.edits)
    return edits, [who for who, _ in kept], made


def _changed(requester: FileFix, key: tuple[int, int, str], name: str) -> str:
    return (
        f"{key[2]} not fixed on line {_reported(requester, key)}: {name} "
        "changed where the fix edits it; run fix again"
    )


def _reported(requester: FileFix, key: tuple[int, int, str]) -> int:
    """The line ``check`` reports the finding ``key`` on: its key is a
    position in the text the file's own fixes left."""
    if not requester.changed:
        return key[0]
    return line_before(requester.original, requester.fixed, key[0])


def _made_already(edit: Edit, base: Source, current: Source) -> bool:
    """``current`` holds the lines ``edit`` makes of ``base`` and no longer
    the lines it replaces: the same repair was made by the file's own fix
    (a helper that this file's findings and a sibling's both repair)."""
    if edit.anchor is None:
        return False
    first, _, last, _ = edit.anchor
    start, end = base.starts[first - 1], base.starts[last]
    made = base.text[start : edit.start] + edit.new + base.text[edit.end : end]
    rest = current.text.replace(made, "")  # the repair may keep the old line
    return (
        bool(made.strip())
        and rest != current.text
        and (base.text[start:end] not in rest)
    )


def _relocated(edit: Edit, base: Source, current: Source) -> Edit | None:
    """``edit`` (whole lines of ``base``) on the same lines of ``current``:
    where they were, else where they occur once; None when not found."""
    if edit.anchor is None:
        return None
    first, _, last, _ = edit.anchor
    if edit.start == edit.end:  # an insertion before its anchor's first line
        last = first
    count = last - first + 1
    old = base.text[base.starts[first - 1] : base.starts[last]]
    lines = current.lines
    found = [
        i
        for i in range(len(lines) - count + 1)
        if lines[i] == base.lines[first - 1] and "".join(lines[i : i + count]) == old
    ]
    at = first - 1 if first - 1 in found else (found[0] if len(found) == 1 else None)
    if at is None:
        return None
    start, end = current.starts[at], current.starts[at + count]
    if edit.start == edit.end:
        end = start
    return Edit(start, end, edit.new, (at + 1, 0, at + count, 0), whole_lines=True)
