"""Models unpickled whole, then stripped of weight norm.

A model saved whole (``torch.save(model)``: WaveGlow's published
checkpoints) comes back from ``torch.load`` with the weight norm it was
saved with, the legacy API's hooks and ``weight_g``/``weight_v``, whatever
its class's code says now: pickle stores the instance's state and names
its class. Once ``fix`` has migrated the legacy API, the class's removers
are the new API's, and one run on such a model raises ``ValueError``
(``does not have a parametrization on weight``). The run-level notes
(:mod:`wnlint.fixing.migration_notes`) warn where a file of the run does
that: a method named for removing weight norm called on what ``torch.load``
returned (``waveglow = torch.load(path)["model"];
waveglow.remove_weightnorm(waveglow)``), or that value handed to a remover
or to a function of a migrated file that calls one (WaveGlow's
``convert_model.py``).
"""

from __future__ import annotations

import ast

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.events import removal_api
from wnlint.facts.resolve import resolves_only_to
from wnlint.facts.syntax import local_definitions

_LOAD = tn.TORCH_LOAD

_UNPICKLED = (
    "warning: line {line} removes weight norm from a model unpickled whole "
    "(`torch.load` on line {loaded}): a model saved whole before the weight "
    "norm migration keeps the legacy weight norm, and the migrated remover raises "
    "ValueError on it; save such checkpoints again as a state_dict and load "
    "it into a new model (torch converts weight_g/weight_v)"
)


def unpickled_removals(analysis: FileAnalysis, migrated: bool) -> list[str]:
    """A note for each removal of weight norm from what ``torch.load``
    returned in a function of the file (see the module docstring); the
    file's own removers and functions count only when it was ``migrated``
    (unmigrated, they are the legacy API's, which fits a legacy pickle)."""
    loads = [
        site
        for site in analysis.calls
        if resolves_only_to(site.node.func, site.scope, _LOAD)  # type: ignore[attr-defined]
    ]
    if not loads:
        return []
    found = _Loaded({id(site.node): site.node.lineno for site in loads})
    removing = _removing_functions(analysis) if migrated else set()
    out: dict[int, int] = {}
    for owner in {id(_function(site)): _function(site) for site in loads}.values():
        if owner is None:
            continue
        found.bind(owner)
        for site in analysis.calls:
            if _function(site) is owner:
                line = _removes_from(site, found, removing, migrated)
                if line is not None:
                    out.setdefault(site.node.lineno, line)
    return [_UNPICKLED.format(line=k, loaded=v) for k, v in sorted(out.items())]


def _function(site: Site) -> ast.AST | None:
    """The function (else the module) whose body holds ``site``."""
    scope = site.scope.enclosing("function") or site.scope.module
    return scope.node


class _Loaded:
    """What ``torch.load`` returned, in one function body at a time: its
    calls (by node), and the names bound to a call's value or to an item of
    it (``ckpt = torch.load(p); model = ckpt["model"]``)."""

    def __init__(self, calls: dict[int, int]) -> None:
        self.calls = calls  # id of a load call -> its line
        self.names: dict[str, int] = {}

    def bind(self, owner: ast.AST) -> None:
        self.names = {}
        values = [
            (name, value)
            for name, bound in local_definitions(owner).items()
            for value in bound
            if value is not None
        ]
        changed = True
        while changed:
            changed = False
            for name, value in values:
                line = self.line(value)
                if line is not None and name not in self.names:
                    self.names[name] = line
                    changed = True

    def line(self, expr: ast.expr) -> int | None:
        """The line of the load whose value ``expr`` is, or an item or an
        attribute of (``model.conv``: a part of the unpickled model)."""
        while isinstance(expr, (ast.Subscript, ast.Attribute)):
            expr = expr.value
        if isinstance(expr, ast.Name):
            return self.names.get(expr.id)
        return self.calls.get(id(expr))


def _removes_from(
    site: Site, loaded: _Loaded, removing: set[str], migrated: bool
) -> int | None:
    """The load line of the unpickled value the call ``site`` removes weight
    norm from, if it does."""
    call: ast.Call = site.node  # type: ignore[assignment]
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and "remove" in func.attr.lower()
        and "norm" in func.attr.lower()
    ):
        line = loaded.line(func.value)
        if line is not None:
            return line
    if not (
        (migrated and removal_api(func, site.scope) is not None)
        or (isinstance(func, ast.Name) and func.id in removing)
    ):
        return None
    for arg in call.args:
        line = loaded.line(arg)
        if line is not None:
            return line
    return None


def _removing_functions(analysis: FileAnalysis) -> set[str]:
    """Names of the file's top-level functions that remove weight norm,
    themselves or through another such function (WaveGlow's ``update_model``
    through ``_update_model_res_skip``)."""
    defs = {
        node.name: node
        for node in analysis.tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    calls: dict[str, set[str]] = {name: set() for name in defs}
    removing: set[str] = set()
    for site in analysis.calls:
        owner = _function(site)
        name = getattr(owner, "name", None)
        if name not in defs or defs[name] is not owner:
            continue
        func = site.node.func  # type: ignore[attr-defined]
        if removal_api(func, site.scope) is not None:
            removing.add(name)
        elif isinstance(func, ast.Name) and func.id in defs:
            calls[name].add(func.id)
    changed = True
    while changed:
        changed = False
        for name, callees in calls.items():
            if name not in removing and callees & removing:
                removing.add(name)
                changed = True
    return removing
