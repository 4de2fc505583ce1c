"""The statement-wise migration: libcst sees only the statements that hold
legacy sites, and the import visitors only the top-level statements that
can change or decide the imports, so the rewrite costs time in proportion
to what it changes, not to the file. Its result is the text the whole-file
pass of :mod:`wnlint.rules._legacy_migration` gives.
"""

from __future__ import annotations

import ast

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from wnlint.rules._legacy_imports import (
    CHUNK_MARK,
    TopLevel,
    Unit,
    splice,
    with_imports,
)
from wnlint.rules._legacy_rewriter import (
    Marked,
    Reexport,
    Rewriter,
    Target,
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
# * the units are parsed and rewritten by libcst together, as the
#   statements of one small module (:func:`_rewrite_units`), by the one
#   transformer the whole-file pass uses;
# * the import visitors get the top-level statements that can change the
#   imports or decide them: the file's opening (docstring, import block and
#   the statement that follows, where libcst adds imports), every statement
#   that still names a legacy function once the sites are rewritten (so
#   scope analysis finds the same uses), and the statement before any import
#   line that could be removed (so that line owns the same comments as in
#   the whole file). Runs of them are joined with marker lines, rewritten
#   together and cut apart again at the markers (:func:`with_imports`).


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
    imported: dict[str, Reexport] | None = None,
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
    context = new_context(aliases, imported)
    done = _rewrite_units(src, _outermost(work), context)
    if done is None:
        return None  # libcst cannot parse them: the whole-file pass decides
    pieces, rewritten = done
    if rewritten != len(targets):
        return None  # a target libcst does not see where ``ast`` does
    pieces.sort()
    removed = context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY, [])
    if not removed and not context.scratch.get(AddImportsVisitor.CONTEXT_KEY):
        return splice(src.text, pieces)
    names = {asname or obj for _, obj, asname in removed}
    skip = {id(_rewritten_name(node)) for _, node in sites}
    return with_imports(src, top, pieces, context, names, skip)


def _rewrite_units(
    src: Source, units: dict[Unit, list[_Site]], context: CodemodContext
) -> tuple[list[_Piece], int] | None:
    """Each unit's rewritten text, and how many targets were rewritten.

    The units become the top-level statements of one module, each starting
    a line (at column 0) and ending one, so that libcst parses and visits
    them once: per-unit runs would pay libcst's fixed costs thousands of
    times in a big file. None when libcst cannot parse them, or a site's
    name is spelled otherwise than ``ast`` reads it (the whole-file pass
    gives the verdict and its note).
    """
    marked = Marked(Marked.prefix_for(src.text))
    parts: list[str] = []
    for (start, end, _, _), found in units.items():
        sites = [(t, node) for t, node in found if t is not None]
        part = marked.mark(src, start, end, sites)
        if part is None:
            return None
        parts.append(part)
    try:
        module = cst.parse_module("\n".join(parts) + "\n")
    except (cst.ParserSyntaxError, RecursionError):
        return None
    rewriter = Rewriter(marked, context)
    new = module.visit(rewriter)
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
