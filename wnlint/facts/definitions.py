"""Where a name's ``def`` or ``class`` is: in this file, or in a sibling
module of the same package.

A callee defined in another file of the package (a relative import, or an
absolute one under the file's own top-level package) is summarized from
that file, parsed once per version of it and cached; nothing is imported
or run, and nothing under ``site-packages`` is followed.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from wnlint.facts import torchnames as tn
from wnlint.facts.resolve import OPAQUE, Scope
from wnlint.facts.siblings import (
    file_text,
    imports_sibling_mentioning,
    module_path,
    version,
)
from wnlint.facts.syntax import parse_quietly

Def = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef]


@dataclass
class Scoped:
    """A definition and the file summary it belongs to."""

    node: Def
    file: Any  # the FileSummaries of the file that holds it


def local_definition(name: str, scope: Scope) -> Def | None:
    """The one ``def``/``class`` that binds ``name`` where it is read."""
    current: Scope | None = scope
    first = True
    while current is not None:
        if (first or current.kind != "class") and name in current.bindings:
            bindings = current.bindings[name]
            if len(bindings) != 1 or bindings[0] is not OPAQUE:
                return None
            return current.definition(name)  # type: ignore[return-value]
        first = False
        current = current.parent
    return None


# -- sibling files -------------------------------------------------------------------

#: Text a sibling file holds if it has a weight-normed module.
NORM_WORDS = (b"weight_norm",)
_NORM = NORM_WORDS[0]

#: Sibling files' analyses (which hold their summaries), by path.
_FILES: dict[str, tuple[tuple[int, int], Any]] = {}
#: Sibling file -> the files its summaries followed, with their versions.
_FOLLOWED: dict[str, dict[str, tuple[int, int]]] = {}


def is_torch(qual: str) -> bool:
    """Torch's own names are never a sibling's."""
    return qual.split(".", 1)[0] == "torch"


def is_torch_module_class(qual: str | None) -> bool:
    """``qual`` is a ``torch.nn`` module class (``torch.nn.Conv1d``,
    ``torch.nn.Module``), not a parameter or buffer class."""
    if qual is None or not qual.startswith(tn.TORCH_NN):
        return False
    last = qual.rsplit(".", 1)[-1]
    return last[:1].isupper() and last not in tn.NOT_MODULES


def sibling_definition(
    here: Any, qual: str, needs: tuple[bytes, ...] = (), depth: int = 0
) -> Scoped | None:
    """The def or class ``qual`` names (from the file of ``here``) in a file
    of the same package, when that file's text holds one of ``needs`` (any
    file when empty); through a module that imports it from another (a
    package's ``__init__.py`` handing on its modules' classes)."""
    module, _, name = qual.rpartition(".")
    path = here.path
    if path is None or not module.strip("."):
        return None
    found_file = module_path(os.path.dirname(path), module)
    if found_file is None or found_file == os.path.realpath(path):
        return None
    if path in _FILES:  # a sibling's summaries now depend on this file too
        _FOLLOWED.setdefault(path, {})[found_file] = version(found_file)
    if needs and not _may_answer(found_file, needs):
        return None
    summaries = _summaries(found_file, here.analyze)
    if summaries is None:
        return None
    module_scope = summaries.module_scope
    found = module_scope.definition(name)
    local = local_definition(name, module_scope)
    if found is not None and local is found:
        return Scoped(local, summaries)
    bound = module_scope.bindings.get(name, [])
    if found is not None or depth >= _MAX_REEXPORTS:
        return None
    if len(bound) == 1 and isinstance(bound[0], str) and not is_torch(bound[0]):
        return sibling_definition(summaries, bound[0], needs, depth + 1)
    for star in [] if bound else reversed(module_scope.star_imports):
        # `from .gan_utils import *` in a package's `__init__.py`: the last
        # module that defines the name is where it comes from.
        sep = "" if star.endswith(".") else "."
        if not is_torch(star):
            via = sibling_definition(summaries, f"{star}{sep}{name}", needs, depth + 1)
            if via is not None:
                return via
    return None


#: How many modules that import a name from another are followed.
_MAX_REEXPORTS = 3


def _may_answer(path: str, needs: tuple[bytes, ...]) -> bool:
    """The file's text holds one of ``needs``, or, for weight norm, it
    imports from a module of the project that norms (``from .layers import
    WNConv1d`` in DAC's quantizer, whose classes hold what ``layers``
    norms), or from one that imports from such a module (a package's
    ``__init__.py``)."""
    text = file_text(path)
    if any(word in text for word in needs):
        return True
    if os.path.basename(path) == "__init__.py":
        # A package's `__init__.py` hands on what its modules define (a
        # class two modules from the norm it holds: one step more).
        return any(
            imports_sibling_mentioning(text, path, w, int(w == _NORM), packaged=True)
            for w in needs
        )
    # A write is made by code the file itself holds; a norm may be imported.
    return _NORM in needs and imports_sibling_mentioning(
        text, path, _NORM, packaged=True
    )


def _summaries(path: str, analyze: Callable[[ast.Module, str], Any]) -> Any:
    """The summaries of a sibling file, parsed once per version of it and
    of the files its summaries followed in turn (DAC's quantizer holds
    what ``layers.py`` norms: an edit there changes what it holds)."""
    key = version(path)
    if _FILES.get(path, (None, None))[0] != key or _stale(path, {path}):
        _FOLLOWED.pop(path, None)
        _FILES[path] = (key, _load(path, analyze))
    analysis = _FILES[path][1]
    return None if analysis is None else analysis.summaries


def _stale(path: str, seen: set[str]) -> bool:
    """A file followed from ``path``'s summaries, or from theirs, changed."""
    for followed, then in _FOLLOWED.get(path, {}).items():
        if version(followed) != then:
            return True
        if followed not in seen:
            seen.add(followed)
            if _stale(followed, seen):
                return True
    return False


def _load(path: str, analyze: Callable[[ast.Module, str], Any]) -> Any:
    """A sibling file's analysis (None: it does not parse)."""
    try:
        tree = parse_quietly(file_text(path), path)
        analysis = analyze(tree, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return analysis
