"""Where a file's sibling modules are, and what their text holds.

Byte-level and cheap: the prefilters ask whether a file imports from a
module of its own package that mentions a word, before anything is parsed;
the summaries (:mod:`wnlint.facts.calls`) use the same lookups to follow a
call into that module. Nothing is imported or run, nothing under
``site-packages`` is followed, and every file read is recorded as a
dependency (:func:`wnlint.facts.sources.depend`) for the cache.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from wnlint.facts.sources import depend, read_source

#: How far up from a file its top-level package directory is looked for.
_MAX_PACKAGE_DEPTH = 12


def _package_parent(path: str, top: str) -> str | None:
    """The directory holding package ``top`` when ``path`` lies inside it:
    the nearest ancestor directory named ``top`` (namespace packages have
    no ``__init__.py`` to follow)."""
    directory = os.path.dirname(path)
    for _ in range(_MAX_PACKAGE_DEPTH):
        parent = os.path.dirname(directory)
        if os.path.basename(directory) == top:
            return parent
        if parent == directory:
            break
        directory = parent
    return None


def module_file(stem: str) -> str | None:
    """The file a module stem names (``stem.py`` or ``stem/__init__.py``),
    never one under ``site-packages``. Looked up once per process (every
    file of a package imports the same few modules); what a file holds is
    read per version, by :func:`_text`."""
    _depend_on_stem(stem)
    return _module_file_cached(stem, _listing_version(stem))


def _depend_on_stem(stem: str) -> None:
    """Whether either file of ``stem`` exists decides what is followed."""
    depend(stem + ".py")
    depend(os.path.join(stem, "__init__.py"))


def _listing_version(stem: str) -> int:
    """The modification time of the directories that hold ``stem``'s files:
    a file created or removed there changes it, so a long-lived process (an
    editor's flake8, the tests) never follows a stale lookup."""
    stamp = 0
    for folder in (os.path.dirname(stem), stem):
        try:
            stamp = stamp * 31 + os.stat(folder).st_mtime_ns
        except OSError:
            stamp = stamp * 31
    return stamp


@lru_cache(maxsize=8192)
def _module_file_cached(stem: str, listing: int) -> str | None:
    for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
        if os.path.isfile(candidate):
            real = os.path.realpath(candidate)
            return None if "site-packages" in real.split(os.sep) else real
    return None


def version(path: str) -> tuple[int, int]:
    """What changes when a file is edited: a long-lived process (an editor's
    flake8) never reads a stale summary."""
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


_TEXT: dict[str, tuple[tuple[int, int], bytes]] = {}


def file_text(path: str) -> bytes:
    """A file's bytes, read once per version of it."""
    depend(path)
    key = version(path)
    cached = _TEXT.get(path)
    if cached is None or cached[0] != key:
        try:
            cached = (key, read_source(path))
        except OSError:
            cached = (key, b"")
        _TEXT[path] = cached
    return cached[1]


#: Searched from the word ``from`` (a literal start is what makes a
#: pattern fast); :func:`_starts_line` checks what precedes it.
_IMPORT_FROM = re.compile(rb"from[ \t]+(\.*[\w.]+|\.+)[ \t]+import\b")


def imports_sibling_mentioning(
    data: bytes, path: str, word: bytes = b"weight_norm"
) -> bool:
    """``data`` (the text of the file at ``path``) imports from a module of
    its own package whose text mentions ``word`` (``weight_norm``, or
    ``parametriz`` for the new API only): a cheap, textual test the
    prefilters use before anything is parsed."""
    here = os.path.abspath(path)
    directory = os.path.dirname(here)
    for match in _IMPORT_FROM.finditer(data):
        if not _starts_line(data, match.start()):
            continue
        stem = module_stem(directory, match.group(1).decode("ascii", "replace"))
        if stem is not None and _stem_mentions(stem, word):
            return True
    return False


def _starts_line(data: bytes, i: int) -> bool:
    """Only spaces and tabs stand between offset ``i`` and its line start."""
    start = data.rfind(b"\n", 0, i) + 1
    return not data[start:i].strip(b" \t")


def _stem_mentions(stem: str, word: bytes) -> bool:
    """Cached per process: it only decides which files the prefilter lets
    through, on the hot path; the summaries themselves follow each edit."""
    found = module_file(stem)
    if found is None:
        return False
    return _stem_mentions_cached(found, version(found), word)


@lru_cache(maxsize=8192)
def _stem_mentions_cached(found: str, version: tuple[int, int], word: bytes) -> bool:
    return word in file_text(found)


@lru_cache(maxsize=8192)
def module_stem(directory: str, module: str) -> str | None:
    """The file stem (no ``.py``) a ``from <module> import`` in a file of
    ``directory`` names within its package; string work only."""
    level = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    if not parts:
        return None
    if level:
        base = directory
        for _ in range(level - 1):
            base = os.path.dirname(base)
    else:
        found = _package_parent(os.path.join(directory, "_"), parts[0])
        if found is None:
            return None
        base = found
    return os.path.join(base, *parts)
