"""Small syntactic questions every part of wnlint asks, answered once.

Each helper here is the one implementation of its concept: rules, the
analyses and the fixes all ask these, so two places can never disagree on
what ``self.<attr>`` is, where an argument sits, or which column a
character is in.
"""

from __future__ import annotations

import ast
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping

from wnlint.facts.resolve import Scope, resolves_only_to


def parse_quietly(source: str | bytes, path: str = "<unknown>") -> ast.Module:
    """``ast.parse`` without the warnings Python's parser prints about the
    code it reads (an invalid escape is a SyntaxWarning from Python 3.12):
    they are about the file, not the check, and would flood stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, filename=path)


_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

#: Fields that never hold a node worth visiting: names, flags, and the
#: context and operator singletons (``Load``, ``Add``, ``Eq``), which no
#: analysis looks for by walking and which make up a third of all nodes.
_SKIPPED_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "name", "arg", "kind", "level", "module"}
    | {"type_comment", "conversion", "is_async", "simple", "value_kind"}
)
_FIELDS: dict[type, tuple[str, ...]] = {}


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """The child nodes of ``node`` in source order, like
    ``ast.iter_child_nodes`` but without the context and operator
    singletons: the walks of every parsed file go through here, so it is
    the hottest loop of a run."""
    kind = type(node)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(
            f for f in kind._fields if f not in _SKIPPED_FIELDS
        )
    out: list[ast.AST] = []
    for field in fields:
        value = getattr(node, field, None)
        if type(value) is list:
            out.extend([item for item in value if isinstance(item, ast.AST)])
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


def walk(root: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk``, in its order (breadth first, ``root`` first), without
    the context and operator singletons: every analysis walks the trees of
    every parsed file, and a third of ``ast.walk``'s nodes are those, read
    by no one (their fields, ``ctx`` and ``op``, are read directly)."""
    todo = deque([root])
    while todo:
        node = todo.popleft()
        todo.extend(child_nodes(node))
        yield node


def all_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``root`` (itself included), in no set order, without
    the context and operator singletons ``ast.walk`` also yields."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child_nodes(node))


def own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function body, not descending into nested defs and classes
    (their code runs elsewhere, with another ``self``)."""
    stack = child_nodes(func)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _NESTED):
            continue
        stack.extend(child_nodes(node))


def is_self(node: ast.AST) -> bool:
    """The name ``self`` (the module a method runs on)."""
    return isinstance(node, ast.Name) and node.id == "self"


#: Builtins that take ``self`` without reading its parameters.
_SELF_INSPECTORS = frozenset({"super", "type", "isinstance"})


def hands_self_away(call: ast.Call) -> bool:
    """``self`` is an argument of ``call``, other than in the ordinary
    initialisation spellings: ``super(Class, self)``, ``super(type(self),
    self)`` and ``Base.__init__(self, ...)`` (``nn.Module.__init__(self)``)
    run the parent's constructor exactly as ``super().__init__()`` does;
    ``type(self)`` and ``isinstance(self, T)`` only look at it."""
    if not any(is_self(a) for a in call.args):
        return False
    func = call.func
    if isinstance(func, ast.Name) and func.id in _SELF_INSPECTORS:
        return False
    return not (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and is_self(call.args[0])
        and not any(is_self(a) for a in call.args[1:])
    )


def self_attr(node: ast.AST) -> str | None:
    """``attr`` for ``self.attr``, else None."""
    if isinstance(node, ast.Attribute) and is_self(node.value):
        return node.attr
    return None


def self_root_attr(expr: ast.AST) -> str | None:
    """``X`` for ``self.X``, ``self.X[i]``, ``self.X[i].y``."""
    while isinstance(expr, (ast.Subscript, ast.Attribute)):
        if isinstance(expr, ast.Attribute) and is_self(expr.value):
            return expr.attr
        expr = expr.value
    return None


def self_attrs_in(expr: ast.AST) -> set[str]:
    """Every ``self.<attr>`` read anywhere in ``expr``."""
    return {name for node in walk(expr) if (name := self_attr(node)) is not None}


def isinstance_types(node: ast.AST) -> tuple[ast.expr, list[ast.expr]] | None:
    """For ``isinstance(x, T)`` or ``isinstance(x, (A, B))``: ``x`` and the
    type expressions it is tested against; None for any other node."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and len(node.args) == 2
    ):
        return None
    kinds = node.args[1]
    return node.args[0], kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]


def call_arg(call: ast.Call, position: int | None, keyword: str) -> ast.expr | None:
    """The argument bound to parameter ``keyword`` (at ``position`` when
    passed positionally); None when it is not passed or hidden in ``*args``.
    """
    if position is not None:
        positional = call.args[: position + 1]
        if any(isinstance(a, ast.Starred) for a in positional):
            return None
        if len(call.args) > position:
            return call.args[position]
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    return None


def string_value(node: ast.AST | None) -> str | None:
    """The text of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def is_call_to(node: ast.AST, scope: Scope, targets: frozenset[str]) -> bool:
    """``node`` calls a function that resolves only to ``targets``.

    Only a name or attribute callee counts: ``wn(layer)(x)`` calls what
    ``wn`` returned, not ``wn``.
    """
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, (ast.Name, ast.Attribute))
        and resolves_only_to(node.func, scope, targets)
    )


def is_name_of(node: ast.AST, scope: Scope, targets: frozenset[str]) -> bool:
    """``node`` is a name or attribute chain that resolves only to ``targets``."""
    return isinstance(node, (ast.Name, ast.Attribute)) and resolves_only_to(
        node, scope, targets
    )


def shape(node: object) -> object:
    """``node``'s structure as nested tuples: equal for the expressions that
    ``ast.dump`` shows equal, and hashable, without the reference cycle
    each ``ast.dump`` call leaves to the cycle collector."""
    if isinstance(node, ast.AST):
        fields = tuple(shape(getattr(node, f, None)) for f in node._fields)
        return (type(node).__name__, *fields)
    if isinstance(node, list):
        return tuple(shape(item) for item in node)
    return node


def char_col(line: str, byte_col: int) -> int:
    """The character column of ``ast``'s UTF-8 byte column on ``line``:
    editors, flake8 and string slicing count characters."""
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def parameter_names(
    func: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, every: bool = False
) -> list[str]:
    """A function's parameters that can be passed by position, in order;
    with ``every``, keyword-only and ``*args``/``**kwargs`` too."""
    args = func.args
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if every:
        names += [a.arg for a in args.kwonlyargs]
        names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def record_bindings(defs: dict[str, list[ast.expr | None]], node: ast.AST) -> None:
    """Add what ``node`` binds to ``defs`` (local name -> every value
    assigned, None for a binding that is not an alias: a loop variable, an
    augmented assignment, an unpacked target)."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            _record_target(defs, target, node.value)
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        _record_target(defs, node.target, node.value)
    elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
        target = node.target
        if isinstance(target, ast.Name):
            defs.setdefault(target.id, []).append(None)
    elif isinstance(node, ast.NamedExpr):
        defs.setdefault(node.target.id, []).append(node.value)


def _record_target(
    defs: dict[str, list[ast.expr | None]], target: ast.expr, value: ast.expr
) -> None:
    if isinstance(target, ast.Name):
        defs.setdefault(target.id, []).append(value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            for node in walk(elt):
                if isinstance(node, ast.Name):
                    defs.setdefault(node.id, []).append(None)


def local_definitions(func: ast.AST) -> dict[str, list[ast.expr | None]]:
    """Every binding of every local name of a function body (see
    :func:`record_bindings`), not looking into nested defs."""
    defs: dict[str, list[ast.expr | None]] = {}
    for node in own_nodes(func):
        record_bindings(defs, node)
    return defs


def single_value(defs: dict[str, list[ast.expr | None]], name: str) -> ast.expr | None:
    """The one expression assigned to ``name``; None when it is bound more
    than once, bound otherwise than by assignment, or not at all."""
    values = defs.get(name)
    if not values or len(values) != 1:
        return None
    return values[0]


def method_named(
    cls: ast.ClassDef, name: str
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The method ``name`` a class body defines (the last definition, which
    is the one Python keeps), or None."""
    found = None
    for item in cls.body:
        if (
            isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            and item.name == name
        ):
            found = item
    return found


def reachable_methods(
    methods: Mapping[str, ast.AST], start: Iterable[str]
) -> list[str]:
    """``start`` and every method they reach through ``self.<name>`` (a call
    or a property read), in the order found."""
    seen = [name for name in start if name in methods]
    todo = list(seen)
    while todo:
        for node in own_nodes(methods[todo.pop()]):
            name = self_attr(node)
            if name is not None and name in methods and name not in seen:
                seen.append(name)
                todo.append(name)
    return seen


def method_class(scope: Scope) -> ast.ClassDef | None:
    """The class whose method ``scope`` belongs to: the method's own code,
    its lambdas and comprehensions included, not a nested def."""
    while scope.kind in ("lambda", "comprehension") and scope.parent is not None:
        scope = scope.parent
    parent = scope.parent
    if scope.kind != "function" or parent is None or parent.kind != "class":
        return None
    return parent.node  # type: ignore[return-value]


def argument_for(call: ast.Call, func: ast.AST, index: int) -> ast.expr | None:
    """What ``call`` passes for the ``index``-th parameter of ``func``."""
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    names = parameter_names(func)
    if index >= len(names):
        return None
    return call_arg(call, index, names[index])
