"""Textual prefilters: what lets wnlint skip most of a code base unparsed.

Parsing is the dominant cost (``ast.parse`` of all of transformers takes
~9 s; ruff checks it in ~1 s), so each rule names the source text it needs,
as categories of "hits" found with plain substring searches:

* the legacy-API rules (WN3xx) need ``weight_norm``;
* the module-class rules (WN1xx) need a parameter (``Parameter(``,
  ``register_parameter``, a torch layer base class) and a norm (the norm
  spellings :mod:`wnlint.facts.norms` recognizes) in the same class or
  its same-file base classes;
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
spell, so both paths give the same findings (the tests check this). The
hits are found by :mod:`wnlint.facts.hits`; the cutting is
:mod:`wnlint.facts.cutting`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from wnlint.facts.cutting import DECORATED_HEADER, Segment, aliases, declares_global
from wnlint.facts.enclosing import in_one_function
from wnlint.facts.hits import (
    HitFinder,
    Replay,
    find_all,
    hook_registration_hits,
    installed_forward_hits,
    legacy_hits,
    may_pickle,
    norm_hits,
    optim_hits,
    param_hits,
    parameter_created_hits,
    pickler_hits,
    weight_store_hits,
    words_hits,
    wrapped_store_hits,
)
from wnlint.facts.siblings import imports_sibling_mentioning

_WORD = re.compile(rb"\w+")


# -- prefilters ----------------------------------------------------------------------


LineTest = Callable[[bytes], bool]


_Verdict = Callable[[Any, bytes, "str | None"], bool]


def _remembered(decide: _Verdict) -> _Verdict:
    """``file_may_match`` answered once per file: the engine's gate, the
    rules' admission and the cut all ask it of the same bytes."""

    def remembered(self: Any, data: bytes, path: str | None = None) -> bool:
        last = self.__dict__.get("_last")
        if last is not None and last[0] is data and last[1] == path:
            return last[2]
        verdict = decide(self, data, path)
        self._last = (data, path, verdict)
        return verdict

    return remembered


class Prefilter:
    """Hits of every category in ``needs`` must meet in one class family."""

    def __init__(
        self,
        *needs: tuple[str, HitFinder, LineTest],
        one_function: bool = False,
        also: tuple[bytes, ...] = (),
    ) -> None:
        #: (category, hit finder, test for a module-level line whose
        #: assignment or ``as`` binds an alias of the trigger).
        self.needs = needs
        #: Words whose segments (and their families) are kept too, in a
        #: file with a match.
        self.also = also
        #: The rule reads one function body at a time: the hits of its two
        #: categories must share one (:func:`enclosing.in_one_function`).
        self.one_function = one_function

    @_remembered
    def file_may_match(self, data: bytes, path: str | None = None) -> bool:
        if self.one_function:
            (_, first, _), (_, second, _) = self.needs
            return in_one_function(data, first(data), second(data))
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
            hits.extend(words_hits(data, aliases(other, binds_alias)))
            flags = [False] * len(segments)
            for i in hits:
                flags[bisect_left(starts, i + 1) - 1] = True
            has.append(flags)

        by_name = {s.name: i for i, s in enumerate(segments) if s.name}
        keep = [s.name is None or declares_global(s.text) for s in segments]
        also = [word for word in self.also if word in data]
        # Module-level code (a class inside an `if`, a shim) may match itself.
        relevant = all(
            any(f for f, s in zip(flags, segments) if s.name is None) for flags in has
        )
        for i, segment in enumerate(segments):
            if segment.name is None:
                continue
            family = [i, *_ancestors(i, segments, by_name)]
            matched = all(any(flags[j] for j in family) for flags in has)
            relevant = relevant or matched
            if matched or any(word in segment.text for word in also):
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


# -- several prefilters as one -------------------------------------------------------


class AnyOf:
    """A rule that fires on what any one of several prefilters admits."""

    def __init__(self, *filters: Prefilter) -> None:
        self.filters = filters

    @_remembered
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


_shared_param_hits = Replay(param_hits)
_shared_legacy_hits = Replay(legacy_hits)

#: What the migration's hazards read besides the legacy calls: strings
#: naming ``weight_g``/``weight_v``, torch's ``WeightNorm`` hook class and
#: a model class loaded by name (diffusers' ``ModelMixin``)
#: (:mod:`wnlint.rules._migration_hazards`). Kept with them, ``check``
#: declines the fix where ``fix`` would (the pickling hazard aside).
_HAZARD_WORDS = (b"weight_g", b"weight_v", b"WeightNorm", b"ModelMixin")
LEGACY_API = Prefilter(
    ("legacy", _shared_legacy_hits, lambda line: b"weight_norm" in line),
    also=_HAZARD_WORDS,
)
_shared_norm_hits = Replay(norm_hits)

_REMOVER = b"remove_parametrizations"

#: WN305: the new API's remover, by its name.
REMOVERS = Prefilter(
    ("remover", lambda text: find_all(text, _REMOVER), lambda line: _REMOVER in line),
)


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
    * top-level functions that may return an init function from a table;
    * top-level helpers that hold ``weight_norm`` and every segment that
      names one (``self.proj = WNConv1d(...)``);
    * callbacks named in ``.apply(NAME``;
    * type-testing hooks (``isinstance(`` with ``.weight``), and the
      segments they may test for; such a hook alone admits a file that
      imports from a sibling module mentioning ``weight_norm``, or from one
      that imports from such a module (DAC's quantizer and its layers);
    * for a class that runs ``self.apply(``, every segment its kept text
      names, transitively (the classes it may hold).
    """

    _CALLBACK = re.compile(rb"\.apply\(\s*(?:self\.)?(\w+)")

    @_remembered
    def file_may_match(self, data: bytes, path: str | None = None) -> bool:
        if next(_shared_legacy_hits(data), None) is not None:
            return True
        # Without weight norm in this file, modules can only be weight-normed
        # by a sibling module (a helper, a base class, an applier), whose
        # text says so: `.apply(init)` over them, or a hook typed by them.
        if b".apply(" not in data and not _is_hook(data):
            return False
        return path is not None and imports_sibling_mentioning(data, path, depth=1)

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
        keep = [
            s.name is None or declares_global(s.text) or _returns_init(s)
            for s in segments
        ]
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


def _returns_init(segment: Segment) -> bool:
    """A top-level function that may return an init function looked up in
    a table (``return {...: nn.init.normal_}[name]``, ``return INITS[name]``)."""
    text = segment.text
    return b"return" in text and b"init" in text.lower() and _is_function(segment)


def _is_function(segment: Segment) -> bool:
    """The segment is a top-level ``def`` (after any decorators)."""
    match = DECORATED_HEADER.search(segment.text)
    return match is not None and not match.group(0).startswith(b"class")


#: What stands before ``.weight`` in ``module.conv.weight``: a submodule's
#: weight reached from a name other than ``self`` (what a typed hook writes),
#: not in a string (``"lm_head.weight"``, a key).
_BEFORE_WEIGHT = re.compile(rb"(?:^|[^\w.\"'])([A-Za-z_]\w*)\.\w+$")


def _is_hook(text: bytes) -> bool:
    """A type-testing init hook may be in ``text``: ``isinstance(`` and a
    ``<name>.<attr>.weight`` on a name other than ``self`` (the attribute
    ``weight`` itself, not ``weights_map``; not in a comment)."""
    if b"isinstance(" not in text:
        return False
    for i in find_all(text, b".weight"):
        after = text[i + 7 : i + 8]
        if after.isalnum() or after == b"_":
            continue
        match = _BEFORE_WEIGHT.search(text, max(0, i - 80), i)
        if match is not None and match.group(1) != b"self" and not _commented(text, i):
            return True
    return False


def _commented(text: bytes, i: int) -> bool:
    """Offset ``i`` follows a ``#`` on its line with no quote before it."""
    start = text.rfind(b"\n", 0, i) + 1
    hash_at = text.find(b"#", start, i)
    return hash_at != -1 and not any(q in text[start:hash_at] for q in (b"'", b'"'))


#: WN203: weight norm in the file, or ``.apply(fn)`` over modules whose
#: weight norm a helper of a sibling file applies.
INIT_WRITES = InitWrites()


#: WN201: an optimizer handed the weight of a weight-normed module, or a
#: tensor computed from a norm in the function that builds it.
OPTIMIZER_INPUTS = AnyOf(
    LEGACY_API,
    Prefilter(
        ("optim", optim_hits, lambda line: next(optim_hits(line), None) is not None),
        ("norm", _shared_norm_hits, _binds_norm),
        one_function=True,
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
    yield from installed_forward_hits(text)
    yield from hook_registration_hits(text)
    yield from weight_store_hits(text)


#: WN102: a parameter and, in the same class family, a norm (the
#: weight-norm modules of MODULE_CLASSES) or a store on a submodule in a
#: method forward may reach (a wrapper, which needs no norm). One
#: prefilter rather than ``AnyOf``: its parameter and norm hits are
#: MODULE_CLASSES's, searched once per file.
WRAPPED_STORES = Prefilter(
    ("param", _shared_param_hits, lambda line: b"Parameter" in line),
    ("norm or store", _norm_or_store_hits, _binds_norm),
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

    @_remembered
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
        for i in pickler_hits(data, calls=True):
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


#: WN306: a remover of either API (``remove_weight_norm`` spells
#: ``weight_norm``). Each keeps the same-file subclasses of a class that
#: spells it (its family), which WN306 reads with the class.
REMOVALS = AnyOf(LEGACY_API, REMOVERS)


def any_admits(
    data: bytes, path: str | None, filters: Iterable[Prefilter | AnyOf | InitWrites]
) -> bool:
    """Some prefilter of ``filters`` admits ``data`` (the file at ``path``).

    The engine asks the prefilters its enabled rules declare (named in the
    catalog, :mod:`wnlint.rules.catalog`) before any rule is imported: a
    file none admits has no finding."""
    return any(f.file_may_match(data, path) for f in filters)
