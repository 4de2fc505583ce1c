"""Glob patterns as ruff and git read them, compiled to regular expressions.

Two dialects share one translator: ruff's (``exclude``, ``per-file-ignores``:
``*`` also matches ``/``, as in the globset crate ruff uses) and git's
(``.gitignore``: ``*`` stays within one path component). In both, ``**/``
matches any number of directories, zero included.
"""

from __future__ import annotations

import os
import re


def translate(pattern: str, *, separator_literal: bool) -> str:
    """The regex source (without anchors) for one glob ``pattern``.

    ``separator_literal``: ``*`` and ``?`` never match ``/`` (git), else
    they do (ruff).
    """
    any_char = "[^/]" if separator_literal else "."
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                before_ok = i == 0 or pattern[i - 1] == "/"
                after = pattern[i + 2 : i + 3]
                if before_ok and after == "/":
                    out.append("(?:.*/)?")  # `**/`: zero or more directories
                    i += 3
                    continue
                if before_ok and after == "":
                    out.append(".*")
                    i += 2
                    continue
            out.append(any_char + "*")
            while i < n and pattern[i] == "*":
                i += 1
            continue
        if c == "?":
            out.append(any_char)
        elif c == "[":
            j = pattern.find(
                "]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1
            )
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class PathGlobs:
    """Ruff's file patterns: each matches a path's basename, or its absolute
    path once the pattern is made absolute against ``root`` (the directory of
    the configuration that declared it, or the working directory for
    command-line patterns)."""

    __slots__ = ("_absolute", "_basename", "patterns")

    def __init__(self, patterns: tuple[tuple[str, str], ...]) -> None:
        #: (pattern, root) pairs, as declared.
        self.patterns = patterns
        absolute, basename = [], []
        for pattern, root in patterns:
            translated = translate(pattern, separator_literal=False)
            basename.append(translated)
            full = _posix(os.path.join(root, pattern))
            absolute.append(
                translate(_posix(os.path.normpath(full)), separator_literal=False)
            )
        self._basename = _alternation(basename)
        self._absolute = _alternation(absolute)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __reduce__(self) -> tuple[type[PathGlobs], tuple[tuple[tuple[str, str], ...]]]:
        return (PathGlobs, (self.patterns,))

    def matches(self, path: str) -> bool:
        """Whether ``path`` (absolute) or its basename matches a pattern."""
        if not self.patterns:
            return False
        name = os.path.basename(path.rstrip("/" + os.sep))
        if self._basename is not None and self._basename.match(name):
            return True
        return self._absolute is not None and bool(self._absolute.match(_posix(path)))


def _alternation(sources: list[str]) -> re.Pattern[str] | None:
    if not sources:
        return None
    return re.compile("(?:" + "|".join(sources) + r")/?\Z", re.DOTALL)


def _posix(path: str) -> str:
    return path.replace(os.sep, "/") if os.sep != "/" else path
