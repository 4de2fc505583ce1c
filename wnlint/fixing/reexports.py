"""Names a migrated module no longer binds, and the files that import them.

The weight norm migration rewrites ``from torch.nn.utils import
weight_norm`` to ``from torch.nn.utils import parametrizations``: the
module stops binding ``weight_norm``. A file of the run that imported the
name from it has that import dropped by its own migration
(:func:`wnlint.rules._legacy_rewriter.project_imports`); any other file
that still imports it (``from pkg.layers import weight_norm``) or reads it
off the module (``layers.weight_norm(...)``) fails once the migrated
module is written. The run-level notes warn about each.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable

from wnlint.facts.siblings import module_name, module_path
from wnlint.facts.sources import read_source, shown_path
from wnlint.facts.syntax import all_nodes, parse_quietly
from wnlint.fixing.diff import line_before

_LOST = (
    "warning: line {line} {how} `{name}` from {module}, which the weight norm "
    "migration no longer binds there ({error}); use "
    "torch.nn.utils.parametrizations.weight_norm (or fix this file in the same run)"
)


def dropped_names(original: bytes, fixed: bytes) -> set[str]:
    """The names the module's top level binds by import before the fix and
    not after it."""
    return _imported_names(original) - _imported_names(fixed)


def _imported_names(data: bytes) -> set[str]:
    try:
        tree = parse_quietly(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {
        alias.asname or alias.name.split(".")[0]
        for stmt in tree.body
        if isinstance(stmt, (ast.Import, ast.ImportFrom))
        for alias in stmt.names
    }


def importer_notes(
    lost: dict[str, set[str]],
    files: Iterable[str],
    changed: dict[str, tuple[bytes, bytes]],
) -> dict[str, list[str]]:
    """Warning notes per file of ``files`` that imports, or reads off the
    module, a name a migrated module (a real path of ``lost``) no longer
    binds. A file the run changed (``changed[path]``: its original and
    fixed bytes) is read as fixed, its lines named as ``check`` reports
    them."""
    # Such a file spells the module's name and the lost one.
    modules = {os.fsencode(module_name(path)) for path in lost}
    words = {name.encode() for names in lost.values() for name in names}
    notes: dict[str, list[str]] = {}
    for path in files:
        original, data = changed.get(path, (b"", b""))
        try:
            data = data or read_source(path)
        except OSError:
            continue
        if not (any(w in data for w in words) and any(m in data for m in modules)):
            continue
        try:
            tree = parse_quietly(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        directory = os.path.dirname(os.path.abspath(path))
        found = [
            _LOST.format(
                line=line_before(original, data, line) if original else line,
                how=how,
                name=name,
                module=shown_path(target),
                error="ImportError" if how == "imports" else "AttributeError",
            )
            for line, how, name, target in _uses(tree, directory, lost)
        ]
        if found:
            notes[path] = found
    return notes


#: (line, "imports" or "reads", the name, the migrated module's path).
_Use = tuple[int, str, str, str]


def _uses(tree: ast.Module, directory: str, lost: dict[str, set[str]]) -> list[_Use]:
    """Each use of a lost name, in line order."""
    out: list[_Use] = []
    modules: dict[str, str] = {}  # a local bound to a migrated module -> its path
    for node in all_nodes(tree):
        if isinstance(node, ast.ImportFrom):
            out += _from_imports(node, directory, lost, modules)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = _target(directory, alias.name, lost)
                if target is not None and alias.asname:
                    modules[alias.asname] = target
    for node in all_nodes(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr in lost[modules[node.value.id]]
        ):
            out.append((node.lineno, "reads", node.attr, modules[node.value.id]))
    return sorted(set(out))


def _from_imports(
    node: ast.ImportFrom,
    directory: str,
    lost: dict[str, set[str]],
    modules: dict[str, str],
) -> list[_Use]:
    """The lost names ``node`` imports; the migrated modules it imports as
    names go into ``modules`` (``from . import layers``)."""
    out = []
    base = "." * node.level + (node.module or "")
    target = _target(directory, base, lost)
    for alias in node.names:
        if target is not None and alias.name in lost[target]:
            out.append((node.lineno, "imports", alias.name, target))
        dot = "" if base.endswith(".") or not base else "."
        inner = _target(directory, f"{base}{dot}{alias.name}", lost)
        if inner is not None:
            modules[alias.asname or alias.name] = inner
    return out


def _target(directory: str, module: str, lost: dict[str, set[str]]) -> str | None:
    if not module.strip("."):
        return None
    found = module_path(directory, module)
    return found if found is not None and found in lost else None
