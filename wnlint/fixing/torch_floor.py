"""The torch a project declares, against what its migrated files need.

The migration writes ``torch.nn.utils.parametrizations.weight_norm``, which
torch has had since 2.1. Many projects still pin an older one (HiFi-GAN's
``torch==1.4.0``, VITS' ``torch==1.6.0``, AudioLDM's ``torch>=1.13.0``):
there the migrated code fails with ``AttributeError`` on import or first
use. After a run that migrated files, the requirement files of their
project are read (``requirements*.txt``, ``setup.py``, ``setup.cfg``,
``pyproject.toml``, in the nearest directory above a migrated file that
holds any), and a requirement that admits a torch older than 2.1 is named
in a warning note on the first migrated file it covers.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable

from wnlint.facts.siblings import project_root
from wnlint.facts.sources import read_source, shown_path

#: The first torch with ``parametrizations.weight_norm``.
NEEDED = (2, 1)

_DECLARING = ("setup.py", "setup.cfg", "pyproject.toml")

#: ``torch`` (not ``torchaudio``, not ``pytorch-lightning``) and its
#: version clauses, as a requirement spells them.
_REQUIREMENT = re.compile(
    rb"(?<![\w.-])torch(?![\w.-])\s*(?:\[[^\]\n]*\]\s*)?"
    rb"((?:(?:===|==|>=|<=|~=|!=|>|<)\s*v?[\w.*+!-]+\s*,?\s*)+)"
)
_CLAUSE = re.compile(rb"(===|==|>=|<=|~=|!=|>|<)\s*v?(\d+)(?:\.(\d+))?")

_OLD_TORCH = (
    "warning: {file} line {line} {admits} torch older than 2.1 (`{spec}`), "
    "which has no torch.nn.utils.parametrizations.weight_norm: the migrated "
    "code needs torch 2.1 or newer; raise the requirement with the migration"
)


def old_torch_notes(migrated: Iterable[str]) -> dict[str, list[str]]:
    """Warning notes, on the first migrated file each covers, for the
    requirements that admit a torch without the new API."""
    notes: dict[str, list[str]] = {}
    seen: set[str] = set()
    for path in sorted(migrated):
        for declared in _requirement_files(os.path.dirname(os.path.abspath(path))):
            if declared in seen:
                continue
            seen.add(declared)
            found = _old_requirement(declared)
            if found is not None:
                line, spec = found
                name = shown_path(declared)
                pinned = re.fullmatch(r"torch\s*===?\s*[\w.]+", spec)
                admits = "pins a" if pinned else "admits"
                note = _OLD_TORCH.format(file=name, line=line, spec=spec, admits=admits)
                notes.setdefault(path, []).append(note)
    return notes


#: How far above a migrated file requirements are looked for: up to its
#: project's root (never more levels above than the root is looked for),
#: or, in a tree with none (no ``.git``, ``setup.py``, ...), a few levels.
_LEVELS_TO_ROOT = 16
_LEVELS_WITHOUT_ROOT = 4


def _requirement_files(directory: str) -> list[str]:
    """The requirement files of the nearest directory at or above
    ``directory`` (up to the project's root) that holds any."""
    root = project_root(directory)
    current = directory
    for _ in range(_LEVELS_TO_ROOT if root is not None else _LEVELS_WITHOUT_ROOT):
        found = [
            os.path.join(current, name)
            for name in _DECLARING
            if os.path.isfile(os.path.join(current, name))
        ]
        found += sorted(
            glob.glob(os.path.join(glob.escape(current), "requirements*.txt"))
        )
        if found:
            return found
        parent = os.path.dirname(current)
        if current == root or parent == current:
            return []
        current = parent
    return []


def _old_requirement(path: str) -> tuple[int, str] | None:
    """The line and text of the first torch requirement in the file at
    ``path`` that admits a torch older than :data:`NEEDED`."""
    try:
        data = read_source(path)
    except OSError:
        return None
    for match in _REQUIREMENT.finditer(data):
        start = data.rfind(b"\n", 0, match.start()) + 1
        if data[start : match.start()].lstrip().startswith(b"#"):
            continue  # a comment
        if path.endswith(".toml") and _section(data, start) == b"[build-system]":
            continue  # what builds the package, not what runs it
        if _admits_old(match.group(1)):
            line = data.count(b"\n", 0, match.start()) + 1
            spec = match.group(0).decode("utf-8", "replace").strip().rstrip(",")
            return line, spec
    return None


def _section(data: bytes, line_start: int) -> bytes:
    """The TOML table header that the line at ``line_start`` falls under."""
    headers = _HEADER.findall(data, 0, line_start)
    return headers[-1].strip() if headers else b""


_HEADER = re.compile(rb"(?m)^[ \t]*(\[[^\]\n]*\])")


def _admits_old(clauses: bytes) -> bool:
    """Whether version clauses (``>=1.13,<3``) admit a torch older than
    :data:`NEEDED`: their lower bound is older, or, without one, their
    upper bound is."""
    lower: tuple[int, int] | None = None
    old_only = False  # an upper bound below 2.1: `<2.1`, `<=2.0`
    for op, major, minor in _CLAUSE.findall(clauses):
        version = (int(major), int(minor or 0))
        if op in (b"==", b"===", b">=", b"~=", b">"):
            lower = version if lower is None else max(lower, version)
        elif op == b"<":
            old_only = old_only or version <= NEEDED
        elif op == b"<=":
            old_only = old_only or version < NEEDED
    if lower is not None:
        return lower < NEEDED
    return old_only
