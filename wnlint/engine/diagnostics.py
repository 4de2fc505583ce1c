"""What a check finds: :class:`Diagnostic` (one finding), :class:`Report`
(a run's), and how a file's bytes become the text and lines positions
count in. Below the engine and every front end, so that each (the
notebook layer included) builds on it without importing the engine.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wnlint.rules.base import Cite
    from wnlint.rules.fixes import LazyFix


class Diagnostic:
    """One finding: 1-based line and 1-based character column, and its fix
    when the caller asked for fixes (``lint_bytes(..., fixes=True)``).

    ``end_line``/``end_col`` are where the reported node ends (the column
    1-based, exclusive, in characters), for the machine-readable formats of
    :mod:`wnlint.cli.output`; None where the finding is a point (a parse error).

    In a notebook, ``cell`` is the 1-based number of the cell (counting
    every cell, as ruff does) and ``line`` is a line of that cell.

    ``cites`` are the lines of the file that ``message`` names, where they
    stand in it: a notebook restates them in their cells (and drops them).

    ``unfixable`` is set when the rule reported this finding with no fix at
    all (its rule may fix others): the ``[*]`` marks and the fixable counts
    leave it out. ``with_migration`` is set when its fix applies only in a
    run that migrates weight norm in another file (a file that removes
    weight norm and applies none): a report without such a migration
    counts it as having no fix (:func:`wnlint.cli.findings.settle_fixes`).

    Immutable, and compared (and hashed) by where it is and what it says:
    its fix, cites and end are not part of its identity. A plain class
    rather than a dataclass: ``dataclasses`` costs a one-file ``check``
    more than the rest of its imports.
    """

    #: The fields, in the order of the constructor's arguments.
    FIELDS = (
        "path",
        "line",
        "col",
        "code",
        "message",
        "fix",
        "end_line",
        "end_col",
        "cell",
        "cites",
        "unfixable",
        "with_migration",
    )
    __slots__ = FIELDS
    path: str
    line: int
    col: int
    code: str
    message: str
    fix: LazyFix | None
    end_line: int | None
    end_col: int | None
    cell: int | None
    cites: tuple[Cite, ...]
    unfixable: bool
    with_migration: bool

    def __init__(
        self,
        path: str,
        line: int,
        col: int,
        code: str,
        message: str,
        fix: LazyFix | None = None,
        end_line: int | None = None,
        end_col: int | None = None,
        cell: int | None = None,
        cites: tuple[Cite, ...] = (),
        unfixable: bool = False,
        with_migration: bool = False,
    ) -> None:
        values = (
            path,
            line,
            col,
            code,
            message,
            fix,
            end_line,
            end_col,
            cell,
            cites,
            unfixable,
            with_migration,
        )
        for name, value in zip(self.FIELDS, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Diagnostic is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Diagnostic is immutable: cannot delete {name!r}")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def _identity(self) -> tuple:
        return (self.path, self.line, self.col, self.code, self.message, self.cell)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        shown = (
            "path",
            "line",
            "col",
            "code",
            "message",
            "end_line",
            "end_col",
            "cell",
        )
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"Diagnostic({fields})"

    def __reduce__(self) -> tuple:
        return (Diagnostic, self._values())

    def replace(self, **changes: object) -> Diagnostic:
        """A copy with ``changes`` (field name -> value) applied."""
        values = dict(zip(self.FIELDS, self._values()))
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Diagnostic has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return Diagnostic(**values)

    def format(self) -> str:
        where = self.path if self.cell is None else f"{self.path}:cell {self.cell}"
        return f"{where}:{self.line}:{self.col}: {self.code} {self.message}"


class Report:
    """What a run found, and how many files it checked."""

    def __init__(
        self, diagnostics: list[Diagnostic] | None = None, files_checked: int = 0
    ) -> None:
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.files_checked = files_checked

    def __repr__(self) -> str:
        return f"Report({self.diagnostics!r}, files_checked={self.files_checked})"

    @property
    def files_with_findings(self) -> int:
        return len({d.path for d in self.diagnostics})


def decode_source(data: bytes) -> str:
    """Python source bytes as text, in their declared encoding (a coding
    line, a byte-order mark, else UTF-8); raises what decoding raises."""
    from wnlint.facts.sources import encoding_of

    return data.decode(encoding_of(data))


def source_lines(text: str) -> list[str]:
    """``text``'s lines, as Python and flake8 count them."""
    # Python's own line breaks only (\n, \r\n, \r): str.splitlines would
    # also split on form feeds and shift every line number after one.
    return io.StringIO(text, newline="").readlines()
