"""``wnlint fix``: repair findings in place, never leaving a broken file.

The loop knows no rule: each finding arrives with its own fix (built on the
analysis that found it, see :mod:`wnlint.rules.fixes`), and this module only

* lints, builds the fixes of the findings this run may fix (safe ones, and
  unsafe ones with ``--unsafe-fixes``), and notes the ones declined;
* applies a whole-file fix alone, or else every span fix whose edits do not
  collide with an earlier one's (the rest wait for the next pass);
* checks that the result parses (``ast`` and libcst both): a fix whose
  result does not is dropped with a note and the others still apply;
* re-lints and repeats until nothing changes, with a cap, so nested cases
  converge and a second run changes nothing.

Findings silenced with ``# noqa`` are never fixed.

A failure in one file (it does not parse on this Python, a rewriter limit,
a bug, a file that cannot be read or written) becomes a note for that file,
which stays byte-identical, and the run goes on. Notes that mean wnlint
could not do its job are marked ``failed`` so that the command exits 2,
never 1 (which only ever means "findings"). Writes go through symlinks to
their target and keep the file's inode (hard links, owner) where a
replacement could not; see :mod:`wnlint.fixing.safe_write`.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import difflib
import gc
import io
import multiprocessing as mp
import os
import re
import tokenize
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from wnlint.engine import deepstack, notebook
from wnlint.engine.linter import (
    Diagnostic,
    Linter,
    can_fork,
    discover,
    guard_worker,
    parent_alive,
)
from wnlint.facts import sources
from wnlint.fixing.migration_notes import MIGRATION_CODES
from wnlint.fixing.migration_notes import project_notes as notes_for_project
from wnlint.fixing.safe_write import WriteRefused, write_fixed
from wnlint.rules.fixes import (
    Applicability,
    Declined,
    Edit,
    Fix,
    FixContext,
    LazyFix,
    Source,
    mismatch,
)

_MAX_PASSES = 10
#: Below this many files, worker processes cost more than they save (lower
#: than ``check``'s: one libcst rewrite costs as much as linting hundreds).
_PARALLEL_MIN_FILES = 16


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
    #: A note says wnlint could not do its job here (exit status 2).
    failed: bool = False

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        """A unified diff with ``a/``/``b/`` headers, as ``git diff`` writes
        them, so that ``git apply`` and ``patch -p1`` take it."""

        def lines(data: bytes) -> list[str]:
            # git's lines, which end at \n only: a lone \r stays inside one.
            # The file's own bytes, whatever its encoding: what is not UTF-8
            # travels as surrogates, which the CLI writes back as bytes.
            text = data.decode("utf-8", "surrogateescape")
            return [line for line in re.split(r"(?<=\n)", text) if line]

        name = os.path.normpath(self.path).replace(os.sep, "/").lstrip("/")
        out = []
        for line in _unified_diff(
            lines(self.original), lines(self.fixed), f"a/{name}", f"b/{name}"
        ):
            if line.endswith("\n"):
                out.append(line)
            else:  # the file's last line, without a line break
                out.append(line + "\n\\ No newline at end of file\n")
        return "".join(out)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def fail(self, text: str) -> None:
        """A note for a failure of wnlint's own: an internal error, a file
        it could not read or write."""
        self.note(text)
        self.failed = True

    def unchanged(self, remaining: list[Diagnostic]) -> None:
        """Drop every fix: the file keeps its bytes and its findings."""
        self.fixed = self.original
        self.applied = 0
        self.applied_codes.clear()
        self.remaining = [_without_fix(d) for d in remaining]


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


def fix_file(path: str, linter: Linter, unsafe: bool) -> FileFix:
    """Fix one file on disk, reading it once; never raises for a problem
    of this file (see the module docstring)."""
    try:
        original = sources.read_source(path)
    except OSError as exc:
        result = FileFix(path, b"", b"")
        result.fail(f"not fixed: cannot read: {exc.strerror or exc}")
        return result
    return fix_bytes(original, path, linter, unsafe)


def fix_bytes(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    """Fix the bytes of the file ``path`` names (a notebook by its suffix,
    else Python source), as read from disk or stdin; never raises."""
    if notebook.is_notebook(path):
        return _fix_notebook(original, path, linter, unsafe)
    return fix_guarded(original, path, linter, unsafe)


def _fix_notebook(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    """``wnlint fix`` on a notebook: the joined code cells fixed as one
    module, then only the changed cells' sources rewritten."""
    try:
        nb = notebook.read(original)
    except notebook.NotebookError:
        result = FileFix(path, original, original)
        result.remaining = linter.lint_file_bytes(original, path)  # not a notebook
        return result
    if not nb.cells:
        return FileFix(path, original, original)
    joined = nb.joined()
    inner = fix_guarded(joined.text.encode("utf-8"), path, linter, unsafe)
    result = FileFix(path, original, original, hidden=inner.hidden)
    result.notes, result.failed = inner.notes, inner.failed
    layout = joined
    if inner.changed:
        try:
            fixed_text = inner.fixed.decode("utf-8")
            result.fixed, layout = notebook.rewrite(nb, fixed_text)
        except (notebook.SplitError, UnicodeError) as exc:
            result.fail(f"not fixed: {exc}")
            result.remaining = [
                joined.locate(d)
                for d in linter.lint_bytes(joined.text.encode("utf-8"), path)
            ]
            return result
        result.applied, result.applied_codes = inner.applied, inner.applied_codes
    result.remaining = [layout.locate(d) for d in inner.remaining]
    return result


def fix_guarded(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    """:func:`fix_source`, with any error in it turned into a note: the file
    keeps its bytes and its findings, and the other files are still fixed."""
    try:
        return deepstack.run(fix_source, original, path, linter, unsafe)
    except (RecursionError, MemoryError) as exc:
        result = FileFix(path, original, original)
        result.fail(
            "not fixed: nested too deeply for the stack and memory this "
            f"process could get ({exc.__class__.__name__})"
        )
        result.unchanged(linter.lint_bytes(original, path))
        return result
    except Exception as exc:  # a bug must cost one file, not the run
        result = FileFix(path, original, original)
        result.fail(
            f"not fixed: internal error ({exc.__class__.__name__}: {exc}); "
            "please report this file"
        )
        result.unchanged(linter.lint_bytes(original, path))  # never raises
        return result


def fix_source(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    """Fix one file's bytes, re-applying until nothing changes (capped)."""
    if not gc.isenabled():
        return _fix_source(original, path, linter, unsafe)
    # Each pass parses the file again while the last pass's trees are still
    # alive: cyclic collections during the parses would scan them all, over
    # and over. What a file's fix leaves behind is collected after it.
    gc.disable()
    try:
        return _fix_source(original, path, linter, unsafe)
    finally:
        gc.enable()


def _fix_source(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    result = FileFix(path, original, original)
    enabled = frozenset(rule.code for rule in linter.rules)
    order = {rule.code: i for i, rule in enumerate(linter.rules)}
    found: list[Diagnostic] | None = None
    for _ in range(_MAX_PASSES):
        found = linter.lint_bytes(result.fixed, path, fixes=True)
        todo = [d for d in found if d.fix is not None and _wanted(d.fix, unsafe)]
        if not todo:
            break
        todo.sort(key=lambda d: (order[d.code], d.line, d.col))
        encoding = _encoding(result.fixed)
        ctx = _context(result.fixed, encoding, enabled, found, path)
        fixed, applied = _one_pass(todo, ctx, encoding, unsafe, result)
        if not applied or fixed == result.fixed:
            break
        result.fixed = fixed
        result.applied += len(applied)
        result.applied_codes.update(d.code for d in applied)
        found = None  # the bytes changed: lint them again
    if found is None:
        found = linter.lint_bytes(result.fixed, path, fixes=True)
    remaining = found
    if not unsafe:
        result.hidden = _count_unsafe(result.fixed, enabled, remaining)
    result.remaining = [_without_fix(d) for d in remaining]
    return result


def _one_pass(
    todo: list[Diagnostic],
    ctx: FixContext,
    encoding: str,
    unsafe: bool,
    result: FileFix,
) -> tuple[bytes, list[Diagnostic]]:
    """The span fixes first; the whole-file rewrites (libcst) only in a pass
    where no span fix applies. A rewrite then starts from code the span
    fixes already repaired (a guarded remover stays guarded), and it is
    built once per file rather than in every pass."""
    cheap = [d for d in todo if not d.fix.expensive]  # type: ignore[union-attr]
    costly = [d for d in todo if d.fix.expensive]  # type: ignore[union-attr]
    for group in (cheap, costly):
        if not group:
            continue
        built = _build(group, ctx, result)
        chosen = [(d, f) for d, f in built if _allowed(f.applicability, unsafe)]
        fixed, applied = _apply_pass(ctx.source, chosen, encoding, result)
        if applied and fixed != ctx.source.text.encode(encoding):
            return fixed, applied
    return b"", []


def offered_fixes(
    data: bytes, path: str, linter: Linter
) -> list[tuple[Diagnostic, Fix | Declined | None]]:
    """Every finding of one file with its fix built (or None when its rule
    has none there), applying nothing: what ``fix`` would start from."""
    found = linter.lint_bytes(data, path, fixes=True)
    enabled = frozenset(rule.code for rule in linter.rules)
    ctx = _context(data, _encoding(data), enabled, found, path)
    return [(d, d.fix.build(ctx) if d.fix else None) for d in found]


def _wanted(fix: LazyFix, unsafe: bool) -> bool:
    """Worth building in this run: its declared level (if any) may apply."""
    return fix.applicability is None or _allowed(fix.applicability, unsafe)


def _allowed(level: Applicability, unsafe: bool) -> bool:
    if level is Applicability.SAFE:
        return True
    return unsafe and level is Applicability.UNSAFE


def _context(
    data: bytes,
    encoding: str,
    enabled: frozenset[str],
    found: list[Diagnostic],
    path: str | None = None,
) -> FixContext:
    findings = frozenset((d.line, d.col, d.code) for d in found)
    return FixContext(Source(data.decode(encoding)), enabled, findings, path)


def _build(
    todo: list[Diagnostic], ctx: FixContext, result: FileFix
) -> list[tuple[Diagnostic, Fix]]:
    """Each finding's fix; declined ones and failing builders become notes
    (their findings simply stay)."""
    built: list[tuple[Diagnostic, Fix]] = []
    for d in todo:
        try:
            fix = d.fix.build(ctx)  # type: ignore[union-attr]
        except cst.ParserSyntaxError as exc:
            result.note(f"{d.code} not fixed: libcst cannot parse this file ({exc})")
            continue
        except (RecursionError, MemoryError) as exc:
            result.note(
                f"{d.code} not fixed: too deeply nested for the rewriter "
                f"({exc.__class__.__name__})"
            )
            continue
        except Exception as exc:  # a fixer bug must not end the run
            result.fail(
                f"{d.code} not fixed: internal error "
                f"({exc.__class__.__name__}: {exc}); please report this file"
            )
            continue
        if isinstance(fix, Declined):
            result.note(fix.reason)
        elif fix is not None and fix.edits:
            _check_anchors(d, fix, ctx)
            built.append((d, fix))
    return built


class EditMismatch(RuntimeError):
    """A fix's edit would land on other text than the rule analysed."""


def _check_anchors(d: Diagnostic, fix: Fix, ctx: FixContext) -> None:
    """Raise :class:`EditMismatch` when an edit's place holds other text in
    the file than in what the rule read: the whole file then keeps its
    bytes (an internal error), never a fix one line off that still parses."""
    seen = d.fix.seen  # type: ignore[union-attr]
    if seen is None:
        return
    key = ("seen", seen)
    analysed = ctx.memo.get(key)
    if not isinstance(analysed, Source):
        analysed = ctx.memo[key] = Source(seen)
    edit = mismatch(fix, ctx.source, analysed)
    if edit is not None:
        line = edit.anchor[0] if edit.anchor else d.line
        raise EditMismatch(
            f"{d.code}'s edit at line {line} does not match the analysed source"
        )


def _apply_pass(
    src: Source, chosen: list[tuple[Diagnostic, Fix]], encoding: str, result: FileFix
) -> tuple[bytes, list[Diagnostic]]:
    """A whole-file fix alone if there is one that parses, else the span
    fixes that do not collide; returns the new bytes and what they fixed."""
    alone = [(d, f) for d, f in chosen if f.alone]
    if alone:
        fix = alone[0][1]
        rewritten = _keep_final_newline(src.text, _apply(src.text, [fix]))
        fixed = _parsed(rewritten, encoding)
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
    starts: list[int] = []  # the taken edits, sorted by start
    taken: list[Edit] = []
    for d, fix in candidates:
        if any(_collides_taken(e, starts, taken) for e in fix.edits):
            continue
        chosen.append((d, fix))
        for e in fix.edits:
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


def _apply(text: str, fixes: list[Fix]) -> str:
    edits = sorted(
        (e for f in fixes for e in f.edits),
        key=lambda e: (e.start, e.end),
        reverse=True,
    )
    parts: list[str] = []
    end = len(text)
    for edit in edits:  # back to front: each edit's text, then what follows it
        parts.append(text[edit.end : end])
        parts.append(edit.new)
        end = edit.start
    parts.append(text[:end])
    return "".join(reversed(parts))


def _parsed(text: str, encoding: str) -> bytes | None:
    """The encoded text if both parsers accept it: never write broken code."""
    try:
        data = text.encode(encoding)
        ast.parse(data)
    except (SyntaxError, ValueError, UnicodeError, cst.ParserSyntaxError):
        return None
    except (RecursionError, MemoryError):
        return None  # what cannot be verified is not written
    return data


def _keep_final_newline(old: str, new: str) -> str:
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
    return d.replace(fix=None)


def _encoding(data: bytes) -> str:
    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def fix_paths(
    paths: Sequence[str],
    linter: Linter,
    unsafe: bool,
    write: bool,
    jobs: int = 1,
    project_notes: bool = True,
) -> list[FileFix]:
    """Fix every file under ``paths``, in discovery order: each file once,
    however many links name it, and each failure a note of its own file.
    ``jobs > 1`` fixes (and writes) in that many processes when the run is
    large enough to repay starting them. ``project_notes=False`` leaves
    :func:`add_project_notes` to a caller that fixes in several runs."""
    files = []
    targets: set[str] = set()
    for path in discover(paths):
        target = os.path.realpath(path)
        if target not in targets:  # else another name of a file listed
            targets.add(target)
            files.append(path)
    task = _FixTask(linter, unsafe, write)
    if jobs > 1 and len(files) >= _PARALLEL_MIN_FILES and can_fork():
        results = _in_processes(task, files, jobs)
    else:
        results = [task(path) for path in files]
    if project_notes:
        add_project_notes(results)
    return results


def add_project_notes(results: list[FileFix]) -> None:
    """Warnings for what the run's migrations break in other files of the
    run (see :mod:`wnlint.fixing.migration_notes`)."""
    migrated = [
        r.path
        for r in results
        if r.changed and MIGRATION_CODES.intersection(r.applied_codes)
    ]
    if not migrated:
        return
    by_path = {r.path: r for r in results}
    for path, notes in notes_for_project(migrated, list(by_path)).items():
        for text in notes:
            by_path[path].note(text)


@dataclass
class _FixTask:
    """One file's fix and write; what a worker process runs."""

    linter: Linter
    unsafe: bool
    write: bool
    #: In a worker process: the pid of the run that started it. A worker
    #: whose parent is gone writes nothing more.
    parent: int | None = None

    def __call__(self, path: str) -> FileFix:
        result = fix_file(path, self.linter, self.unsafe)
        if self.write and result.changed:
            if self.parent is not None and not parent_alive(self.parent):
                os._exit(1)  # the run was stopped: nobody waits for this write
            try:
                for note in write_fixed(path, result.original, result.fixed):
                    result.note(note)
            except WriteRefused as exc:
                result.fail(f"not fixed: {exc}")
                result.unchanged(self.linter.lint_file_bytes(result.original, path))
        if not result.changed:
            result.original = result.fixed = b""  # nothing to show: keep it small
        return result


_TASK: _FixTask | None = None


def _start_worker(task: _FixTask, parent: int) -> None:
    global _TASK
    _TASK = dataclasses.replace(task, parent=parent)
    guard_worker(parent)


def _run_chunk(paths: list[str]) -> list[FileFix]:
    assert _TASK is not None
    return [_TASK(path) for path in paths]


def _in_processes(task: _FixTask, files: list[str], jobs: int) -> list[FileFix]:
    """Small chunks (a libcst rewrite costs seconds, most files nothing), so
    that one slow file does not leave the other workers idle."""
    size = max(4, len(files) // (jobs * 32))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    context = mp.get_context("fork")
    initargs = (task, os.getpid())
    with context.Pool(jobs, initializer=_start_worker, initargs=initargs) as pool:
        results = pool.imap(_run_chunk, chunks, chunksize=1)
        return [r for chunk in results for r in chunk]
