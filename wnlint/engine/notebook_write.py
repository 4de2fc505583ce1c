"""A fixed notebook written back into its file.

``fix`` runs on the code cells joined into one module
(:mod:`wnlint.engine.notebook`); the result is split here at the boundary
lines, and every escape comes back as it was. Only the ``source`` values of
the cells that changed are re-serialized and spliced into the notebook's
own text, so everything else (outputs, execution counts, metadata, key
order, indentation, escapes, the final newline) keeps its bytes. A split
that cannot be trusted (a boundary or an escape lost or repeated) writes
nothing.

Apart from reading and joining the cells, which every ``check`` of a
notebook needs: only ``fix`` writes a notebook back, and only this needs
the layout of the notebook's JSON text.
"""

from __future__ import annotations

import copy
import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]

from wnlint.engine.diagnostics import source_lines
from wnlint.engine.notebook import (
    BOUNDARY_LINE,
    PLACEHOLDER_LINE,
    CodeCell,
    Joined,
    Notebook,
    indent_of,
)


class SplitError(Exception):
    """The fixed source cannot be put back into the cells safely."""


# -- splitting back ------------------------------------------------------------


def rewrite(nb: Notebook, fixed: str) -> tuple[bytes, Joined]:
    """The notebook's bytes with the fixed joined source put back into its
    cells, and the layout of that source."""
    pieces = _split(fixed, len(nb.cells))
    new_texts: dict[int, str] = {}
    for cell, piece in zip(nb.cells, pieces):
        if piece != cell.masked:
            text = _unmask(cell, piece)
            if text != cell.text:
                new_texts[cell.index] = text
    layout = Joined.of(pieces, [c.number for c in nb.cells])
    return _splice(nb, new_texts), layout


def _split(fixed: str, count: int) -> list[str]:
    lines = source_lines(fixed)
    pieces: list[list[str]] = [[]]
    for line in lines:
        match = BOUNDARY_LINE.fullmatch(line)
        if match is None:
            pieces[-1].append(line)
            continue
        if int(match.group(1)) != len(pieces):
            raise SplitError("a cell boundary moved in the fixed source")
        pieces.append([])
    if len(pieces) != count:
        raise SplitError("a cell boundary was lost in the fixed source")
    return ["".join(piece) for piece in pieces]


def _unmask(cell: CodeCell, piece: str) -> str:
    """A fixed cell's text with its escapes back as they were."""
    out: list[str] = []
    seen: set[int] = set()
    for line in source_lines(piece):
        body = line.rstrip("\r\n")
        match = PLACEHOLDER_LINE.fullmatch(body)
        if match is not None:
            ident = int(match.group(1))
            if ident not in cell.magics or ident in seen:
                raise SplitError(f"an IPython escape moved in cell {cell.number}")
            seen.add(ident)
            out.append(cell.magics[ident] + line[len(body) :])
        else:
            out.append(line)
    if seen != set(cell.magics):
        raise SplitError(f"an IPython escape was lost in cell {cell.number}")
    text = "".join(out)
    if not cell.text.endswith(("\n", "\r")):
        # The join's own line break, and blank lines a fix put before the
        # next cell's boundary (after imports it added).
        return text.rstrip("\r\n")
    return text


# -- writing -------------------------------------------------------------------


def _splice(nb: Notebook, new_texts: dict[int, str]) -> bytes:
    """The notebook's own text with only the given cells' ``source`` values
    replaced, each written in the layout of the value it replaces."""
    text = nb.text
    spans = _source_spans(text)
    ascii_only = _escapes_non_ascii(text)
    out: list[str] = []
    end = 0
    for index in sorted(new_texts):
        start, stop = spans[index]
        old = nb.data["cells"][index]["source"]
        out.append(text[end:start])
        out.append(_render(new_texts[index], old, text, start, stop, ascii_only))
        end = stop
    out.append(text[end:])
    result = "".join(out)
    expected = copy.deepcopy(nb.data)
    for index, new in new_texts.items():
        old = expected["cells"][index]["source"]
        expected["cells"][index]["source"] = (
            new if isinstance(old, str) else _split_source(new)
        )
    if json.loads(result) != expected:
        raise SplitError("the rewritten notebook would not read back as fixed")
    return (b"\xef\xbb\xbf" if nb.bom else b"") + result.encode("utf-8")


def _split_source(text: str) -> list[str]:
    """nbformat's list form: every line but the last ends in ``\\n``."""
    return re.findall(r"[^\n]*\n|[^\n]+", text)


def _render(
    new: str, old: object, text: str, start: int, stop: int, ascii_only: bool
) -> str:
    def dump(value: str) -> str:
        return json.dumps(value, ensure_ascii=ascii_only)

    if isinstance(old, str):
        return dump(new)
    items = [dump(line) for line in _split_source(new)]
    if not items:
        return "[]"
    old_text = text[start:stop]
    newline = "\r\n" if "\r\n" in text else "\n"
    if "\n" in old_text:  # one item per line, as nbformat writes
        item_indent = indent_of(old_text[old_text.index("\n") + 1 :])
        close_indent = old_text[old_text.rindex("\n") + 1 : -1]
    elif "\n" in text and not old:  # `[]`: indent from the key's line
        key_indent = indent_of(text[text.rfind("\n", 0, start) + 1 : start])
        close_indent = key_indent
        item_indent = key_indent + _indent_unit(text)
    else:  # a compact document
        return "[" + _separator(text).join(items) + "]"
    body = ("," + newline).join(item_indent + item for item in items)
    return "[" + newline + body + newline + close_indent + "]"


def _indent_unit(text: str) -> str:
    """The indentation of the document's first key (nbformat: one space)."""
    match = re.match(r"\s*\{\r?\n([ \t]*)", text)
    return match.group(1) if match and match.group(1) else " "


def _separator(text: str) -> str:
    return ", " if re.search(r'",\s"', text) or '": ' in text else ","


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _escapes_non_ascii(text: str) -> bool:
    """The document writes non-ASCII text as ``\\uXXXX`` (``ensure_ascii``)
    rather than as itself; nbformat writes it as itself."""
    if not text.isascii():
        return False
    return any(
        m.group(1)[0] == "u" and int(m.group(1)[1:], 16) > 0x7F
        for m in _ESCAPE.finditer(text)
    )


_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(
    r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity"
)


def _source_spans(text: str) -> dict[int, tuple[int, int]]:
    """Where each cell's ``source`` value lies in the notebook's text (the
    text is valid JSON: ``json.loads`` read it)."""
    members, _ = _object(text, _WS.match(text, 0).end())  # type: ignore[union-attr]
    start, _ = members["cells"]
    cells, _ = _array(text, start)
    spans: dict[int, tuple[int, int]] = {}
    for index, (cell_start, _) in enumerate(cells):
        fields, _ = _object(text, cell_start)
        if "source" in fields:
            spans[index] = fields["source"]
    return spans


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]


def _value_end(text: str, i: int) -> int:
    c = text[i]
    if c == '"':
        return int(scanstring(text, i + 1)[1])
    if c == "{":
        return _object(text, i)[1]
    if c == "[":
        return _array(text, i)[1]
    return _SCALAR.match(text, i).end()  # type: ignore[union-attr]


def _object(text: str, i: int) -> tuple[dict[str, tuple[int, int]], int]:
    """The spans of an object's values by key, and where it ends."""
    members: dict[str, tuple[int, int]] = {}
    i = _skip(text, i + 1)
    while text[i] != "}":
        key, i = scanstring(text, i + 1)
        i = _skip(text, _skip(text, i) + 1)  # the colon
        end = _value_end(text, i)
        members[key] = (i, end)
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return members, i + 1


def _array(text: str, i: int) -> tuple[list[tuple[int, int]], int]:
    items: list[tuple[int, int]] = []
    i = _skip(text, i + 1)
    while text[i] != "]":
        end = _value_end(text, i)
        items.append((i, end))
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return items, i + 1
