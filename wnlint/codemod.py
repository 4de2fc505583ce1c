"""wnlint's fixes as libcst codemods, for ``python -m libcst.tool codemod``.

    python -m libcst.tool codemod --no-format \\
        -x wnlint.codemod.WnlintFixCommand --unsafe-fixes src/
    python -m libcst.tool codemod --no-format \\
        -x wnlint.codemod.LegacyWeightNormCommand src/

Both run the same fixer as ``wnlint fix``; a file whose rewrite is declined
as a whole (the legacy migration's all-or-nothing rule) is skipped with the
reason.
"""

from __future__ import annotations

import argparse

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile

from wnlint.engine.linter import Linter, select_rules
from wnlint.fixing.fixer import fix_source


class WnlintFixCommand(CodemodCommand):
    DESCRIPTION = (
        "Apply wnlint's fixes (safe ones; unsafe ones too with --unsafe-fixes)."
    )

    def __init__(
        self,
        context: CodemodContext,
        unsafe_fixes: bool = False,
        select: str | None = None,
    ) -> None:
        super().__init__(context)
        self.unsafe = unsafe_fixes
        self.linter = Linter(select_rules(select.split(",") if select else None))

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--unsafe-fixes",
            dest="unsafe_fixes",
            action="store_true",
            help="also apply fixes that may change behaviour or the state_dict",
        )
        arg_parser.add_argument(
            "--select",
            dest="select",
            metavar="CODES",
            help="comma-separated code prefixes to fix (default: all)",
        )

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        path = self.context.filename or "<module>"
        result = fix_source(tree.bytes, path, self.linter, unsafe=self.unsafe)
        if result.notes and not result.applied:
            raise SkipFile("; ".join(result.notes))
        for note in result.notes:
            self.warn(note)
        if not result.changed:
            return tree
        return cst.parse_module(result.fixed)


class LegacyWeightNormCommand(WnlintFixCommand):
    DESCRIPTION = (
        "Migrate torch.nn.utils.weight_norm/remove_weight_norm to "
        "torch.nn.utils.parametrizations (wnlint WN301 + WN302)."
    )

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context, unsafe_fixes=True, select="WN301,WN302")

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        return None
