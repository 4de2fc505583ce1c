"""``wnlint fix``: repair findings in place, never leaving a broken file.

The loop knows no rule: each finding arrives with its own fix (built on the
analysis that found it, see :mod:`wnlint.fixes`), and this module only

* lints, builds the fixes of the findings this run may fix (safe ones, and
  unsafe ones with ``--unsafe-fixes``), and notes the ones declined;
* applies a whole-file fix alone, or else every span fix whose edits do not
  collide with an earlier one's (the rest wait for the next pass);
* checks that the result parses (``ast`` and libcst both): a fix whose
  result does not is dropped with a note and the others still apply;
* re-lints and repeats until nothing changes, with a cap, so nested cases
  converge and a second run changes nothing.

Findings silenced with ``# noqa`` are never fixed. Writes go to a temporary
file that replaces the original.
"""

from __future__ import annotations

import ast
import difflib
import io
import os
import tempfile
import tokenize
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from wnlint.engine import Diagnostic, Linter, discover
from wnlint.fixes import Applicability, Declined, Edit, Fix, FixContext, LazyFix, Source

_MAX_PASSES = 10


@dataclass
class FileFix:
    path: str
    original: bytes
    fixed: bytes
    applied: int = 0
    #: How many findings of each code were fixed.
    applied_codes: Counter = field(default_factory=Counter)
    remaining: list[Diagnostic] = field(default_factory=list)
    #: Remaining findings that ``--unsafe-fixes`` would fix.
    hidden: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        def lines(data: bytes) -> list[str]:
            return io.StringIO(data.decode("utf-8", "replace"), newline="").readlines()

        return "".join(
            difflib.unified_diff(
                lines(self.original), lines(self.fixed), self.path, self.path
            )
        )

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def fix_file(path: str, linter: Linter, unsafe: bool) -> FileFix:
    with open(path, "rb") as handle:
        return fix_source(handle.read(), path, linter, unsafe)


def fix_source(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    """Fix one file's bytes, re-applying until nothing changes (capped)."""
    result = FileFix(path, original, original)
    enabled = frozenset(rule.code for rule in linter.rules)
    order = {rule.code: i for i, rule in enumerate(linter.rules)}
    for _ in range(_MAX_PASSES):
        found = linter.lint_bytes(result.fixed, path, fixes=True)
        todo = [d for d in found if d.fix is not None and _wanted(d.fix, unsafe)]
        if not todo:
            break
        todo.sort(key=lambda d: (order[d.code], d.line, d.col))
        encoding = _encoding(result.fixed)
        ctx = _context(result.fixed, encoding, enabled, found)
        built = _build(todo, ctx, result)
        chosen = [(d, f) for d, f in built if _allowed(f.applicability, unsafe)]
        fixed, applied = _apply_pass(ctx.source, chosen, encoding, result)
        if not applied or fixed == result.fixed:
            break
        result.fixed = fixed
        result.applied += len(applied)
        result.applied_codes.update(d.code for d in applied)
    remaining = linter.lint_bytes(result.fixed, path, fixes=not unsafe)
    if not unsafe:
        result.hidden = _count_unsafe(result.fixed, enabled, remaining)
    result.remaining = [_without_fix(d) for d in remaining]
    return result


def offered_fixes(
    data: bytes, path: str, linter: Linter
) -> list[tuple[Diagnostic, Fix | Declined | None]]:
    """Every finding of one file with its fix built (or None when its rule
    has none there), applying nothing: what ``fix`` would start from."""
    found = linter.lint_bytes(data, path, fixes=True)
    enabled = frozenset(rule.code for rule in linter.rules)
    ctx = _context(data, _encoding(data), enabled, found)
    return [(d, d.fix.build(ctx) if d.fix else None) for d in found]


def _wanted(fix: LazyFix, unsafe: bool) -> bool:
    """Worth building in this run: its declared level (if any) may apply."""
    return fix.applicability is None or _allowed(fix.applicability, unsafe)


def _allowed(level: Applicability, unsafe: bool) -> bool:
    if level is Applicability.SAFE:
        return True
    return unsafe and level is Applicability.UNSAFE


def _context(
    data: bytes, encoding: str, enabled: frozenset[str], found: list[Diagnostic]
) -> FixContext:
    findings = frozenset((d.line, d.col, d.code) for d in found)
    return FixContext(Source(data.decode(encoding)), enabled, findings)


def _build(
    todo: list[Diagnostic], ctx: FixContext, result: FileFix
) -> list[tuple[Diagnostic, Fix]]:
    """Each finding's fix; declined ones and failing builders become notes
    (their findings simply stay)."""
    built: list[tuple[Diagnostic, Fix]] = []
    for d in todo:
        try:
            fix = d.fix.build(ctx)  # type: ignore[union-attr]
        except Exception as exc:  # a fixer bug must not end the run
            result.note(
                f"{d.code} not fixed: internal error "
                f"({exc.__class__.__name__}: {exc}); please report this file"
            )
            continue
        if isinstance(fix, Declined):
            result.note(fix.reason)
        elif fix is not None and fix.edits:
            built.append((d, fix))
    return built


def _apply_pass(
    src: Source, chosen: list[tuple[Diagnostic, Fix]], encoding: str, result: FileFix
) -> tuple[bytes, list[Diagnostic]]:
    """A whole-file fix alone if there is one that parses, else the span
    fixes that do not collide; returns the new bytes and what they fixed."""
    alone = [(d, f) for d, f in chosen if f.alone]
    if alone:
        fix = alone[0][1]
        fixed = _parsed(_apply(src.text, [fix]), encoding)
        if fixed is not None:
            return fixed, [d for d, f in alone if f is fix]
        result.note(f"{alone[0][0].code} not fixed: the rewrite did not parse")
    spans = _non_colliding([(d, f) for d, f in chosen if not f.alone])
    if not spans:
        return b"", []
    fixed = _parsed(_apply(src.text, [f for _, f in spans]), encoding)
    if fixed is None:
        kept: list[tuple[Diagnostic, Fix]] = []
        for d, fix in spans:  # find the culprits, keep the rest
            trial = [f for _, f in kept] + [fix]
            if _parsed(_apply(src.text, trial), encoding) is None:
                result.note(
                    f"{d.code} not fixed on line {d.line}: the rewrite did not parse"
                )
            else:
                kept.append((d, fix))
        spans = kept
        fixed = (
            _parsed(_apply(src.text, [f for _, f in kept]), encoding) if kept else None
        )
    if fixed is None:
        return b"", []
    return fixed, [d for d, _ in spans]


def _non_colliding(
    candidates: list[tuple[Diagnostic, Fix]],
) -> list[tuple[Diagnostic, Fix]]:
    """Fixes in order, skipping any whose edits collide with an earlier
    one's: the next pass picks those up."""
    chosen: list[tuple[Diagnostic, Fix]] = []
    taken: list[Edit] = []
    for d, fix in candidates:
        if any(_collide(a, b) for a in fix.edits for b in taken):
            continue
        chosen.append((d, fix))
        taken.extend(fix.edits)
    return chosen


def _apply(text: str, fixes: list[Fix]) -> str:
    edits = sorted(
        (e for f in fixes for e in f.edits),
        key=lambda e: (e.start, e.end),
        reverse=True,
    )
    for edit in edits:
        text = text[: edit.start] + edit.new + text[edit.end :]
    return text


def _parsed(text: str, encoding: str) -> bytes | None:
    """The encoded text if both parsers accept it: never write broken code."""
    try:
        data = text.encode(encoding)
        ast.parse(data)
        cst.parse_module(data)
    except (SyntaxError, ValueError, UnicodeError, cst.ParserSyntaxError):
        return None
    return data


def _collide(a: Edit, b: Edit) -> bool:
    """Overlapping spans, or two insertions at one point (order unknowable)."""
    if a.start == a.end or b.start == b.end:
        return a.start == b.start or (
            a.start < b.start < a.end or b.start < a.start < b.end
        )
    return a.start < b.end and b.start < a.end


def _count_unsafe(
    data: bytes, enabled: frozenset[str], remaining: list[Diagnostic]
) -> int:
    """Remaining findings that ``--unsafe-fixes`` would fix (safe ones are
    done). A fix whose building is a whole-file rewrite is counted by its
    declared level; the others are built, so only real fixes count."""
    with_fix = [d for d in remaining if d.fix is not None]
    if not with_fix:
        return 0
    ctx: FixContext | None = None
    count = 0
    for d in with_fix:
        lazy: LazyFix = d.fix  # type: ignore[assignment]
        if lazy.expensive:
            count += lazy.applicability is Applicability.UNSAFE
            continue
        if ctx is None:
            ctx = _context(data, _encoding(data), enabled, remaining)
        try:
            fix = lazy.build(ctx)
        except Exception:  # reported when fixing; the hint just skips it
            continue
        if isinstance(fix, Fix) and fix.edits:
            count += 1
    return count


def _without_fix(d: Diagnostic) -> Diagnostic:
    return Diagnostic(d.path, d.line, d.col, d.code, d.message)


def _encoding(data: bytes) -> str:
    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def write_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, keeping its mode."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".wnlint-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def fix_paths(
    paths: Sequence[str], linter: Linter, unsafe: bool, write: bool
) -> list[FileFix]:
    results = []
    for path in discover(paths):
        try:
            result = fix_file(path, linter, unsafe)
        except OSError as exc:
            result = FileFix(path, b"", b"")
            result.remaining = linter.lint_file(path)
            result.notes.append(f"not fixed: {exc.strerror or exc}")
        if write and result.changed:
            write_atomically(path, result.fixed)
        results.append(result)
    return results
