"""Which expressions of a method read a parameter of its class, and which
depend on an argument (an activation) rather than on the weights.

:func:`wnlint.facts.norms.reads_param` sees ``self.<param>`` and the
locals built from it; WN102 also needs the parameters a wrapper registers
under computed names or on a submodule (``register_parameter(name + "_g",
...)``, ``setattr(self.module, ...)``), which only the class facts of
:mod:`wnlint.facts.module_classes` know.
"""

from __future__ import annotations

import ast

from wnlint.facts import norms
from wnlint.facts import torchnames as tn
from wnlint.facts.module_classes import MethodFacts, name_key, owner_of
from wnlint.facts.syntax import is_call_to, parameter_names, string_value


def named_param_read(node: ast.AST, method: MethodFacts) -> bool:
    """``getattr(self, <name>)``, ``getattr(self.<sub>, <name>)`` or
    ``self.<sub>.<attr>`` reading a parameter the class registers under that
    name (:attr:`ModuleClass.named_params`; the name is compared by
    :func:`name_key`), or ``getattr(self, "<a declared parameter>")``."""
    cls = method.owner
    if isinstance(node, ast.Attribute):
        owner = owner_of(node.value)
        return owner is not None and (owner, repr(node.attr)) in cls.named_params
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) in (2, 3)
        and not node.keywords
    ):
        return False
    owner = owner_of(node.args[0])
    if owner is None:
        return False
    name = node.args[1]
    if owner == "self" and string_value(name) in cls.params:
        return True
    key = name_key(name, method)
    return key is not None and (owner, key) in cls.named_params


def reads_any_param(expr: ast.AST, method: MethodFacts) -> bool:
    """:func:`wnlint.facts.norms.reads_param`, also seeing the parameters read by
    :func:`named_param_read` (registered under a computed name or on a
    submodule): the same walk, with the same cuts (``.detach()``, ``.data``,
    ``no_grad`` definitions, sizes and dtypes), and one more: a new
    ``nn.Parameter(...)`` is a leaf, whatever it was made from."""
    # The walk is norms.reads_param's, one step at a time (it has no hook
    # for other kinds of parameter reads).
    stack: list[ast.AST] = [expr]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and is_call_to(node, method.scope, tn.PARAMETER):
            continue
        if named_param_read(node, method) or norms.param_read_step(
            node, method, seen, stack
        ):
            return True
    return False


def reads_argument(expr: ast.AST, method: MethodFacts) -> bool:
    """True when ``expr`` depends, through differentiable operations, on an
    argument of the method other than ``self``: an activation rather than a
    weight. What only lends a shape, a type or a name does not count: the
    argument of a shape or type method (``w.to(x)``, ``g.expand_as(x)``), the
    name in ``getattr``, and the reads :func:`wnlint.facts.norms.reads_param`
    ignores (``x.shape``, ``x.size(0)``, ``x.detach()``)."""
    arguments = _argument_names(method.node)
    if not arguments:
        return False
    stack: list[ast.AST] = [expr]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and node.id in arguments:
            return True
        receiver = _only_operand(node)
        if receiver is not None:
            stack.append(receiver)
            continue
        norms.param_read_step(node, method, seen, stack)
    return False


def _only_operand(node: ast.AST) -> ast.expr | None:
    """The one operand that carries data in ``x.to(y)``-like calls and
    ``getattr(obj, name)``; None for anything else."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in tn.SHAPE_METHODS:
        return func.value
    if isinstance(func, ast.Name) and func.id == "getattr" and node.args:
        return node.args[0]
    return None


def _argument_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Every argument but the first positional one (``self``)."""
    names = parameter_names(func, every=True)
    positional = parameter_names(func)
    if positional:
        names.remove(positional[0])
    return set(names)
