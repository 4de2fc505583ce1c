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

from wnlint.facts import torchnames as tn
from wnlint.facts.enclosing import Defs, in_reachable_methods

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
    weight), and of the stores on ``self`` in a function that reads
    ``self.weight`` or ``self.bias`` elsewhere (``w = self.weight`` first,
    then ``self.ws = (w - mean) * rstd``: the analysis follows the local),
    in methods forward may reach."""
    return in_reachable_methods(text, _weight_stores(text))


def _weight_stores(text: bytes) -> Iterator[int]:
    defs = Defs.of(text)
    stores: dict[tuple[int, int], bool] = {}  # function span -> stores on self
    for word in (b"self.weight", b"self.bias"):
        for i in find_all(text, word):
            # A line ends at \n, \r\n or a lone \r (as Python reads it).
            start = max(text.rfind(b"\n", 0, i), text.rfind(b"\r", 0, i)) + 1
            if word == b"self.weight" and _SELF_STORE_LINE.match(text, start, i):
                yield i
                continue
            span = defs.span(i)
            if span is None:
                yield i  # its function is in doubt: kept
                continue
            if span not in stores:
                stores[span] = _SELF_STORE.search(text, *span) is not None or (
                    _stored_on_self(text, defs.enclosing(i))
                )
            if stores[span]:
                yield i


#: A line that starts with a store on ``self``, a tuple's too, up to its
#: ``=`` (``self.w, s = ``).
_SELF_STORE_START = re.compile(rb"[ \t\f]*self[ \t]*\.[ \t]*\w+[^=\r\n]*=(?!=)")


def _stored_on_self(text: bytes, name: bytes | None) -> bool:
    """What method ``name`` returns may be stored on ``self``: a line
    stores on ``self`` the result of ``self.<name>(...)`` (``self.w =
    self.normalize_weight()``, which the analysis follows into the
    method's returns)."""
    if name is None:
        return True  # in doubt: kept
    call = re.compile(rb"self[ \t]*\.[ \t]*" + re.escape(name) + rb"[ \t]*\(")
    for found in call.finditer(text):
        at = found.start()
        start = max(text.rfind(b"\n", 0, at), text.rfind(b"\r", 0, at)) + 1
        if _SELF_STORE_START.match(text, start, at) is not None:
            return True
    return False


#: A line of a function body that stores on ``self`` (a line starts after
#: \n or a lone \r, as Python reads it; its indentation may hold form
#: feeds).
_SELF_STORE = re.compile(rb"(?:^|(?<=\r))" + _SELF_STORE_LINE.pattern, re.MULTILINE)


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


#: A method ``__call__`` defined in the text.
_DEFINES_CALL = re.compile(rb"def[ \t]+__call__\b")


def hook_registration_hits(text: bytes) -> Iterator[int]:
    """Offsets of ``register_forward_pre_hook``/``register_forward_hook``: a
    hook object registered by its own class, whose ``__call__`` may store a
    computed weight on the module (WN102). Only in a file that defines a
    ``__call__``: the hook's class defines its own (a function registered
    as a hook, as most code does, stores nothing WN102 follows)."""
    if b"__call__" not in text or _DEFINES_CALL.search(text) is None:
        return
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
        line = line_at(text, i).strip()
        if line.startswith((b">>>", b"...")):
            continue  # a doctest's line: in a string
        found = _OPTIM_CLASS.match(text, i + 5)
        if found is not None:
            if not found.group(1).startswith(_NOT_OPTIMIZERS) and (
                found.group(2) != b"Optimizer"
            ):
                yield i
            continue
        if b"import" in line:
            if not _imports_no_optimizer(line):
                yield i
        elif _binds_alias(line, b"optim"):
            yield i


#: ``from torch.optim<rest> import <names>`` on one line.
_FROM_OPTIM = re.compile(
    rb"from[ \t]+torch\.optim(\.\w+)?[ \t]+import[ \t]+([\w ,\t]+)$"
)


def _imports_no_optimizer(line: bytes) -> bool:
    """A one-line import from ``torch.optim`` of nothing that builds an
    optimizer: from a scheduler's module, or only the base class."""
    found = _FROM_OPTIM.match(line.split(b"#", 1)[0].rstrip())
    if found is None:
        return False  # another import, parentheses: in doubt
    if found.group(1) is not None:
        return found.group(1)[1:] + b"." in _NOT_OPTIMIZERS
    names = {item.split()[0] for item in found.group(2).split(b",") if item.split()}
    return names == {b"Optimizer"}


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


_PICKLE_MODULES = (b"pickle", b"cloudpickle", b"dill", b"joblib")


def may_pickle(data: bytes) -> bool:
    """Whether a file's text can hold a pickling call the analysis counts
    (:data:`wnlint.facts.torchnames.PICKLERS`): a prefilter, so plain
    substring searches first, and a look around each ``save`` only in
    files that spell it (a ``model_card.save(`` or a ``save_directory``
    is no ``torch.save``; "unpickler" in a docstring is no module)."""
    if b"save" not in data and b"dump" not in data:
        return False
    return next(pickler_hits(data), None) is not None


def pickler_hits(data: bytes, calls: bool = False) -> Iterator[int]:
    """Offsets where a pickler is spelled: ``save`` read off a name that
    may be ``torch`` or imported, ``save_pickle``, a pickling module's name
    (in a file that spells ``dump``); with ``calls``, also calls of a bare
    ``save(`` and of any ``dump(`` (a function calling what the module
    level imported or aliased, which the cut keeps)."""
    if b"dump" in data:
        for name in _PICKLE_MODULES:
            yield from _word_hits(data, name)
        if calls:
            for word in (b"dump", b"dumps"):
                yield from (i for i in _word_hits(data, word) if _called(data, i, word))
    yield from find_all(data, b"save_pickle")
    receivers: dict[bytes, bool] = {}  # a file saves through few names
    for i in _word_hits(data, b"save"):
        if _torch_save_at(data, i, receivers) or (
            calls and data[i - 1 : i] != b"." and _called(data, i, b"save")
        ):
            yield i


def _called(data: bytes, i: int, word: bytes) -> bool:
    return data[i + len(word) : i + len(word) + 1] == b"("


#: The name before ``.save``: its receiver.
_RECEIVER = re.compile(rb"(\w+)[ \t]*\.[ \t]*$")


def _torch_save_at(data: bytes, i: int, receivers: dict[bytes, bool]) -> bool:
    """The word ``save`` at ``i`` may be ``torch.save``: read off a name
    that may be bound to ``torch`` (or ``torch.serialization``), or a bare
    ``save`` that an import binds (``from torch import save``, also inside
    parentheses) or a star import may. ``receivers`` remembers the answer
    for each name ``.save`` is read off."""
    if data[i - 1 : i] == b".":
        found = _RECEIVER.search(data, max(0, i - 80), i)
        if found is None:
            return False  # on a call or subscript: nothing resolves it
        name = found.group(1)
        if name not in receivers:
            receivers[name] = _may_be_torch(data, name)
        return receivers[name]
    line = line_at(data, i)
    if b"import" in line:
        return True
    start = data.rfind(b"import", 0, i)
    if start != -1 and b"(" in data[start:i] and b")" not in data[start:i]:
        return True  # a line of a parenthesized import
    return data[i + 4 : i + 5] == b"(" and b"import *" in data


def _may_be_torch(data: bytes, name: bytes) -> bool:
    """``name`` may be bound to ``torch`` or ``torch.serialization``: it is
    one of them, or the file binds it by an import, an alias (``T = torch``,
    ``T := ...``, no call) or may through a star import."""
    if name in (b"torch", b"serialization") or b"import *" in data:
        return True
    binding = re.compile(
        rb"(?m)\bimport\b[^\n]*\b%s\b|\bas[ \t]+%s\b" % (name, name)
        + rb"|^[ \t]*%s[ \t]*=[^=(\n]*$|%s[ \t]*:=" % (name, name)
    )
    return binding.search(data) is not None


#: Shared by the parameter categories of several prefilters.
_shared_parameter_calls = Replay(parameter_call_hits)
