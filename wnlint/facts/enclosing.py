"""Which function's body holds an offset of a file's bytes, read from the
``def`` lines before anything is parsed: the prefilters use it to keep a
hit only where a rule can use it (a method forward may reach, the one
function an optimizer and a norm must share).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

_DEF_NAME = re.compile(rb"def[ \t]+(\w+)")


#: Where forward's reach starts
#: (:attr:`wnlint.facts.module_classes.ModuleClass.forward_reachable`).
_ENTRY_METHODS = (b"forward", b"__call__")


def in_reachable_methods(text: bytes, hits: Iterator[int]) -> Iterator[int]:
    """``hits`` less those in a method that forward cannot reach: one not
    named ``forward``/``__call__`` whose name the file never spells as
    ``self.<name>`` (how the module analysis follows calls and
    properties). Most parameters are created, and most submodule
    attributes set, in ``__init__`` and in methods that torch or other code
    calls (``set_input_embeddings``). A hit outside any function, or whose
    function is in doubt, is kept."""
    defs: Defs | None = None
    for i in hits:
        if defs is None:
            defs = Defs.of(text)  # only for files with a hit
        name = defs.enclosing(i)
        if name is None or name in _ENTRY_METHODS or defs.reached(name):
            yield i


class Defs:
    """The ``def`` lines of a text, read backwards from an offset as they
    are needed, to tell which function's own body holds it (most files
    ask about a few offsets, so no table of every ``def`` is built)."""

    def __init__(self, text: bytes) -> None:
        self.text = text
        self.ends: dict[int, int] = {}
        self._reached: dict[bytes, bool] = {}

    def reached(self, name: bytes) -> bool:
        """The text spells ``self.<name>``: forward may reach the method
        (asked once per name, by every prefilter that searches the file)."""
        found = self._reached.get(name)
        if found is None:
            # Its `def` line spells the name once: a second occurrence first.
            first = self.text.find(name)
            found = self._reached[name] = (
                self.text.find(name, first + len(name)) != -1
                and re.search(rb"self\s*\.\s*" + name + rb"\b", self.text) is not None
            )
        return found

    _last: Defs | None = None

    @classmethod
    def of(cls, text: bytes) -> Defs:
        """The reader of ``text``, shared by the prefilters that search the
        same file one after the other."""
        last = cls._last
        if last is None or last.text is not text:
            last = cls._last = cls(text)
        return last

    def enclosing(self, i: int) -> bytes | None:
        """The name of the function whose own body holds offset ``i``: the
        nearest ``def`` line before it indented less than the line of ``i``,
        when its body (up to the first line, but a closing bracket, indented
        as little as the ``def``) reaches ``i``. None otherwise: the module
        level, a class body, or in doubt."""
        found = self._function_at(i)
        return None if found is None else found[0]

    def span(self, i: int) -> tuple[int, int] | None:
        """Where the function :meth:`enclosing` names starts (its ``def``
        line) and ends; None where that is None."""
        found = self._function_at(i)
        return None if found is None else (found[1], self.ends[found[1]])

    def _function_at(self, i: int) -> tuple[bytes, int] | None:
        """The name and ``def`` line start of :meth:`enclosing`'s function."""
        text = self.text
        start = text.rfind(b"\n", 0, i) + 1
        line = text[start:i]
        indent = len(line) - len(line.lstrip(b" \t"))
        if indent == 0:
            return None
        j = text.rfind(b"def ", 0, start)  # a tab after def: in doubt, kept
        while j != -1:
            head = text.rfind(b"\n", 0, j) + 1
            prefix = text[head:j]
            match = _DEF_NAME.match(text, j)
            depth = len(prefix) - len(prefix.lstrip(b" \t"))
            if (
                prefix.strip(b" \t") in (b"", b"async")
                and match is not None
                and depth < indent
            ):
                if head not in self.ends:
                    dedent = _dedent(depth).search(text, head)
                    self.ends[head] = len(text) if dedent is None else dedent.start()
                # Past the end, the body ended before `i` (or a string
                # fools us).
                return (match.group(1), head) if start <= self.ends[head] else None
            j = text.rfind(b"def ", 0, j)
        return None


@cache
def _dedent(depth: int) -> re.Pattern[bytes]:
    """A line that starts code at ``depth`` columns or fewer."""
    return re.compile(rb"\n[ \t]{0,%d}[^ \t\r\n#)\]}]" % depth)


def in_one_function(text: bytes, first: Iterator[int], second: Iterator[int]) -> bool:
    """Some hit of ``first`` and some hit of ``second`` may be in the same
    function's own body (a rule that reads one body at a time, in source
    order, needs both there). A hit outside any function, or in doubt,
    may be with any other."""
    defs = Defs.of(text)
    names = set()
    for i in first:
        name = defs.enclosing(i)
        if name is None:
            return next(second, None) is not None
        names.add(name)
    if not names:
        return False
    for i in second:
        name = defs.enclosing(i)
        if name is None or name in names:
            return True
    return False
