"""Jupyter notebooks: the code cells of a ``.ipynb`` checked and fixed as one
Python module, as ruff does.

The code cells are joined in order (an import in the first cell resolves a
name in the fifth), with a boundary line between two cells, and
every IPython escape (``%matplotlib``, ``!pip``, ``obj?``, a ``%%time``
line, ``x = !ls``) is replaced by an inert ``pass`` line of the same
indentation. The escapes that open the first cell (with the ``from
__future__`` imports among them) become comment lines instead: the joined
module's header, after which a fix adds its imports, as libcst adds them
after a file's opening comments, so that ``!pip install torch`` still runs
first. Line counts stay as they were, so a finding in the joined
source maps back to ``(cell, line, col)``, and so do the lines its message
names; cells are numbered from 1
counting every cell, markdown and raw ones included, as ruff and editors
number them. A cell whose cell magic is not Python (``%%bash``,
``%%writefile``) is left out, like markdown and raw cells.

``fix`` runs on the joined source; :mod:`wnlint.engine.notebook_write`
puts the result back into the notebook.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from wnlint.engine.diagnostics import Diagnostic, source_lines
from wnlint.facts.sources import NOTEBOOK_SUFFIX


class Linter(Protocol):
    """What linting a notebook asks of the engine's linter."""

    def lint_bytes(self, data: bytes, path: str) -> list[Diagnostic]: ...


#: Cell magics whose body is Python (ruff's list): the ``%%`` line is an
#: escape, the rest is checked. Any other cell magic's cell is left out.
PYTHON_CELL_MAGICS = frozenset(
    {"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"}
)

#: Between two cells: a statement, not a comment, so that a fix removing the
#: statement after it (an import the migration drops) cannot take it along,
#: and so that a cell cannot continue the previous cell's block.
_BOUNDARY = "pass  # wnlint-cell-boundary {}\n"
BOUNDARY_LINE = re.compile(r"pass  # wnlint-cell-boundary (\d+)(?:\r\n|\r|\n)?")
_PLACEHOLDER = "{}pass  # wnlint-magic {}"
#: An escape before the module's first statement: a comment, so that it is
#: the module's header, which fixes add nothing above.
_HEADER = "# wnlint-magic {}"
PLACEHOLDER_LINE = re.compile(r"[ \t]*(?:pass  )?# wnlint-magic (\d+)")
#: Characters that start an IPython escape at the start of a statement; none
#: can start a Python statement.
_ESCAPES = ("%", "!", "?", "/", ",", ";")
_HELP = re.compile(r"[\w.*\[\]]+\?\??")  # `obj?`, `np.*load*??`
_FUTURE = re.compile(r"from\s+__future__\s+import\b")
_ASSIGNED = re.compile(r"[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


class NotebookError(Exception):
    """The file is not a notebook wnlint can read: a WN001 at a position of
    the file's text (1-based)."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.col = col

    def diagnostic(self, path: str) -> Diagnostic:
        return Diagnostic(path, self.line, self.col, "WN001", f"cannot parse: {self}")


@dataclass
class CodeCell:
    #: 1-based, counting every cell of the notebook (ruff's ``cell N``).
    number: int
    #: Index into the notebook's ``cells``.
    index: int
    text: str
    #: ``text`` with escapes as placeholders, ending in a line break unless
    #: empty: this cell's part of the joined source.
    masked: str
    #: placeholder id -> the escape line it stands for (without its break).
    magics: dict[int, str] = field(default_factory=dict)


@dataclass
class Notebook:
    text: str
    data: dict[str, Any]
    cells: list[CodeCell]
    bom: bool = False

    def joined(self) -> Joined:
        return Joined.of([c.masked for c in self.cells], [c.number for c in self.cells])


@dataclass
class Joined:
    """The joined source and where each of its lines came from."""

    text: str
    #: Per cell: its number and the joined line (1-based) of its first line.
    numbers: list[int]
    starts: list[int]
    counts: list[int]

    @classmethod
    def of(cls, parts: list[str], numbers: list[int]) -> Joined:
        chunks: list[str] = []
        starts: list[int] = []
        counts: list[int] = []
        line = 1
        for k, part in enumerate(parts):
            if k:
                chunks.append(_BOUNDARY.format(k))
                line += 1
            starts.append(line)
            counts.append(len(source_lines(part)))
            chunks.append(part)
            line += counts[-1]
        return cls("".join(chunks), numbers, starts, counts)

    def place(self, line: int) -> tuple[int, int, bool]:
        """Where a joined line is: the index of its cell, the line in that
        cell, and whether it is really there (False: a line outside every
        cell, a boundary or the end of the file, put at the end of the cell
        before)."""
        k = max(bisect.bisect_right(self.starts, line) - 1, 0)
        within = line - self.starts[k] + 1
        if 1 <= within <= self.counts[k]:
            return k, within, True
        return k, max(min(within, self.counts[k]), 1), False

    def locate(self, d: Diagnostic) -> Diagnostic:
        """``d`` in its cell: its line, where it ends (a point where that is
        not in the same cell) and every line its message names (its cites)
        counted in their cells."""
        k, line, inside = self.place(d.line)
        end_line, end_col = d.end_line, d.end_col
        if end_line is not None:
            end_line = line + end_line - d.line
            if not inside or end_line > self.counts[k]:
                end_line = end_col = None
        message = d.message
        for cite in sorted(d.cites, reverse=True):
            cited = self.cited(cite.line, k)
            message = message[: cite.start] + cited + message[cite.end :]
        return d.replace(
            line=line,
            cell=self.numbers[k],
            end_line=end_line,
            end_col=end_col,
            message=message,
            cites=(),
        )

    def cited(self, line: int, here: int) -> str:
        """A line a message names, as a notebook names it: ``line N`` in
        the cell of the finding (index ``here``), ``line N of cell M`` in
        another."""
        k, within, _ = self.place(line)
        if k == here:
            return f"line {within}"
        return f"line {within} of cell {self.numbers[k]}"


# -- reading -------------------------------------------------------------------


def read(data: bytes) -> Notebook:
    """The notebook in ``data``, or :class:`NotebookError` saying why not."""
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError("not a Jupyter notebook: not UTF-8 text") from exc
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a Jupyter notebook: invalid JSON ({exc.msg})", exc.lineno, exc.colno
        ) from None
    except RecursionError:
        raise NotebookError("not a Jupyter notebook: nested too deeply") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            raise NotebookError(
                "nbformat 3 notebooks are not supported (convert with "
                "`jupyter nbconvert --to notebook`)"
            )
        raise NotebookError('not a Jupyter notebook: no "cells" list')
    cells: list[CodeCell] = []
    magics = 0
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {index + 1} is not a JSON object")
        if cell.get("cell_type") != "code":
            continue
        # After the first code cell, a boundary statement precedes the cell.
        started = bool(cells)
        code = _mask(
            _source_text(cell.get("source"), index), index + 1, magics, started
        )
        if code is not None:
            cells.append(code)
            magics += len(code.magics)
    return Notebook(text, nb, cells, bom)


def _source_text(source: object, index: int) -> str:
    if isinstance(source, str):
        text = source
    elif isinstance(source, list) and all(isinstance(s, str) for s in source):
        text = "".join(source)
    else:
        raise NotebookError(f'cell {index + 1} has no valid "source"')
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # JSON may escape a lone surrogate: no source
        raise NotebookError(
            f"cell {index + 1} is not valid Unicode (a lone surrogate)"
        ) from None
    return text


def _mask(text: str, number: int, first_id: int, started: bool) -> CodeCell | None:
    """The cell with its escapes replaced, or None for a cell whose cell
    magic is not Python. ``started``: a statement precedes the cell in the
    joined source, so a ``from __future__`` import here (legal in a
    notebook, where each cell is compiled alone) is masked like an escape:
    it would be a syntax error in the joined module. Before the first
    statement, escapes and one-line ``from __future__`` imports are masked
    as comments (the module's header): a fix's imports then go after them."""
    lines = source_lines(text)
    out: list[str] = []
    magics: dict[int, str] = {}
    state = _Statements()
    continued: str | None = None  # an escape line's indent, when it ends in `\`
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if i == 0 and body.startswith("%%"):
            name = re.match(r"%%(\w*)", body)
            if name is None or name.group(1) not in PYTHON_CELL_MAGICS:
                return None
            escape = True
        else:
            future = state.at_start() and _FUTURE.match(body) is not None
            escape = continued is not None or (
                state.at_start()
                and (_is_escape(body) or (future and (started or _one_line(body))))
            )
        if escape:
            indent = continued if continued is not None else indent_of(body)
            ident = first_id + len(magics)
            magics[ident] = body
            if started:
                out.append(_PLACEHOLDER.format(indent, ident) + ending)
            else:
                out.append(_HEADER.format(ident) + ending)
            continued = indent if body.endswith("\\") else None
            continue
        state.feed(line)
        out.append(line)
        started = started or not _is_blank_or_comment(body)
    masked = "".join(out)
    if masked and not masked.endswith(("\n", "\r")):
        masked += "\n"
    return CodeCell(number, number - 1, text, masked, magics)


def _is_escape(body: str) -> bool:
    stripped = body.strip()
    if not stripped:
        return False
    return (
        stripped.startswith(_ESCAPES)
        or _HELP.fullmatch(stripped) is not None
        or _ASSIGNED.match(stripped) is not None
    )


def _one_line(body: str) -> bool:
    """``body`` is a whole statement, alone on its line (no ``;``, open
    bracket or continuation), so a comment can stand for it."""
    state = _Statements()
    state.feed(body)
    return ";" not in body and state.at_start()


def _is_blank_or_comment(body: str) -> bool:
    stripped = body.strip()
    return not stripped or stripped.startswith("#")


def indent_of(body: str) -> str:
    return body[: len(body) - len(body.lstrip(" \t"))]


class _Statements:
    """Whether the next line starts a statement: not inside brackets, a
    string or a backslash continuation (an escape can only start one)."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote = ""  # the open string's quote, across lines
        self.joined = False

    def at_start(self) -> bool:
        return not (self.depth or self.quote or self.joined)

    def feed(self, line: str) -> None:
        self.joined = False
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if self.quote:
                if c == "\\":
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = ""
                else:
                    i += 1
                continue
            if c == "#":
                break
            if c in "'\"":
                triple = line[i : i + 3]
                self.quote = triple if triple in ('"""', "'''") else c
                i += len(self.quote)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(self.depth - 1, 0)
            elif c == "\\" and not line[i + 1 :].strip("\r\n"):
                self.joined = True
            i += 1
        if len(self.quote) == 1 and not line.endswith("\\\n"):
            self.quote = ""  # an unterminated string: a syntax error, not ours


# -- linting -------------------------------------------------------------------


def lint(linter: Linter, data: bytes, path: str) -> list[Diagnostic]:
    """Findings in the notebook's code cells, at their cells' positions;
    raises :class:`NotebookError` when ``data`` is not a notebook."""
    nb = read(data)
    if not nb.cells:
        return []
    joined = nb.joined()
    found = linter.lint_bytes(joined.text.encode("utf-8"), path)
    return [joined.locate(d) for d in found]
