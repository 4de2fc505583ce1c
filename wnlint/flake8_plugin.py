"""The flake8 front end: ``flake8 --extend-select WN``.

flake8 has already parsed the file; the plugin hands that tree to the same
engine the CLI uses, so both report the same codes at the same positions.
flake8 applies ``# noqa`` and ``--select``/``--ignore`` itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import Any

from wnlint import __version__
from wnlint.engine.linter import Linter, select_rules

_LINTER: Linter | None = None


def _linter() -> Linter:
    global _LINTER
    if _LINTER is None:
        _LINTER = Linter(select_rules())
    return _LINTER


class WnlintPlugin:
    """flake8 AST plugin; flake8 fills the constructor's arguments by name."""

    name = "wnlint"
    version = __version__

    def __init__(self, tree: ast.Module, lines: Sequence[str], filename: str) -> None:
        self.tree = tree
        self.lines = lines
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, Any]]:
        source = "".join(self.lines)
        for d in _linter().lint_tree(self.tree, source, self.filename):
            # flake8 wants a 0-based column and prints it plus one.
            yield d.line, d.col - 1, f"{d.code} {d.message}", type(self)
