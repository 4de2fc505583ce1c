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

One libcst transformer (:mod:`wnlint.rules._legacy_rewriter`) makes
every edit; it finds the legacy sites by sentinel names put in place of
their name tokens, not by position metadata. The rewrite costs time in
proportion to what it changes, not to the file
(:mod:`wnlint.rules._legacy_statements`): libcst parses only the
statements that hold a site, and its import visitors see only the
top-level statements that can change or decide the imports. Parsing and
visiting a whole module with libcst costs far more per line than reading
it with ``ast``, and the import visitors run scope analysis over
everything they are given, so a whole-file pass made big files take
minutes and gigabytes. The statement-wise result is the text the
whole-file pass (:func:`_rewrite_whole`, the same transformer over the
module) gives; that pass remains for what the statement-wise one does not
model.
"""

from __future__ import annotations

import ast
import contextlib
import gc
from collections.abc import Iterator

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.syntax import all_nodes, parse_quietly
from wnlint.rules._legacy_api import (
    FOREIGN,
    REMOVERS_ALONE,
    foreign_removers,
    legacy_sites_by_code,
    refusal,
    removes_only,
)
from wnlint.rules._legacy_rewriter import (
    Marked,
    Reexport,
    Rewriter,
    Site,
    Target,
    free_names,
    new_context,
    project_imports,
    target_of,
)
from wnlint.rules._legacy_statements import by_statement
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
    tree = parse_quietly(src.text)  # the whole file: every weight_g read moves too
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
    targets: dict[tuple[int, int, str], Target] = {}
    for target, node in sites:
        reason = refusal(target.code, node)
        if reason:
            return Declined(f"WN301/WN302 not fixed: {reason}")
        targets[(target.line, target.col, target.kind)] = target
    package = foreign_removers(analysis)
    if package is not None:
        return Declined(FOREIGN.format(package=package))
    if not ctx.removers_alone and removes_only(analysis):
        return Declined(REMOVERS_ALONE)
    reads, dotted = _legacy_names(tree, src.text)
    reason = _unsafe_file(reads, targets, src.text) or file_hazard(analysis)
    if reason:
        return Declined(f"WN301/WN302 not fixed: {reason}")
    aliases = free_names(tree)
    imported = project_imports(tree)
    rewritten = (
        None
        if dotted
        else by_statement(src, tree, targets, sites, reads, aliases, imported)
    )
    if rewritten is None:
        return _rewrite_whole(src, sites, aliases, imported)
    return Fix(Applicability.UNSAFE, (src.whole(rewritten),), alone=True)


def _sites(analysis: FileAnalysis, src: Source) -> list[tuple[Target, ast.expr]]:
    """Every legacy call and value use of the file, where the findings are."""
    return [
        (target_of(code, node, src), node)
        for code, node in legacy_sites_by_code(analysis)
    ]


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
    targets: dict[tuple[int, int, str], Target],
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
    sites: list[Site],
    aliases: dict[str, str] | None = None,
    imported: dict[str, Reexport] | None = None,
) -> Fix | Declined:
    """The migration as one libcst pass over the whole module: what the
    statement-wise pass gives where it applies, and its fallback."""
    marked = Marked(Marked.prefix_for(src.text))
    text = marked.mark(src, 0, len(src.text), sites)
    if text is None:
        return Declined(_NOT_EVERY)
    module = cst.parse_module(text)
    context = new_context(aliases, imported)
    rewriter = Rewriter(marked, context)
    new_module = module.visit(rewriter)
    if rewriter.rewritten != len(sites):
        return Declined(_NOT_EVERY)
    new_module = AddImportsVisitor(context).transform_module(new_module)
    new_module = RemoveImportsVisitor(context).transform_module(new_module)
    return Fix(Applicability.UNSAFE, (src.whole(new_module.code),), alone=True)
