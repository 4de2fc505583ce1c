"""Hits: where a file's bytes spell what a rule needs, found with plain
substring searches before anything is parsed.

Each finder yields offsets of one category of hits, in the vocabulary the
recognizers use: the legacy API's name (``weight_norm``), a parameter
(``Parameter(``, ``register_parameter``, a class deriving from one of the
torch layers the analysis knows), a norm spelling the norm recognizer
(:mod:`wnlint.facts.norms`) accepts, a store on a submodule, ``optim``, a
pickler. :mod:`wnlint.facts.prefilter` combines them into the prefilters
the rules declare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

from wnlint.facts import torchnames as tn

_WORD = re.compile(rb"\w+")


def find_all(text: bytes, word: bytes) -> Iterator[int]:
    if not word:
        return  # an empty word would be found everywhere, forever
    i = text.find(word)
    while i != -1:
        yield i
        i = text.find(word, i + len(word))


def line_at(text: bytes, i: int) -> bytes:
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


def words_hits(text: bytes, words: set[bytes]) -> Iterator[int]:
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
    ``torch.norm`` and ``linalg.norm`` called or bound to a name, the words
    ``normalize`` and ``norm`` called or imported): each pass over a file
    costs as much as the rest of the classification, so there is one. The
    analysis counts norm *calls* (:data:`wnlint.facts.torchnames.NORM_FUNCTIONS`,
    ``F.normalize``, the ``NORMISH_ATTRS`` methods), directly or through a
    name bound to the function: ``normalize`` as a flag's name, or
    ``torch.normal``, is none.
    """
    i = text.find(b"norm")
    while i != -1:
        yield from _classify_norm(text, i)
        i = text.find(b"norm", i + 4)
    if b"sqrt" in text and b"sum(" in text:
        # sqrt(sum(x ** 2)): the analysis accepts this spelling on one line.
        yield from (i for i in find_all(text, b"sqrt") if b"sum(" in line_at(text, i))


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
        after = text[i + 4 : i + 5]
        if not (after.isalnum() or after == b"_") and text[
            max(0, i - 7) : i - 1
        ].endswith((b"torch", b"linalg")):
            yield i - 1  # `torch.norm`, `linalg.norm`, called or not
    if before.isalnum() or before == b"_":
        return
    if text.startswith(b"normalize", i):
        # A call, or a line that binds it (an import, an alias): the norm
        # calls the analysis counts (``normalize`` as a flag's name is no
        # norm).
        if _is_word_at(text, i, 9) and (
            text[i + 9 : i + 10 + 8].lstrip(b" \t")[:1] == b"("
            or _binds(line_at(text, i).strip(), b"normalize")
        ):
            yield i
        return
    after = text[i + 4 : i + 5]
    if before == b"." or after.isalnum() or after == b"_":
        return
    # `norm(x)`, `from torch import norm`, a parenthesized import line.
    if after == b"(" or _binds(line_at(text, i).strip(), b"norm"):
        yield i


def _binds(line: bytes, name: bytes) -> bool:
    """The (stripped) line binds ``name``: an import of it (a parenthesized
    import's own line too) or an alias of it."""
    return (
        b"import" in line
        or line in (name, name + b",")
        or line.startswith(name + b" as")
        or _binds_alias(line, name)
    )


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
        if text[i + 9 : i + 10] == b"(" or _binds_alias(line_at(text, i), b"Parameter"):
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


#: A line that starts with a store on ``self`` (``self.<attr> = ``).
_SELF_STORE_LINE = re.compile(
    rb"[ \t\f]*self[ \t]*\.[ \t]*\w+[ \t]*(?::[^=\r\n]*)?=(?!=)"
)


def weight_store_hits(text: bytes) -> Iterator[int]:
    """Offsets of ``self.weight`` on a line that stores on ``self`` (``self._weight
    = self.weight.masked_fill(mask, 0.)``, a layer subclass's dropped
    weight), in methods forward may reach."""
    return in_reachable_methods(text, _weight_stores(text))


def _weight_stores(text: bytes) -> Iterator[int]:
    for i in find_all(text, b"self.weight"):
        # A line ends at \n, \r\n or a lone \r (as Python reads it).
        start = max(text.rfind(b"\n", 0, i), text.rfind(b"\r", 0, i)) + 1
        if _SELF_STORE_LINE.match(text, start, i):
            yield i


#: After ``.forward``: an assignment (``module.forward = forward``).
_ASSIGNED = re.compile(rb"\s*=(?!=)")
#: Before ``"forward"``: ``setattr(<name>, ``.
_SETATTR_BEFORE = re.compile(rb"setattr\s*\(\s*\w+\s*,\s*$")


def installed_forward_hits(text: bytes) -> Iterator[int]:
    """Offsets of ``<name>.forward = `` and ``setattr(<name>, "forward"``: a
    function installing a closure as a module's forward (WN102 follows
    what the closure stores on the module)."""
    for i in find_all(text, b".forward"):
        if _ASSIGNED.match(text, i + 8):
            yield i
    for quote in (b"'forward'", b'"forward"'):
        for i in find_all(text, quote):
            if _SETATTR_BEFORE.search(text, max(0, i - 60), i):
                yield i


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


def hook_registration_hits(text: bytes) -> Iterator[int]:
    """Offsets of ``register_forward_pre_hook``/``register_forward_hook``: a
    hook object registered by its own class, whose ``__call__`` may store a
    computed weight on the module (WN102)."""
    yield from find_all(text, b"register_forward_pre_hook")
    yield from find_all(text, b"register_forward_hook")


def legacy_hits(text: bytes) -> Iterator[int]:
    return find_all(text, b"weight_norm")


HitFinder = Callable[[bytes], Iterator[int]]


#: After ``optim``: a class of ``torch.optim`` (``.Adam``, ``.adam.Adam``).
_OPTIM_CLASS = re.compile(rb"\.((?:[a-z_]\w*\.)*)([A-Z]\w*)")
#: What ``is_optimizer`` never counts: schedulers and the base class.
_NOT_OPTIMIZERS = (b"lr_scheduler.", b"swa_utils.")


def optim_hits(text: bytes) -> Iterator[int]:
    """Where an optimizer can be built: ``optim.<Class>`` (not a scheduler
    or ``Optimizer``, the base class), or a line that imports from or binds
    ``torch.optim`` (``from torch.optim import Adam``, ``O = torch.optim``),
    whose names the cut then follows. Not ``args.optim`` or an annotation
    of ``torch.optim.Optimizer``: what
    :func:`wnlint.facts.events.is_optimizer` never counts admits no file."""
    for i in _word_hits(text, b"optim"):
        found = _OPTIM_CLASS.match(text, i + 5)
        if found is not None:
            if not found.group(1).startswith(_NOT_OPTIMIZERS) and (
                found.group(2) != b"Optimizer"
            ):
                yield i
            continue
        line = line_at(text, i).strip()
        if b"import" in line or _binds_alias(line, b"optim"):
            yield i


class Replay:
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


#: Shared by the parameter categories of several prefilters.
_shared_parameter_calls = Replay(parameter_call_hits)
