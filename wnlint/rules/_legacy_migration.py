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
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from wnlint import torchnames as tn
from wnlint.analysis import FileAnalysis
from wnlint.fixes import Applicability, Declined, Fix, FixContext, Source
from wnlint.rules._legacy_api import legacy_sites
from wnlint.syntax import call_arg, char_col, string_value

CODES = ("WN301", "WN302")
_TOGETHER = "WN301/WN302 not fixed: the two fixes apply together only"


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
        ctx.memo[key] = _migrate(ctx)
    return ctx.memo[key]  # type: ignore[return-value]


def _migrate(ctx: FixContext) -> Fix | Declined:
    if not all(code in ctx.enabled for code in CODES):
        return Declined(_TOGETHER)
    src = ctx.source
    tree = ast.parse(src.text)  # the whole file: every weight_g read moves too
    sites = _sites(FileAnalysis(tree), src)
    wanted = {f for f in ctx.findings if f[2] in CODES}
    if {(t.line, t.col + 1, t.code) for t, _ in sites} != wanted:
        return Declined("WN301/WN302 not fixed: a legacy call is silenced with noqa")
    targets: dict[tuple[int, int, str], _Target] = {}
    for target, node in sites:
        reason = _refusal(target, node)
        if reason:
            return Declined(f"WN301/WN302 not fixed: {reason}")
        targets[(target.line, target.col, target.kind)] = target
    reason = _unsafe_file(tree, targets, src.text)
    if reason:
        return Declined(f"WN301/WN302 not fixed: {reason}")
    return _rewrite(src, targets)


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


def _unsafe_file(
    tree: ast.Module, targets: dict[tuple[int, int, str], _Target], text: str
) -> str | None:
    """Why the file as a whole cannot be migrated safely."""
    renamed = tn.LEGACY_TO_PARAMETRIZED
    attributes = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    if any(n.attr in renamed and isinstance(n.ctx, ast.Store) for n in attributes):
        return "the file defines weight_g/weight_v of its own"
    # weight_g/weight_v reads move with the modules normed here; in a file that
    # also handles the new API they may belong to either, so leave it alone.
    migrating = any(t.code == "WN301" for t in targets.values())
    reads = any(n.attr in renamed for n in attributes)
    if reads and (not migrating or tn.NEW_API_ATTRIBUTE in text):
        return (
            "weight_g/weight_v reads in a file that also uses the new API; "
            "rewrite them by hand"
        )
    return None


def _rewrite(
    src: Source, targets: dict[tuple[int, int, str], _Target]
) -> Fix | Declined:
    module = cst.parse_module(src.text)
    context = CodemodContext()
    rewriter = _Rewriter(module, targets, context)
    new_module = MetadataWrapper(module).visit(rewriter)
    if rewriter.rewritten != len(targets):
        return Declined("WN301/WN302 not fixed: not every finding could be rewritten")
    new_module = AddImportsVisitor(context).transform_module(new_module)
    new_module = RemoveImportsVisitor(context).transform_module(new_module)
    return Fix(Applicability.UNSAFE, (src.whole(new_module.code),), alone=True)


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
        AddImportsVisitor.add_needed_import(self.context, tn.UTILS, submodule)
        return cst.Attribute(value=cst.Name(submodule), attr=cst.Name(new))

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
