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

The third is a forward hook object registered by its own class, whose
``__call__(self, module, inputs)`` stores such a weight on ``module``
(``setattr(module, self.name, self.compute_weight(module))``): torch's
legacy weight norm does exactly this, and has the same defect.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator, Mapping
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
    self_stores,
    submodule_deletions,
    submodule_stores,
    unpacked_self_stores,
)
from wnlint.facts.syntax import (
    child_nodes,
    is_call_to,
    is_self,
    local_definitions,
    method_class,
    method_named,
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
    closure: _Function,
    module: str,
    scope: Scope,
    computes: Callable[[ast.expr], bool] | None = None,
) -> Iterator[tuple[ast.AST, str]]:
    """The computed weights ``closure`` stores on ``module``: the module a
    function installed it on, or (a hook object's ``__call__``, whose
    methods ``computes`` follows) the module it is handed."""
    arguments = set(parameter_names(closure, every=True))
    if computes is None and module in arguments:
        return  # the closure's own `module`, not the one it was installed on
    if any(is_no_grad(d, scope) for d in closure.decorator_list):
        return
    arguments -= {module, "self"}
    defs = local_definitions(closure)
    off = {id(node) for node, no_grad in grad_walk(closure, scope) if no_grad}
    stores = _module_stores(closure, module)
    for i, (node, key, target, value) in enumerate(stores):
        if id(node) in off or any(k == key for _, k, _, _ in stores[i + 1 :]):
            continue  # no graph, or restored after the call
        if _computed_from(value, module, arguments, defs, scope) or (
            computes is not None and computes(_origin(value, defs, scope) or value)
        ):
            yield node, target


# -- hook objects ----------------------------------------------------------------


def hook_object_stores(analysis: FileAnalysis) -> Iterator[tuple[ast.AST, str]]:
    """(store, described target) for each computed weight that a hook
    object's ``__call__(self, module, inputs)`` stores on ``module``, for
    the classes of the file whose instances are registered as forward
    hooks: copies of torch's own hook-based weight norm and spectral norm,
    and equalized learning rate (``setattr(module, self.name,
    self.compute_weight(module))``)."""
    for cls in _registered_hook_classes(analysis):
        call = method_named(cls, "__call__")
        scope = analysis.scopes.get(id(call)) if call is not None else None
        if call is None or scope is None:
            continue
        params = parameter_names(call)
        if len(params) < 3:
            continue
        computes = functools.partial(
            _computed_by_method,
            module=params[1],
            hook=cls,
            scopes=analysis.scopes,
            caller=call,
        )
        yield from _stores(call, params[1], scope, computes)


def _unpacked(func: ast.AST, name: str) -> tuple[ast.expr | None, int | None]:
    """The call and position of ``a, b = call(...)``, the one binding of
    ``name`` in ``func``'s own body (``weight_sn, u =
    self.compute_weight(module)``)."""
    found: list[tuple[ast.expr | None, int | None]] = []
    for node in own_nodes(func):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == name:
                    found.append((None, None))
                elif isinstance(target, ast.Tuple):
                    for i, elt in enumerate(target.elts):
                        if isinstance(elt, ast.Name) and elt.id == name:
                            value = node.value if isinstance(node, ast.Assign) else None
                            found.append((value, i))
    return found[0] if len(found) == 1 else (None, None)


def _registered_hook_classes(analysis: FileAnalysis) -> list[ast.ClassDef]:
    """The file's classes whose own methods register an instance of the
    class with ``register_forward_pre_hook``/``register_forward_hook``:
    ``Cls(...)``, a local assigned once from it (``fn = Cls(name)`` in a
    static ``apply``, as torch's hooks do), or ``self``. (Registered
    elsewhere, the hook is not followed: the registration must be in the
    text the prefilter keeps with the class.)"""
    found: dict[int, ast.ClassDef] = {}
    for site in analysis.calls:
        call: ast.Call = site.node  # type: ignore[assignment]
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in tn.FORWARD_HOOK_REGISTRARS
            and call.args
        ):
            continue
        owner = method_class(site.scope)
        if owner is None:
            continue
        hook: ast.expr | None = call.args[0]
        if is_self(hook):  # type: ignore[arg-type]
            found[id(owner)] = owner
            continue
        if isinstance(hook, ast.Name) and site.scope.node is not None:
            hook = single_value(local_definitions(site.scope.node), hook.id)
        if (
            isinstance(hook, ast.Call)
            and isinstance(hook.func, ast.Name)
            and hook.func.id == owner.name
        ):
            found[id(owner)] = owner
    return list(found.values())


def _computed_by_method(
    value: ast.expr,
    module: str,
    hook: ast.ClassDef,
    scopes: Mapping[int, Scope],
    caller: _Function,
) -> bool:
    """``self.<method>(..., module, ...)`` where the hook's method returns a
    weight computed from the module's tensors (``compute_weight``), or a
    local of ``caller`` unpacked from such a call's tuple (``w, u =
    self.compute_weight(module)``)."""
    index = None
    if isinstance(value, ast.Name):
        unpacked, index = _unpacked(caller, value.id)
        if unpacked is None:
            return False
        value = unpacked
    if not (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and is_self(value.func.value)
        and not value.keywords
    ):
        return False
    method = method_named(hook, value.func.attr)
    if method is None:
        return False
    positions = [
        i
        for i, a in enumerate(value.args)
        if isinstance(a, ast.Name) and a.id == module
    ]
    params = parameter_names(method)[1:]
    method_scope = scopes.get(id(method))
    if len(positions) != 1 or positions[0] >= len(params) or method_scope is None:
        return False
    handed = params[positions[0]]
    others = set(parameter_names(method, every=True)) - {handed, "self"}
    defs = local_definitions(method)
    returned = [
        node.value
        for node in own_nodes(method)
        if isinstance(node, ast.Return) and node.value is not None
    ]
    if index is not None:
        returned = [
            r.elts[index]
            for r in returned
            if isinstance(r, ast.Tuple) and index < len(r.elts)
        ]
    return any(
        _computed_from(value, handed, others, defs, method_scope) for value in returned
    )


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
    """What computed ``value``, through locals assigned once, or assigned
    several times, each a computation (``w = a / n; w = w.view(size)``:
    the last); None for a new Parameter, or a local that may hold another
    value (a plain read, a loop variable)."""
    for _ in range(_MAX_HOPS):
        if not isinstance(value, ast.Name):
            break
        values = defs.get(value.id, [])
        if any(is_call_to(d, scope, tn.PARAMETER) for d in values if d):
            return None  # a new Parameter: a leaf
        found = single_value(defs, value.id)
        if found is None:
            computed = [d for d in values if d is not None and _is_computation(d)]
            if not values or len(computed) != len(values):
                return None
            found = max(computed, key=_position)
        value = found
    return value


def _is_computation(node: ast.expr) -> bool:
    """A new tensor computed by a call or an operator, not a read."""
    return (
        isinstance(node, (ast.Call, ast.BinOp, ast.UnaryOp))
        and not _is_getattr(node)
        and not cuts_autograd(node)
    )


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


def dropped_weight_cases(
    analysis: FileAnalysis, reported: set[int]
) -> Iterator[tuple[ast.AST, str, bool]]:
    """Stores on ``self.<attr>`` of a weight computed from the layer's own
    tensors, in a subclass of a torch layer with a weight, in the methods
    forward reaches: weight dropout (DropConnect) written as a layer
    (``self._weight = self.weight.masked_fill(mask, 0.)``, Ordered-Neurons'
    ``LinearDropConnect(nn.Linear)``); and whether the attribute is a
    registered parameter (``self.weight``: a ``TypeError``). A weight a
    method returns counts as computed there (NVAE's ``Conv2D`` keeps
    ``self.weight_normalized = self.normalize_weight()``)."""
    facts = analysis.modules
    layers = {id(c.node) for c in facts.all_classes if c.weighted_layer}
    if not layers:
        return
    for cls in facts.classes_around(layers):
        for method in cls.reachable():
            stores = [(n, t, v, method) for n, t, v in self_stores(method)]
            stores += unpacked_self_stores(method)
            for node, target, value, where in stores:
                if (
                    id(node) in reported
                    or "." in target[len("self.") :]
                    or method.in_no_grad(node)
                    or not _computed_weight(value, where)
                ):
                    continue
                reported.add(id(node))
                yield node, target, target[len("self.") :] in cls.params


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
