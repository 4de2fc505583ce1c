"""The statement-wise migration: libcst sees only the statements that hold
legacy sites, and the import visitors only the top-level statements that
can change or decide the imports, so the rewrite costs time in proportion
to what it changes, not to the file. Its result is the text the whole-file
pass of :mod:`wnlint.rules._legacy_migration` gives.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper

from wnlint.facts import torchnames as tn
from wnlint.rules._legacy_imports import (
    CHUNK_MARK,
    TopLevel,
    Unit,
    splice,
    with_imports,
)
from wnlint.rules._legacy_rewriter import (
    Rewriter,
    Target,
    add_import,
    aliases,
    new_context,
)
from wnlint.rules.fixes import Source

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
#   together and cut apart again at the markers (:func:`with_imports`).


#: Python's line breaks, as ``ast`` and libcst count lines.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


#: A site to rewrite: a legacy call or value use with its finding's target,
#: or a ``weight_g``/``weight_v`` read (no target).
_Site = tuple["Target | None", ast.expr]


#: An edit of the file's text: (start, end, new text).
_Piece = tuple[int, int, str]


def by_statement(
    src: Source,
    tree: ast.Module,
    targets: dict[tuple[int, int, str], Target],
    sites: list[tuple[Target, ast.expr]],
    reads: list[ast.Attribute],
    aliases: dict[str, str] | None = None,
) -> str | None:
    """The migrated text, libcst seeing only the statements involved; None
    where the file needs :func:`_rewrite_whole`: something this pass does
    not model, a statement libcst cannot parse, or a target the rewriter
    would not find (the whole-file pass then declines, with its note)."""
    if CHUNK_MARK in src.text:
        return None
    top = TopLevel(tree, src)
    work: dict[Unit, list[_Site]] = {}
    for target, node in [*sites, *((None, n) for n in reads)]:
        unit = top.unit(node)
        if unit is None:
            return None
        work.setdefault(unit, []).append((target, node))
    context = new_context(aliases)
    pieces: list[_Piece] = []
    rewritten = 0
    hard: dict[Unit, list[Target]] = {}
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
        return splice(src.text, pieces)
    names = {asname or obj for _, obj, asname in removed}
    skip = {id(_rewritten_name(node)) for _, node in sites}
    return with_imports(src, top, pieces, context, names, skip)


def _plain_unit(
    found: list[_Site], src: Source, context: CodemodContext
) -> list[_Piece] | None:
    """The edits of a unit whose every site has a plain shape (see
    :func:`_plain_edits`), with the import changes they ask for recorded as
    the rewriter records them; None when one site needs libcst."""
    edits: list[_Piece] = []
    for target, node in found:
        plain = _plain_edits(target, node, src, aliases(context))
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
            add_import(context, submodule)
    return edits


#: Per code: the legacy function, its new name, and the submodule of
#: ``torch.nn.utils`` that holds it.
_NEW_SPELLING = {
    "WN301": ("weight_norm", "weight_norm", "parametrizations"),
    "WN302": ("remove_weight_norm", "remove_parametrizations", "parametrize"),
}


def _plain_edits(
    target: Target | None,
    node: ast.expr,
    src: Source,
    aliases: dict[str, str],
) -> list[_Piece] | None:
    """What :class:`Rewriter` does to ``node``, as edits of the text, for
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
    text: str, units: dict[Unit, list[Target]], context: CodemodContext
) -> tuple[list[_Piece], int] | None:
    """Each unit's rewritten text, and how many targets were rewritten.

    The units become the top-level statements of one module, each starting
    a line (at column 0) and ending one, so that libcst parses and visits
    them once: per-unit runs would pay libcst's fixed costs thousands of
    times in a big file. None when libcst cannot parse them (the whole-file
    pass gives the verdict and its note).
    """
    parts: list[str] = []
    local: dict[tuple[int, int, str], Target] = {}
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
    rewriter = Rewriter(module, local, context)
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


def _outermost(work: dict[Unit, list[_Site]]) -> dict[Unit, list[_Site]]:
    """Units without those inside another one (a simple statement inside a
    top-level statement rewritten whole), whose sites move outwards."""
    kept: dict[Unit, list[_Site]] = {}
    last: Unit | None = None
    for unit in sorted(work, key=lambda u: (u[0], -u[1])):
        if last is not None and unit[1] <= last[1]:
            kept[last].extend(work[unit])
            continue
        kept[unit] = list(work[unit])
        last = unit
    return kept
