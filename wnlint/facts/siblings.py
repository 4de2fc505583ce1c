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
import stat
from collections.abc import Iterable, Iterator
from functools import lru_cache, partial

from wnlint.facts.sources import depend, once_per_run, read_source, stat_once

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
    return once_per_run(("module_file", stem), lambda: _module_file(stem))


def _module_file(stem: str) -> str | None:
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
        found = stat_once(folder)
        stamp = stamp * 31 + (0 if found is None else found.st_mtime_ns)
    return stamp


@lru_cache(maxsize=8192)
def _module_file_cached(stem: str, listing: int) -> str | None:
    for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
        found = stat_once(candidate)
        if found is not None and stat.S_ISREG(found.st_mode):
            real = os.path.realpath(candidate)
            return None if "site-packages" in real.split(os.sep) else real
    return None


def version(path: str) -> tuple[int, int]:
    """What changes when a file is edited: a long-lived process (an editor's
    flake8) never reads a stale summary."""
    found = stat_once(path)
    if found is None:
        return (0, 0)
    return (found.st_mtime_ns, found.st_size)


_TEXT: dict[str, tuple[tuple[int, int], bytes]] = {}
#: How many files' bytes are kept: the files of a package ask about the
#: same few siblings one after another, and what is learnt from a text (a
#: word in it, its parsed summaries) is kept apart, so keeping every text
#: read in a run only held memory.
_TEXTS_KEPT = 64


def file_text(path: str) -> bytes:
    """A file's bytes, read once per version of it while it is among the
    last :data:`_TEXTS_KEPT` asked for."""
    depend(path)
    key = version(path)
    cached = _TEXT.pop(path, None)
    if cached is None or cached[0] != key:
        try:
            cached = (key, read_source(path))
        except OSError:
            cached = (key, b"")
        if len(_TEXT) >= _TEXTS_KEPT:
            del _TEXT[next(iter(_TEXT))]  # the least recently asked for
    _TEXT[path] = cached  # last in order: the most recently asked for
    return cached[1]


#: Searched from the word ``from`` (a literal start is what makes a
#: pattern fast); :func:`_starts_line` checks what precedes it.
_IMPORT_FROM = re.compile(rb"from[ \t]+(\.*[\w.]+|\.+)[ \t]+import\b")


#: ``import a.b, c``: modules whose names the file reaches as ``a.b.``.
_IMPORT = re.compile(rb"(?m)^[ \t]*import[ \t]+([^#\n;]+)")


def _imported_modules(data: bytes, plain: bool) -> Iterator[str]:
    """The modules of ``data``'s ``from M import`` statements, and with
    ``plain`` of its ``import M`` statements."""
    for match in _IMPORT_FROM.finditer(data):
        if _starts_line(data, match.start()):
            yield match.group(1).decode("ascii", "replace")
    for match in _IMPORT.finditer(data) if plain else ():
        for item in match.group(1).decode("ascii", "replace").split(","):
            words = item.split()
            if words:
                yield words[0]


def imports_sibling_mentioning(
    data: bytes,
    path: str,
    word: bytes = b"weight_norm",
    depth: int = 0,
    packaged: bool = False,
    plain: bool = False,
) -> bool:
    """``data`` (the text of the file at ``path``) imports from a module of
    its own package whose text mentions ``word`` (``weight_norm``, or
    ``parametriz`` for the new API only), or, ``depth`` more times, that
    imports from one that does: a cheap, textual test the prefilters use
    before anything is parsed. ``packaged``: only imports of the file's own
    package (relative, or under a directory above named as their first
    part), as the step beyond the first takes them; ``plain``: ``import
    pkg.norms`` too, not only ``from``."""
    here = os.path.abspath(path)
    directory = os.path.dirname(here)
    for module in _imported_modules(data, plain):
        # The files of a directory import the same modules: each import's
        # answer is looked up once per run.
        key = ("module_mentions", directory, module, word, depth, packaged)
        if once_per_run(key, partial(_module_mentions, *key[1:])):
            return True
    return False


def imports_any_of(data: bytes, path: str, targets: set[str]) -> bool:
    """``data`` (the text of the file at ``path``) imports one of the files
    ``targets`` (real paths): ``from M import ...`` or ``import M``, with
    ``M`` found as Python would (:func:`module_path`)."""
    directory = os.path.dirname(os.path.abspath(path))
    for module in _imported_modules(data, plain=True):
        found = module_path(directory, module)
        if found is not None and found in targets:
            return True
    return False


def module_name(path: str) -> str:
    """The last part of the module a file is (its package's for
    ``__init__.py``): what an import of it spells."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.basename(os.path.dirname(path)) if stem == "__init__" else stem


def _module_mentions(
    directory: str, module: str, word: bytes, depth: int, packaged: bool
) -> bool:
    """``from <module> import`` in a file of ``directory`` reads a module
    that mentions ``word`` (:func:`imports_sibling_mentioning`)."""
    if packaged and not _packaged(directory, module):
        return False  # `from abc import ...`: no lookup, no dependency
    found = module_path(directory, module)  # the one Python would import
    return found is not None and _mentions(found, word, depth)


def _starts_line(data: bytes, i: int) -> bool:
    """Only spaces and tabs stand between offset ``i`` and its line start."""
    start = data.rfind(b"\n", 0, i) + 1
    return not data[start:i].strip(b" \t")


def _mentions(found: str, word: bytes, depth: int) -> bool:
    """The module at ``found`` mentions ``word``, or (``depth`` more times)
    imports from one that does; what the import answer depends on is asked
    once per run, and recorded for the cache on every use."""
    if _says(found, version(found), word):
        return True
    if depth <= 0 or not _says(found, version(found), b"Module"):
        return False  # no module class of its own can hold a normed layer
    key = ("mentions", found, word, depth)
    return once_per_run(
        key,
        lambda: imports_sibling_mentioning(
            file_text(found), found, word, depth - 1, packaged=True
        ),
    )


def _packaged(directory: str, module: str) -> bool:
    """``module`` is imported from the file's own package: relative, or
    with a directory above named as its first part."""
    first = module.lstrip(".").split(".", 1)[0]
    return module.startswith(".") or (
        bool(first) and _package_parent(os.path.join(directory, "_"), first) is not None
    )


@lru_cache(maxsize=8192)
def _says(found: str, version: tuple[int, int], word: bytes) -> bool:
    """Cached per process and version of the file: it only decides which
    files the prefilter lets through, on the hot path."""
    return word in file_text(found)


def module_path(directory: str, module: str) -> str | None:
    """The file ``from <module> import`` in a file of ``directory`` reads
    (never one under ``site-packages``), or None; looked up once per run."""
    if module.startswith("."):
        # A relative import names one stem, whatever the importing file's
        # directory: the files of a package share its lookup.
        stems = module_stems(directory, module)
        return module_file(stems[0]) if stems else None
    key = ("module_path", directory, module)
    return once_per_run(key, lambda: _module_path(directory, module))


def _module_path(directory: str, module: str) -> str | None:
    for stem in candidate_stems(directory, module):
        found = module_file(stem)
        if found is not None:
            return found
    return None


def candidate_stems(directory: str, module: str) -> Iterator[str]:
    """The file stems (no ``.py``) ``from <module> import`` may name in a
    file of ``directory``, in the order Python looks: within its package (a
    relative import, or an absolute one whose first part is a directory
    above), then as a script run from ``directory`` sees it (its directory
    first on ``sys.path``), then as one run from each directory above it
    up to the project's root, then from the root (the nearest directory
    above with ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``),
    each looked for only when the ones before do not exist."""
    yield from module_stems(directory, module)
    if module.startswith("."):
        return
    root = project_root(directory)
    if root is None or root == directory:
        return
    # The directories between: a script run from one of them (the entry
    # scripts of one model in a monorepo, DeepLearningExamples' HiFiGAN/
    # with its common/ package) imports from it; the nearest first.
    parts = module.split(".")
    above = os.path.dirname(directory)
    while above != root and above.startswith(root + os.sep):
        yield os.path.join(above, *parts)
        above = os.path.dirname(above)
    yield os.path.join(root, *parts)


@lru_cache(maxsize=8192)
def module_stems(directory: str, module: str) -> tuple[str, ...]:
    """:func:`candidate_stems` but the root's: string work only."""
    level = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    if not parts:
        return ()
    if level:
        base = directory
        for _ in range(level - 1):
            base = os.path.dirname(base)
        return (os.path.join(base, *parts),)
    found = _package_parent(os.path.join(directory, "_"), parts[0])
    script = os.path.join(directory, *parts)
    if found is None:
        return (script,)
    return tuple(dict.fromkeys((os.path.join(found, *parts), script)))


#: What marks a project's root directory.
_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")

#: directory -> (the directories looked at, their modification times, root).
_ROOTS: dict[str, tuple[tuple[str, ...], tuple[int, ...], str | None]] = {}


def project_root(directory: str) -> str | None:
    """The nearest directory at or above ``directory`` that holds one of
    :data:`_ROOT_MARKERS`. Remembered with the modification times of the
    directories looked at, which a marker created or removed there changes:
    a long-lived process never keeps a stale answer."""
    return once_per_run(("project_root", directory), lambda: _project_root(directory))


def _project_root(directory: str) -> str | None:
    cached = _ROOTS.get(directory)
    if cached is not None and _mtimes(cached[0]) == cached[1]:
        root = cached[2]
    else:
        looked: list[str] = []
        root = None
        current = directory
        for _ in range(_MAX_PACKAGE_DEPTH):
            looked.append(current)
            markers = (os.path.join(current, m) for m in _ROOT_MARKERS)
            if any(stat_once(marker) is not None for marker in markers):
                root = current
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        cached = (tuple(looked), _mtimes(looked), root)
        _ROOTS[directory] = cached
    for folder in cached[0]:  # whether a marker exists there decides it
        for marker in _ROOT_MARKERS:
            depend(os.path.join(folder, marker))
    return root


def _mtimes(folders: Iterable[str]) -> tuple[int, ...]:
    found = [stat_once(folder) for folder in folders]
    return tuple(0 if f is None else f.st_mtime_ns for f in found)
