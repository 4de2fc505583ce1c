"""Which weight-normed modules a name or an attribute holds (:class:`Normed`),
beyond one assignment's value: what the summaries (:mod:`wnlint.facts.calls`)
build on. A local name of a function can be built over several
statements, the way real code gathers layers before handing them over:

* a container filled in place: ``layers = [...]``, then ``layers += [...]``,
  ``layers.append(x)``, ``.extend``, ``.insert``, ``.add_module``, or
  ``model["name"] = x`` on an ``nn.ModuleDict()``, before
  ``nn.Sequential(*layers)`` or ``self.model = model``;
* a module weight-normed in place: ``conv = nn.Conv1d(...)``, then
  ``weight_norm(conv)`` as a statement (both APIs change the module they
  are handed and return it), so ``return conv`` hands over a normed module.

Order is not followed (what a name is given anywhere in the body counts),
so a name is read this way only when every value assigned to it builds a
container (a list, tuple or comprehension, ``list()``, ``nn.ModuleList()``,
``nn.Sequential()``, ``nn.ModuleDict()``...): a name rebound to something
else says nothing.

And what those layers are and where they went: the torch classes a user
layer class derives from (:func:`torch_kinds`, what ``isinstance`` sees),
whether a subclass runs its parent's ``__init__`` (:func:`runs_init_of`)
and whether an assignment ends what an attribute held (:func:`rebinds`,
:func:`ends_hold`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from wnlint.facts import torchnames as tn
from wnlint.facts.events import NORM, Body, Path, body_of
from wnlint.facts.resolve import Scope, resolve, resolves_only_to
from wnlint.facts.syntax import (
    argument_for,
    call_arg,
    is_self,
    local_definitions,
    method_named,
    own_nodes,
    parameter_names,
    self_attr,
    self_root_attr,
    walk,
)

_DISPLAYS = (ast.List, ast.Tuple, ast.ListComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Normed:
    """A weight-normed module: the weight-norm call's line and file, the
    layer class it wraps (a qualified name or a class name; None when not
    known), and the qualified names the applying callee may be (which API:
    a version-gated shim may be both)."""

    line: int
    path: str | None
    layer: str | None
    api: frozenset[str | None] = frozenset()
    #: The torch classes a user layer class derives from (``CausalConv1d``
    #: of ``nn.Conv1d``): what ``isinstance`` tests see at run time.
    kinds: tuple[str, ...] = ()
    #: The helper's parameter whose module it norms (``def wn(module):
    #: return weight_norm(module)``): each call says which layer it is.
    param: int | None = None
    #: Tests of the helper's (or ``__init__``'s) parameters under which it
    #: is normed (``norm == "weight_norm"``): each call decides them
    #: (:mod:`wnlint.facts.norm_choice`).
    when: tuple[tuple[str, str], ...] = ()

    def applied_only_by(self, names: frozenset[str]) -> bool:
        """Whichever binding the applying callee has, it is one of ``names``."""
        return bool(self.api) and all(n in names for n in self.api)


def for_call(
    files: Any,
    found: Normed,
    call: ast.Call,
    helper: ast.AST,
    scope: Scope,
    func: ast.AST | None,
) -> list[Normed]:
    """``found``, returned by ``helper`` and normed on one of its
    parameters, as ``call`` (in ``files``' file) builds it: each layer its
    argument may be (``weight_norm_modules(Conv1dModel(...))``, with
    ``Conv1dModel`` bound to ``nn.Conv1d`` or to a class of the project)."""
    arg = argument_for(call, helper, found.param) if found.param is not None else None
    if arg is None:
        return [found]
    out = []
    for option in alternatives(arg):
        for layer in _layer_options(files, option, scope, func):
            kinds = torch_kinds(files, layer, scope)
            out.append(replace(found, layer=layer, kinds=kinds, param=None))
    return out


def _layer_options(
    files: Any, expr: ast.expr | None, scope: Scope, func: ast.AST | None
) -> list[str | None]:
    """The classes ``expr`` may build: :meth:`FileSummaries.layer_of`, or
    each class a name bound more than once may be."""
    layer = files.layer_of(expr, scope, func) if expr is not None else None
    if layer is not None or not isinstance(expr, ast.Call):
        return [layer]
    if not isinstance(expr.func, ast.Name):
        return [None]
    keys: set[str] = set()
    for binding in _bindings(expr.func.id, scope):
        if isinstance(binding, str):
            keys.add(binding)
            continue
        where = binding[1]() if binding is not None else None
        if binding is None or where is None:
            return [None]
        for option in alternatives(binding[0]):
            key = files.type_key(option, where) if option is not None else None
            if key is None:
                return [None]
            keys.add(key)
    return [k for k in sorted(keys)] if len(keys) > 1 else [None]


def _bindings(name: str, scope: Scope) -> list:
    """Every binding of ``name`` where ``scope`` reads it."""
    current: Scope | None = scope
    first = True
    while current is not None:
        if (first or current.kind != "class") and name in current.bindings:
            return current.bindings[name]
        first = False
        current = current.parent
    return []


def param_index(expr: ast.expr | None, func: ast.AST | None) -> int | None:
    """Which parameter of ``func`` the name ``expr`` is, by position."""
    if not isinstance(expr, ast.Name) or not isinstance(
        func, (ast.FunctionDef, ast.AsyncFunctionDef)
    ):
        return None
    names = parameter_names(func)
    if expr.id not in names or expr.id in local_definitions(func):
        return None  # rebound in the helper: no longer what the caller gave
    return names.index(expr.id)


def contents(func: ast.AST, scope: Scope) -> dict[str, list[ast.expr]]:
    """Local container name -> every expression put into it (see the module
    doc); names bound otherwise are left out."""
    assigned: dict[str, list[ast.expr]] = {}
    added: dict[str, list[ast.expr]] = {}
    for node in own_nodes(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
                elif isinstance(target, ast.Subscript) and isinstance(
                    target.value, ast.Name
                ):
                    added.setdefault(target.value.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            if isinstance(node.op, ast.Add):
                added.setdefault(node.target.id, []).append(node.value)
            else:
                assigned.setdefault(node.target.id, []).append(node.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in tn.CONTAINER_ADDERS
            and isinstance(node.func.value, ast.Name)
            and node.args
        ):
            added.setdefault(node.func.value.id, []).append(node.args[-1])
    return {
        name: [*values, *added.get(name, [])]
        for name, values in assigned.items()
        if all(_builds_container(v, scope) for v in values)
    }


def _builds_container(value: ast.expr, scope: Scope) -> bool:
    if isinstance(value, _DISPLAYS):
        return True
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Name) and func.id in ("list", "tuple"):
        return True
    return isinstance(func, (ast.Name, ast.Attribute)) and resolves_only_to(
        func, scope, tn.MODULE_CONTAINERS
    )


def normed_in_place(body: Body) -> dict[str, list[ast.Call]]:
    """Local name -> the weight-norm calls that norm it in place, as a
    statement of their own (``weight_norm(conv)``)."""
    out: dict[str, list[ast.Call]] = {}
    for event in body.events:
        stmt = body.statements[event.order][0]
        if (
            event.kind == NORM
            and isinstance(event.target, ast.Name)
            and isinstance(stmt, ast.Expr)
            and stmt.value is event.node
        ):
            out.setdefault(event.target.id, []).append(event.node)  # type: ignore[arg-type]
    return out


def normed_local(
    file: Any, name: str, scope: Scope, func: ast.AST, depth: int
) -> list[Normed]:
    """The weight-normed modules local ``name`` of ``func`` holds, for the
    summaries ``file`` (:class:`wnlint.facts.calls.FileSummaries`): its one
    value's, or what a container gathered; and those it was normed as in
    place."""
    own = file.scope_of(func)

    def compute() -> list[Normed]:
        held = file._cached("held", func, lambda: contents(func, own), {})
        value = file.local_value(func, name)
        values = held.get(name) or ([value] if value is not None else [])
        out = [n for v in values for n in file.normed(v, scope, func, depth)]
        for call in normed_in_place(body_of(file.bodies, func, own)).get(name, []):
            module = call_arg(call, 0, "module")
            layer = file.layer_of(module, scope, func) if module is not None else None
            api = resolve(call.func, scope)
            out.append(Normed(call.lineno, file.path, layer, api))
        return out

    # Once per name, and not again while it is being read: a name built
    # from itself (`kernel_size = (kernel_size, kernel_size)`) ends.
    return file._cached(("local", name), func, compute, [])


def torch_kinds(
    file: Any, key: str | None, scope: Scope, depth: int = 0
) -> tuple[str, ...]:
    """The torch classes a user layer class ``key`` derives from, through
    its user base classes here or in sibling files (``file``: the
    summaries that name it): what an ``isinstance`` test sees at run time."""
    found = file.class_for(key, scope) if key and depth < _MAX_KIND_DEPTH else None
    if found is None:
        return ()
    cls: ast.ClassDef = found.node
    outer = found.file.scope_of(cls).parent or found.file.module_scope
    out: list[str] = []
    for base in cls.bases:
        base_key = found.file.type_key(base, outer)
        if base_key is not None and base_key.split(".", 1)[0] == "torch":
            out.append(base_key)
        else:
            out.extend(torch_kinds(found.file, base_key, outer, depth + 1))
    return tuple(out)


#: How deep a chain of user base classes is followed.
_MAX_KIND_DEPTH = 8


def rebinds(stmt: ast.stmt, attr: str) -> bool:
    """``stmt`` assigns ``self.<attr>`` itself (not an item or an attribute
    of it) a value that does not read it: what it held before is gone
    (``self.block = nn.Sequential(*self.block)`` keeps it)."""
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
        return False
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return any(self_attr(t) == attr for t in targets) and not any(
        self_attr(n) == attr for n in walk(stmt.value)
    )


def arms(files: Any, stmt: ast.stmt, func: ast.AST) -> Path:
    """The arms of ``if``/``try`` that ``stmt`` of ``func`` sits in."""
    paths = files.paths.get(id(func))
    if paths is None:
        body = body_of(files.bodies, func, files.scope_of(func))
        paths = files.paths[id(func)] = {id(s): p for s, p in body.statements}
    return paths.get(id(stmt), ())


def ends_hold(
    files: Any, stored: tuple[ast.AST, Path] | None, stmt: ast.stmt, func: ast.AST
) -> bool:
    """A rebinding (``stmt`` of ``func``) ends what the store at ``stored``
    put in the attribute only where it runs whenever that store ran: in the
    same function, in the store's arm or one around it. One in another arm
    (``if use_vocos: self.model = Vocos(...)``) may not run."""
    if stored is None or stored[0] is not func:
        return True
    here = arms(files, stmt, func)
    return stored[1][: len(here)] == here


def runs_init_of(cls: ast.ClassDef, base: ast.AST) -> bool:
    """Whether ``cls`` runs ``base.__init__``: it has no ``__init__`` of its
    own, or its ``__init__`` calls ``super().__init__`` (``super(cls,
    self)``, ``super(type(self), self)``) or ``<base>.__init__(self,
    ...)``; not when it calls only
    ``nn.Module.__init__(self)`` (a class that builds its own layers)."""
    init = method_named(cls, "__init__")
    if init is None:
        return True
    for node in own_nodes(init):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
        ):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name):
            first = owner.args[0] if owner.args else None
            # `super(Parent, self)` starts above Parent: it skips Parent.
            skips = isinstance(first, ast.Name) and first.id != cls.name
            if owner.func.id == "super" and not skips:
                return True
        elif isinstance(owner, ast.Name) and owner.id == getattr(base, "name", None):
            return True
    return False


def alternatives(module: ast.expr | None) -> list[ast.expr | None]:
    """The modules weight norm's argument may be: either layer of
    ``weight_norm(A(...) if causal else B(...))``."""
    if isinstance(module, ast.IfExp):
        return [module.body, module.orelse]
    return [module]


def called_definitions(
    file: Any,
    callee: ast.expr,
    scope: Scope,
    func: ast.AST | None,
    needs: tuple[bytes, ...],
) -> list[Any]:
    """What ``callee`` names (:meth:`FileSummaries.definition`), or, for a
    local picked by a conditional expression (``conv_class = A if causal
    else B``), what either alternative names."""
    found = file.definition(callee, scope, needs)
    if found is not None:
        return [found]
    if not isinstance(callee, ast.Name) or func is None:
        return []
    value = file.local_value(func, callee.id)
    if not isinstance(value, ast.IfExp):
        return []
    options = [file.definition(o, scope, needs) for o in alternatives(value) if o]
    return [o for o in options if o is not None]


def normed_by_method(
    file: Any, callee: ast.Attribute, scope: Scope, func: ast.AST | None, depth: int
) -> list[Normed]:
    """``SConv(...).weight_norm()``: a method of the instance just built
    that weight-norms its own layers and returns ``self`` (EnCodec's and
    descript's wrappers): what the instance holds after it, for each class
    the call may build."""
    built = callee.value
    if not isinstance(built, ast.Call) or not isinstance(
        built.func, (ast.Name, ast.Attribute)
    ):
        return []
    return [
        n
        for found in called_definitions(
            file, built.func, scope, func, (b"weight_norm",)
        )
        if isinstance(found.node, ast.ClassDef)
        for n in _normed_by(callee.attr, found.file, found.node, depth)
    ]


def _normed_by(name: str, owner: Any, cls: ast.ClassDef, depth: int) -> list[Normed]:
    """What an instance of ``cls`` holds after its method ``name``, when that
    method returns ``self``."""
    method = method_named(cls, name)
    if method is None or not any(
        isinstance(n, ast.Return) and n.value is not None and is_self(n.value)
        for n in own_nodes(method)
    ):
        return []
    built_as = layers_built(owner, cls)
    # The tests of its `__init__`'s parameters are left open: possibly normed.
    out = [replace(n, when=()) for n in owner.class_contents(cls, depth)]
    inner = owner.scope_of(method)
    for stmt, _ in body_of(owner.bodies, method, inner).statements:
        for attr, normed in owner._stmt_normed(stmt, inner, method, depth):
            out += [as_built(n, built_as.get(attr)) for n in normed]
    return out


def as_built(normed: Normed, built: tuple[str | None, tuple] | None) -> Normed:
    """``normed`` with the layer class ``__init__`` built for its attribute
    (:func:`layers_built`) where its own is not known."""
    if built is None or built[0] is None or normed.layer is not None:
        return normed
    return replace(normed, layer=built[0], kinds=built[1])


def layers_built(file: Any, cls: ast.ClassDef) -> dict[str, tuple[str | None, tuple]]:
    """``self.<attr>`` -> (layer class, its torch classes) for the layers
    ``__init__`` builds: what a later method norms."""
    out: dict[str, tuple[str | None, tuple]] = {}
    for stmt, func in file.init_trace(cls):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Attribute) and is_self(target.value):
                scope = file.scope_of(func)
                layer = file.layer_of(stmt.value, scope, func)
                out[target.attr] = (layer, torch_kinds(file, layer, scope))
    return out


def applied_attr(module: ast.expr, func: ast.AST) -> str | None:
    """The attribute of ``self`` that ``weight_norm(module)`` norms:
    ``self.X``, ``self.X[i]``, or a loop variable over ``self.X``."""
    attr = self_root_attr(module)
    if attr or not isinstance(module, ast.Name):
        return attr
    for node in own_nodes(func):
        if (
            isinstance(node, (ast.For, ast.AsyncFor))
            and isinstance(node.target, ast.Name)
            and node.target.id == module.id
        ):
            return self_root_attr(node.iter)
    return None


def init_statements(
    files: Any, cls: ast.ClassDef
) -> Iterator[tuple[ast.stmt, ast.AST]]:
    """Statements of ``__init__`` in order, with those of the methods it
    calls (``self.build()``) at the call (:meth:`FileSummaries.init_trace`)."""
    methods = {
        n.name: n
        for n in cls.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    init = methods.get("__init__")
    if init is None:
        return
    yield from _statements_of(files, init, methods, {"__init__"})


def _statements_of(
    files: Any, func: ast.AST, methods: dict, seen: set[str]
) -> Iterator[tuple[ast.stmt, ast.AST]]:
    for stmt, _ in body_of(files.bodies, func, files.scope_of(func)).statements:
        yield stmt, func
        for node in walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and is_self(node.func.value)
                and node.func.attr in methods
                and node.func.attr not in seen
            ):
                seen.add(node.func.attr)
                yield from _statements_of(files, methods[node.func.attr], methods, seen)


def base_definitions(files: Any, cls: ast.ClassDef, needs: tuple[bytes, ...]) -> list:
    """Base classes of ``cls`` defined in its file or in a sibling file
    whose text holds one of ``needs`` (:meth:`FileSummaries.definition`)."""
    scope = files.scope_of(cls).parent
    out = []
    for base in cls.bases:
        if scope is None or not isinstance(base, (ast.Name, ast.Attribute)):
            continue
        found = files.definition(base, scope, needs)
        if (
            found is not None
            and isinstance(found.node, ast.ClassDef)
            and found.node is not cls
        ):
            out.append(found)
    return out
