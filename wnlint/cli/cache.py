"""``check``'s persistent cache: a file whose findings cannot have changed is
not read, parsed or analysed again.

A file's entry holds its findings and what they were computed from:

* the file itself: its size, inode and change time (ctime, which every
  write moves and ``touch -d`` cannot set back), backed by a hash of its
  bytes (a ctime too close to when the entry was written to tell an edit in the
  same clock tick apart is checked by the hash, as git does);
* every other file its analysis read or looked for (sibling modules that
  WN203 and WN304 follow, and the files a module name could have been):
  their size and ctime, or their absence;
* the rules and engine codes enabled for it, the Python version and
  wnlint's own code (a hash of its modules' sizes and ctimes, so a
  development checkout never reads a stale verdict).

Anything else (a corrupt or foreign file, a cache written by a concurrent
run, a directory that cannot be written) is treated as a miss and costs
time, never a wrong result or a crash. Entries are written once per run,
to a temporary file renamed into place.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import time
import zlib
from typing import TYPE_CHECKING

from wnlint.engine.linter import Diagnostic, Report
from wnlint.engine.runner import lint_files
from wnlint.facts.sources import read_source, recording

if TYPE_CHECKING:
    from wnlint.cli.selection import Resolver

#: First bytes of a cache file: anything else is ignored.
MAGIC = b"wnlint-cache-2\n"
#: Entries whose file changed this close to when they were written are
#: confirmed by the hash of the file's bytes.
RACY_NS = 2_000_000_000
#: Codes never cached: a file that cannot be read, or an internal error,
#: may not happen next time.
_UNCACHED = ("WN002", "WN003")

_GITIGNORE = "# Created by wnlint: the cache is local to this machine.\n*\n"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by wnlint.\n"
)


def _version(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_ctime_ns)


#: The ``wnlint`` package: every module of it, in every layer, can change
#: a finding.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def engine_files() -> list[str]:
    """The package's modules, relative to it: what the cache key covers."""
    return [
        os.path.relpath(os.path.join(folder, name), _PACKAGE)
        for folder, _, names in sorted(os.walk(_PACKAGE))
        for name in sorted(names)
        if name.endswith(".py")
    ]


def _engine_key() -> str:
    """wnlint's own code and the Python running it."""
    parts = [sys.version.split()[0]]
    for name in engine_files():
        parts.append(f"{name}:{_version(os.path.join(_PACKAGE, name))}")
    return _short("\n".join(parts).encode())


class CachingLinter:
    """A :class:`wnlint.engine.runner.FileLinter` over ``inner`` (the run's
    resolver) that answers from the cache in ``directory`` when it can."""

    def __init__(self, inner: Resolver, directory: str) -> None:
        self.inner = inner
        self.directory = directory
        self.path = os.path.join(directory, f"{_engine_key()}.cache")
        #: The dependency paths of the loaded entries, which name them by
        #: their index here (each sibling module is depended on by many).
        self.table, self.entries = _load(self.path)
        self._keys: dict[frozenset[str], str] = {}
        self._versions: dict[str, tuple[int, int] | None] = {}
        #: Entries made in this process since the last drain or save.
        self.fresh: dict[str, tuple] = {}
        self.hits = 0

    # -- the FileLinter interface ----------------------------------------
    def lint_files(self, files: list[str], jobs: int) -> Report:
        """:func:`wnlint.engine.runner.lint_files` over the files the cache cannot
        answer for (so a warm run starts no worker processes), the findings
        in the order of ``files``."""
        known: dict[str, list[Diagnostic]] = {}
        misses = []
        for path in files:
            found = self._lookup(os.path.abspath(path), self._settings(path), path)
            if found is None:
                misses.append(path)
            else:
                known[path] = found
        self.hits += len(known)
        fresh: dict[str, list[Diagnostic]] = {path: [] for path in misses}
        for d in lint_files(self, misses, jobs).diagnostics:
            fresh[d.path].append(d)
        report = Report(files_checked=len(files))
        for path in files:
            report.diagnostics.extend(known.get(path) or fresh.get(path) or ())
        return report

    def lint_file(self, path: str) -> list[Diagnostic]:
        absolute = os.path.abspath(path)
        settings = self._settings(path)
        found = self._lookup(absolute, settings, path)
        if found is not None:
            self.hits += 1
            return found
        started = time.time_ns()
        with recording() as deps:
            found = self.inner.lint_file(path)
        if not any(d.code in _UNCACHED for d in found):
            entry = self._entry(absolute, settings, deps, found, started)
            if entry is not None:
                self.fresh[absolute] = entry
        return found

    def drain(self) -> dict[str, tuple]:
        """In a worker: the entries made, for the parent to save."""
        fresh, self.fresh = self.fresh, {}
        return fresh

    def absorb(self, gathered: dict[str, tuple]) -> None:
        self.fresh.update(gathered)

    # -- entries -----------------------------------------------------------
    def _settings(self, path: str) -> str:
        """The codes enabled for ``path`` (rules and the engine's own)."""
        codes = self.inner.codes_for(path)
        key = self._keys.get(codes)
        if key is None:
            text = ",".join(sorted(codes)).encode()
            key = self._keys[codes] = _short(text)
        return key

    def _version(self, path: str) -> tuple[int, int] | None:
        """A dependency's version, looked up once per run (many files of a
        package depend on the same few modules)."""
        if path not in self._versions:
            self._versions[path] = _version(path)
        return self._versions[path]

    def _lookup(
        self, absolute: str, settings: str, path: str
    ) -> list[Diagnostic] | None:
        entry = self.entries.get(absolute)
        if entry is None:
            return None
        try:
            (key, size, changed, inode, digest, written, deps, found) = entry
            if key != settings:
                return None
            info = os.stat(absolute)
            if (info.st_size, info.st_ino) != (size, inode):
                return None
            racy = info.st_ctime_ns != changed or info.st_ctime_ns >= written - RACY_NS
            if racy and _digest(read_source(absolute)) != digest:
                return None
            table = self.table
            for dep, version in deps:
                name = dep if isinstance(dep, str) else table[dep]
                if self._version(name) != version:
                    return None
            return [_finding(path, row) for row in found]
        except (OSError, TypeError, ValueError, IndexError):
            return None  # a foreign or broken entry: lint again

    def _entry(
        self,
        absolute: str,
        settings: str,
        deps: set[str],
        found: list[Diagnostic],
        started: int,
    ) -> tuple | None:
        try:
            info = os.stat(absolute)
            digest = _digest(read_source(absolute))
        except OSError:
            return None
        if info.st_ctime_ns >= started:
            return None  # written while it was read: not known which version
        versions = tuple(
            (dep, _version(dep))
            for dep in sorted(deps)
            if os.path.abspath(dep) != absolute
        )
        rows = tuple(
            (
                d.line,
                d.col,
                d.code,
                d.message,
                d.end_line,
                d.end_col,
                d.cell,
                d.unfixable,
                d.with_migration,
            )
            for d in found
        )
        return (
            settings,
            info.st_size,
            info.st_ctime_ns,
            info.st_ino,
            digest,
            started,
            versions,
            rows,
        )

    # -- storage -----------------------------------------------------------
    def save(self) -> None:
        """Write the cache with this run's entries (never raises)."""
        if not self.fresh:
            return
        table, stored = _load(self.path)  # a concurrent run's entries too
        merged = {**_named(table, stored), **_named(self.table, self.fresh)}
        self.fresh = {}
        index: dict[str, int] = {}
        packed = {}
        for path, entry in merged.items():
            deps = tuple(
                (index.setdefault(dep, len(index)), version)
                for dep, version in entry[6]
            )
            packed[path] = (*entry[:6], deps, entry[7])
        self.table, self.entries = list(index), packed
        try:
            _prepare(self.directory)
            temp = f"{self.path}.{os.getpid()}.tmp"
            with open(temp, "wb") as handle:
                handle.write(MAGIC)
                marshal.dump((self.table, packed), handle)
            os.replace(temp, self.path)
        except (OSError, ValueError):
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temp)


def _finding(path: str, row: tuple) -> Diagnostic:
    line, col, code, message, end_line, end_col, cell, unfixable, migration = row
    return Diagnostic(
        path,
        line,
        col,
        code,
        message,
        end_line=end_line,
        end_col=end_col,
        cell=cell,
        unfixable=unfixable,
        with_migration=migration,
    )


def _digest(data: bytes) -> str:
    """What a file's bytes are (hashlib is imported only when one is read)."""
    import hashlib

    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _short(data: bytes) -> str:
    """A name for a key (two checksums: nothing secret rests on it, and
    hashlib's import is not paid on every run)."""
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def _load(path: str) -> tuple[list[str], dict[str, tuple]]:
    """The dependency table and the entries of a cache file; nothing for a
    missing, foreign or broken one."""
    try:
        with open(path, "rb") as handle:
            blob = handle.read()  # marshal.load on a file reads it in bits
        if not blob.startswith(MAGIC):
            return [], {}
        data = marshal.loads(blob[len(MAGIC) :])
        table, entries = data
        if isinstance(table, list) and isinstance(entries, dict):
            return table, entries
    except (OSError, EOFError, ValueError, TypeError):
        pass
    return [], {}


def _named(table: list[str], entries: dict[str, tuple]) -> dict[str, tuple]:
    """``entries`` with their dependencies named by path again (entries a
    foreign table cannot name are dropped)."""
    named = {}
    for path, entry in entries.items():
        try:
            deps = tuple(
                (dep if isinstance(dep, str) else table[dep], version)
                for dep, version in entry[6]
            )
            named[path] = (*entry[:6], deps, entry[7])
        except (IndexError, TypeError):
            continue
    return named


def _prepare(directory: str) -> None:
    """The cache directory, with a ``.gitignore`` and a ``CACHEDIR.TAG``
    (backup tools skip it) the first time."""
    os.makedirs(directory, exist_ok=True)
    for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _TAG)):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)


def clean(directory: str) -> bool:
    """Remove the cache directory ``directory``; False when there was none."""
    import shutil

    if not os.path.isdir(directory):
        return False
    shutil.rmtree(directory)
    return True
