"""WN102's stores on a module other than ``self``: a wrapper's on the
module it wraps, in any ``nn.Module`` (weight dropout, hand-written weight
and spectral norm, pruning masks), and a closure's on the module a function
installed it on as ``forward``.

The second is ``module.forward = forward`` (or ``setattr(module,
"forward", forward)``) in a function that takes ``module``, whose closure
stores a weight computed from that module's own tensors on it: ``setattr(module, name_w,
F.dropout(getattr(module, name_w + "_raw"), p))``, the weight-drop shape
of torchnlp and its copies. As with a wrapper's store on ``self.module``,
the module holds a non-leaf tensor after a training forward, and
``copy.deepcopy`` (EMA, model averaging) raises.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import Union

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import MethodFacts
from wnlint.facts.norms import cuts_autograd, grad_walk, is_no_grad
from wnlint.facts.param_reads import named_param_read, reads_any_param, reads_argument
from wnlint.facts.resolve import Scope
from wnlint.facts.stores import (
    builtin_call_args,
    classes_storing_on_submodules,
    submodule_deletions,
    submodule_stores,
)
from wnlint.facts.syntax import (
    child_nodes,
    is_call_to,
    local_definitions,
    own_nodes,
    parameter_names,
    self_attr,
    shape,
    single_value,
    string_value,
)

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: How far a stored local is followed back to what computed it.
_MAX_HOPS = 8
#: What reads a module without reading a tensor of it.
_NOT_TENSORS = frozenset({"training", "forward"})


def installed_forward_stores(analysis: FileAnalysis) -> Iterator[tuple[ast.AST, str]]:
    """(store, described target) for each computed weight a closure
    installed as a module's ``forward`` stores on that module."""
    # Only a function that defines a function can install a closure: the
    # scopes the walk opened say which, with no second walk of the tree.
    outer = {
        id(scope.parent.node): scope.parent.node
        for scope in analysis.scopes.values()
        if scope.kind == "function"
        and scope.parent is not None
        and isinstance(scope.parent.node, _FUNCTIONS)
        and isinstance(scope.node, _FUNCTIONS)
    }
    for func in outer.values():
        params = set(parameter_names(func, every=True))
        closures = {
            node.name: node for node in own_nodes(func) if isinstance(node, _FUNCTIONS)
        }
        if not params or not closures:
            continue
        for module, closure in _installs(func, params, closures):
            scope = analysis.scopes.get(id(closure))
            if scope is not None:
                yield from _stores(closure, module, scope)


#: A ``def`` (Python 3.9 has no ``X | Y`` at run time).
_Function = Union[ast.FunctionDef, ast.AsyncFunctionDef]


def _installs(
    func: ast.AST, params: set[str], closures: Mapping[str, _Function]
) -> Iterator[tuple[str, _Function]]:
    """(parameter, closure) for ``param.forward = closure`` and
    ``setattr(param, "forward", closure)`` in ``func``'s own body."""
    for node in own_nodes(func):
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(node, ast.Assign):
            pairs = [
                (t.value, node.value)
                for t in node.targets
                if isinstance(t, ast.Attribute) and t.attr == "forward"
            ]
        elif builtin_call_args(node, "setattr", 3) is not None:
            owner, name, value = node.args  # type: ignore[attr-defined]
            if string_value(name) == "forward":
                pairs = [(owner, value)]
        for owner, value in pairs:
            if (
                isinstance(owner, ast.Name)
                and owner.id in params
                and isinstance(value, ast.Name)
                and value.id in closures
            ):
                yield owner.id, closures[value.id]


def _stores(
    closure: _Function, module: str, scope: Scope
) -> Iterator[tuple[ast.AST, str]]:
    if module in parameter_names(closure, every=True):
        return  # the closure's own `module`, not the one it was installed on
    if any(is_no_grad(d, scope) for d in closure.decorator_list):
        return
    arguments = set(parameter_names(closure, every=True))
    defs = local_definitions(closure)
    off = {id(node) for node, no_grad in grad_walk(closure, scope) if no_grad}
    stores = _module_stores(closure, module)
    for i, (node, key, target, value) in enumerate(stores):
        if id(node) in off or any(k == key for _, k, _, _ in stores[i + 1 :]):
            continue  # no graph, or restored after the call
        if _computed_from(value, module, arguments, defs, scope):
            yield node, target


def _module_stores(
    closure: ast.AST, module: str
) -> list[tuple[ast.AST, object, str, ast.expr]]:
    """(node, key, described target, value) for each store on ``module``,
    in source order."""
    found = []
    for node in own_nodes(closure):
        if builtin_call_args(node, "setattr", 3) is not None:
            owner, name, value = node.args  # type: ignore[attr-defined]
            if isinstance(owner, ast.Name) and owner.id == module:
                target = f"setattr({module}, {ast.unparse(name)}, ...)"
                found.append((node, shape(name), target, value))
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if (
                    isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == module
                    and t.attr not in _NOT_TENSORS
                ):
                    key = shape(ast.Constant(t.attr))
                    found.append((node, key, f"{module}.{t.attr}", node.value))
    found.sort(key=lambda s: (s[0].lineno, s[0].col_offset))  # type: ignore[attr-defined]
    return found


def _computed_from(
    value: ast.expr,
    module: str,
    arguments: set[str],
    defs: dict[str, list[ast.expr | None]],
    scope: Scope,
) -> bool:
    """A non-leaf computed from ``module``'s tensors and not from the
    closure's inputs (then it is an activation, not a weight)."""
    leaf = _origin(value, defs, scope)
    if (
        not isinstance(leaf, (ast.Call, ast.BinOp, ast.UnaryOp))
        or _is_getattr(leaf)
        or is_call_to(leaf, scope, tn.PARAMETER)
        or cuts_autograd(leaf)
    ):
        return False  # a plain read is the tensor itself, a leaf
    reads_module = False
    stack: list[ast.AST] = [leaf]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if cuts_autograd(node):
            continue
        if isinstance(node, ast.Name):
            if node.id in arguments:
                return False
            if node.id != module and node.id not in seen and len(seen) < _MAX_HOPS:
                seen.add(node.id)
                stack.extend(d for d in defs.get(node.id, ()) if d is not None)
        elif _is_getattr(node) and _names(node.args[0], module):  # type: ignore[attr-defined]
            reads_module = True
        elif isinstance(node, ast.Attribute) and _names(node.value, module):
            reads_module = reads_module or node.attr not in _NOT_TENSORS
        else:
            stack.extend(child_nodes(node))
    return reads_module


def _origin(
    value: ast.expr, defs: dict[str, list[ast.expr | None]], scope: Scope
) -> ast.expr | None:
    """What computed ``value``, through locals assigned once (None: a new
    Parameter, or a local with several values)."""
    for _ in range(_MAX_HOPS):
        if not isinstance(value, ast.Name):
            break
        if any(is_call_to(d, scope, tn.PARAMETER) for d in defs.get(value.id, ()) if d):
            return None  # a new Parameter: a leaf
        found = single_value(defs, value.id)
        if found is None:
            return None
        value = found
    return value


def _names(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_getattr(node: ast.AST) -> bool:
    return (
        builtin_call_args(node, "getattr", 2) is not None
        or builtin_call_args(node, "getattr", 3) is not None
    )


# -- stores on a wrapped module, in any nn.Module -------------------------------


def wrapper_cases(
    analysis: FileAnalysis, reported: set[int]
) -> Iterator[tuple[ast.AST, str]]:
    """Stores of a computed weight on ``self.<sub>`` in the methods forward
    reaches, in any nn.Module class (wrappers call no norm: weight dropout,
    spectral norm, masks)."""
    facts = analysis.modules
    holders = classes_storing_on_submodules(analysis)
    if not holders:
        return
    for cls in facts.classes_around(holders):
        for method in cls.reachable():
            stores = list(submodule_stores(method.node))
            for node, sub, target, value in stores:
                if (
                    id(node) in reported
                    or sub in cls.params  # `self.weight.data = ...`
                    or method.in_no_grad(node)
                    or _replaced_later(node, target, stores, method)
                    or not _computed_weight(value, method)
                ):
                    continue
                reported.add(id(node))
                yield node, target


def _replaced_later(
    node: ast.AST,
    target: str,
    stores: list[tuple[ast.AST, str, str, ast.expr]],
    method: MethodFacts,
) -> bool:
    """The method stores ``target`` again, or deletes it, after ``node``:
    the computed weight is set for one call of the wrapped module and
    restored (``self.module.weight = original``, ``= None``, ``del``)."""
    same = [n for n, _, t, _ in stores if t == target]
    same += [n for n, t in submodule_deletions(method.node) if t == target]
    return any(_position(n) > _position(node) for n in same)


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _computed_weight(value: ast.expr, method: MethodFacts) -> bool:
    """A non-leaf computed from the class's parameters, not from the
    method's inputs (an activation) and not a parameter itself."""
    leaf = value
    for _ in range(8):
        if not isinstance(leaf, ast.Name):
            break
        if any(
            is_call_to(d, method.scope, tn.PARAMETER)
            for d in method.defs.get(leaf.id, ())
            if d is not None
        ):
            return False  # (re)wrapped in a Parameter: a leaf, WN106's case
        defined = method.single_def(leaf.id)
        if defined is None:
            break
        leaf = defined
    if (
        self_attr(leaf) is not None
        or named_param_read(leaf, method)
        or is_call_to(leaf, method.scope, tn.PARAMETER)
    ):
        return False
    return reads_any_param(value, method) and not reads_argument(value, method)
