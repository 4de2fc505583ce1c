"""What a WN301/WN302 migration breaks outside the files it rewrites.

The migration of a file is declined when the file itself depends on the
legacy API's names or behaviour (see
:mod:`wnlint.rules._migration_hazards`). Other files of the code base can
depend on them too, and no per-file fix sees them. After a ``fix`` run
that migrated something, the files of the run, and the other files of
each migrated file's project (:func:`project_directories`: a hook that
is handed only the changed files must still warn about the unchanged
loader), are read once more for such dependencies, each reported as a
warning note on the file that holds it (the migration stands; the note
says what to change):

* a loader that keeps only the checkpoint keys the model already has and
  loads with ``strict=False`` (stable-audio-tools' ``copy_state_dict``,
  seed-vc's shape-tested comprehension, FunCodec's ``filter_state_dict``),
  or that fills every key of the model from the checkpoint, falling back
  to the model's own value (VITS' ``load_checkpoint``, wavenet_vocoder's
  ``restore_parts``, whose strict loads then pass): legacy
  ``weight_g``/``weight_v`` keys are dropped before torch's key-conversion
  hook can see them, and the migrated layers silently keep their initial
  weights; or that reads the model's own state by each checkpoint key (a
  ``load_state_dict`` override reshaping the entries, DeepLearningExamples'
  HiFi-GAN): ``KeyError`` on the legacy keys; or that goes key by key
  where no conversion hook runs: copying the checkpoint into the model's
  own state (``own[name].copy_(param)``, PixelCNN++'s
  ``load_part_of_model``) or setting each tensor by name (diffusers'
  ``load_model_dict_into_meta``) under the keys the model has (the legacy
  entries are skipped), raising on a key the model lacks (a conversion
  script's check), or reading the checkpoint by the model's own keys with
  no fallback (whisper-vits-svc's ``load_part``: ``KeyError``);
* whole-object pickling (``torch.save(model)``) of a class that a migrated
  sibling module defines and normalizes: it raises ``RuntimeError`` once
  the module is parametrized;
* ``"weight_g"``/``"weight_v"`` spelled as strings (state-dict keys,
  ``hasattr``) beside a migrated module, in its own directory: conversion
  scripts and loaders that no longer match the keys; and in any file of
  the run, parameters picked by such a name (``n.endswith(norm_suffix)``
  with ``norm_suffix="weight_g"``): optimizer groups that no longer match;
* a requirement that admits a torch older than 2.1, which has no
  ``parametrizations.weight_norm`` (:mod:`wnlint.fixing.torch_floor`);
* weight norm removed from a model unpickled whole (``torch.load``, then
  its ``remove_weightnorm``): a model saved whole before the migration
  keeps the legacy API, and the migrated remover raises on it
  (:mod:`wnlint.fixing.unpickled`).

The loader shapes are recognized in :mod:`wnlint.fixing.state_loads` and
:mod:`wnlint.fixing.keyed_loaders`.
Files are read from disk, so in a writing run the migrated siblings are
already rewritten: pickled modules are traced through both APIs.
"""

from __future__ import annotations

import ast
import os
from collections import Counter
from collections.abc import Iterable, Iterator

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.hits import may_pickle
from wnlint.facts.pickled import applied_to
from wnlint.facts.pickling import module_pickles
from wnlint.facts.siblings import (
    imports_any_of,
    imports_sibling_mentioning,
    module_name,
    project_root,
)
from wnlint.facts.sources import read_source
from wnlint.facts.syntax import all_nodes, parse_quietly, string_value
from wnlint.fixing.keyed_loaders import keyed_loads
from wnlint.fixing.state_loads import filtered_loads
from wnlint.fixing.torch_floor import old_torch_notes
from wnlint.fixing.unpickled import unpickled_removals
from wnlint.rules._legacy_api import REMOVERS_ALONE
from wnlint.rules._migration_hazards import both_api_strings, legacy_attr_named

#: The fix codes whose application makes a file migrated.
MIGRATION_CODES = frozenset({"WN301", "WN302"})
_LEGACY_WORDS = tuple(name.encode() for name in tn.LEGACY_TO_PARAMETRIZED)
_NORMED_BY_EITHER = tn.LEGACY_WEIGHT_NORM | tn.PARAMETRIZATIONS_WEIGHT_NORM


def waits_for_a_migration(notes: Iterable[str]) -> bool:
    """A file's migration waited for the run's (its removers act on modules
    another file normalizes): :data:`REMOVERS_ALONE` is among its notes."""
    return REMOVERS_ALONE in notes


def migrates_weight_norm(applied: Iterable[Counter]) -> bool:
    """Some file of the run had its weight norm (WN301) migrated, given
    each file's fixed codes."""
    return any(codes.get("WN301") for codes in applied)


def would_migrate_weight_norm(fixable_codes: Iterable[str]) -> bool:
    """A report whose fixable findings are of ``fixable_codes`` has weight
    norm (WN301) that ``fix --unsafe-fixes`` migrates: the fixes it offers
    are those of such a run."""
    return "WN301" in set(fixable_codes)


#: At most this many files beyond the run are read for the notes: a
#: monorepo's whole tree is not worth the wait after one migrated file.
PROJECT_FILES_READ = 20_000


def project_directories(migrated: Iterable[str], cwd: str) -> list[str]:
    """Where the code that uses the migrated files lies: each one's project
    root (the nearest directory above with ``.git``, ``pyproject.toml``,
    ``setup.py`` or ``setup.cfg``), else the working directory when the
    file lies under it (where a script that imports it runs from), else
    the file's own directory; none inside another."""
    return _outermost(_root_of(path, cwd) for path in migrated)


def _root_of(path: str, cwd: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    root = project_root(directory)
    if root is None:
        under_cwd = directory == cwd or directory.startswith(cwd + os.sep)
        root = cwd if under_cwd else directory
    return root


def _outermost(directories: Iterable[str]) -> list[str]:
    found = set(directories)
    return sorted(
        d
        for d in found
        if not any(d != o and d.startswith(o.rstrip(os.sep) + os.sep) for o in found)
    )


def related_files(files: Iterable[str], migrated: list[str], cwd: str) -> Iterator[str]:
    """The files of ``files`` (a walk of the projects) that can use what the
    migrated files define: those under the directory above each migrated
    file's own (where its package and the scripts that run it lie), and
    those elsewhere in the project that import a migrated module. A
    monorepo's other models are not read (their loaders load other
    checkpoints)."""
    near = []
    for path in migrated:
        directory = os.path.dirname(os.path.abspath(path))
        root = _root_of(path, cwd)
        above = os.path.dirname(directory)
        inside = above == root or above.startswith(root + os.sep)
        near.append(above if inside else root)
    near = _outermost(near)
    targets = {os.path.realpath(p) for p in migrated}
    # An import of a module spells its last name (`from .models import G`,
    # `from pkg import models`): files that do not are not resolved.
    names = {os.fsencode(module_name(p)) for p in targets}
    for path in files:
        absolute = os.path.abspath(path)
        if any(absolute.startswith(d.rstrip(os.sep) + os.sep) for d in near):
            yield path
            continue
        try:
            data = read_source(path)
        except OSError:
            continue
        if any(name in data for name in names) and imports_any_of(
            data, absolute, targets
        ):
            yield path


def project_notes(
    migrated: Iterable[str], files: Iterable[str]
) -> dict[str, list[str]]:
    """Warning notes per file of ``files`` for what the migration of the
    files ``migrated`` breaks there (empty when nothing was migrated),
    and on the first migrated file of a project whose requirements admit a
    torch without the new API (:mod:`wnlint.fixing.torch_floor`)."""
    migrated = list(migrated)
    done = {os.path.abspath(p) for p in migrated}
    if not done:
        return {}
    dirs = {os.path.dirname(p) for p in done}
    notes: dict[str, list[str]] = {}
    for path in files:
        try:
            data = read_source(path)
        except OSError:
            continue  # the fix run reported it already
        here = os.path.abspath(path)
        found = _file_notes(
            data, path, here in done, os.path.dirname(here) in dirs, done
        )
        if found:
            notes[path] = found
    for path, found in old_torch_notes(migrated).items():
        notes.setdefault(path, []).extend(found)
    return notes


def _file_notes(
    data: bytes, path: str, is_migrated: bool, beside: bool, done: set[str]
) -> list[str]:
    loads = b"load_state_dict" in data and b".state_dict()" in data
    keyed = b".state_dict()" in data and b" in " in data
    # A pickled class normed elsewhere comes from a sibling module that
    # spells weight norm (as WN304's prefilter reads it). A migrated file is
    # read too: its own hazards declined it, a sibling's did not.
    pickles = may_pickle(data) and imports_sibling_mentioning(
        data, path, b"weight_norm"
    )
    legacy_words = not is_migrated and any(w in data for w in _LEGACY_WORDS)
    strings = beside and legacy_words
    unpickles = b"load(" in data and b"remove" in data and b"torch" in data
    if not (loads or keyed or pickles or legacy_words or unpickles):
        return []
    try:
        tree = parse_quietly(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # check reports what does not parse
    out: list[str] = []
    if loads:
        out += filtered_loads(tree, path)
    if keyed:
        out += keyed_loads(tree)
    analysis = FileAnalysis(tree, path) if pickles or strings or unpickles else None
    if pickles and analysis is not None:
        out += _pickled_migrated(analysis, done, path)
    if unpickles and analysis is not None:
        out += unpickled_removals(analysis, is_migrated)
    if strings and analysis is not None:
        out += _legacy_strings(tree, both_api_strings(analysis))
    elif legacy_words and b"weight_norm" not in data:
        # Anywhere in the run: parameters picked by the name. A file that
        # norms modules itself picks its own (its migration, if declined,
        # left them as they were).
        out += _legacy_picks(tree)
    return out


def _legacy_picks(tree: ast.Module) -> list[str]:
    """Parameters picked by a name ending in ``weight_g``/``weight_v``:
    ``n.endswith("weight_g")``, ``"weight_v" in n``, also through a name or
    an argument default bound to the string (``get_param_groups(net, wd,
    norm_suffix="weight_g")``, then ``n.endswith(norm_suffix)``). After the
    migration the names end in ``original0``/``original1``: the pick
    matches nothing (a weight-decay group loses the scale)."""
    bound: set[str] = set()
    for node in all_nodes(tree):
        if isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args]
            pairs = [
                *zip(named[len(named) - len(node.defaults) :], node.defaults),
                *zip(node.kwonlyargs, node.kw_defaults),
            ]
            bound.update(a.arg for a, d in pairs if d is not None and _names_legacy(d))
        elif isinstance(node, ast.Assign) and _names_legacy(node.value):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))

    def legacy(expr: ast.expr) -> bool:
        return _names_legacy(expr) or (isinstance(expr, ast.Name) and expr.id in bound)

    lines = sorted(
        {
            node.lineno
            for node in all_nodes(tree)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("endswith", "startswith")
                and any(legacy(a) for a in node.args)
            )
            or (
                isinstance(node, ast.Compare)
                and isinstance(node.ops[0], (ast.In, ast.NotIn))
                and legacy(node.left)
            )
        }
    )
    if not lines:
        return []
    shown = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
    return [
        f"warning: parameters picked by a name ending in weight_g/weight_v "
        f"(line {shown}): after the migration their names end in "
        "parametrizations.weight.original0/original1, and the pick matches "
        "none of them (a weight-decay group loses the scale)"
    ]


def _names_legacy(expr: ast.AST) -> bool:
    value = string_value(expr)
    return value is not None and legacy_attr_named(value) is not None


def _pickled_migrated(analysis: FileAnalysis, done: set[str], path: str) -> list[str]:
    """Whole-object pickles of a module that a migrated *sibling* file
    normalizes (one normed in this file is this file's own business: the
    migration declined it, or WN304 reports it)."""
    here = os.path.abspath(path)
    out = []
    for pickled in module_pickles(analysis):
        found = applied_to(analysis, pickled, _NORMED_BY_EITHER)
        if found is None or found.path not in done or found.path == here:
            continue
        obj = ast.unparse(found.part or pickled.obj)
        if len(obj) > 40:
            obj = obj[:37] + "..."
        out.append(
            f"warning: `{pickled.how}` on line {pickled.call.lineno} pickles "
            f"`{obj}` whole, and the migrated {os.path.basename(found.path)} "
            f"normalizes {found.holder} with the parametrizations API: this "
            "raises RuntimeError; save its state_dict() instead"
        )
    return out


def _legacy_strings(tree: ast.Module, both_apis: set[int]) -> list[str]:
    """Strings naming the legacy tensors, but for the tests of code that
    handles both APIs (``elif hasattr(m, "weight_g")`` after a test of the
    new API: WN203's repair)."""
    lines = sorted(
        {
            node.lineno
            for node in all_nodes(tree)
            if isinstance(node, ast.Constant)
            and id(node) not in both_apis
            and legacy_attr_named(string_value(node) or "") is not None
        }
    )
    if not lines:
        return []
    shown = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
    return [
        f"warning: weight_g/weight_v named as strings (line {shown}) beside a "
        "migrated module: its keys and attributes are now "
        "parametrizations.weight.original0/original1"
    ]
