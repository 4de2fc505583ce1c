"""Textual prefilters: what lets wnlint skip most of a code base unparsed.

Parsing is the dominant cost (``ast.parse`` of all of transformers takes
~9 s; ruff checks it in ~1 s), so each rule names the source text it needs,
as categories of "hits" found with plain substring searches:

* the legacy-API rules (WN3xx) need ``weight_norm``;
* the module-class rules (WN1xx) need a parameter (``Parameter(``,
  ``register_parameter``, a torch layer base class) and a norm (the norm
  spellings :mod:`wnlint.facts.module_classes` recognizes) in the same class or its
  same-file base classes;
* WN102 also takes, instead of the norm, a store on a submodule
  (``self.<sub>.<attr> = ``, ``setattr(self.<sub>, ``,
  ``self.<sub>._parameters[``) in a method forward may reach, and WN106
  needs only a ``Parameter(`` call in such a method: a method named
  ``forward``/``__call__`` or whose name the file spells as
  ``self.<name>``, found from the indentation of the ``def`` lines.

A file without the hits is never parsed. In a file with them, the module is
cut at its top-level statements, and a top-level ``def``/``class`` that does
not hold what a rule needs is replaced by ``NAME = None`` padded with
newlines: the name stays bound, every line number stays put, and only the
rest is parsed. Module-level code is always kept, and names it binds to a
trigger (``wn = nn.utils.weight_norm``, ``P = nn.Parameter``) count as hits
wherever they are used. The rules recognize nothing the kept text does not
spell, so both paths give the same findings (the tests check this).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from functools import cache
from typing import NamedTuple

from wnlint.facts import torchnames as tn
from wnlint.facts.siblings import imports_sibling_mentioning

#: A new top-level statement starts at column 0 with something that is not
#: a comment or a closing bracket. (A line inside a string may look the
#: same; see :func:`reduce_source` for why that is harmless.)
_STATEMENT_START = re.compile(rb"\n(?=[^\s#)\]}])")
_HEADER = re.compile(rb"(?:async[ \t]+def|def|class)[ \t]+(\w+)")
#: After decorators (which may span lines), the def/class line at column 0.
_DECORATED_HEADER = re.compile(rb"(?m)^(?:async[ \t]+def|def|class)[ \t]+(\w+)")
_CLASS_BASES = re.compile(rb"class[ \t]+\w+[ \t]*\(([^:]*)\)[ \t]*:")
_WORD = re.compile(rb"\w+")
_ALIAS = re.compile(rb"(?m)\bas[ \t]+(\w+)|^[ \t]*(\w+)[ \t]*(?::[^=\n]*)?=(?!=)")


class Segment(NamedTuple):
    """A top-level statement: ``name`` is set for a def or class."""

    start: int
    text: bytes
    name: bytes | None
    bases: tuple[bytes, ...] = ()


# -- finding hits ------------------------------------------------------------------


def find_all(text: bytes, word: bytes) -> Iterator[int]:
    if not word:
        return  # an empty word would be found everywhere, forever
    i = text.find(word)
    while i != -1:
        yield i
        i = text.find(word, i + len(word))


def _line_at(text: bytes, i: int) -> bytes:
    start = text.rfind(b"\n", 0, i) + 1
    end = text.find(b"\n", i)
    return text[start : end if end != -1 else len(text)]


def _is_word_at(text: bytes, i: int, n: int) -> bool:
    before = text[i - 1 : i]
    after = text[i + n : i + n + 1]
    return not (before.isalnum() or before == b"_") and not (
        after.isalnum() or after == b"_"
    )


def _word_hits(text: bytes, word: bytes) -> Iterator[int]:
    return (i for i in find_all(text, word) if _is_word_at(text, i, len(word)))


#: Beyond this many words, one pass over every word of the text is cheaper
#: than a search for each (a module binding thousands of normed layers).
_FEW_WORDS = 8


def _words_hits(text: bytes, words: set[bytes]) -> Iterator[int]:
    """Offsets of any of ``words`` as whole words, in linear time."""
    if len(words) <= _FEW_WORDS:
        for word in words:
            yield from _word_hits(text, word)
        return
    for match in _WORD.finditer(text):
        if match.group() in words:
            yield match.start()


def norm_hits(text: bytes) -> Iterator[int]:
    """Offsets of the norm spellings the module analysis recognizes.

    One search for ``norm`` classifies every occurrence by its neighbours
    (``.norm(`` but ``self.norm(``, ``vector_norm``, ``norm_except_dim``,
    ``torch.norm``, the words ``normalize`` and ``norm``): each pass over a
    file costs as much as the rest of the classification, so there is one.
    """
    i = text.find(b"norm")
    if i != -1:
        while i != -1:
            yield from _classify_norm(text, i)
            i = text.find(b"norm", i + 4)
        yield from find_all(text, b"linalg")
    if b"sqrt" in text and b"sum(" in text:
        # sqrt(sum(x ** 2)): the analysis accepts this spelling on one line.
        yield from (i for i in find_all(text, b"sqrt") if b"sum(" in _line_at(text, i))


def _classify_norm(text: bytes, i: int) -> Iterator[int]:
    """The hits that the ``norm`` at offset ``i`` is part of."""
    if text.startswith(b"norm_except_dim", i):
        yield i
    before = text[i - 1 : i]
    if before == b"_" and text[i - 7 : i] == b"vector_":
        yield i - 7
    elif before == b".":
        # `.norm(` on anything but `self` (a submodule called `norm`).
        if text[i + 4 : i + 5] == b"(" and text[i - 5 : i - 1] != b"self":
            yield i - 1
        if text[i - 6 : i - 1] == b"torch":
            yield i - 6
    if before.isalnum() or before == b"_":
        return
    if text.startswith(b"normalize", i):
        if _is_word_at(text, i, 9):
            yield i
        return
    after = text[i + 4 : i + 5]
    if before == b"." or after.isalnum() or after == b"_":
        return
    # `norm(x)`, `from torch import norm`, a parenthesized import line.
    line = _line_at(text, i).strip()
    if (
        after == b"("
        or b"import" in line
        or line in (b"norm", b"norm,")
        or line.startswith(b"norm as")
    ):
        yield i


#: A class statement with a torch layer among its bases (whose weight it
#: inherits): the layers the analysis knows (``LAYERS_WITH_WEIGHT``); the
#: literal prefix keeps the search fast.
_LAYER_CLASS = re.compile(
    rb"class[ \t]+\w+[ \t]*\([^)]*(?:"
    + b"|".join(re.escape(n.encode()) for n in sorted(tn.LAYERS_WITH_WEIGHT))
    + rb")"
)


def param_hits(text: bytes) -> Iterator[int]:
    """Offsets where a parameter is declared or inherited from a torch layer."""
    yield from _shared_parameter_calls(text)
    yield from find_all(text, b"register_parameter")
    yield from (m.start() for m in _LAYER_CLASS.finditer(text))


def parameter_call_hits(text: bytes) -> Iterator[int]:
    """Offsets of ``Parameter(`` and of a line binding an alias of it."""
    # One pass: `Parameter(`, or `P = nn.Parameter`, `from torch.nn import
    # Parameter as P` (an alias, called later without the word).
    for i in find_all(text, b"Parameter"):
        if text[i + 9 : i + 10] == b"(" or _binds_alias(
            _line_at(text, i), b"Parameter"
        ):
            yield i


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
    defs: _Defs | None = None
    verdicts: dict[bytes, bool] = {}
    for i in hits:
        if defs is None:
            defs = _Defs.of(text)  # only for files with a hit
        name = defs.enclosing(i)
        if name is None or name in _ENTRY_METHODS:
            yield i
            continue
        if name not in verdicts:
            verdicts[name] = (
                re.search(rb"self\s*\.\s*" + name + rb"\b", text) is not None
            )
        if verdicts[name]:
            yield i


class _Defs:
    """The ``def`` lines of a text, read backwards from an offset as they
    are needed, to tell which function's own body holds it (most files
    ask about a few offsets, so no table of every ``def`` is built)."""

    def __init__(self, text: bytes) -> None:
        self.text = text
        self.ends: dict[int, int] = {}

    _last: _Defs | None = None

    @classmethod
    def of(cls, text: bytes) -> _Defs:
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
                return match.group(1) if start <= self.ends[head] else None
            j = text.rfind(b"def ", 0, j)
        return None


@cache
def _dedent(depth: int) -> re.Pattern[bytes]:
    """A line that starts code at ``depth`` columns or fewer."""
    return re.compile(rb"\n[ \t]{0,%d}[^ \t\r\n#)\]}]" % depth)


def parameter_created_hits(text: bytes) -> Iterator[int]:
    """:func:`parameter_call_hits` in methods forward may reach."""
    return in_reachable_methods(text, _shared_parameter_calls(text))


def wrapped_store_hits(text: bytes) -> Iterator[int]:
    """:func:`submodule_store_hits` in methods forward may reach."""
    return in_reachable_methods(text, submodule_store_hits(text))


#: ``self.<sub>.<attr> = `` (an annotation allowed, not ``==``), unless
#: what is stored is one plain literal; the literal prefix keeps the search
#: fast.
_SUBMODULE_STORE = re.compile(
    rb"self\s*\.\s*\w+\s*\.\s*\w+\s*(?::[^=\n]*)?=(?!=)"
    rb"(?![ \t]*(?:\"[^\"\\\n]*\"|'[^'\\\n]*'|-?\d[\w.]*|None|True|False)"
    rb"[ \t]*(?:#[^\n]*)?$)",
    re.MULTILINE,
)
#: ``setattr(self.<sub>, ...`` and ``self.<sub>._parameters[``.
_SUBMODULE_SET = re.compile(
    rb"setattr\s*\(\s*self\s*\.\s*\w+\s*,|self\s*\.\s*\w+\s*\.\s*_parameters\s*\["
)


def submodule_store_hits(text: bytes) -> Iterator[int]:
    """Offsets of ``self.<sub>.<attr> = ...``, ``setattr(self.<sub>, ...``
    and ``self.<sub>._parameters[``: a value stored on a wrapped module."""
    yield from (m.start() for m in _SUBMODULE_STORE.finditer(text))
    if b"setattr" in text or b"_parameters" in text:
        yield from (m.start() for m in _SUBMODULE_SET.finditer(text))


def _binds_alias(line: bytes, name: bytes) -> bool:
    """`X = a.b.<name>` or `import ... <name> as X`."""
    line = line.split(b"#", 1)[0].strip()
    if b" as " in line and b"import" in line:
        return (name + b" as ") in line
    target, eq, value = line.partition(b"=")
    return (
        bool(eq)
        and value.strip().endswith(name)
        and bool(_WORD.fullmatch(target.strip()))
    )


def legacy_hits(text: bytes) -> Iterator[int]:
    return find_all(text, b"weight_norm")


# -- prefilters ----------------------------------------------------------------------


HitFinder = Callable[[bytes], Iterator[int]]
LineTest = Callable[[bytes], bool]


class Prefilter:
    """Hits of every category in ``needs`` must meet in one class family."""

    def __init__(self, *needs: tuple[str, HitFinder, LineTest]) -> None:
        #: (category, hit finder, test for a module-level line whose
        #: assignment or ``as`` binds an alias of the trigger).
        self.needs = needs

    def file_may_match(self, data: bytes, path: str | None = None) -> bool:
        return all(next(finder(data), None) is not None for _, finder, _ in self.needs)

    def keep(
        self, data: bytes, segments: list[Segment], path: str | None = None
    ) -> list[bool] | None:
        """Which segments to parse (the others become ``NAME = None``), or
        None when nothing in the file can match."""
        other = [s for s in segments if s.name is None]
        starts = [s.start for s in segments]
        has: list[list[bool]] = []
        for _, finder, binds_alias in self.needs:
            hits = list(finder(data))
            hits.extend(_words_hits(data, _aliases(other, binds_alias)))
            flags = [False] * len(segments)
            for i in hits:
                flags[bisect_left(starts, i + 1) - 1] = True
            has.append(flags)

        by_name = {s.name: i for i, s in enumerate(segments) if s.name}
        keep = [s.name is None or declares_global(s.text) for s in segments]
        # Module-level code (a class inside an `if`, a shim) may match itself.
        relevant = all(
            any(f for f, s in zip(flags, segments) if s.name is None) for flags in has
        )
        for i, segment in enumerate(segments):
            if segment.name is None:
                continue
            family = [i, *_ancestors(i, segments, by_name)]
            if all(any(flags[j] for j in family) for flags in has):
                relevant = True
                for j in family:
                    keep[j] = True
        return keep if relevant else None


def _ancestors(i: int, segments: list[Segment], by_name: dict) -> list[int]:
    """Same-file base classes of segment ``i``, transitively."""
    out: list[int] = []
    todo = list(segments[i].bases)
    while todo:
        j = by_name.get(todo.pop())
        if j is not None and j not in out:
            out.append(j)
            todo.extend(segments[j].bases)
    return out


def _aliases(other: list[Segment], binds_alias: LineTest) -> set[bytes]:
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


def declares_global(text: bytes) -> bool:
    """A `global` statement: a dropped function could rebind module names."""
    return any(
        _line_at(text, i).lstrip().startswith(b"global ")
        for i in find_all(text, b"global ")
    )


# -- cutting -------------------------------------------------------------------------


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
            _DECORATED_HEADER.search(text) if text.startswith(b"@") else None
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
        text = segment.text
        if (
            kept
            or segment.name is None
            or text.count(b'"""') % 2
            or text.count(b"'''") % 2
        ):
            out.append(text)
        else:
            out.append(segment.name + b" = None" + b"\n" * line_breaks(text))
    return b"".join(out)


def line_breaks(text: bytes) -> int:
    """How many lines ``text`` ends, as Python's tokenizer counts them:
    ``\n``, ``\r\n`` and a lone ``\r`` each end one. (Counting ``\n`` alone
    put every line after an old-Mac line ending one line early.)"""
    return text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")


class AnyOf:
    """A rule that fires on what any one of several prefilters admits."""

    def __init__(self, *filters: Prefilter) -> None:
        self.filters = filters

    def file_may_match(self, data: bytes, path: str | None = None) -> bool:
        return any(f.file_may_match(data, path) for f in self.filters)

    def keep(
        self, data: bytes, segments: list[Segment], path: str | None = None
    ) -> list[bool] | None:
        plans = [
            f.keep(data, segments, path)
            for f in self.filters
            if f.file_may_match(data, path)
        ]
        plans = [plan for plan in plans if plan is not None]
        if not plans:
            return None
        return [any(flags) for flags in zip(*plans)]


def optim_hits(text: bytes) -> Iterator[int]:
    """``torch.optim``, ``from torch import optim``: the word, not "optimizer"."""
    return _word_hits(text, b"optim")


class _Replay:
    """A hit finder that remembers the last text it searched, so that the
    prefilters sharing a category (WN101's and WN102's parameters and
    norms) search each file once. Hits are found lazily, as callers ask."""

    def __init__(self, finder: HitFinder) -> None:
        self.finder = finder
        self.text: bytes | None = None
        self.seen: list[int] = []
        self.rest: Iterator[int] = iter(())

    def __call__(self, text: bytes) -> Iterator[int]:
        if text is not self.text:
            self.text, self.seen, self.rest = text, [], self.finder(text)
        return self._replay(self.seen, self.rest)

    @staticmethod
    def _replay(seen: list[int], rest: Iterator[int]) -> Iterator[int]:
        i = 0
        while True:
            if i == len(seen):
                hit = next(rest, None)
                if hit is None:
                    return
                seen.append(hit)
            yield seen[i]
            i += 1


_shared_parameter_calls = _Replay(parameter_call_hits)
_shared_param_hits = _Replay(param_hits)
_shared_legacy_hits = _Replay(legacy_hits)

LEGACY_API = Prefilter(
    ("legacy", _shared_legacy_hits, lambda line: b"weight_norm" in line),
)
_shared_norm_hits = _Replay(norm_hits)


def _binds_norm(line: bytes) -> bool:
    return (b"norm" in line or b"sqrt" in line) and next(
        norm_hits(line), None
    ) is not None


MODULE_CLASSES = Prefilter(
    # The cheaper and more selective category first: most files stop there.
    ("param", _shared_param_hits, lambda line: b"Parameter" in line),
    ("norm", _shared_norm_hits, _binds_norm),
)


class InitWrites:
    """WN203 follows calls between the functions and classes of a file, so
    it keeps what those can be, not only the segments that spell weight norm:

    * segments with ``weight_norm`` or ``.apply(``;
    * top-level helpers that hold ``weight_norm`` and every segment that
      names one (``self.proj = WNConv1d(...)``);
    * callbacks named in ``.apply(NAME``;
    * type-testing hooks (``isinstance(`` with ``.weight``), and the
      segments they may test for; such a hook alone admits a file that
      imports from a sibling module mentioning ``weight_norm``;
    * for a class that runs ``self.apply(``, every segment its kept text
      names, transitively (the classes it may hold).
    """

    _CALLBACK = re.compile(rb"\.apply\(\s*(?:self\.)?(\w+)")

    def file_may_match(self, data: bytes, path: str | None = None) -> bool:
        if next(_shared_legacy_hits(data), None) is not None:
            return True
        # Without weight norm in this file, modules can only be weight-normed
        # by a sibling module (a helper, a base class, an applier), whose
        # text says so: `.apply(init)` over them, or a hook typed by them.
        if b".apply(" not in data and not _is_hook(data):
            return False
        return path is not None and imports_sibling_mentioning(data, path)

    def keep(
        self, data: bytes, segments: list[Segment], path: str | None = None
    ) -> list[bool] | None:
        if not self.file_may_match(data, path):
            return None
        callbacks = {m.group(1) for m in self._CALLBACK.finditer(data)}
        # Helpers that return a weight-normed module: whoever calls one may
        # hold one (`self.proj = WNConv1d(...)`). Classes are reached through
        # hooks and `self.apply(` below.
        helpers = {
            s.name
            for s in segments
            if s.name and b"weight_norm" in s.text and _is_function(s)
        }
        keep = [s.name is None or declares_global(s.text) for s in segments]
        normed = {s.name for s in segments if s.name and b"weight_norm" in s.text}
        defined = {s.name for s in segments if s.name}
        for i, segment in enumerate(segments):
            text = segment.text
            if (
                b"weight_norm" in text
                or b".apply(" in text
                or segment.name in callbacks
                or (_is_hook(text) and _tests_normed_type(text, normed, defined))
                or not helpers.isdisjoint(_WORD.findall(text))
            ):
                keep[i] = True
        by_name = {s.name: i for i, s in enumerate(segments) if s.name}
        _keep_tested_types(segments, by_name, keep)
        _keep_applied_classes(segments, by_name, keep)
        for i in [i for i, k in enumerate(keep) if k]:
            for j in _ancestors(i, segments, by_name):
                keep[j] = True
        return keep


def _keep_tested_types(
    segments: list[Segment], by_name: dict, keep: list[bool]
) -> None:
    """The classes a hook tests for: the types its ``isinstance(`` names."""
    for hook in [s for s in segments if _is_hook(s.text)]:
        for types in _ISINSTANCE_TYPES.finditer(hook.text):
            for name in _WORD.findall(types.group(1)):
                j = by_name.get(name)
                if j is not None:
                    keep[j] = True


def _keep_applied_classes(
    segments: list[Segment], by_name: dict, keep: list[bool]
) -> None:
    """For a class that runs ``self.apply(``, every segment its text names,
    transitively: the classes its instances may hold."""
    todo = [i for i, s in enumerate(segments) if b"self.apply(" in s.text]
    _keep_named(segments, by_name, keep, todo)


def _keep_named(
    segments: list[Segment], by_name: dict, keep: list[bool], todo: list[int]
) -> None:
    """Keep every segment that the text of a segment in ``todo`` names (a
    whole word), and what the text of those names, transitively: one read
    of each segment's words, so linear in the file."""
    while todo:
        for name in set(_WORD.findall(segments[todo.pop()].text)):
            j = by_name.get(name)
            if j is not None and not keep[j]:
                keep[j] = True
                todo.append(j)


#: The second argument of ``isinstance(x, T)`` / ``isinstance(x, (A, B))``.
_ISINSTANCE_TYPES = re.compile(rb"isinstance\(\s*[\w.\[\]]+\s*,\s*(\([^()]*\)|[\w.]+)")


#: Types no sibling module defines.
_BUILTIN_TYPES = frozenset(
    {b"tuple", b"list", b"dict", b"set", b"str", b"int", b"float", b"bool", b"bytes"}
)


def _tests_normed_type(text: bytes, normed: set, defined: set) -> bool:
    """A hook may test for a weight-normed class: one of this file whose
    text has ``weight_norm``, or a plain name this file does not define
    (a sibling module's class)."""
    for types in _ISINSTANCE_TYPES.finditer(text):
        for name in re.findall(rb"[\w.]+", types.group(1)):
            if b"." in name or name in _BUILTIN_TYPES:
                continue
            if name in normed or name not in defined:
                return True
    return False


def _is_function(segment: Segment) -> bool:
    """The segment is a top-level ``def`` (after any decorators)."""
    match = _DECORATED_HEADER.search(segment.text)
    return match is not None and not match.group(0).startswith(b"class")


#: What stands before ``.weight`` in ``module.conv.weight``: a submodule's
#: weight reached from a name other than ``self`` (what a typed hook writes).
_BEFORE_WEIGHT = re.compile(rb"(?:^|[^\w.])([A-Za-z_]\w*)\.\w+$")


def _is_hook(text: bytes) -> bool:
    """A type-testing init hook may be in ``text``: ``isinstance(`` and a
    ``<name>.<attr>.weight`` on a name other than ``self``."""
    if b"isinstance(" not in text:
        return False
    for i in find_all(text, b".weight"):
        match = _BEFORE_WEIGHT.search(text, max(0, i - 80), i)
        if match is not None and match.group(1) != b"self":
            return True
    return False


#: WN203: weight norm in the file, or ``.apply(fn)`` over modules whose
#: weight norm a helper of a sibling file applies.
INIT_WRITES = InitWrites()


#: WN201: an optimizer handed the weight of a weight-normed module, or a
#: tensor computed from a norm.
OPTIMIZER_INPUTS = AnyOf(
    LEGACY_API,
    Prefilter(
        ("optim", optim_hits, lambda line: next(optim_hits(line), None) is not None),
        (
            "norm",
            _shared_norm_hits,
            lambda line: (
                (b"norm" in line or b"sqrt" in line)
                and next(norm_hits(line), None) is not None
            ),
        ),
    ),
)
#: WN106: ``nn.Parameter(...)`` in a method forward may reach.
PARAMETER_CALLS = Prefilter(
    ("parameter call", parameter_created_hits, lambda line: b"Parameter" in line),
)


def _norm_or_store_hits(text: bytes) -> Iterator[int]:
    # The norms first: MODULE_CLASSES has usually searched them already.
    yield from _shared_norm_hits(text)
    yield from wrapped_store_hits(text)


#: WN102: a parameter and, in the same class family, a norm (the
#: weight-norm modules of MODULE_CLASSES) or a store on a submodule in a
#: method forward may reach (a wrapper, which needs no norm). One
#: prefilter rather than ``AnyOf``: its parameter and norm hits are
#: MODULE_CLASSES's, searched once per file.
WRAPPED_STORES = Prefilter(
    ("param", _shared_param_hits, lambda line: b"Parameter" in line),
    ("norm or store", _norm_or_store_hits, _binds_norm),
)


#: How a pickler is spelled: ``torch.save(``/``T.save(``, ``from torch import
#: save``, and the pickling modules (``pickle``, ``cloudpickle``,
#: ``save_pickle``, ``dill``, ``joblib``). Plain substring searches: a regular
#: expression with no literal prefix costs seconds over a large code base.
PICKLER_WORDS = (b".save(", b"import save", b", save", b"pickle", b"dill", b"joblib")


def may_pickle(data: bytes) -> bool:
    """Whether a file's text can hold a pickling call (a prefilter)."""
    # Every pickling call spells `save` or `dump`: two searches settle most
    # files before the six that say which.
    return (b"save" in data or b"dump" in data) and any(
        word in data for word in PICKLER_WORDS
    )


#: The file applies a parametrization itself (every spelling of the
#: functions goes through ``torch.nn.utils.parametriz*``), or imports from
#: a sibling module that may hand it a weight-normed module.
_APPLIES = b"parametriz"


class _PicklesParametrized(Prefilter):
    """A pickler and a parametrization (here or in a sibling module).

    Kept: the definitions that spell a pickler, every definition their
    kept text names (the classes and helpers a pickled value is traced
    through), transitively, the same-file bases and subclasses of kept
    classes, module-level code, and functions with a ``global`` statement
    (they bind module names)."""

    def file_may_match(self, data: bytes, path: str | None = None) -> bool:
        if not may_pickle(data):
            return False
        if _APPLIES in data:
            return True
        # A sibling module can hand over a parametrized module only if its
        # text spells the new API (legacy weight norm pickles fine).
        return path is not None and imports_sibling_mentioning(data, path, _APPLIES)

    def keep(
        self, data: bytes, segments: list[Segment], path: str | None = None
    ) -> list[bool] | None:
        if not self.file_may_match(data, path):
            return None
        starts = [s.start for s in segments]
        keep = [s.name is None or declares_global(s.text) for s in segments]
        for word in PICKLER_WORDS:
            for i in find_all(data, word):
                keep[bisect_left(starts, i + 1) - 1] = True
        by_name = {s.name: i for i, s in enumerate(segments) if s.name}
        todo = [i for i, kept in enumerate(keep) if kept]
        while todo:
            _keep_named(segments, by_name, keep, todo)
            kept_names = {s.name for s, kept in zip(segments, keep) if kept}
            for j, segment in enumerate(segments):
                if not keep[j] and kept_names.intersection(segment.bases):
                    keep[j] = True  # a subclass runs the kept methods
                    todo.append(j)
        return keep


PICKLES_PARAMETRIZED = _PicklesParametrized()


#: Every prefilter a rule declares (a test checks each rule's is here). A
#: file that none of them admits has no finding, so the engine settles it
#: before a rule or the analysis is even imported: the cheapest first.
FILE_FILTERS = (
    LEGACY_API,
    MODULE_CLASSES,
    PARAMETER_CALLS,
    OPTIMIZER_INPUTS,
    WRAPPED_STORES,
    INIT_WRITES,
    PICKLES_PARAMETRIZED,
)


def any_admits(data: bytes, path: str | None = None) -> bool:
    """Some rule's prefilter admits ``data`` (the file at ``path``)."""
    return any(f.file_may_match(data, path) for f in FILE_FILTERS)
