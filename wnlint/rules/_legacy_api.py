"""Sites that use a legacy weight-norm function, shared by WN301 and WN302.

A site is a call whose callee resolves only to one of the legacy names, or a
value use of such a name (``norm_f = weight_norm if c else spectral_norm``,
``partial(weight_norm, dim=2)``). Plain alias assignments are not sites
themselves: calls through the alias are. Code that handles both APIs (a
branch on ``hasattr(m, "parametrizations")``, a fallback in ``except``, a
selector whose other branch is the new API) is left alone.
"""

from __future__ import annotations

import ast
import os
import sys
import weakref
from collections.abc import Iterable, Iterator

from wnlint.facts import torchnames
from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.facts.guards import tests_legacy_api
from wnlint.facts.resolve import Scope, resolve, resolves_only_to, resolves_to_any
from wnlint.facts.siblings import module_path
from wnlint.facts.syntax import call_arg, isinstance_types, string_value, walk

_NEW_API = torchnames.PARAMETRIZATIONS_WEIGHT_NORM | torchnames.REMOVE_PARAMETRIZATIONS


def legacy_sites(
    analysis: FileAnalysis, targets: frozenset[str], tolerant_try: bool
) -> Iterator[ast.expr]:
    """Nodes where a function in ``targets`` is called or taken as a value."""
    for site in analysis.calls:
        func = site.node.func  # type: ignore[attr-defined]
        if resolves_only_to(func, site.scope, targets) and not (
            in_dual_api_branch(site, tolerant_try)
        ):
            yield site.node
    for site in analysis.references:
        if (
            _is_value_use(site)
            and resolves_only_to(site.node, site.scope, targets)
            and not in_dual_api_branch(site, tolerant_try)
        ):
            yield site.node


def in_dual_api_branch(site: Site, tolerant_try: bool = False) -> bool:
    """True when ``site`` sits where the code handles both weight-norm APIs.

    That is a branch of an ``if``/conditional expression whose test
    mentions the new API or the torch version, an ``except`` handler of
    a ``try`` that uses the new API, or (with ``tolerant_try``) a ``try``
    body whose handlers swallow the ``ValueError`` a mismatched remover
    raises, in a function that also handles the new API; and (removers,
    with ``tolerant_try``) the body of an ``if`` whose test holds only
    where the legacy API is in effect
    (:func:`wnlint.facts.guards.tests_legacy_api`).
    """
    for kind, node, scope in site.guards:
        if kind in ("if", "else"):
            if _test_mentions_new_api(node, scope):
                return True
            if kind == "if" and tolerant_try and tests_legacy_api(node, scope):
                return True  # a remover that runs only where legacy norm is
        elif kind == "except":
            if mentions_new_api(node.body, scope):
                return True
        elif (
            kind == "try"
            and tolerant_try
            and any(_catches_tolerantly(h) for h in node.handlers)
            and mentions_new_api([scope.node or node], scope)
        ):
            # `try: remove_weight_norm(m) except ValueError: pass` next to
            # a removal of the parametrization: removes whichever is there.
            return True
    return False


#: test node -> whether it mentions the new API: every site in an ``elif``
#: chain is guarded by all the tests before it, read once each.
_TESTS: weakref.WeakKeyDictionary[ast.AST, bool] = weakref.WeakKeyDictionary()


def _test_mentions_new_api(test: ast.AST, scope: Scope) -> bool:
    found = _TESTS.get(test)
    if found is None:
        found = _TESTS[test] = mentions_new_api([test], scope)
    return found


def mentions_new_api(nodes: Iterable[ast.AST], scope: Scope) -> bool:
    """True when ``nodes`` test for or use the parametrizations API.

    Looks for ``"parametrizations"`` strings (``hasattr(m,
    "parametrizations")``), names under ``torch.nn.utils.parametriz*``
    and ``torch.__version__``: the marks of code that handles both APIs.
    """
    for root in nodes:
        for node in walk(root):
            if isinstance(node, ast.Constant):
                if node.value == torchnames.NEW_API_ATTRIBUTE:
                    return True
            elif isinstance(node, (ast.Name, ast.Attribute)):
                if isinstance(node, ast.Attribute) and (
                    node.attr == torchnames.NEW_API_ATTRIBUTE
                ):
                    return True
                for name in resolve(node, scope):
                    if name is not None and (
                        name.startswith(torchnames.NEW_API_NAMESPACES)
                        or name == torchnames.TORCH_VERSION
                    ):
                        return True
    return False


def swallows_value_error(site: Site) -> bool:
    """``site`` sits in the body of a ``try`` whose handler catches the
    ``ValueError`` a mismatched remover raises and does not raise again:
    the remover then removes nothing, silently."""
    return any(
        kind == "try"
        and any(
            _catches_tolerantly(h)
            and not any(isinstance(n, ast.Raise) for n in walk(h))
            for h in node.handlers
        )
        for kind, node, _ in site.guards
    )


def _catches_tolerantly(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for exc in types:
        name = exc.id if isinstance(exc, ast.Name) else getattr(exc, "attr", None)
        if name in torchnames.TOLERANT_EXCEPTIONS:
            return True
    return False


def _mixed_alias(name: str, scope: Scope) -> bool:
    """``name`` is bound to a legacy function and to something else, never
    to the new API (which would make it a version-gated shim)."""
    bindings = scope.bindings.get(name)
    if not bindings or len(bindings) < 2:
        return False
    names = scope.lookup(name)  # these bindings: the name is bound here
    legacy = torchnames.LEGACY_WEIGHT_NORM | torchnames.LEGACY_REMOVE_WEIGHT_NORM
    return (
        any(n in legacy for n in names)
        and not names <= legacy
        and not any(n in _NEW_API for n in names)
    )


def _is_value_use(site: Site) -> bool:
    parent = site.parent
    node = site.node
    if isinstance(parent, ast.Assign) and parent.value is node:
        # `wn = nn.utils.weight_norm`: an alias; its calls are checked, but
        # for one also bound to another function (`norm_fn = weight_norm` in
        # one arm, `spectral_norm` in the next): its calls are not only the
        # legacy API's, so the assignment is where it is used.
        return not all(
            isinstance(t, ast.Name) and not _mixed_alias(t.id, site.scope)
            for t in parent.targets
        )
    if isinstance(parent, ast.AnnAssign) and parent.value is node:
        return not isinstance(parent.target, ast.Name)
    if isinstance(parent, ast.Compare):
        return False  # `if norm_f is weight_norm:` reads, it does not use
    if isinstance(parent, ast.IfExp) and node is not parent.test:
        other = parent.orelse if node is parent.body else parent.body
        return not resolves_to_any(other, site.scope, _NEW_API)
    return True


# -- what the migration refuses, read off the sites --------------------------------


def default_name(call: ast.Call) -> bool:
    """``weight_norm(m)`` or ``name="weight"``: reads of weight_g stay valid."""
    name = call_arg(call, 1, "name")
    return name is None or string_value(name) == torchnames.DEFAULT_WEIGHT_NAME


def refusal(code: str, node: ast.expr) -> str | None:
    """Why the migration cannot rewrite this one legacy site (it then
    leaves the whole file as it is)."""
    if code == "WN302" and not isinstance(node, ast.Call):
        return (
            f"remove_weight_norm is passed as a value on line {node.lineno}; "
            "rewrite it by hand"
        )
    if not isinstance(node, ast.Call):
        return None
    if code == "WN302" and call_arg(node, 0, "module") is None:
        return f"no module on line {node.lineno}"
    if code == "WN301" and not default_name(node):
        if string_value(call_arg(node, 1, "name")) is None:
            return (
                f"the parameter weight norm is applied to on line {node.lineno} "
                "is named by an expression, not a string (the migration "
                "renames only `weight`'s tensors)"
            )
        return f"weight norm of a parameter other than `weight` on line {node.lineno}"
    return None


#: analysis -> its legacy sites with their codes: WN301, WN302 and the
#: migration's refusals read them once per file.
_SITES: weakref.WeakKeyDictionary[FileAnalysis, list[tuple[str, ast.expr]]] = (
    weakref.WeakKeyDictionary()
)


def legacy_sites_by_code(analysis: FileAnalysis) -> list[tuple[str, ast.expr]]:
    """Every legacy site of the file with its code: the calls and value
    uses of ``weight_norm`` (WN301) and ``remove_weight_norm`` (WN302)."""
    found = _SITES.get(analysis)
    if found is None:
        found = _SITES[analysis] = [
            (code, node)
            for code, names, tolerant in (
                ("WN301", torchnames.LEGACY_WEIGHT_NORM, False),
                ("WN302", torchnames.LEGACY_REMOVE_WEIGHT_NORM, True),
            )
            for node in legacy_sites(analysis, names, tolerant_try=tolerant)
        ]
    return found


def migration_refused(analysis: FileAnalysis) -> bool:
    """The migration refuses a site of this file, so it fixes none of its
    WN301/WN302 findings: ``check`` counts them as having no fix (the
    migration's other reasons need the whole file, which only ``fix``
    reads)."""
    return any(
        refusal(code, node) for code, node in legacy_sites_by_code(analysis)
    ) or (foreign_removers(analysis) is not None)


#: Why the migration leaves a file that removes weight norm and applies
#: none, unless the run migrated weight norm elsewhere
#: (:attr:`wnlint.rules.fixes.FixContext.removers_alone`): the fix run then
#: fixes the file again (:mod:`wnlint.fixing.migration_notes`).
REMOVERS_ALONE = (
    "WN302 not fixed: this file applies no weight norm, so its removers act "
    "on modules normed elsewhere; it is migrated only in a run that migrates "
    "weight norm too (fix it with the files that apply it; a package that "
    "keeps the legacy API, such as encodec, needs the legacy remover)"
)


def removes_only(analysis: FileAnalysis) -> bool:
    """The file removes legacy weight norm and applies none, of either API:
    the modules it removes it from are normed in another file, or in a
    package that keeps the legacy API (EnCodec's, for VALL-E's tokenizer),
    where the legacy remover is the right call."""
    if any(code != "WN302" for code, _ in legacy_sites_by_code(analysis)):
        return False
    named = [(site.node.func, site.scope) for site in analysis.calls]  # type: ignore[attr-defined]
    named += [(site.node, site.scope) for site in analysis.references]
    return not any(
        resolves_to_any(node, scope, torchnames.WEIGHT_NORM_ANY)
        for node, scope in named
    )


FOREIGN = (
    "WN302 not fixed: its removers act on modules of the {package} package "
    "(the classes its isinstance tests name), which this project does not "
    "norm: the legacy remover is right for them, whatever the run migrates"
)

#: The standard library's top-level modules (Python 3.10+; none known on
#: 3.9, where a remover beside a test of a standard class is left alone).
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))


def foreign_removers(analysis: FileAnalysis) -> str | None:
    """The package whose modules the removers of this file act on, when
    it removes weight norm and applies none (:func:`removes_only`) and that
    package is another's (:func:`_foreign_package`): the migration leaves
    such a file, whatever the run migrates."""
    if not removes_only(analysis):
        return None
    return _foreign_package(
        analysis, {id(node) for _, node in legacy_sites_by_code(analysis)}
    )


def _foreign_package(analysis: FileAnalysis, removers: set[int]) -> str | None:
    """The package, other than torch, the standard library and this
    project, whose classes a function holding a remover tests for
    (``isinstance(m, SConv1d)`` with ``SConv1d`` from ``encodec.modules``,
    VALL-E's and Amphion's tokenizers): the modules it removes weight norm
    from are that package's, which no migration of this project reaches."""
    if analysis.path is None:
        return None
    scopes = {
        id(site.scope.enclosing("function"))
        for site in analysis.calls
        if id(site.node) in removers
    }
    directory = os.path.dirname(os.path.abspath(analysis.path))
    for site in analysis.calls:
        tested = isinstance_types(site.node)
        if tested is None or id(site.scope.enclosing("function")) not in scopes:
            continue
        for kind in tested[1]:
            for name in resolve(kind, site.scope):
                module = (name or "").rpartition(".")[0]
                top = module.split(".", 1)[0]
                if not top or top == "torch" or top in _STDLIB:
                    continue
                if module_path(directory, module) is None:
                    return top
    return None
