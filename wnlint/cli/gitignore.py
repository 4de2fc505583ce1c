"""``.gitignore`` matching, so that ``check`` skips what git ignores.

Git's rules, as ruff applies them (through the ``ignore`` crate): ignore
files count only inside a git repository (a directory with a ``.git``
entry, found walking up); every ``.gitignore`` from the repository root down
to a path's directory applies, deeper files and later lines taking
precedence; ``.git/info/exclude`` applies at the root, below them all.
Supported syntax: comments, ``!`` negation, ``\\`` escapes, anchored
patterns (a ``/`` at the start or in the middle), directory-only patterns
(a trailing ``/``), ``*``, ``?``, ``[...]`` and ``**``. The user's global
excludes file (``core.excludesFile``) is not read.

Each directory's rules are read once and cached, so a walk reads every
ignore file once, however many files it checks.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from wnlint.cli.globs import translate


class _Pattern(NamedTuple):
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


class _IgnoreFile:
    """The patterns of one ignore file, matched against paths relative to
    ``base`` (the directory they are anchored to)."""

    def __init__(self, base: str, lines: list[str]) -> None:
        self.base = base
        self.patterns = [p for p in map(_parse, lines) if p is not None]
        # Without negations the last match cannot be undone: one regex each.
        self._any: tuple[re.Pattern[str] | None, re.Pattern[str] | None] | None = None
        if not any(p.negated for p in self.patterns):
            files = [p.regex.pattern for p in self.patterns if not p.dir_only]
            dirs = [p.regex.pattern for p in self.patterns]
            self._any = (_union(files), _union(dirs))

    def verdict(self, relative: str, is_dir: bool) -> bool | None:
        """True ignored, False re-included by a ``!`` line, None unmatched."""
        if self._any is not None:
            regex = self._any[1] if is_dir else self._any[0]
            return True if regex is not None and regex.match(relative) else None
        for pattern in reversed(self.patterns):
            if pattern.dir_only and not is_dir:
                continue
            if pattern.regex.match(relative):
                return not pattern.negated
        return None


def _union(sources: list[str]) -> re.Pattern[str] | None:
    return (
        re.compile("|".join(f"(?:{s})" for s in sources), re.DOTALL)
        if sources
        else None
    )


def _parse(line: str) -> _Pattern | None:
    line = line.rstrip("\n").rstrip("\r")
    # Trailing spaces are dropped unless escaped.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated or line.startswith(("\\!", "\\#")):  # `\!`, `\#`: literal
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    body = translate(line, separator_literal=True)
    if not anchored:
        body = "(?:.*/)?" + body
    return _Pattern(re.compile(body + r"\Z", re.DOTALL), negated, dir_only)


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.readlines()
    except OSError:
        return []


class GitIgnore:
    """Answers "does git ignore this path?" for paths under any number of
    repositories; reads each ignore file once."""

    def __init__(self) -> None:
        self._roots: dict[str, str | None] = {}
        self._chains: dict[str, tuple[_IgnoreFile, ...]] = {}

    def ignored(self, path: str, is_dir: bool, directory: str | None = None) -> bool:
        """Whether ``path`` (a directory when ``is_dir``) is ignored by the
        ignore files of its repository; ``directory``, when given, is the
        absolute directory holding an absolute ``path`` (a walk knows it)."""
        if not os.path.isabs(path):
            path = os.path.abspath(path)
            directory = None
        result = False
        for rules in self._chain(directory or os.path.dirname(path)):
            # The chain's bases are ``path``'s ancestors: a prefix cut is
            # what relpath would compute, at a fraction of its cost.
            base = rules.base
            cut = len(base) if base.endswith(os.sep) else len(base) + 1
            relative = path[cut:]
            if os.sep != "/":
                relative = relative.replace(os.sep, "/")
            verdict = rules.verdict(relative, is_dir)
            if verdict is not None:
                result = verdict
        return result

    def _root(self, directory: str) -> str | None:
        """The repository root at or above ``directory``, or None."""
        found = self._roots.get(directory, "")
        if found != "":
            return found
        if os.path.lexists(os.path.join(directory, ".git")):
            root: str | None = directory
        else:
            parent = os.path.dirname(directory)
            root = None if parent == directory else self._root(parent)
        self._roots[directory] = root
        return root

    def _chain(self, directory: str) -> tuple[_IgnoreFile, ...]:
        """The ignore files that apply to the entries of ``directory``,
        lowest precedence first."""
        chain = self._chains.get(directory)
        if chain is not None:
            return chain
        root = self._root(directory)
        if root is None:
            chain = ()
        else:
            if directory == root:
                exclude = os.path.join(root, ".git", "info", "exclude")
                chain = (_IgnoreFile(root, _read_lines(exclude)),)
            else:
                chain = self._chain(os.path.dirname(directory))
            own = _read_lines(os.path.join(directory, ".gitignore"))
            if own:
                chain = (*chain, _IgnoreFile(directory, own))
            chain = tuple(rules for rules in chain if rules.patterns)
        self._chains[directory] = chain
        return chain
