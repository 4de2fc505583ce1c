"""Which configuration, which rules and which files: the settings applied.

A module of its own: :mod:`wnlint.cli.config` reads and validates what the
files and the flags declare, and this module decides what that means for
each checked file, through one :class:`Resolver` per run.

Discovery follows ruff: each file uses the closest ``pyproject.toml`` that
has a ``[tool.wnlint]`` table, found walking up from the file's directory (a
``pyproject.toml`` without the table does not stop the walk, as in ruff since
0.0.182); settings are not merged across files, and patterns in a file are
relative to its directory. Files with no such ancestor use the configuration
found from the working directory, else the defaults. ``--config PATH`` uses
one file for everything (its patterns relative to the working directory) and
``--isolated`` reads none. Command-line flags override the files.

Rule selection follows ruff's levels: the file's ``select`` (or the defaults)
then its ``extend-select``/``ignore``/``extend-ignore``, then the command
line's, where a ``--select`` starts again from scratch; a code both selected
and ignored at one level is ignored. ``per-file-ignores`` then removes codes
from the files their patterns match. The engine's own codes (WN001-WN003)
are always reported unless ignored.

Everything here is plain data, cached per directory and per rule selection:
the pyproject lookup costs one ``stat`` per new directory, and files with
the same codes share one :class:`~wnlint.engine.linter.Linter`. Worker processes
inherit a :class:`Resolver` by fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from wnlint.cli.config import (
    CACHE_DIR,
    DEFAULT_EXCLUDE,
    PYPROJECT,
    ConfigError,
    Overrides,
    Settings,
    read_pyproject,
)
from wnlint.cli.gitignore import GitIgnore
from wnlint.cli.globs import PathGlobs
from wnlint.engine.linter import SYSTEM_CODES, Diagnostic, Linter
from wnlint.engine.runner import discover
from wnlint.rules import CODES, default_enabled

# -- rule selection ------------------------------------------------------

_RULE_CODES = CODES
_DEFAULT_CODES = frozenset(code for code in CODES if default_enabled(code))


def _matching(prefixes: Iterable[str], codes: Iterable[str]) -> set[str]:
    prefixes = tuple(prefixes)
    return {code for code in codes if prefixes and code.startswith(prefixes)}


def selected_codes(
    levels: Sequence[tuple[str, Settings | Overrides]],
) -> frozenset[str]:
    """The enabled codes (rules and the engine's own) after each level's
    select, extend-select, ignore and extend-ignore, in order; ``levels``
    pairs each with where it comes from, for errors."""
    enabled = set(_DEFAULT_CODES) | set(SYSTEM_CODES)
    for where, level in levels:
        if level.select is not None:
            chosen = _matching([*level.select, *level.extend_select], _RULE_CODES)
            if not chosen:
                shown = ",".join(level.select)
                raise ConfigError(
                    f"{where}select {shown!r} selects no rule (see 'wnlint rule')"
                )
            enabled = chosen | (enabled & set(SYSTEM_CODES))
        enabled |= _matching(level.extend_select, _RULE_CODES)
        enabled -= _matching([*level.ignore, *level.extend_ignore], enabled)
    return frozenset(enabled)


# -- resolution ----------------------------------------------------------


#: The command line when it changes nothing.
_NO_OVERRIDES = Overrides()


class Resolved(NamedTuple):
    """One configuration merged with the command line: what a file needs."""

    settings: Settings
    codes: frozenset[str]
    per_file_ignores: tuple[tuple[PathGlobs, bool, frozenset[str]], ...]
    exclude: PathGlobs
    respect_gitignore: bool
    unsafe_fixes: bool
    jobs: int | None


def resolve(settings: Settings, overrides: Overrides, cwd: str) -> Resolved:
    """``settings`` with the command line applied over it."""
    where = f"{settings.path}: tool.wnlint." if settings.path else ""
    codes = selected_codes([(where, settings), ("--", overrides)])
    per_file = tuple(
        (
            PathGlobs(((pattern.lstrip("!"), settings.root),)),
            pattern.startswith("!"),
            frozenset(_matching(prefixes, codes)),
        )
        for pattern, prefixes in settings.per_file_ignores
    )
    if overrides.exclude is not None:
        exclude = [(p, cwd) for p in overrides.exclude]
    elif settings.exclude is not None:
        exclude = [(p, settings.root) for p in settings.exclude]
    else:
        exclude = [(p, settings.root) for p in DEFAULT_EXCLUDE]
    exclude += [(p, settings.root) for p in settings.extend_exclude]
    exclude += [(p, cwd) for p in overrides.extend_exclude]
    return Resolved(
        settings=settings,
        codes=codes,
        per_file_ignores=per_file,
        exclude=PathGlobs(tuple(exclude)),
        respect_gitignore=_first(
            overrides.respect_gitignore, settings.respect_gitignore
        ),
        unsafe_fixes=_first(overrides.unsafe_fixes, settings.unsafe_fixes),
        jobs=_first(overrides.jobs, settings.jobs),
    )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


class Resolver:
    """The configuration of every path of one run, cached per directory;
    also the run's linter (``lint_file``/``lint_bytes`` pick each file's
    rules), so the engine's workers need nothing else.

    ``config``: one file for every path (``--config``); ``isolated``: read
    no file (``--isolated``).
    """

    def __init__(
        self,
        overrides: Overrides = _NO_OVERRIDES,
        config: str | None = None,
        isolated: bool = False,
        cwd: str | None = None,
    ) -> None:
        self.overrides = overrides
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self._by_dir: dict[str, Resolved] = {}
        #: Directory as a path names it -> its configuration.
        self._by_named_dir: dict[str, Resolved] = {}
        #: Directory as walked -> (absolute path, configuration).
        self._walked: dict[str, tuple[str, Resolved]] = {}
        self._file_settings: dict[str, Settings | None] = {}
        self._linters: dict[frozenset[str], Linter] = {}
        self._file_codes: dict[tuple[int, tuple[bool, ...]], frozenset[str]] = {}
        self._gitignore = GitIgnore()
        self._fixed: Resolved | None = None
        if isolated:
            self._fixed = resolve(Settings(root=self.cwd), overrides, self.cwd)
        elif config is not None:
            settings = read_pyproject(config, required=True)
            assert settings is not None
            # As in ruff: a --config file's patterns are relative to the
            # working directory.
            self._fixed = resolve(settings._replace(root=self.cwd), overrides, self.cwd)
        self.root = self._fixed or self.for_directory(self.cwd)

    # -- lookup ----------------------------------------------------------
    def for_directory(self, directory: str) -> Resolved:
        """The configuration of the files in ``directory`` (absolute)."""
        if self._fixed is not None:
            return self._fixed
        found = self._by_dir.get(directory)
        if found is None:
            found = self._lookup(directory)
            self._by_dir[directory] = found
        return found

    def _lookup(self, directory: str) -> Resolved:
        settings = self._read(os.path.join(directory, PYPROJECT))
        if settings is not None:
            return resolve(settings, self.overrides, self.cwd)
        parent = os.path.dirname(directory)
        if parent != directory:
            return self.for_directory(parent)
        # No configuration above the file: the working directory's, as in ruff.
        return self._cwd_default()

    def _cwd_default(self) -> Resolved:
        key = "\0cwd"
        found = self._by_dir.get(key)
        if found is None:
            found = resolve(Settings(root=self.cwd), self.overrides, self.cwd)
            for directory in _ancestors(self.cwd):
                settings = self._read(os.path.join(directory, PYPROJECT))
                if settings is not None:
                    found = resolve(settings, self.overrides, self.cwd)
                    break
            self._by_dir[key] = found
        return found

    def _read(self, path: str) -> Settings | None:
        if path not in self._file_settings:
            self._file_settings[path] = (
                read_pyproject(path) if os.path.isfile(path) else None
            )
        return self._file_settings[path]

    def for_path(self, path: str) -> Resolved:
        """The configuration of the file ``path`` (looked up once per
        directory as named: a walk names thousands of files in few)."""
        named = os.path.dirname(path)
        found = self._by_named_dir.get(named)
        if found is None:
            absolute = os.path.dirname(os.path.abspath(path))
            found = self._by_named_dir[named] = self.for_directory(absolute)
        return found

    def codes_for(self, path: str) -> frozenset[str]:
        """The codes enabled in ``path``, per-file-ignores applied."""
        resolved = self.for_path(path)
        if not resolved.per_file_ignores:
            return resolved.codes
        absolute = os.path.abspath(path)
        hits = tuple(
            globs.matches(absolute) != negated
            for globs, negated, _ in resolved.per_file_ignores
        )
        key = (id(resolved), hits)
        codes = self._file_codes.get(key)
        if codes is None:
            codes = resolved.codes
            for hit, (_, _, ignored) in zip(hits, resolved.per_file_ignores):
                if hit:
                    codes = codes - ignored
            self._file_codes[key] = codes
        return codes

    def linter_for(self, path: str) -> Linter:
        """The (shared) linter for ``path``'s codes."""
        codes = self.codes_for(path)
        linter = self._linters.get(codes)
        if linter is None:
            rules = [code for code in CODES if code in codes]
            ignore = tuple(code for code in SYSTEM_CODES if code not in codes)
            linter = Linter(rules, ignore=ignore)
            self._linters[codes] = linter
        return linter

    def prepare(self, files: Iterable[str]) -> None:
        """Read the configuration of ``files`` now, in this process, so that
        a broken ``pyproject.toml`` is a usage error here and never an error
        in a worker process."""
        for path in files:
            self.for_path(path)

    def cache_dir(self, flag: str | None = None) -> str:
        """Where ``check`` keeps its cache: ``--cache-dir``, else
        ``WNLINT_CACHE_DIR``, else the working directory's configuration
        (relative to its file), else ``.wnlint_cache`` in the project root
        (the nearest directory above with a ``pyproject.toml`` or ``.git``,
        else the working directory), as ruff does."""
        chosen = flag or os.environ.get("WNLINT_CACHE_DIR")
        if chosen:
            return os.path.abspath(chosen)
        settings = self.root.settings
        if settings.cache_dir is not None:
            return os.path.join(settings.root, settings.cache_dir)
        for directory in _ancestors(self.cwd):
            if os.path.exists(os.path.join(directory, PYPROJECT)) or os.path.exists(
                os.path.join(directory, ".git")
            ):
                return os.path.join(directory, CACHE_DIR)
        return os.path.join(self.cwd, CACHE_DIR)

    # -- the engine's linter interface -----------------------------------
    def lint_file(self, path: str) -> list[Diagnostic]:
        return self.linter_for(path).lint_file(path)

    def lint_bytes(self, data: bytes, path: str) -> list[Diagnostic]:
        return self.linter_for(path).lint_file_bytes(data, path)

    # -- files -----------------------------------------------------------
    def excluded(self, path: str, is_dir: bool) -> bool:
        """Whether a walk skips ``path``: its configuration's excludes, or
        git's ignore files when ``respect-gitignore`` is on."""
        # A walk asks about every entry of a directory in turn: the
        # directory's absolute path and configuration are looked up once.
        parent, sep, name = path.rpartition(os.sep)
        if sep and not parent:
            parent = sep  # an entry of the root directory
        known = self._walked.get(parent)
        if known is None:
            directory = os.path.abspath(parent or os.curdir)
            known = self._walked[parent] = (directory, self.for_directory(directory))
        directory, resolved = known
        absolute = (
            directory + name
            if directory.endswith(os.sep)
            else (directory + os.sep + name)
        )
        if resolved.exclude.matches(absolute):
            return True
        return resolved.respect_gitignore and self._gitignore.ignored(
            absolute, is_dir, directory
        )

    def files(
        self,
        paths: Sequence[str],
        warn: Callable[[str], None] | None = None,
        sidecar: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """The files to check under ``paths``: directories walked with the
        excludes; files named explicitly always, unless ``--force-exclude``
        and they (or a directory above them) are excluded."""
        for path in paths:
            if (
                self.overrides.force_exclude
                and not os.path.isdir(path)
                and self.excluded_named(path)
            ):
                continue
            yield from discover([path], skip=self.excluded, warn=warn, sidecar=sidecar)

    def excluded_named(self, path: str) -> bool:
        """``--force-exclude`` for a named file: it, or a directory between
        it and the working directory, is excluded."""
        absolute = os.path.abspath(path)
        if self.excluded(absolute, False):
            return True
        for directory in _ancestors(os.path.dirname(absolute)):
            if directory == self.cwd or not directory.startswith(self.cwd + os.sep):
                break
            if self.excluded(directory, True):
                return True
        return False


def _ancestors(directory: str) -> Iterator[str]:
    while True:
        yield directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent
