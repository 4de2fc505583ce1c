"""wnlint's fixes as a libcst codemod, for ``python -m libcst.tool codemod``.

    python -m libcst.tool codemod --no-format \\
        -x wnlint.codemod.LegacyWeightNormCommand src/

It runs the same fixer as ``wnlint fix --unsafe-fixes --select WN301,WN302``
(the migration to ``torch.nn.utils.parametrizations``) and skips a file it
cannot rewrite whole, with the reason.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodCommand, SkipFile

from wnlint.engine import Linter, select_rules
from wnlint.fix import fix_source


class LegacyWeightNormCommand(CodemodCommand):
    DESCRIPTION = (
        "Migrate torch.nn.utils.weight_norm/remove_weight_norm to "
        "torch.nn.utils.parametrizations (wnlint WN301 + WN302)."
    )

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        linter = Linter(select_rules(["WN301", "WN302"]))
        path = self.context.filename or "<module>"
        result = fix_source(tree.bytes, path, linter, unsafe=True)
        if result.notes:
            raise SkipFile("; ".join(result.notes))
        if not result.changed:
            return tree
        return cst.parse_module(result.fixed)
