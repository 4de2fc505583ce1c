"""What kind of module a call builds, for the layers a class holds
(:mod:`wnlint.facts.held_layers`): a ``torch.nn`` layer, a container, a
layer class of the project's other modules that cannot weight-norm itself,
or a wrapper class of this file that holds layers and has no weight of its
own. None of them carries weight norm unless a call applies it.
"""

from __future__ import annotations

import ast

from wnlint.facts import torchnames as tn
from wnlint.facts.definitions import is_torch_module_class
from wnlint.facts.resolve import Scope, resolve, split_import
from wnlint.facts.syntax import all_nodes, hands_self_away, is_self


def is_torch_class(expr: ast.expr, scope: Scope | None) -> bool:
    """``expr`` names a ``torch.nn`` module class, whatever binding it has."""
    if scope is None or not isinstance(expr, (ast.Name, ast.Attribute)):
        return False
    names = resolve(expr, scope)
    return bool(names) and all(is_torch_module_class(n) for n in names)


def is_plain_project_layer(expr: ast.expr, scope: Scope) -> bool:
    """``expr`` names a class of the project's other modules that derives
    from a ``torch.nn`` layer and cannot weight-norm itself
    (:meth:`~wnlint.facts.project_names.ProjectNames.plain_layer`)."""
    project = scope.module.project
    if project is None or not isinstance(expr, (ast.Name, ast.Attribute)):
        return False
    names = resolve(expr, scope)
    name = next(iter(names)) if len(names) == 1 else None
    parts = split_import(name) if isinstance(name, str) else None
    if parts is None:
        return False
    found = project.plain_layer(*parts)
    return found is not None and found not in tn.MODULE_CONTAINERS


def is_container(expr: ast.expr, scope: Scope) -> bool:
    return resolves_within(expr, scope, tn.MODULE_CONTAINERS)


def resolves_within(expr: ast.expr, scope: Scope, names: frozenset[str]) -> bool:
    if not isinstance(expr, (ast.Name, ast.Attribute)):
        return False
    found = resolve(expr, scope)
    return bool(found) and found <= names


#: What a class may call on itself to carry a weight or weight norm of its
#: own, besides the norm APIs: a hook, a parameter, an ``apply``.
_SELF_METHODS = frozenset(
    {"register_parameter", "register_forward_pre_hook", "apply", "__setattr__"}
)


def is_weightless_wrapper(expr: ast.expr, scope: Scope) -> bool:
    """``expr`` names a class of this file that derives from ``nn.Module``
    alone and never gives itself a weight or a weight norm: it stores
    nothing on ``self.weight``, calls no norm or parametrization on
    ``self``, registers no parameter or hook, hands ``self`` to nothing and
    defines no ``__getattr__``. It holds layers and has none of its own
    (FAcodec's ``NormConv1d``, which norms its ``self.conv``): a remover on
    an instance raises ``ValueError`` whatever tensor it names."""
    module = scope.module
    if not isinstance(expr, ast.Name) or len(module.bindings.get(expr.id, [])) != 1:
        return False
    node = module.definition(expr.id)
    if not isinstance(node, ast.ClassDef) or node.keywords or not node.bases:
        return False
    if not all(
        (found := resolve(b, module)) and found <= tn.MODULE_BASE for b in node.bases
    ):
        return False
    for part in all_nodes(node):
        if isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
            part.name == "__getattr__"
        ):
            return False
        if (
            isinstance(part, ast.Attribute)
            and is_self(part.value)
            and (part.attr == "weight" or part.attr in _SELF_METHODS)
        ):
            return False
        # A norm or parametrization of `self` hands it to a function.
        if isinstance(part, ast.Call) and hands_self_away(part):
            return False
    return True
