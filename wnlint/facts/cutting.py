"""Cutting a module's bytes at its top-level statements, so that only the
definitions a rule can use are parsed.

Parsing is what costs, so the prefilters (:mod:`wnlint.facts.prefilter`)
say which top-level ``def``/``class`` statements a rule needs, and the rest
become ``NAME = None`` padded with newlines: the name stays bound, every
line number stays put, and only what is kept is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from wnlint.facts.hits import find_all, line_at

#: A new top-level statement starts at column 0 with something that is not
#: a comment or a closing bracket. (A line inside a string may look the
#: same; see :func:`reduce_source` for why that is harmless.)
_STATEMENT_START = re.compile(rb"\n(?=[^\s#)\]}])")
_HEADER = re.compile(rb"(?:async[ \t]+def|def|class)[ \t]+(\w+)")
#: After decorators (which may span lines), the def/class line at column 0.
DECORATED_HEADER = re.compile(rb"(?m)^(?:async[ \t]+def|def|class)[ \t]+(\w+)")
_CLASS_BASES = re.compile(rb"class[ \t]+\w+[ \t]*\(([^:]*)\)[ \t]*:")
_WORD = re.compile(rb"\w+")


class Segment(NamedTuple):
    """A top-level statement: ``name`` is set for a def or class."""

    start: int
    text: bytes
    name: bytes | None
    bases: tuple[bytes, ...] = ()


def declares_global(text: bytes) -> bool:
    """A `global` statement: a dropped function could rebind module names."""
    return any(
        line_at(text, i).lstrip().startswith(b"global ")
        for i in find_all(text, b"global ")
    )


def split(data: bytes) -> list[Segment]:
    """Cut a module at top-level statements; decorators go with their def."""
    # A search anchored on the newline itself: `^` tries every position.
    starts = [m.start() + 1 for m in _STATEMENT_START.finditer(data)]
    starts.insert(0, 0)
    starts.append(len(data))
    segments: list[Segment] = []
    pending: int | None = None
    for lo, hi in zip(starts, starts[1:]):
        if data.startswith(b"@", lo):
            pending = lo if pending is None else pending
            continue
        begin = lo if pending is None else pending
        pending = None
        text = data[begin:hi]
        match = _HEADER.match(text) or (
            DECORATED_HEADER.search(text) if text.startswith(b"@") else None
        )
        if match is None:
            segments.append(Segment(begin, text, None))
            continue
        bases = _CLASS_BASES.match(text, match.start())
        names = tuple(_WORD.findall(bases.group(1))) if bases else ()
        segments.append(Segment(begin, text, match.group(1), names))
    if pending is not None:
        segments.append(Segment(pending, data[pending:], None))
    return segments


def reduce_source(data: bytes, keep: list[bool], segments: list[Segment]) -> bytes:
    """The source with unkept definitions replaced by ``NAME = None``.

    A definition whose text holds an odd number of triple quotes (a ``def``
    line that was really inside a string) is always kept. If a cut still
    lands inside a string, the reduced source fails to parse and the caller
    parses the whole file instead.
    """
    if all(keep):
        return data
    out = []
    for segment, kept in zip(segments, keep):
        if segment.name is not None and _is_cut(segment, kept):
            text = segment.text
            out.append(segment.name + b" = None" + b"\n" * line_breaks(text))
        else:
            out.append(segment.text)
    return b"".join(out)


def _is_cut(segment: Segment, kept: bool) -> bool:
    text = segment.text
    return not (
        kept or segment.name is None or text.count(b'"""') % 2 or text.count(b"'''") % 2
    )


#: What makes the bytes of a cut parse differently alone: an encoding
#: declaration or a byte-order mark (in the first lines, which the rest
#: leaves out), and the one ``__future__`` import that changes the grammar.
_DECLARES_ENCODING = re.compile(rb"\xef\xbb\xbf|[^\n]*\n?[^\n]*coding[:=]")


def cut_out(data: bytes, keep: list[bool], segments: list[Segment]) -> bytes | None:
    """What :func:`reduce_source` cut out, each definition on its own lines
    and the rest blank; None when only the whole file can tell (an encoding
    declaration, ``barry_as_FLUFL``). The reduced source and this parse
    exactly when the whole file does: each is a run of whole top-level
    statements. The engine compiles it to learn whether a file whose cut
    has findings parses, at a fraction of the whole file's cost."""
    if _DECLARES_ENCODING.match(data) or b"barry_as_FLUFL" in data:
        return None
    out = []
    for segment, kept in zip(segments, keep):
        text = segment.text
        out.append(text if _is_cut(segment, kept) else b"\n" * line_breaks(text))
    return b"".join(out)


def line_breaks(text: bytes) -> int:
    """How many lines ``text`` ends, as Python's tokenizer counts them:
    ``\n``, ``\r\n`` and a lone ``\r`` each end one. (Counting ``\n`` alone
    put every line after an old-Mac line ending one line early.)"""
    return text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")


#: ``... as <name>`` and ``<name> = ...``: what a line binds.
_ALIAS = re.compile(rb"(?m)\bas[ \t]+(\w+)|^[ \t]*(\w+)[ \t]*(?::[^=\n]*)?=(?!=)")


def aliases(other: list[Segment], binds_alias: Callable[[bytes], bool]) -> set[bytes]:
    """Names that module-level code binds to a trigger: ``x = <trigger>``,
    ``import <trigger> as x``, and names imported from a trigger module
    (``from torch.optim import Adam``)."""
    names: set[bytes] = set()
    for segment in other:
        text = segment.text
        if text.startswith((b"from ", b"import ")) and binds_alias(text):
            names.update(_imported_names(text))
            continue
        for line in text.splitlines():
            if (b" as " in line or b"=" in line) and binds_alias(line):
                for match in _ALIAS.finditer(line):
                    names.add(match.group(1) or match.group(2))
    return names


def _imported_names(statement: bytes) -> set[bytes]:
    """The names an import statement binds (``a.b`` binds ``a``)."""
    statement = statement.split(b"#", 1)[0] if b"(" not in statement else statement
    _, sep, names = statement.partition(b" import ")
    if not sep:  # `import a.b as c, d`
        names = statement[len(b"import ") :]
    out = set()
    for item in re.split(rb"[,\n]", names.replace(b"(", b" ").replace(b")", b" ")):
        item = item.split(b"#", 1)[0].strip().rstrip(b"\\").strip()
        if not item:
            continue
        words = item.split()
        name = (
            words[-1]
            if len(words) == 3 and words[1] == b"as"
            else words[0].split(b".")[0]
        )
        if name:  # `import a, .b` (not Python) names nothing
            out.add(name)
    return out
