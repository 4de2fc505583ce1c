"""What the methods of a module class store: on ``self`` (``self.w = ...``,
``setattr(self, "w", ...)``) and on a wrapped submodule (``self.module.weight
= ...``, ``self.module._parameters[name] = ...``, ``setattr(self.module,
name, ...)``), and what they delete there.

WN102 reports a computed weight stored so: a non-leaf tensor kept on a
module outlives the forward that built it, and breaks ``deepcopy`` and
optimizers. Wrappers (weight dropout, hand-made spectral norm, masks) call
no norm, so the stores are found in any ``nn.Module`` class, cheaply first
(:func:`classes_storing_on_submodules`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.module_classes import MethodFacts, ModuleClass, ModuleFacts
from wnlint.facts.norms import reads_param
from wnlint.facts.syntax import (
    is_self,
    method_class,
    own_nodes,
    self_attr,
    string_value,
)


def self_stores(method: MethodFacts) -> Iterator[tuple[ast.AST, str, ast.expr]]:
    """(statement, described target, stored value) for each store on self."""
    for node in own_nodes(method.node):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                name = self_attr(target)
                if name:
                    yield node, f"self.{name}", node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            name = self_attr(node.target)
            if name:
                yield node, f"self.{name}", node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and string_value(node.args[1]) is not None
        ):
            owner = node.args[0]
            attr = string_value(node.args[1])
            if is_self(owner):
                yield node, f"self.{attr}", node.args[2]
            elif self_attr(owner):
                yield node, f"self.{self_attr(owner)}.{attr}", node.args[2]


def unpacked_self_stores(
    method: MethodFacts,
) -> Iterator[tuple[ast.Assign, str, ast.expr, MethodFacts]]:
    """(statement, described target, value, the method whose names the
    value reads) for what lands on a ``self`` attribute through unpacking
    or a method's return: ``self.w, s = <w>, <s>`` (the element ``<w>``),
    ``self.w = self._get_weight()`` (each value ``_get_weight`` returns) and
    ``self.w, s = self._get_weight()`` (the first element of each tuple it
    returns, as Glow's ``InvConvNear`` unpacks it)."""
    for node in own_nodes(method.node):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, (ast.Tuple, ast.List)):
            if any(isinstance(e, ast.Starred) for e in target.elts):
                continue
            for i, element in enumerate(target.elts):
                name = self_attr(element)
                if name is not None:
                    for value, where in _unpacked(node.value, i, target, method):
                        yield node, f"self.{name}", value, where
        elif (name := self_attr(target)) is not None:
            helper = _helper(node.value, method)
            if helper is not None:
                for value in _returned(helper):
                    yield node, f"self.{name}", value, helper


def _unpacked(
    value: ast.expr, i: int, target: ast.Tuple | ast.List, method: MethodFacts
) -> Iterator[tuple[ast.expr, MethodFacts]]:
    """What element ``i`` of ``target`` receives from ``value``: the element
    of a tuple of the same length, or of each such tuple a method returns."""
    if _tuple_of(value, len(target.elts)):
        assert isinstance(value, (ast.Tuple, ast.List))
        yield value.elts[i], method
        return
    helper = _helper(value, method)
    if helper is None:
        return
    for returned in _returned(helper):
        if _tuple_of(returned, len(target.elts)):
            assert isinstance(returned, (ast.Tuple, ast.List))
            yield returned.elts[i], helper


def _tuple_of(value: ast.expr, size: int) -> bool:
    return (
        isinstance(value, (ast.Tuple, ast.List))
        and len(value.elts) == size
        and not any(isinstance(e, ast.Starred) for e in value.elts)
    )


def _helper(value: ast.expr, method: MethodFacts) -> MethodFacts | None:
    """The method of the class that ``value`` calls (``self._get_weight()``)."""
    if isinstance(value, ast.Call):
        name = self_attr(value.func)
        if name is not None:
            return method.owner.methods.get(name)
    return None


def _returned(helper: MethodFacts) -> Iterator[ast.expr]:
    """The values ``helper`` returns with autograd on."""
    for node in own_nodes(helper.node):
        if (
            isinstance(node, ast.Return)
            and node.value is not None
            and not helper.in_no_grad(node)
        ):
            yield node.value


def computed_self_stores(
    facts: ModuleFacts,
) -> Iterator[tuple[ModuleClass, MethodFacts, ast.AST, str, ast.expr, bool]]:
    """(class, method, statement, described target, value, whether the value
    is all the statement stores) for each weight computed from the class's
    parameters and stored on ``self`` with autograd on, in the methods
    forward reaches of the classes that normalize a parameter (WN102); a
    value unpacked or returned by a helper is a part of the statement."""
    for cls, _ in facts.normalizing_classes():
        for method in cls.reachable():
            for node, target, value in self_stores(method):
                if method.in_no_grad(node) or not _computed(value, method):
                    continue
                yield cls, method, node, target, value, True
            seen: set[tuple[int, str]] = set()
            for node, target, value, where in unpacked_self_stores(method):
                if (
                    (id(node), target) in seen
                    or method.in_no_grad(node)
                    or not _computed(value, where)
                ):
                    continue
                seen.add((id(node), target))
                yield cls, method, node, target, value, False


def _computed(value: ast.expr, method: MethodFacts) -> bool:
    """``value`` is computed from the module's parameters with autograd on:
    not a parameter itself (stored on ``self``, a parameter is registered
    again under the new name, a leaf)."""
    if self_attr(value) in method.owner.params:
        return False
    return reads_param(value, method)


#: Attributes of a tensor or module that hold no weight (``.data`` keeps the
#: leaf, ``.requires_grad`` is a flag).
_NOT_WEIGHTS = tn.DETACH_ATTRS | tn.NONDIFF_ATTRS


#: The dict a module keeps its parameters in (``m._parameters[name] = w``).
_PARAMETER_DICT = "_parameters"


_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def classes_storing_on_submodules(analysis: FileAnalysis) -> set[int]:
    """ids of the ClassDefs with a method that may store on ``self.<sub>``,
    found cheaply: the ``setattr`` call sites the analysis collected, and
    assignments, which are statements, without walking expressions."""
    found: set[int] = set()
    for site in analysis.calls:
        call = site.node
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "setattr"
        ):
            holder = method_class(site.scope)
            if holder is not None:
                found.add(id(holder))
    for cls in analysis.modules.all_classes:
        if id(cls.node) in found:
            continue
        methods = [
            item
            for item in cls.node.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        if any(_assigns_on_submodule(m.body) for m in methods):
            found.add(id(cls.node))
    return found


def _assigns_on_submodule(body: list[ast.stmt]) -> bool:
    """A ``self.<sub>.<attr> = ...`` (or ``._parameters[...] =``) among
    ``body`` and the statement blocks nested in it, not nested defs."""
    todo = list(body)
    while todo:
        stmt = todo.pop()
        if isinstance(stmt, ast.Assign):
            if any(_submodule_target(t) for t in stmt.targets):
                return True
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and _submodule_target(stmt.target):
                return True
        elif not isinstance(stmt, _NESTED_SCOPES):
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                todo.extend(getattr(stmt, field, ()))
    return False


def submodule_stores(
    func: ast.AST,
) -> Iterator[tuple[ast.AST, str, str, ast.expr]]:
    """(statement, submodule, described target, value) for each
    ``self.<sub>.<attr> = value``, ``self.<sub>._parameters[name] = value``
    and ``setattr(self.<sub>, name, value)``."""
    for node in own_nodes(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                found = _submodule_target(target)
                if found is not None:
                    yield node, found[0], found[1], node.value
        elif (args := builtin_call_args(node, "setattr", 3)) is not None:
            sub = self_attr(args[0])
            if sub is not None and string_value(args[1]) not in _NOT_WEIGHTS:
                yield node, sub, _described(sub, args[1]), args[2]


def submodule_deletions(func: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """(statement, described target) for ``del self.<sub>.<attr>`` and
    ``delattr(self.<sub>, name)``."""
    for node in own_nodes(func):
        if isinstance(node, ast.Delete):
            for target in node.targets:
                found = _submodule_target(target)
                if found is not None:
                    yield node, found[1]
        elif (args := builtin_call_args(node, "delattr", 2)) is not None:
            sub = self_attr(args[0])
            if sub is not None:
                yield node, _described(sub, args[1])


def builtin_call_args(node: ast.AST, name: str, arity: int) -> list[ast.expr] | None:
    """The arguments of ``<name>(...)`` called with ``arity`` positional
    arguments and nothing else; None for anything else."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and len(node.args) == arity
        and not node.keywords
    ):
        return node.args
    return None


def _described(sub: str, name: ast.expr) -> str:
    """``self.<sub>.<attr>`` for a literal name, else the ``setattr`` call."""
    text = string_value(name)
    if text is None:
        return f"setattr(self.{sub}, {ast.unparse(name)}, ...)"
    return f"self.{sub}.{text}"


def _submodule_target(target: ast.expr) -> tuple[str, str] | None:
    """(submodule, described target) for ``self.<sub>.<attr>`` and
    ``self.<sub>._parameters[<name>]``."""
    if isinstance(target, ast.Attribute):
        sub = self_attr(target.value)
        if sub is not None and target.attr not in _NOT_WEIGHTS:
            return sub, f"self.{sub}.{target.attr}"
    elif (
        isinstance(target, ast.Subscript)
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == _PARAMETER_DICT
    ):
        sub = self_attr(target.value.value)
        if sub is not None:
            return sub, ast.unparse(target)
    return None
