"""The WN301 + WN302 migration to ``torch.nn.utils.parametrizations``.

Each API removes only its own, so a file gets both rewrites or neither: the
migration is one whole-file fix, shared by every WN301 and WN302 finding of
the file and applied alone. It runs on libcst (imported only when a fix is
built, never by ``check``): the API rename, the imports it needs through
libcst's Add/RemoveImports visitors, and ``weight_g``/``weight_v`` reads
renamed to ``parametrizations.weight.original0``/``original1``. A file is
declined, with the reason, when a legacy call in it is silenced with
``# noqa``, cannot be rewritten (the legacy remover passed as a value, a
tensor other than ``weight``), or when it defines ``weight_g``/``weight_v``
of its own.

The rewrite costs time in proportion to what it changes, not to the file
(see :func:`_by_statement`): sites written plainly are edited as text, the
way libcst renders them; libcst parses only the statements that hold the
others, and its import visitors see only the top-level statements that can
change or decide the imports. Parsing and visiting a whole module with
libcst costs far more per line than reading it with ``ast``, and the import
visitors run scope analysis over everything they are given, so a
whole-file pass made big files take minutes and gigabytes. The result is
the text the whole-file pass gives (:func:`_rewrite_whole`, still used
where a file has something the statement-wise pass does not model).
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import gc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.syntax import all_nodes, call_arg, char_col, string_value
from wnlint.rules._legacy_api import legacy_sites
from wnlint.rules._migration_hazards import file_hazard
from wnlint.rules.fixes import (
    Applicability,
    Declined,
    Fix,
    FixContext,
    PlainLines,
    Source,
)

CODES = ("WN301", "WN302")
_TOGETHER = "WN301/WN302 not fixed: the two fixes apply together only"
_NOT_EVERY = "WN301/WN302 not fixed: not every finding could be rewritten"


@dataclass(frozen=True)
class _Target:
    code: str
    kind: str  # "call" or "ref"
    line: int
    col: int  # characters, 0-based
    text: str  # the source of the callee or reference


def migrate(ctx: FixContext) -> Fix | Declined:
    """The whole-file migration, built once per file and pass."""
    key = "legacy-migration"
    if key not in ctx.memo:
        with _gc_paused():
            ctx.memo[key] = _on_plain_lines(ctx)
    return ctx.memo[key]  # type: ignore[return-value]


def _on_plain_lines(ctx: FixContext) -> Fix | Declined:
    """:func:`_migrate`, on the file with ``\\n`` line ends and no form
    feeds in front of its lines where it has either: libcst loses a line
    at a lone ``\\r`` and rejects a form feed in indentation (Python takes
    both). The rewrite is mapped back: lines it leaves keep their bytes,
    new lines take the line end of the line before them."""
    plain = PlainLines.of(ctx.source.text)
    if plain is None:
        return _migrate(ctx)
    findings = frozenset(
        (line, col - plain.shift(line), code) for line, col, code in ctx.findings
    )
    inner = FixContext(Source(plain.text), ctx.enabled, findings, ctx.path)
    fix = _migrate(inner)
    if isinstance(fix, Declined):
        return fix
    (edit,) = fix.edits
    rewritten = ctx.source.whole(plain.restore(edit.new))
    return Fix(fix.applicability, (rewritten,), alone=True)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the migration is built.

    Parsing the file again allocates a node or more per token, and each of
    the collections that this triggers scans every object alive: the fix
    loop still holds the previous pass's trees and findings, so in a big
    file the collector cost more than the parse itself (half the build on a
    50,000-line file). What the build leaves behind is reclaimed when
    collection resumes.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _migrate(ctx: FixContext) -> Fix | Declined:
    src = ctx.source
    tree = ast.parse(src.text)  # the whole file: every weight_g read moves too
    analysis = FileAnalysis(tree, ctx.path)
    sites = _sites(analysis, src)
    # The migration rewrites the whole file: it applies when every legacy
    # site in it is one this run may fix (`--select WN301` migrates a file
    # without removers; a file with a remover waits for WN302 too).
    if any(target.code not in ctx.enabled for target, _ in sites):
        return Declined(_TOGETHER)
    wanted = {f for f in ctx.findings if f[2] in CODES}
    if {(t.line, t.col + 1, t.code) for t, _ in sites} != wanted:
        return Declined("WN301/WN302 not fixed: a legacy call is silenced with noqa")
    targets: dict[tuple[int, int, str], _Target] = {}
    for target, node in sites:
        reason = _refusal(target, node)
        if reason:
            return Declined(f"WN301/WN302 not fixed: {reason}")
        targets[(target.line, target.col, target.kind)] = target
    reads, dotted = _legacy_names(tree, src.text)
    reason = _unsafe_file(reads, targets, src.text) or file_hazard(analysis)
    if reason:
        return Declined(f"WN301/WN302 not fixed: {reason}")
    aliases = _free_names(tree)
    rewritten = (
        None if dotted else _by_statement(src, tree, targets, sites, reads, aliases)
    )
    if rewritten is None:
        return _rewrite_whole(src, targets, aliases)
    return Fix(Applicability.UNSAFE, (src.whole(rewritten),), alone=True)


def _sites(analysis: FileAnalysis, src: Source) -> list[tuple[_Target, ast.expr]]:
    """Every legacy call and value use of the file, where the findings are."""
    return [
        (_target(code, node, src), node)
        for code, names in (
            ("WN301", tn.LEGACY_WEIGHT_NORM),
            ("WN302", tn.LEGACY_REMOVE_WEIGHT_NORM),
        )
        for node in legacy_sites(analysis, names, tolerant_try=code == "WN302")
    ]


def _refusal(target: _Target, node: ast.expr) -> str | None:
    """Why this one site cannot be rewritten (the file is then left whole)."""
    code = target.code
    if code == "WN302" and target.kind == "ref":
        return (
            f"remove_weight_norm is passed as a value on line {target.line}; "
            "rewrite it by hand"
        )
    if target.kind != "call":
        return None
    call: ast.Call = node  # type: ignore[assignment]
    if code == "WN302" and call_arg(call, 0, "module") is None:
        return f"no module on line {target.line}"
    if code == "WN301" and not _default_name(call):
        return f"weight norm of a parameter other than `weight` on line {target.line}"
    return None


def _legacy_names(tree: ast.Module, text: str) -> tuple[list[ast.Attribute], bool]:
    """Every ``x.weight_g``/``x.weight_v`` of the file (the rewrite renames
    them all, wherever they are), and whether an import names a
    ``weight_g``/``weight_v`` module: libcst sees an attribute there too,
    ``ast`` only a string. One walk, and none for the files that cannot
    spell either (identifiers are NFKC-normalized, hence the ASCII test)."""
    renamed = tn.LEGACY_TO_PARAMETRIZED
    if text.isascii() and not any(name in text for name in renamed):
        return [], False
    reads: list[ast.Attribute] = []
    dotted = False
    for node in all_nodes(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in renamed:
                reads.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            dotted = dotted or any(
                part in renamed for name in names for part in name.split(".")
            )
    return reads, dotted


def _unsafe_file(
    attributes: list[ast.Attribute],
    targets: dict[tuple[int, int, str], _Target],
    text: str,
) -> str | None:
    """Why the file as a whole cannot be migrated safely."""
    if any(isinstance(n.ctx, ast.Store) for n in attributes):
        return "the file defines weight_g/weight_v of its own"
    # weight_g/weight_v reads move with the modules normed here; in a file that
    # also handles the new API they may belong to either, so leave it alone.
    migrating = any(t.code == "WN301" for t in targets.values())
    reads = bool(attributes)
    if reads and (not migrating or tn.NEW_API_ATTRIBUTE in text):
        return (
            "weight_g/weight_v reads in a file that also uses the new API; "
            "rewrite them by hand"
        )
    return None


def _rewrite_whole(
    src: Source,
    targets: dict[tuple[int, int, str], _Target],
    aliases: dict[str, str] | None = None,
) -> Fix | Declined:
    """The migration as one libcst pass over the whole module: the reference
    the statement-wise rewrite must equal, and its fallback."""
    module = cst.parse_module(src.text)
    context = _new_context(aliases)
    rewriter = _Rewriter(module, targets, context)
    new_module = MetadataWrapper(module).visit(rewriter)
    if rewriter.rewritten != len(targets):
        return Declined(_NOT_EVERY)
    new_module = AddImportsVisitor(context).transform_module(new_module)
    new_module = RemoveImportsVisitor(context).transform_module(new_module)
    return Fix(Applicability.UNSAFE, (src.whole(new_module.code),), alone=True)


# -- the statement-wise rewrite ------------------------------------------------
#
# libcst turns every token, space and comment of what it parses into Python
# objects, and the import visitors copy the tree and run scope analysis over
# it: far more work per line than ``ast``'s. The rewriter's edits are local
# to each site (a legacy call or value use, a ``weight_g`` read), so:
#
# * each site belongs to a unit: its innermost simple statement, or its
#   top-level statement when it sits in a compound statement's header (a
#   decorator, a default, an ``if`` test);
# * a unit whose sites are all written plainly (no parentheses, comments or
#   odd spacing in what the rewriter rebuilds) gets text edits that spell
#   what libcst would print (:func:`_plain_edits`); the other units are
#   parsed and rewritten by libcst together, as the statements of one small
#   module (:func:`_rewrite_units`);
# * the import visitors get the top-level statements that can change the
#   imports or decide them: the file's opening (docstring, import block and
#   the statement that follows, where libcst adds imports), every statement
#   that still names a legacy function once the sites are rewritten (so
#   scope analysis finds the same uses), and the statement before any import
#   line that could be removed (so that line owns the same comments as in
#   the whole file). Runs of them are joined with marker lines, rewritten
#   together and cut apart again at the markers (:func:`_with_imports`).

#: Prefix of the marker lines between the parts of the file handed to the
#: import visitors; a file that already holds it goes the whole-file way.
_CHUNK_MARK = "__wnlint_chunk_"
#: Python's line breaks, as ``ast`` and libcst count lines.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    *((ast.Match,) if hasattr(ast, "Match") else ()),
    *((ast.TryStar,) if hasattr(ast, "TryStar") else ()),
)

#: (start, end) character offsets of a statement rewritten on its own, and
#: where it starts: (line, character column).
_Unit = tuple[int, int, int, int]
#: A site to rewrite: a legacy call or value use with its finding's target,
#: or a ``weight_g``/``weight_v`` read (no target).
_Site = tuple["_Target | None", ast.expr]
#: An edit of the file's text: (start, end, new text).
_Piece = tuple[int, int, str]


def _by_statement(
    src: Source,
    tree: ast.Module,
    targets: dict[tuple[int, int, str], _Target],
    sites: list[tuple[_Target, ast.expr]],
    reads: list[ast.Attribute],
    aliases: dict[str, str] | None = None,
) -> str | None:
    """The migrated text, libcst seeing only the statements involved; None
    where the file needs :func:`_rewrite_whole`: something this pass does
    not model, a statement libcst cannot parse, or a target the rewriter
    would not find (the whole-file pass then declines, with its note)."""
    if _CHUNK_MARK in src.text:
        return None
    top = _TopLevel(tree, src)
    work: dict[_Unit, list[_Site]] = {}
    for target, node in [*sites, *((None, n) for n in reads)]:
        unit = top.unit(node)
        if unit is None:
            return None
        work.setdefault(unit, []).append((target, node))
    context = _new_context(aliases)
    pieces: list[_Piece] = []
    rewritten = 0
    hard: dict[_Unit, list[_Target]] = {}
    for unit, found in _outermost(work).items():
        edits = _plain_unit(found, src, context)
        if edits is None:
            hard[unit] = [t for t, _ in found if t is not None]
        else:
            pieces += edits
            rewritten += len({(t.line, t.col, t.kind) for t, _ in found if t})
    if hard:
        done = _rewrite_units(src.text, hard, context)
        if done is None:
            return None  # libcst cannot parse them: the whole-file pass decides
        pieces += done[0]
        rewritten += done[1]
    if rewritten != len(targets):
        return None  # a target libcst does not see where ``ast`` does
    pieces.sort()
    if any(a[1] > b[0] or a[0] == b[0] for a, b in zip(pieces, pieces[1:])):
        return None  # edits that meet at a start: which goes first is libcst's
    removed = context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY, [])
    if not removed and not context.scratch.get(AddImportsVisitor.CONTEXT_KEY):
        return _splice(src.text, pieces)
    names = {asname or obj for _, obj, asname in removed}
    skip = {id(_rewritten_name(node)) for _, node in sites}
    return _with_imports(src, top, pieces, context, names, skip)


def _plain_unit(
    found: list[_Site], src: Source, context: CodemodContext
) -> list[_Piece] | None:
    """The edits of a unit whose every site has a plain shape (see
    :func:`_plain_edits`), with the import changes they ask for recorded as
    the rewriter records them; None when one site needs libcst."""
    edits: list[_Piece] = []
    for target, node in found:
        plain = _plain_edits(target, node, src, _aliases(context))
        if plain is None:
            return None
        edits += plain
    for target, node in found:
        if target is None:
            continue
        name = _rewritten_name(node)
        if isinstance(name, ast.Name):
            legacy, _, submodule = _NEW_SPELLING[target.code]
            asname = name.id if name.id != legacy else None
            RemoveImportsVisitor.remove_unused_import(context, tn.UTILS, legacy, asname)
            _add_import(context, submodule)
    return edits


#: Per code: the legacy function, its new name, and the submodule of
#: ``torch.nn.utils`` that holds it.
_NEW_SPELLING = {
    "WN301": ("weight_norm", "weight_norm", "parametrizations"),
    "WN302": ("remove_weight_norm", "remove_parametrizations", "parametrize"),
}


def _plain_edits(
    target: _Target | None,
    node: ast.expr,
    src: Source,
    aliases: dict[str, str],
) -> list[_Piece] | None:
    """What :class:`_Rewriter` does to ``node``, as edits of the text, for
    the shapes where libcst's rendering of what it rebuilds is the source
    itself: no parentheses, spaces, comments or line breaks inside the
    parts it replaces. None for the others, which libcst rewrites.

    The rewriter drops a callee's or a reference's own parentheses and
    rebuilds a remover's arguments, so those must be plain; everything it
    keeps (arguments, the attribute's value) is left as written, and the
    sites inside it are edited on their own."""
    if target is None:
        return _read_edits(node, src)  # type: ignore[arg-type]
    if isinstance(node, ast.Call):
        func = node.func
        if (node.lineno, node.col_offset) != (func.lineno, func.col_offset):
            return None  # the callee is in parentheses
        if src.segment(func) != target.text:
            return None  # its source is what the rewriter compares
        spelled = _spelled(func, src, target.code, aliases)
        if spelled is None or target.code == "WN301":
            return spelled
        return _remover_edits(node, src, spelled)
    if src.segment(node) != target.text or _after_paren(node, src):
        return None
    return _spelled(node, src, target.code, aliases)


def _spelled(
    node: ast.expr, src: Source, code: str, aliases: dict[str, str]
) -> list[_Piece] | None:
    """``weight_norm`` -> ``parametrizations.weight_norm`` (and the
    remover's new name), keeping an ``nn.utils.`` prefix as written."""
    _, new, submodule = _NEW_SPELLING[code]
    if isinstance(node, ast.Name):
        name = aliases.get(submodule, submodule)
        return [(src.start(node), src.end(node), f"{name}.{new}")]
    if not isinstance(node, ast.Attribute):
        return None
    at = src.end(node.value)
    end = src.end(node)
    if src.text[at:end] != "." + node.attr:
        return None  # spaces, a comment or a parenthesized value
    return [(at, end, f".{submodule}.{new}")]


def _remover_edits(
    call: ast.Call, src: Source, spelled: list[_Piece]
) -> list[_Piece] | None:
    """``remove_weight_norm(m)`` -> ``...remove_parametrizations(m,
    "weight")``; ``(m, name)`` keeps its arguments. The rewriter rebuilds
    the argument list, so it must be written plainly: ``(a)`` or ``(a, b)``
    without keywords, stars, parentheses, comments or other spacing."""
    args = call.args
    if call.keywords or not 1 <= len(args) <= 2:
        return None
    if any(isinstance(a, ast.Starred) for a in args):
        return None
    written = ", ".join(src.segment(a) for a in args)
    if src.segment(call) != f"{src.segment(call.func)}({written})":
        return None
    if len(args) == 2:
        return spelled
    end = src.end(call)
    return [*spelled, (src.end(args[0]), end, ', "weight")')]


def _read_edits(node: ast.Attribute, src: Source) -> list[_Piece] | None:
    """``m.weight_g`` -> ``m.parametrizations.weight.original0``: the new
    attributes go right after the value (whose own parentheses the rewriter
    keeps inside it) and the name is replaced; spacing around the dot stays
    with the dot, as in libcst."""
    at = src.end(node.value)
    end = src.end(node)
    name_at = end - len(node.attr)
    if src.text[name_at:end] != node.attr:
        return None  # a name spelled otherwise (NFKC) or in parentheses
    if src.text[at:name_at].strip(" \t") != ".":
        return None  # the value's closing parenthesis, a comment, a break
    new = tn.LEGACY_TO_PARAMETRIZED[node.attr]
    return [(at, at, ".parametrizations.weight"), (name_at, end, new)]


def _after_paren(node: ast.expr, src: Source) -> bool:
    """``node`` may be in parentheses of its own (which the rewriter drops):
    the text before it on its line is blank or ends with ``(``."""
    line_start = src.starts[node.lineno - 1]
    before = src.text[line_start : src.start(node)].rstrip(" \t")
    return not before or before.endswith("(")


def _rewrite_units(
    text: str, units: dict[_Unit, list[_Target]], context: CodemodContext
) -> tuple[list[_Piece], int] | None:
    """Each unit's rewritten text, and how many targets were rewritten.

    The units become the top-level statements of one module, each starting
    a line (at column 0) and ending one, so that libcst parses and visits
    them once: per-unit runs would pay libcst's fixed costs thousands of
    times in a big file. None when libcst cannot parse them (the whole-file
    pass gives the verdict and its note).
    """
    parts: list[str] = []
    local: dict[tuple[int, int, str], _Target] = {}
    line = 1
    for (start, end, line0, col0), found in units.items():
        chunk = text[start:end]
        for t in found:
            col = t.col - col0 if t.line == line0 else t.col
            local[(t.line - line0 + line, col, t.kind)] = t
        parts.append(chunk)
        line += len(_LINE_BREAK.findall(chunk)) + 1
    try:
        module = cst.parse_module("\n".join(parts) + "\n")
    except (cst.ParserSyntaxError, RecursionError):
        return None
    rewriter = _Rewriter(module, local, context)
    # Parsed here and used once: the wrapper need not copy it.
    new = MetadataWrapper(module, unsafe_skip_copy=True).visit(rewriter)
    if len(new.body) != len(parts):
        return None
    pieces = []
    for (start, end, _, _), stmt in zip(units, new.body):
        code = new.code_for_node(stmt)
        if not code.endswith("\n"):
            return None
        pieces.append((start, end, code[:-1]))
    return pieces, rewriter.rewritten


def _rewritten_name(node: ast.expr) -> ast.expr:
    """The name node a site's rewrite replaces (a call's callee, or the
    reference itself): it no longer uses the legacy import afterwards."""
    return node.func if isinstance(node, ast.Call) else node


def _outermost(work: dict[_Unit, list[_Site]]) -> dict[_Unit, list[_Site]]:
    """Units without those inside another one (a simple statement inside a
    top-level statement rewritten whole), whose sites move outwards."""
    kept: dict[_Unit, list[_Site]] = {}
    last: _Unit | None = None
    for unit in sorted(work, key=lambda u: (u[0], -u[1])):
        if last is not None and unit[1] <= last[1]:
            kept[last].extend(work[unit])
            continue
        kept[unit] = list(work[unit])
        last = unit
    return kept


def _splice(text: str, pieces: list[tuple[int, int, str]]) -> str:
    """``text`` with each sorted, disjoint ``(start, end, new)`` replaced,
    in one join (slicing per piece would copy the file once per piece)."""
    out: list[str] = []
    at = 0
    for start, end, new in pieces:
        out.append(text[at:start])
        out.append(new)
        at = end
    out.append(text[at:])
    return "".join(out)


class _TopLevel:
    """The module's top-level statements, their lines, and the regions that
    partition the file between them (whole lines: a region runs from the
    line after the previous statement to its own last line, so the comments
    and blank lines above a statement go with it)."""

    def __init__(self, tree: ast.Module, src: Source) -> None:
        self.src = src
        self.stmts = tree.body
        self.first = [_first_line(s) for s in self.stmts]
        #: Per region: the index of its first statement, its last one's,
        #: and its character offsets (a region holds statements that share
        #: a line, like ``import a; import b``).
        self.regions: list[tuple[int, int, int, int]] = []
        line_count = len(src.lines)
        first_index = 0
        for i, stmt in enumerate(self.stmts):
            last_line: int = stmt.end_lineno  # type: ignore[assignment]
            if i + 1 < len(self.stmts) and self.first[i + 1] <= last_line:
                continue  # the next statement starts on this one's line
            start = self.regions[-1][3] if self.regions else 0
            end = src.starts[min(last_line, line_count)]
            self.regions.append((first_index, i, start, end))
            first_index = i + 1
        if self.regions:  # the last region keeps the end of the file
            a, b, start, _ = self.regions[-1]
            self.regions[-1] = (a, b, start, len(src.text))
        self._linenos: dict[int, list[int]] = {}

    def unit(self, node: ast.expr) -> _Unit | None:
        """Where ``node`` is rewritten: its innermost simple statement, or
        its top-level statement when it sits in a compound statement's
        header. None when no statement holds it (a position ``ast`` and the
        text disagree on)."""
        i = _holder(self.stmts, self.first, node, top=True)
        if i is None:
            return None
        stmt = self.stmts[i]
        inner = self._innermost(stmt, node)
        src = self.src
        if inner is None:
            start = src.starts[self.first[i] - 1]
            return (start, src.end(stmt), self.first[i], 0)
        start = src.start(inner)
        col = start - src.starts[inner.lineno - 1]
        return (start, src.end(inner), inner.lineno, col)

    def _innermost(self, stmt: ast.stmt, node: ast.expr) -> ast.stmt | None:
        while isinstance(stmt, _COMPOUND):
            for block in _blocks(stmt):
                inner = self._find(block, node)
                if inner is not None:
                    stmt = inner
                    break
            else:
                return None  # in the header
        return stmt

    def _find(self, block: list[ast.stmt], node: ast.expr) -> ast.stmt | None:
        linenos = self._linenos.get(id(block))
        if linenos is None:
            linenos = self._linenos[id(block)] = [s.lineno for s in block]
        i = _holder(block, linenos, node, top=False)
        return None if i is None else block[i]

    def import_line(self, region: int) -> bool:
        """A region that is one import statement alone on its lines: what
        libcst's import block is made of."""
        a, b, _, _ = self.regions[region]
        return a == b and isinstance(self.stmts[a], (ast.Import, ast.ImportFrom))


def _holder(
    stmts: list[ast.stmt], lines: list[int], node: ast.expr, top: bool
) -> int | None:
    """The index of the statement of ``stmts`` (starting on ``lines``) that
    spans ``node``: the last one starting on or before its line, or one
    beside it on that line (``a; b``)."""
    i = bisect.bisect_right(lines, node.lineno) - 1
    while i >= 0:
        if _holds(stmts[i], node, top):
            return i
        if i == 0 or lines[i - 1] != lines[i]:
            return None
        i -= 1
    return None


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _holds(stmt: ast.stmt, node: ast.expr, top: bool) -> bool:
    """``stmt`` spans ``node`` (a top-level one with its decorators)."""
    if top and getattr(stmt, "decorator_list", None):
        start = (_first_line(stmt), 0)
    else:
        start = (stmt.lineno, stmt.col_offset)
    end = (stmt.end_lineno, stmt.end_col_offset)
    return (
        start <= (node.lineno, node.col_offset)
        and (node.end_lineno, node.end_col_offset) <= end
    )


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists a compound statement holds, in source order."""
    blocks = [getattr(stmt, name, None) or [] for name in ("body",)]
    for handler in getattr(stmt, "handlers", None) or []:
        blocks.append(handler.body)
    for case in getattr(stmt, "cases", None) or []:
        blocks.append(case.body)
    blocks += [getattr(stmt, name, None) or [] for name in ("orelse", "finalbody")]
    return [b for b in blocks if b]


def _with_imports(
    src: Source,
    top: _TopLevel,
    pieces: list[tuple[int, int, str]],
    context: CodemodContext,
    names: set[str],
    skip: set[int],
) -> str | None:
    """The rewritten text with libcst's import changes, the import visitors
    run over only the top-level statements that can change or decide them
    (see the comment above :func:`_by_statement`)."""
    regions = top.regions
    text = _splice(src.text, pieces)
    # Region boundaries in the rewritten text: no piece crosses one.
    bounds: list[int] = []
    shift = 0
    k = 0
    for _, _, start, _ in regions:
        while k < len(pieces) and pieces[k][1] <= start:
            shift += len(pieces[k][2]) - (pieces[k][1] - pieces[k][0])
            k += 1
        bounds.append(start + shift)
    bounds.append(len(text))
    runs = _import_chunks(top, names, skip)
    newline = src.newline
    parts: list[str] = []
    for j, (a, b) in enumerate(runs):
        if j:
            parts.append(f"{_CHUNK_MARK}{j}__ = 0{newline}")
        parts.append(text[bounds[a] : bounds[b + 1]])
    try:
        module = cst.parse_module("".join(parts))
    except (cst.ParserSyntaxError, RecursionError):
        return None
    module = AddImportsVisitor(context).transform_module(module)
    rest = RemoveImportsVisitor(context).transform_module(module).code
    chunks: list[str] = []
    for j in range(1, len(runs)):
        head, mark, rest = rest.partition(f"{_CHUNK_MARK}{j}__ = 0{newline}")
        if not mark:
            return None
        chunks.append(head)
    chunks.append(rest)
    out: list[str] = []
    at = 0
    for (a, b), chunk in zip(runs, chunks):
        out.append(text[at : bounds[a]])
        out.append(chunk)
        at = bounds[b + 1]
    out.append(text[at:])
    return "".join(out)


def _import_chunks(
    top: _TopLevel, names: set[str], skip: set[int]
) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of consecutive regions the import visitors must
    see: the opening through the first statement after the import block
    (where imports are added), every region that names a legacy function
    the rewrite leaves (its uses keep the import), and the region before an
    import statement that opens an included region (that statement may be
    removed, with the comments above it that it owns)."""
    regions = top.regions
    opening = len(regions) - 1
    for r in range(1, len(regions)):
        if not top.import_line(r):
            opening = r
            break
    keep = set(range(opening + 1))
    spelled = re.compile(
        r"(?<![\w.])(?:{})(?!\w)".format("|".join(map(re.escape, sorted(names))))
    )
    for r in range(opening + 1, len(regions)):
        a, b, _, _ = regions[r]
        if _names_any(top.stmts[a : b + 1], names, skip, spelled):
            keep.add(r)
    for r in range(len(regions) - 1, 0, -1):
        if r in keep and isinstance(
            top.stmts[regions[r][0]], (ast.Import, ast.ImportFrom)
        ):
            keep.add(r - 1)
    runs: list[tuple[int, int]] = []
    for r in sorted(keep):
        if runs and runs[-1][1] == r - 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


def _names_any(
    stmts: list[ast.stmt], names: set[str], skip: set[int], spelled: re.Pattern[str]
) -> bool:
    """``stmts`` use, bind or spell out one of ``names`` in a way that can
    keep its import (see :func:`_keeps_import`)."""
    return any(
        _keeps_import(node, names, skip, spelled)
        for stmt in stmts
        for node in all_nodes(stmt)
    )


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _keeps_import(
    node: ast.AST, names: set[str], skip: set[int], spelled: re.Pattern[str]
) -> bool:
    """What makes libcst's RemoveImportsVisitor keep an import of one of
    ``names``, or might: a name (other than the rewritten callees in
    ``skip``), an import, a ``global``, an ``except``/``match`` capture, or
    a string that spells it as a name (``__all__``, a string annotation;
    after a dot it would be an attribute there, which does not count). The
    names of ``def`` and ``class`` do not: they bind in a scope of their
    own or, at the top, beside the import, and neither is a use of it."""
    if isinstance(node, ast.Name):
        return node.id in names and id(node) not in skip
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and spelled.search(node.value) is not None
    if isinstance(node, ast.alias):
        return bool({node.name, node.name.split(".")[0], node.asname} & names)
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return not names.isdisjoint(node.names)
    if isinstance(node, _DEFINITIONS):
        return False
    for field in ("name", "rest"):
        value = getattr(node, field, None)
        if isinstance(value, str) and value in names:
            return True
    return False


def _target(code: str, node: ast.expr, src: Source) -> _Target:
    line = node.lineno
    col = char_col(src.line_text(line), node.col_offset)
    if isinstance(node, ast.Call):
        return _Target(code, "call", line, col, ast.unparse(node.func))
    return _Target(code, "ref", line, col, ast.unparse(node))


def _default_name(call: ast.Call) -> bool:
    """``weight_norm(m)`` or ``name="weight"``: reads of weight_g stay valid."""
    name = call_arg(call, 1, "name")
    return name is None or string_value(name) == tn.DEFAULT_WEIGHT_NAME


_ALIASES = "wnlint.aliases"


def _new_context(aliases: dict[str, str] | None) -> CodemodContext:
    """A codemod context that carries the names the inserted imports use."""
    context = CodemodContext()
    context.scratch[_ALIASES] = dict(aliases or {})
    return context


def _aliases(context: CodemodContext) -> dict[str, str]:
    return context.scratch.get(_ALIASES, {})


def _add_import(context: CodemodContext, submodule: str) -> str:
    """Ask for ``from torch.nn.utils import <submodule>`` (under its alias
    where the name is taken); the name the rewritten code uses."""
    alias = _aliases(context).get(submodule)
    # The visitor merges repeated plain requests, not aliased ones.
    asked = context.scratch.get(AddImportsVisitor.CONTEXT_KEY, [])
    if alias is None or all(
        (request.module_name, request.obj_name, request.alias)
        != (tn.UTILS, submodule, alias)
        for request in asked
    ):
        AddImportsVisitor.add_needed_import(context, tn.UTILS, submodule, alias)
    return alias or submodule


def _free_names(tree: ast.Module) -> dict[str, str]:
    """An alias for each submodule the migration imports whose plain name
    (``parametrizations``, ``parametrize``) the file binds or reads as
    anything but that submodule: a parameter, a local, a function, a read
    of a name the file does not import from ``torch.nn.utils``. Without it
    the rewritten ``parametrizations.weight_norm(...)`` would call an
    attribute of the user's value."""
    wanted = {"parametrizations", "parametrize"}
    taken: set[str] = set()
    clash: set[str] = set()
    right: set[str] = set()  # bound by an import of the submodule itself
    reads: set[str] = set()
    for node in all_nodes(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            reads.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for imported in node.names:
                bound = imported.asname or imported.name.split(".")[0]
                taken.add(bound)
                if bound in wanted:
                    ok = _imports_submodule(node, imported, bound)
                    (right if ok else clash).add(bound)
        else:
            names = _bound_names(node)
            taken.update(names)
            clash.update(wanted.intersection(names))
    # A read is the submodule where the file imports it so, else the
    # file's own value (a star import, a builtin of the user's).
    taken |= reads
    clash.update(wanted.intersection(reads) - right)
    out = {}
    for submodule in sorted(clash):
        alias = f"torch_{submodule}"
        n = 2
        while alias in taken:
            alias = f"torch_{submodule}_{n}"
            n += 1
        taken.add(alias)
        out[submodule] = alias
    return out


#: ``match`` patterns (Python 3.10+; nothing matches before).
_PATTERN: Any = getattr(ast, "pattern", ())


def _bound_names(node: ast.AST) -> list[str]:
    """The names a node other than an import binds (a stored ``Name``, a
    parameter, a definition, ``global``, ``except ... as``, a pattern)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return list(node.names)
    if isinstance(node, ast.ExceptHandler):
        return [node.name] if node.name else []
    if isinstance(node, _PATTERN):
        return [
            value
            for field in ("name", "rest")
            if isinstance(value := getattr(node, field, None), str)
        ]
    return []


def _imports_submodule(
    node: ast.Import | ast.ImportFrom, alias: ast.alias, bound: str
) -> bool:
    """The import binds ``bound`` to ``torch.nn.utils.<bound>`` itself."""
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and node.module == tn.UTILS and alias.name == bound
    return alias.asname == bound and alias.name == f"{tn.UTILS}.{bound}"


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

    def _at(
        self, node: cst.CSTNode, kind: str, text: str | Callable[[], str]
    ) -> _Target | None:
        """The target recorded at ``node``'s position, if its source text is
        ``text`` (a callable is asked only there: rendering every attribute
        of a long ``a.b.c...`` chain would cost its length squared)."""
        pos = self.get_metadata(PositionProvider, node).start
        target = self.targets.get((pos.line, pos.column, kind))
        if target is None or target.text != (text() if callable(text) else text):
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
        name = _add_import(self.context, submodule)
        return cst.Attribute(value=cst.Name(name), attr=cst.Name(new))

    def _drop_legacy_import(self, func: cst.BaseExpression, legacy: str) -> None:
        if isinstance(func, cst.Name):
            asname = func.value if func.value != legacy else None
            RemoveImportsVisitor.remove_unused_import(
                self.context, tn.UTILS, legacy, asname
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
        if original.attr.value in tn.LEGACY_TO_PARAMETRIZED:
            # m.weight_g -> m.parametrizations.weight.original0
            return updated.with_changes(
                value=cst.Attribute(
                    value=cst.Attribute(
                        value=updated.value, attr=cst.Name("parametrizations")
                    ),
                    attr=cst.Name("weight"),
                ),
                attr=cst.Name(tn.LEGACY_TO_PARAMETRIZED[original.attr.value]),
            )
        code = self.module.code_for_node
        if self._at(original, "ref", lambda: code(original)) is None:
            return updated
        self.rewritten += 1
        return self._spell(updated, "weight_norm", "parametrizations")
