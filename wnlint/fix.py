"""``wnlint fix``: repair findings in place, never leaving a broken file.

Two kinds of fix share one loop (lint, fix, lint again, until nothing
changes, with a cap):

* Span fixes (WN101-WN105, WN202). Each rule locates its repair on the same
  ``ast`` analysis that found the finding and returns edits of character
  spans (:mod:`wnlint.rules._edits`), so every byte outside them (comments,
  quotes, encoding declaration, CRLF) is kept. Fixes whose spans collide
  wait for the next pass; a fix whose result does not parse (``ast`` and
  libcst both) is dropped with a note and the others still apply.
* The WN301 + WN302 migration, with libcst: the API rename and the imports
  it needs go through libcst's Add/RemoveImports visitors. Each API removes
  only its own, so a file gets both fixes or neither; a file is left
  untouched, with a note, when a legacy call in it is silenced with
  ``# noqa``, cannot be rewritten (the legacy remover passed as a value), or
  when it defines ``weight_g``/``weight_v`` of its own.

Findings silenced with ``# noqa`` are never fixed. Writes go to a temporary
file that replaces the original.
"""

from __future__ import annotations

import ast
import difflib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from wnlint import torchnames as tn
from wnlint.analysis import FileAnalysis
from wnlint.engine import Diagnostic, Linter, discover
from wnlint.rules._edits import Edit, Fix, Source
from wnlint.rules._legacy_api import legacy_sites

_LEGACY_CODES = ("WN301", "WN302")
_MAX_PASSES = 10
_RENAMED = {"weight_g": "original0", "weight_v": "original1"}


@dataclass
class FileFix:
    path: str
    original: bytes
    fixed: bytes
    applied: int = 0
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


def fixable_codes(linter: Linter, unsafe: bool) -> set[str]:
    """Enabled codes that may have a fix at this safety level."""
    return {
        rule.code
        for rule in linter.rules
        if rule.fix_safety is not None and (unsafe or rule.fix_safety != "unsafe")
    }


def fix_file(path: str, linter: Linter, unsafe: bool) -> FileFix:
    with open(path, "rb") as handle:
        return fix_source(handle.read(), path, linter, unsafe)


def fix_source(original: bytes, path: str, linter: Linter, unsafe: bool) -> FileFix:
    """Fix one file's bytes, re-applying until nothing changes (capped)."""
    result = FileFix(path, original, original)
    codes = fixable_codes(linter, unsafe)
    for _ in range(_MAX_PASSES):
        found = linter.lint_bytes(result.fixed, path)
        todo = [d for d in found if d.code in codes]
        if not todo:
            break
        fixed, count, note = _fix_legacy_api(result.fixed, path, linter, todo)
        if note and note not in result.notes:
            result.notes.append(note)
        if not count:
            fixed, count, notes = _fix_spans(result.fixed, linter, todo, unsafe)
            result.notes.extend(n for n in notes if n not in result.notes)
        if not count or fixed == result.fixed:
            break
        result.fixed = fixed
        result.applied += count
    result.remaining = linter.lint_bytes(result.fixed, path)
    if not unsafe:
        result.hidden = _count_fixable(result.fixed, linter, result.remaining)
    return result


def _fixes_for(
    data: bytes, linter: Linter, todo: list[Diagnostic]
) -> tuple[Source, list[tuple[Diagnostic, Fix]], list[str]] | None:
    """The span fixes the rules offer for ``todo`` findings, and notes on
    fixers that failed (their findings simply stay)."""
    wanted = {(d.line, d.col, d.code): d for d in todo}
    rules = [
        r for r in linter.rules if r.fix_safety and r.code in {d.code for d in todo}
    ]
    if not rules:
        return None
    try:
        tree = ast.parse(data)
        text = data.decode(_encoding(data))
    except (SyntaxError, ValueError, UnicodeError):
        return None
    src = Source(text)
    analysis = FileAnalysis(tree)
    found: list[tuple[Diagnostic, Fix]] = []
    notes: list[str] = []
    for rule in rules:
        try:
            offered = list(rule.fixes(analysis, src))
        except Exception as exc:  # a fixer bug must not end the run
            notes.append(
                f"{rule.code} not fixed: internal error "
                f"({exc.__class__.__name__}: {exc}); please report this file"
            )
            continue
        for fix in offered:
            col = src.offset(fix.line, fix.col) - src.starts[fix.line - 1]
            diagnostic = wanted.get((fix.line, col + 1, rule.code))
            if diagnostic is not None and fix.edits:
                found.append((diagnostic, fix))
    return src, found, notes


def _fix_spans(
    data: bytes, linter: Linter, todo: list[Diagnostic], unsafe: bool
) -> tuple[bytes, int, list[str]]:
    """Apply every fix whose edits do not collide with an earlier one's; the
    next pass picks up the rest. A fix whose result does not parse is
    dropped (with a note) and the others still apply."""
    offered = _fixes_for(data, linter, [d for d in todo if d.code not in _LEGACY_CODES])
    if offered is None:
        return data, 0, []
    src, found, notes = offered
    chosen: list[tuple[str, Fix]] = []
    done: set[tuple[int, int, str]] = set()
    for diagnostic, fix in found:
        key = (diagnostic.line, diagnostic.col, diagnostic.code)
        if key in done or not (unsafe or fix.safe):
            continue
        taken = [edit for _, f in chosen for edit in f.edits]
        if any(_collide(a, b) for a in fix.edits for b in taken):
            continue
        chosen.append((diagnostic.code, fix))
        done.add(key)
    if not chosen:
        return data, 0, notes
    encoding = _encoding(data)
    fixed = _parsed(_apply(src.text, [f for _, f in chosen]), encoding)
    if fixed is None:
        kept: list[Fix] = []
        for code, fix in chosen:  # find the culprits, keep the rest
            if _parsed(_apply(src.text, [*kept, fix]), encoding) is None:
                notes.append(
                    f"{code} not fixed on line {fix.line}: the rewrite did not parse"
                )
            else:
                kept.append(fix)
        chosen = [(c, f) for c, f in chosen if f in kept]
        fixed = _parsed(_apply(src.text, kept), encoding) if kept else None
    if fixed is None:
        return data, 0, notes
    return fixed, len(chosen), notes


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


def _count_fixable(data: bytes, linter: Linter, remaining: list[Diagnostic]) -> int:
    """Remaining findings that have a fix (unsafe, since safe ones are done)."""
    legacy = sum(1 for d in remaining if d.code in _LEGACY_CODES)
    others = [d for d in remaining if d.code not in _LEGACY_CODES]
    offered = _fixes_for(data, linter, others) if others else None
    spans = len({id(d) for d, _ in offered[1]}) if offered else 0
    return legacy + spans


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


# -- WN301 + WN302 -----------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    code: str
    kind: str  # "call" or "ref"
    line: int
    col: int  # characters, 0-based
    text: str  # the source of the callee or reference
    name_arg: ast.expr | None = None  # WN302's `name`


def _fix_legacy_api(
    data: bytes, path: str, linter: Linter, todo: list[Diagnostic]
) -> tuple[bytes, int, str | None]:
    """Rewrite every legacy call of the file, or none (with the reason)."""
    codes = {d.code for d in todo}
    if not codes & set(_LEGACY_CODES):
        return data, 0, None
    if not all(code in {r.code for r in linter.rules} for code in _LEGACY_CODES):
        return data, 0, "WN301/WN302 not fixed: the two fixes apply together only"
    every = [
        d
        for d in linter.lint_bytes(data, path, honor_noqa=False)
        if d.code in _LEGACY_CODES
    ]
    wanted = {(d.line, d.col, d.code) for d in todo if d.code in _LEGACY_CODES}
    if {(d.line, d.col, d.code) for d in every} != wanted:
        return data, 0, "WN301/WN302 not fixed: a legacy call is silenced with noqa"

    tree = ast.parse(data)
    analysis = FileAnalysis(tree)
    text = data.decode(_encoding(data))
    lines = io.StringIO(text, newline="").readlines()
    targets: dict[tuple[int, int, str], _Target] = {}
    for code, names in (
        ("WN301", tn.LEGACY_WEIGHT_NORM),
        ("WN302", tn.LEGACY_REMOVE_WEIGHT_NORM),
    ):
        tolerant = code == "WN302"
        for node in legacy_sites(analysis, names, tolerant_try=tolerant):
            target = _target(code, node, lines)
            if (
                code == "WN302"
                and target.kind == "call"
                and not (
                    node.args or any(k.arg == "module" for k in node.keywords)  # type: ignore[attr-defined]
                )
            ):
                return (
                    data,
                    0,
                    f"WN301/WN302 not fixed: no module on line {target.line}",
                )
            if code == "WN302" and target.kind == "ref":
                return (
                    data,
                    0,
                    (
                        "WN301/WN302 not fixed: remove_weight_norm is passed as a "
                        f"value on line {target.line}; rewrite it by hand"
                    ),
                )
            if target.kind == "call" and code == "WN301" and not _default_name(node):
                return (
                    data,
                    0,
                    (
                        "WN301/WN302 not fixed: weight norm of a parameter other than "
                        f"`weight` on line {target.line}"
                    ),
                )
            targets[(target.line, target.col, target.kind)] = target
    if any(_defines_own(node) for node in ast.walk(tree)):
        return (
            data,
            0,
            ("WN301/WN302 not fixed: the file defines weight_g/weight_v of its own"),
        )
    if len(targets) != len(wanted):
        return data, 0, "WN301/WN302 not fixed: not every finding could be located"
    # weight_g/weight_v reads move with the modules normed here; in a file that
    # also handles the new API they may belong to either, so leave it alone.
    migrating = any(t.code == "WN301" for t in targets.values())
    reads = any(
        isinstance(n, ast.Attribute) and n.attr in _RENAMED for n in ast.walk(tree)
    )
    if reads and (not migrating or b"parametrizations" in data):
        return (
            data,
            0,
            (
                "WN301/WN302 not fixed: weight_g/weight_v reads in a file that also "
                "uses the new API; rewrite them by hand"
            ),
        )

    module = cst.parse_module(data)
    context = CodemodContext()
    rewriter = _Rewriter(module, targets, context)
    new_module = MetadataWrapper(module).visit(rewriter)
    if rewriter.rewritten != len(targets):
        return data, 0, "WN301/WN302 not fixed: not every finding could be rewritten"
    new_module = AddImportsVisitor(context).transform_module(new_module)
    new_module = RemoveImportsVisitor(context).transform_module(new_module)
    fixed = new_module.bytes
    try:
        ast.parse(fixed)
        cst.parse_module(fixed)
    except (SyntaxError, cst.ParserSyntaxError) as exc:  # never write broken code
        return data, 0, f"WN301/WN302 not fixed: the rewrite did not parse ({exc})"
    return fixed, len(targets), None


def _encoding(data: bytes) -> str:
    import tokenize

    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def _target(code: str, node: ast.expr, lines: list[str]) -> _Target:
    line = node.lineno
    text = lines[line - 1]
    col = len(text.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))
    if isinstance(node, ast.Call):
        name_arg = node.args[1] if len(node.args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg == "name":
                name_arg = keyword.value
        return _Target(code, "call", line, col, ast.unparse(node.func), name_arg)
    return _Target(code, "ref", line, col, ast.unparse(node))


def _default_name(node: ast.expr) -> bool:
    """``weight_norm(m)`` or ``name="weight"``: reads of weight_g stay valid."""
    if not isinstance(node, ast.Call):
        return True
    name = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
        if keyword.arg == "name":
            name = keyword.value
    return name is None or (isinstance(name, ast.Constant) and name.value == "weight")


def _defines_own(node: ast.AST) -> bool:
    """A store to ``x.weight_g``/``weight_v``: a module of the file's own."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in _RENAMED
        and isinstance(node.ctx, ast.Store)
    )


class _Rewriter(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        module: cst.Module,
        targets: dict[tuple[int, int, str], _Target],
        context: CodemodContext,
    ) -> None:
        super().__init__()
        self.module = module
        self.targets = targets
        self.context = context
        self.rewritten = 0

    def _at(self, node: cst.CSTNode, kind: str, text: str) -> _Target | None:
        pos = self.get_metadata(PositionProvider, node).start
        target = self.targets.get((pos.line, pos.column, kind))
        if target is None or target.text != text:
            return None
        return target

    def _spell(
        self, func: cst.BaseExpression, new: str, submodule: str
    ) -> cst.BaseExpression:
        """The new API at the spot of ``func``: ``nn.utils.X`` keeps its prefix."""
        if isinstance(func, cst.Attribute):
            return cst.Attribute(
                value=cst.Attribute(value=func.value, attr=cst.Name(submodule)),
                attr=cst.Name(new),
            )
        AddImportsVisitor.add_needed_import(self.context, "torch.nn.utils", submodule)
        return cst.Attribute(value=cst.Name(submodule), attr=cst.Name(new))

    def _drop_legacy_import(self, func: cst.BaseExpression, legacy: str) -> None:
        if isinstance(func, cst.Name):
            asname = func.value if func.value != legacy else None
            RemoveImportsVisitor.remove_unused_import(
                self.context, "torch.nn.utils", legacy, asname
            )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        text = self.module.code_for_node(original.func)
        target = self._at(original, "call", text)
        if target is None:
            return updated
        self.rewritten += 1
        if target.code == "WN301":
            self._drop_legacy_import(original.func, "weight_norm")
            return updated.with_changes(
                func=self._spell(updated.func, "weight_norm", "parametrizations")
            )
        # remove_weight_norm(module, name="weight")
        #   -> parametrize.remove_parametrizations(module, name)
        self._drop_legacy_import(original.func, "remove_weight_norm")
        positional = [a for a in updated.args if a.keyword is None]
        by_name = {a.keyword.value: a for a in updated.args if a.keyword is not None}
        module_arg = positional[0] if positional else by_name["module"]
        name_arg = positional[1] if len(positional) > 1 else by_name.get("name")
        name = name_arg.value if name_arg is not None else cst.SimpleString('"weight"')
        return updated.with_changes(
            func=self._spell(updated.func, "remove_parametrizations", "parametrize"),
            args=[
                cst.Arg(
                    value=module_arg.value,
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                ),
                cst.Arg(value=name),
            ],
        )

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if self._at(original, "ref", original.value) is None:
            return updated
        self.rewritten += 1
        self._drop_legacy_import(original, "weight_norm")
        return self._spell(updated, "weight_norm", "parametrizations")

    def leave_Attribute(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        if original.attr.value in _RENAMED:
            # m.weight_g -> m.parametrizations.weight.original0
            return updated.with_changes(
                value=cst.Attribute(
                    value=cst.Attribute(
                        value=updated.value, attr=cst.Name("parametrizations")
                    ),
                    attr=cst.Name("weight"),
                ),
                attr=cst.Name(_RENAMED[original.attr.value]),
            )
        if self._at(original, "ref", self.module.code_for_node(original)) is None:
            return updated
        self.rewritten += 1
        return self._spell(updated, "weight_norm", "parametrizations")
