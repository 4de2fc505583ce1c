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

This module fixes one file; :mod:`wnlint.fixing.apply` puts a pass's
edits into its text, :mod:`wnlint.fixing.runner` fixes and writes a run's
files (in worker processes when there are many), and
:mod:`wnlint.fixing.diff` shows what changed.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field

import libcst as cst

from wnlint.engine import deepstack, notebook, notebook_write
from wnlint.engine.linter import Diagnostic, Linter
from wnlint.facts import sources
from wnlint.fixing.apply import apply_fixes, keep_final_newline, non_colliding, parsed
from wnlint.fixing.diff import file_diff
from wnlint.rules.fixes import (
    Applicability,
    Declined,
    Fix,
    FixContext,
    LazyFix,
    Source,
    mismatch,
)

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
    #: A note says wnlint could not do its job here (exit status 2).
    failed: bool = False
    #: Fixes of remaining findings whose edits are to another file (a
    #: sibling module's helper), by (line, column, code) of the finding:
    #: :mod:`wnlint.fixing.elsewhere` applies them once the run's own
    #: fixes are done.
    foreign: dict[tuple[int, int, str], Fix] = field(default_factory=dict)
    _declined: list[str] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        """A unified diff with ``a/``/``b/`` headers, as ``git diff`` writes
        them, so that ``git apply`` and ``patch -p1`` take it."""
        return file_diff(self.path, self.original, self.fixed)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def decline(self, text: str) -> None:
        """A fix that declined, said at a line of the text being fixed:
        only the last pass's count (:meth:`forget_declines`)."""
        self.note(text)
        self._declined.append(text)

    def forget_declines(self) -> None:
        """Before a pass lints the text again: a finding that declined in an
        earlier pass declines again (at its line in the new text), or is
        gone."""
        self.notes = [n for n in self.notes if n not in self._declined]
        self._declined.clear()

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


def fix_file(
    path: str, linter: Linter, unsafe: bool, removers_alone: bool = False
) -> FileFix:
    """Fix one file on disk, reading it once; never raises for a problem
    of this file (see the module docstring). ``removers_alone``: the run
    migrated weight norm elsewhere (:attr:`FixContext.removers_alone`)."""
    try:
        original = sources.read_source(path)
    except OSError as exc:
        result = FileFix(path, b"", b"")
        result.fail(f"not fixed: cannot read: {exc.strerror or exc}")
        return result
    return fix_bytes(original, path, linter, unsafe, removers_alone)


def fix_bytes(
    original: bytes,
    path: str,
    linter: Linter,
    unsafe: bool,
    removers_alone: bool = False,
) -> FileFix:
    """Fix the bytes of the file ``path`` names (a notebook by its suffix,
    else Python source), as read from disk or stdin; never raises."""
    if notebook.is_notebook(path):
        return _fix_notebook(original, path, linter, unsafe, removers_alone)
    return fix_guarded(original, path, linter, unsafe, removers_alone)


def _fix_notebook(
    original: bytes, path: str, linter: Linter, unsafe: bool, removers_alone: bool
) -> FileFix:
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
    inner = fix_guarded(
        joined.text.encode("utf-8"), path, linter, unsafe, removers_alone
    )
    result = FileFix(path, original, original, hidden=inner.hidden)
    result.notes, result.failed = inner.notes, inner.failed
    layout = joined
    if inner.changed:
        try:
            fixed_text = inner.fixed.decode("utf-8")
            result.fixed, layout = notebook_write.rewrite(nb, fixed_text)
        except (notebook_write.SplitError, UnicodeError) as exc:
            result.fail(f"not fixed: {exc}")
            result.remaining = [
                joined.locate(d)
                for d in linter.lint_bytes(joined.text.encode("utf-8"), path)
            ]
            return result
        result.applied, result.applied_codes = inner.applied, inner.applied_codes
    result.remaining = [layout.locate(d) for d in inner.remaining]
    return result


def fix_guarded(
    original: bytes,
    path: str,
    linter: Linter,
    unsafe: bool,
    removers_alone: bool = False,
) -> FileFix:
    """:func:`fix_source`, with any error in it turned into a note: the file
    keeps its bytes and its findings, and the other files are still fixed."""
    try:
        return deepstack.run(fix_source, original, path, linter, unsafe, removers_alone)
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


def fix_source(
    original: bytes,
    path: str,
    linter: Linter,
    unsafe: bool,
    removers_alone: bool = False,
) -> FileFix:
    """Fix one file's bytes, re-applying until nothing changes (capped)."""
    if not gc.isenabled():
        return _fix_source(original, path, linter, unsafe, removers_alone)
    # Each pass parses the file again while the last pass's trees are still
    # alive: cyclic collections during the parses would scan them all, over
    # and over. What a file's fix leaves behind is collected after it.
    gc.disable()
    try:
        return _fix_source(original, path, linter, unsafe, removers_alone)
    finally:
        gc.enable()


def _fix_source(
    original: bytes, path: str, linter: Linter, unsafe: bool, removers_alone: bool
) -> FileFix:
    result = FileFix(path, original, original)
    enabled = frozenset(rule.code for rule in linter.rules)
    order = {rule.code: i for i, rule in enumerate(linter.rules)}
    found: list[Diagnostic] | None = None
    for _ in range(_MAX_PASSES):
        result.forget_declines()
        found = linter.lint_bytes(result.fixed, path, fixes=True)
        todo = [d for d in found if d.fix is not None and _wanted(d.fix, unsafe)]
        if not todo:
            break
        todo.sort(key=lambda d: (order[d.code], d.line, d.col))
        encoding = sources.encoding_of(result.fixed)
        ctx = _context(result.fixed, encoding, enabled, found, path, removers_alone)
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
    if result.foreign:  # asked on the final text, for the final findings
        result.foreign.clear()
        enabled_now = [d for d in remaining if d.fix and _wanted(d.fix, unsafe)]
        if enabled_now:
            encoding = sources.encoding_of(result.fixed)
            ctx = _context(result.fixed, encoding, enabled, found, path, removers_alone)
            _build(enabled_now, ctx, result)
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
    data: bytes, path: str, linter: Linter, removers_alone: bool = False
) -> list[tuple[Diagnostic, Fix | Declined | None]]:
    """Every finding of one file with its fix built (or None when its rule
    has none there), applying nothing: what ``fix`` would start from, in a
    run that migrates weight norm elsewhere with ``removers_alone``."""
    found = linter.lint_bytes(data, path, fixes=True)
    enabled = frozenset(rule.code for rule in linter.rules)
    encoding = sources.encoding_of(data)
    ctx = _context(data, encoding, enabled, found, path, removers_alone)
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
    removers_alone: bool = False,
) -> FixContext:
    findings = frozenset((d.line, d.col, d.code) for d in found)
    source = Source(data.decode(encoding))
    return FixContext(source, enabled, findings, path, removers_alone)


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
            result.decline(fix.reason)
        elif isinstance(fix, Fix) and fix.path is not None:
            result.foreign[(d.line, d.col, d.code)] = fix  # for another file
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
        rewritten = keep_final_newline(src.text, apply_fixes(src.text, [fix]))
        fixed = parsed(rewritten, encoding)
        if fixed is not None:
            return fixed, [d for d, f in alone if f is fix]
        result.note(f"{alone[0][0].code} not fixed: the rewrite did not parse")
    spans = non_colliding([(d, f) for d, f in chosen if not f.alone])
    if not spans:
        return b"", []
    fixed = parsed(apply_fixes(src.text, [f for _, f in spans]), encoding)
    if fixed is None:
        kept: list[tuple[Diagnostic, Fix]] = []
        for d, fix in spans:  # find the culprits, keep the rest
            trial = [f for _, f in kept] + [fix]
            if parsed(apply_fixes(src.text, trial), encoding) is None:
                result.note(
                    f"{d.code} not fixed on line {d.line}: the rewrite did not parse"
                )
            else:
                kept.append((d, fix))
        spans = kept
        fixed = (
            parsed(apply_fixes(src.text, [f for _, f in kept]), encoding)
            if kept
            else None
        )
    if fixed is None:
        return b"", []
    return fixed, [d for d, _ in spans]


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
        if lazy.declines:
            continue  # built only to say why it declines
        if lazy.expensive:
            count += lazy.applicability is Applicability.UNSAFE
            continue
        if ctx is None:
            ctx = _context(data, sources.encoding_of(data), enabled, remaining)
        try:
            fix = lazy.build(ctx)
        except Exception:  # reported when fixing; the hint just skips it
            continue
        if isinstance(fix, Fix) and fix.edits:
            count += 1
    return count


def _without_fix(d: Diagnostic) -> Diagnostic:
    return d.replace(fix=None)
