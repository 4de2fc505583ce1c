"""What the WN301/WN302 migration would break in the file it rewrites.

The migration renames the attribute reads it can see (``m.weight_g`` ->
``m.parametrizations.weight.original0``) and the calls it is asked to. Code
that reaches the same things another way keeps running after the rewrite
and silently does something else, so the migration of such a file is
declined, with the line and the reason:

* **whole-object pickling** of a module the file normalizes with the legacy
  API (``torch.save(model)``, ``pickle.dump``, ``torch.package``): legacy
  weight norm pickles, a parametrized module raises ``RuntimeError``;
* **names as strings**: ``hasattr``/``getattr``/``setattr``/``delattr``
  with ``"weight_g"``/``"weight_v"`` (the rename does not reach them:
  ``hasattr`` turns False, ``getattr`` raises), and state-dict keys spelled
  with them (``k.endswith("weight_g")``, ``sd["conv.weight_v"]``): the
  keys become ``parametrizations.weight.original0``/``original1``; and
  parameters picked by the suffix alone (``n.endswith("_g")``) in a
  function that applies or removes weight norm;
* **torch's** ``WeightNorm`` **hook class**, imported or tested by name
  (``isinstance(hook, WeightNorm)``, ``type(hook).__name__ ==
  "WeightNorm"``): migrated modules have no such hook, the test turns False;
* **an explicit choice of the legacy API**: a legacy call in a branch of
  a function that also applies the parametrizations API (a
  ``weight_norm="legacy"`` mode, a fallback for old torch). Rewriting the
  branch removes the choice the code offers;
* **a model loaded by name**: a class deriving from diffusers'
  ``ModelMixin``, whose ``from_pretrained`` sets each tensor by name and
  skips the keys the model lacks, so the published checkpoints'
  ``weight_g``/``weight_v`` would never reach torch's key conversion.

Hazards in *other* files (a loader that filters a checkpoint by the
model's own keys, a script that pickles a class this file defines) are the
business of :func:`wnlint.fixing.migration_notes.project_notes`.
"""

from __future__ import annotations

import ast
import os
import weakref

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.events import LEGACY, NEW, norm_api
from wnlint.facts.guards import weight_norm_test
from wnlint.facts.pickled import applied_to
from wnlint.facts.pickling import module_pickles
from wnlint.facts.resolve import resolve, resolves_only_to
from wnlint.facts.syntax import all_nodes
from wnlint.rules._legacy_api import legacy_sites_by_code

#: The attribute names the rename covers, as strings can spell them.
_LEGACY_NAMES = tuple(tn.LEGACY_TO_PARAMETRIZED)
_ATTR_BUILTINS = frozenset({"hasattr", "getattr", "setattr", "delattr"})
#: torch's hook class of the legacy API, and the module that defines it.
_HOOK_CLASS = tn.WEIGHT_NORM_HOOK_CLASS
_HOOK_MODULE = tn.WEIGHT_NORM_HOOK_MODULE
_HOOK_NAMES = tn.WEIGHT_NORM_HOOK


def file_hazard(analysis: FileAnalysis) -> str | None:
    """The first reason, with its line, not to migrate this file; None when
    nothing in it depends on what the migration changes."""
    return visible_hazard(analysis) or _pickled(analysis)


def visible_hazard(analysis: FileAnalysis) -> str | None:
    """:func:`file_hazard` without the pickling hazard: what the text the
    legacy rules are handed holds (their prefilter keeps it), so ``check``
    declines the fix there as ``fix`` will. Asked by WN301 and WN302 of
    every file with a legacy site: answered once per file, and the checks
    that read names and strings only where one walk finds them spelled."""
    if analysis in _VISIBLE:
        return _VISIBLE[analysis]
    spelled = _spells_names(analysis.tree)
    checks = (
        _legacy_choice,
        _string_names,
        _suffix_picks,
        _hook_class,
        _loaded_by_name,
    )
    reason = None
    for check in checks:
        if spelled or check in (_legacy_choice, _suffix_picks, _loaded_by_name):
            reason = check(analysis)
            if reason is not None:
                break
    _VISIBLE[analysis] = reason
    return reason


def _names_hook(node: ast.AST) -> bool:
    """A name, attribute or ``from`` import that names the hook class."""
    if isinstance(node, ast.ImportFrom):
        return node.module == _HOOK_MODULE
    return _HOOK_CLASS in (getattr(node, "id", None), getattr(node, "attr", None))


_VISIBLE: weakref.WeakKeyDictionary[FileAnalysis, str | None] = (
    weakref.WeakKeyDictionary()
)


def _spells_names(tree: ast.Module) -> bool:
    """Whether a string names a legacy attribute or torch's hook class or
    module, or a name or import names the hook class: without one,
    neither :func:`_string_names` nor :func:`_hook_class` can find
    anything."""
    for node in all_nodes(tree):
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str) and (
                value in (_HOOK_CLASS, _HOOK_MODULE)
                or legacy_attr_named(value) is not None
            ):
                return True
        elif _names_hook(node):
            return True
    return False


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants: prose may name ``weight_g``."""
    out = set()
    for node in all_nodes(tree):
        if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
            ):
                out.add(id(body[0].value))
    return out


def legacy_attr_named(text: str) -> str | None:
    """The legacy attribute a string spells as a name or a key's last part
    (``"weight_g"``, ``"conv.weight_v"``, ``"_weight_g"`` is not one)."""
    for name in _LEGACY_NAMES:
        if text == name or text.endswith("." + name):
            return name
    return None


def both_api_strings(analysis: FileAnalysis) -> set[int]:
    """ids of the ``"weight_g"``/``"weight_v"`` of ``hasattr`` tests that
    an ``elif`` puts after a test for the new API on the same module
    (``if parametrize.is_parametrized(m, "weight"): ... elif hasattr(m,
    "weight_g"): ...``, WN203's repair): code that handles both APIs, whose
    legacy arm the migration leaves unused, not code that picks by name."""
    scopes = {id(site.node): site.scope for site in analysis.calls}
    out: set[int] = set()
    for node in all_nodes(analysis.tree):
        if not (
            isinstance(node, ast.If)
            and len(node.orelse) == 1
            and isinstance(node.orelse[0], ast.If)
        ):
            continue
        test = node.orelse[0].test
        scope = scopes.get(id(test), analysis.module_scope)
        first = weight_norm_test(node.test, scopes.get(id(node.test), scope))
        second = weight_norm_test(test, scope)
        if (
            first is not None
            and second is not None
            and (first[1], second[1]) == (NEW, LEGACY)
            and ast.dump(first[0]) == ast.dump(second[0])
            and isinstance(test, ast.Call)
        ):
            out.add(id(test.args[1]))
    return out


def _string_names(analysis: FileAnalysis) -> str | None:
    skipped = _docstrings(analysis.tree) | both_api_strings(analysis)
    attr_calls: dict[int, ast.Call] = {}
    for site in analysis.calls:
        call: ast.Call = site.node  # type: ignore[assignment]
        func = call.func
        if (
            isinstance(func, ast.Name)
            and func.id in _ATTR_BUILTINS
            and len(call.args) >= 2
            and not resolve(func, site.scope)  # the builtin: bound nowhere
        ):
            attr_calls[id(call.args[1])] = call
    found: list[tuple[int, str]] = []
    for node in all_nodes(analysis.tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in skipped:
            continue
        name = legacy_attr_named(node.value)
        if name is None:
            continue
        holder = attr_calls.get(id(node))
        if holder is not None:
            builtin = holder.func.id  # type: ignore[attr-defined]
            found.append(
                (
                    node.lineno,
                    f'`{builtin}(..., "{name}")` on line {node.lineno} does not '
                    "follow the rename (the attribute becomes "
                    f"parametrizations.weight.{tn.LEGACY_TO_PARAMETRIZED[name]}"
                    + (
                        '; test `parametrize.is_parametrized(m, "weight")` instead'
                        if builtin == "hasattr"
                        else ""
                    )
                    + ")",
                )
            )
        else:
            found.append(
                (
                    node.lineno,
                    f'the string "{node.value}" on line {node.lineno} handles '
                    f"the legacy `{name}` by name (a state-dict key after the "
                    "migration ends in "
                    f"parametrizations.weight.{tn.LEGACY_TO_PARAMETRIZED[name]})",
                )
            )
    if not found:
        return None
    return min(found)[1] + "; rewrite it by hand"


#: Name suffixes of the legacy API's parameters (``conv.weight_g``).
_LEGACY_SUFFIXES = frozenset(name[name.index("_") :] for name in _LEGACY_NAMES)


def _suffix_picks(analysis: FileAnalysis) -> str | None:
    """``name.endswith("_g")`` in a function that applies or removes
    legacy weight norm (fairseq's ``remove_weight_norm_from_model`` finds
    the normed modules by their parameters' names): after the migration no
    name ends so, and the function silently does nothing."""
    sites = {id(s.node): s for s in (*analysis.calls, *analysis.references)}
    functions = {
        id(site.scope.enclosing("function"))
        for _, node in legacy_sites_by_code(analysis)
        if (site := sites.get(id(node))) is not None
    }
    for site in analysis.calls:
        call: ast.Call = site.node  # type: ignore[assignment]
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr == "endswith"
            and call.args
            and id(site.scope.enclosing("function")) in functions
        ):
            continue
        arg = call.args[0]
        for part in arg.elts if isinstance(arg, ast.Tuple) else [arg]:
            if isinstance(part, ast.Constant) and part.value in _LEGACY_SUFFIXES:
                return (
                    f'the suffix "{part.value}" on line {call.lineno} picks '
                    "weight norm's legacy parameters by name (after the "
                    "migration they end in original0/original1); rewrite it "
                    "by hand"
                )
    return None


def _hook_class(analysis: FileAnalysis) -> str | None:
    """``WeightNorm`` imported, referenced, or compared by name."""
    for site in analysis.references:
        if resolves_only_to(site.node, site.scope, _HOOK_NAMES):
            return (
                f"line {site.node.lineno} uses torch's WeightNorm hook class, "
                "which migrated modules no longer carry; rewrite it by hand"
            )
    for node in all_nodes(analysis.tree):
        if isinstance(node, ast.ImportFrom) and node.module == _HOOK_MODULE:
            if any(alias.name == _HOOK_CLASS for alias in node.names):
                return (
                    f"line {node.lineno} imports torch's WeightNorm hook class, "
                    "which migrated modules no longer carry; rewrite it by hand"
                )
        elif isinstance(node, ast.Compare):
            for part in _compared(node):
                if isinstance(part, ast.Constant) and part.value in (
                    _HOOK_CLASS,
                    _HOOK_MODULE,
                ):
                    return (
                        f"line {node.lineno} recognizes torch's WeightNorm hook "
                        "by name, which migrated modules no longer carry; "
                        "rewrite it by hand"
                    )
    return None


def _compared(node: ast.Compare) -> list[ast.expr]:
    """The operands of a comparison, and the items of a literal tuple, list
    or set among them (``type(h).__name__ in ("WeightNorm", ...)``)."""
    out: list[ast.expr] = []
    for part in (node.left, *node.comparators):
        out.append(part)
        if isinstance(part, (ast.Tuple, ast.List, ast.Set)):
            out.extend(part.elts)
    return out


def _legacy_choice(analysis: FileAnalysis) -> str | None:
    """A legacy call in an ``if`` branch of a function (or module body)
    that also applies the parametrizations API: the code chooses."""
    new_api: dict[int, int] = {}  # id(scope) -> first line of a new-API call
    legacy: list[Site] = []
    for site in analysis.calls:
        func = site.node.func  # type: ignore[attr-defined]
        api = norm_api(func, site.scope)
        if api == NEW:
            new_api.setdefault(id(site.scope), site.node.lineno)
        elif api == LEGACY:
            legacy.append(site)
    for site in legacy:
        other = new_api.get(id(site.scope))
        branch = any(
            kind in ("if", "else") and scope is site.scope
            for kind, _, scope in site.guards
        )
        if other is not None and branch:
            return (
                f"line {site.node.lineno} applies the legacy API in a branch, "
                f"beside the parametrizations API on line {other} (an explicit "
                "legacy mode, or a fallback for old torch): the migration would "
                "remove that choice; migrate it by hand"
            )
    return None


#: Base classes whose loader sets each tensor by name, past the key
#: conversion torch runs inside ``load_state_dict``: diffusers' ``ModelMixin``
#: (``from_pretrained`` with ``low_cpu_mem_usage``, its default).
_LOADED_BY_NAME = "ModelMixin"


def _loaded_by_name(analysis: FileAnalysis) -> str | None:
    """A class of the file derives from diffusers' ``ModelMixin`` (imported
    from ``diffusers``, or relatively inside the diffusers package): its
    published checkpoints hold ``weight_g``/``weight_v``, which
    ``from_pretrained`` skips once the model has other keys."""
    scope = analysis.module_scope
    inside = analysis.path is not None and "diffusers" in analysis.path.split(os.sep)
    for node in analysis.tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            for name in resolve(base, scope):
                if name is None or name.rsplit(".", 1)[-1] != _LOADED_BY_NAME:
                    continue
                if name.split(".")[0] == "diffusers" or (
                    name.startswith(".") and inside
                ):
                    return (
                        f"class {node.name} on line {node.lineno} derives from "
                        "diffusers' ModelMixin, whose from_pretrained sets each "
                        "tensor by name without load_state_dict: checkpoints "
                        "saved before the migration (weight_g/weight_v) would "
                        "load without the migrated layers' weights; migrate it "
                        "with a conversion of the checkpoints"
                    )
    return None


def _pickled(analysis: FileAnalysis) -> str | None:
    """A whole-object pickle of a module this file normalizes with the
    legacy API (here, not in a sibling module: that file is migrated, or
    reported, on its own)."""
    for pickled in module_pickles(analysis):
        found = applied_to(analysis, pickled, tn.LEGACY_WEIGHT_NORM)
        if found is None:
            continue
        here = os.path.abspath(analysis.path) if analysis.path else None
        if found.path is not None and found.path != here:
            continue
        return (
            f"`{pickled.how}` on line {pickled.call.lineno} pickles a module "
            f"normed on line {found.line} whole: a parametrized module raises "
            '"RuntimeError: Serialization of parametrized modules is only '
            'supported through state_dict()"; save its state_dict() first'
        )
    return None
