"""The layers a ``self.<attr>`` of an ``nn.Module`` class may hold, and the
tensors weight norm is applied to on them, where the class's own code says
everything that happens to the attribute (WN306).

A class is read whole: every use of ``self`` in its methods and in those of
its subclasses in the file. An attribute is known when each value stored
in it is a torch layer built in place (or a ``ModuleList``/``Sequential``
or list of them, filled with ``append``/``extend``/``insert``), weight-normed
in place or not, each tensor name it is normed on is a string, and the
attribute (or a loop variable over it) is only called, normed, handed to a
remover, or handed by ``.apply`` a function that cannot weight-norm
(:mod:`wnlint.facts.callbacks`). Anything else makes it unknown, and a
class that hands ``self`` away or reaches its submodules through
``nn.Module`` (``self.apply``, ``self.modules()``) is not read at all:
nothing here guesses.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.callbacks import cannot_norm
from wnlint.facts.classes import ClassGraph
from wnlint.facts.events import LEGACY, NEW, norm_api, removal_api
from wnlint.facts.layer_kinds import (
    is_container,
    is_plain_project_layer,
    is_torch_class,
    is_weightless_wrapper,
    resolves_within,
)
from wnlint.facts.resolve import Scope
from wnlint.facts.syntax import (
    call_arg,
    child_nodes,
    hands_self_away,
    is_self,
    shape,
    string_value,
    walk,
)

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)

#: ``nn.Module`` methods through which a class may reach (and norm) any of
#: its submodules, or replace one by name.
_REACHES_SUBMODULES = frozenset(
    {
        "apply",
        "_apply",
        "modules",
        "named_modules",
        "children",
        "named_children",
        "add_module",
        "register_module",
        "set_submodule",
        "get_submodule",
        "__setattr__",
        "__dict__",
        "_modules",
    }
)

#: Methods of a torch layer that neither norm it nor replace it.
_HARMLESS_METHODS = frozenset(
    {
        "forward",
        "parameters",
        "named_parameters",
        "buffers",
        "named_buffers",
        "flatten_parameters",
        "reset_parameters",
        "extra_repr",
        "state_dict",
        "__len__",
    }
)

#: Builtins that only look at a container.
_LOOKS = frozenset(
    {"len", "isinstance", "hasattr", "getattr", "type", "id", "repr", "str"}
)


@dataclass
class AttributeLayers:
    """What ``self.<attr>`` holds: one entry per layer construction that
    may be stored in it, each with the tensor names weight norm is applied
    to on it; ``unknown`` once any use is not understood."""

    elements: list[set[str]] = field(default_factory=list)
    #: Names normed on every layer it holds (``weight_norm(self.lstm, n)``,
    #: or in a loop over it).
    applied: set[str] = field(default_factory=set)
    lines: list[int] = field(default_factory=list)
    unknown: bool = False
    #: A method of the class family stores to it (``self.<attr> = ...``).
    assigned: bool = False

    def normed_names(self) -> set[str]:
        return set().union(self.applied, *self.elements)

    @property
    def first_norm_line(self) -> int:
        return min(self.lines) if self.lines else 0


class ClassLayers:
    """The attributes of one class, each with what it may hold, and the
    removers of the class by call (attribute, target as written)."""

    def __init__(self, family: list[ast.ClassDef], analysis: FileAnalysis) -> None:
        #: The class and its subclasses in the file: what they do to
        #: ``self`` is what the class's instances or theirs may hold.
        self.family = family
        self.analysis = analysis
        self.attrs: dict[str, AttributeLayers] = {}
        self.removers: dict[int, tuple[str, str]] = {}
        self.parents: dict[int, ast.AST] = {}
        self.functions = [
            item for cls in family for item in cls.body if isinstance(item, _FUNCTIONS)
        ]
        self.methods = {f.name for f in self.functions}

    @classmethod
    def of(
        cls, node: ast.ClassDef, analysis: FileAnalysis, graph: ClassGraph
    ) -> ClassLayers | None:
        """None when the class (or a subclass of the file) may reach its
        submodules in ways not read here: a base outside ``torch.nn`` and
        the family, ``self`` handed away."""
        family = [node, *graph.descendants(node)]
        members = {id(member) for member in family}
        for member in family:
            scope = analysis.scopes.get(id(member))
            file_bases = graph.file_bases(member)
            if scope is None or any(id(b) not in members for b in file_bases):
                return None
            in_file = {b.name for b in file_bases}
            if not all(
                (isinstance(base, ast.Name) and base.id in in_file)
                or is_torch_class(base, scope.parent)
                for base in member.bases
            ):
                return None
        held = cls(family, analysis)
        return held if held._read() else None

    def holds_no_weight_norm(self, call: ast.Call) -> bool:
        """The remover ``call`` acts on an attribute of the class whose
        layers are all known and none is weight-normed: it fails for want
        of weight norm (WN306), whatever API the class uses elsewhere."""
        found = self.removers.get(id(call))
        contents = None if found is None else self.attrs.get(found[0])
        return (
            contents is not None
            and not contents.unknown
            and bool(contents.elements)
            and not contents.normed_names()
        )

    def _read(self) -> bool:
        functions = self.functions
        nodes: list[tuple[ast.AST, Scope]] = []
        for func in functions:
            scope = self.analysis.scopes.get(id(func))
            if scope is None:
                return False
            stack: list[tuple[ast.AST, Scope]] = [(func, scope)]
            while stack:
                node, here = stack.pop()
                inner = self.analysis.scopes.get(id(node), here)
                if isinstance(node, ast.ClassDef):
                    continue  # a nested class has its own `self`
                nodes.append((node, inner))
                for child in child_nodes(node):
                    self.parents[id(child)] = node
                    stack.append((child, inner))
        for node, here in nodes:
            if isinstance(node, ast.Call) and (
                hands_self_away(node) or any(is_self(k.value) for k in node.keywords)
            ):
                return False
            if is_self(node) and not self._self_use(node, here):  # type: ignore[arg-type]
                return False
        return True

    def _self_use(self, node: ast.Name, scope: Scope) -> bool:
        """Reads one use of ``self``; False when the class may reach its
        submodules through it."""
        parent = self.parents.get(id(node))
        if not isinstance(parent, ast.Attribute) or parent.value is not node:
            # a bare `self`: `super(C, self)` and `Base.__init__(self)` are
            # let through by hands_self_away; anything else may hand it on
            # (`return self` hands it to the caller, as any caller has it).
            if isinstance(parent, ast.Return):
                return True
            return isinstance(parent, ast.Call) and not hands_self_away(parent)
        attr = parent.attr
        if attr in _REACHES_SUBMODULES:
            return False
        if attr in self.methods:
            return True  # a method
        contents = self.attrs.setdefault(attr, AttributeLayers())
        if not contents.unknown and not self._attr_use(parent, attr, contents, scope):
            contents.unknown = True
        return True

    # -- one use of `self.<attr>` ----------------------------------------------
    def _attr_use(
        self, node: ast.Attribute, attr: str, contents: AttributeLayers, scope: Scope
    ) -> bool:
        expr: ast.AST = node
        parent = self.parents.get(id(expr))
        element = False
        if isinstance(parent, ast.Subscript) and parent.value is expr:
            element = True
            expr, parent = parent, self.parents.get(id(parent))
        if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and (
            expr is not getattr(parent, "value", None)
        ):
            return self._stored(parent, element, contents, scope)
        if isinstance(parent, ast.Attribute) and parent.value is expr:
            call = self.parents.get(id(parent))
            if not (isinstance(call, ast.Call) and call.func is parent):
                return isinstance(parent.ctx, ast.Load)
            if parent.attr in tn.CONTAINER_ADDERS and not element:
                return self._added(call, parent.attr, contents, scope)
            if parent.attr == "apply" and len(call.args) == 1 and not call.keywords:
                return cannot_norm(call.args[0], scope, self.analysis)
            return parent.attr in _HARMLESS_METHODS
        if isinstance(parent, ast.Call):
            if parent.func is expr:
                return True  # the layer called
            held = expr if element else None
            return self._handed(parent, expr, attr, held, contents, scope)
        if isinstance(parent, ast.For) and parent.iter is expr and not element:
            if not isinstance(parent.target, ast.Name):
                return False
            return self._loop(parent, parent.target.id, attr, contents, scope)
        return False

    def _handed(
        self,
        call: ast.Call,
        expr: ast.AST,
        attr: str,
        element: ast.AST | None,
        contents: AttributeLayers,
        scope: Scope,
    ) -> bool:
        """``expr`` (the attribute, one of its layers, or a loop variable over
        it) is an argument; ``element`` is the subscript that names a layer."""
        loop = self._iterated(call, expr)
        if loop is not None:
            return self._loop(*loop, attr, contents, scope)
        if call_arg(call, 0, "module") is not expr:
            return isinstance(call.func, ast.Name) and call.func.id in _LOOKS
        if removal_api(call.func, scope) in (LEGACY, NEW):
            target = ast.unparse(element) if element is not None else f"self.{attr}"
            self.removers[id(call)] = (attr, target)
            return True
        if norm_api(call.func, scope) is not None:
            return self._applied(call, contents)
        return isinstance(call.func, ast.Name) and call.func.id in _LOOKS

    def _iterated(self, call: ast.Call, expr: ast.AST) -> tuple[ast.For, str] | None:
        """``for a, b in zip(self.x, ...)`` or ``for i, a in
        enumerate(self.x)``: the loop and the variable that takes the
        layers of ``expr``."""
        loop = self.parents.get(id(call))
        if not (
            isinstance(loop, ast.For)
            and loop.iter is call
            and isinstance(call.func, ast.Name)
            and call.func.id in ("zip", "enumerate")
            and not call.keywords
            and isinstance(loop.target, ast.Tuple)
            and expr in call.args
        ):
            return None
        if call.func.id == "zip":
            position = call.args.index(expr)
        elif call.args[0] is expr:
            position = 1
        else:
            return None
        names = loop.target.elts
        if len(names) != (len(call.args) if call.func.id == "zip" else 2):
            return None
        var = names[position]
        return (loop, var.id) if isinstance(var, ast.Name) else None

    def _applied(self, call: ast.Call, contents: AttributeLayers) -> bool:
        name = _normed_name(call)
        if name is None:
            return False
        contents.applied.add(name)
        contents.lines.append(call.lineno)
        return True

    def _stored(
        self, stmt: ast.stmt, element: bool, contents: AttributeLayers, scope: Scope
    ) -> bool:
        contents.assigned = contents.assigned or not element
        value = getattr(stmt, "value", None)
        if value is None or (isinstance(stmt, ast.AugAssign) and element):
            return False
        if (
            isinstance(value, ast.Call)
            and norm_api(value.func, scope) is not None
            and _same_attr(call_arg(value, 0, "module"), stmt)
        ):
            return True  # `self.x = weight_norm(self.x)`: read at the argument
        if isinstance(stmt, ast.AugAssign) and not isinstance(stmt.op, ast.Add):
            return False
        found = (
            _layer(value, scope, contents)
            if element
            else _layers(value, scope, contents)
        )
        if found is None:
            return False
        contents.elements.extend(found)
        return True

    def _added(
        self, call: ast.Call, method: str, contents: AttributeLayers, scope: Scope
    ) -> bool:
        if method == "add_module" or call.keywords:
            return False
        args = call.args[1:] if method == "insert" else call.args
        if len(args) != 1:
            return False
        found = (
            _layers(args[0], scope, contents, sequence=True)
            if method == "extend"
            else _layer(args[0], scope, contents)
        )
        if found is None:
            return False
        contents.elements.extend(found)
        return True

    def _loop(
        self,
        loop: ast.For,
        var: str,
        attr: str,
        contents: AttributeLayers,
        scope: Scope,
    ) -> bool:
        """``for layer in self.<attr>:``: the loop variable ``var`` only
        called, normed, or handed to a remover."""
        for stmt in [*loop.body, *loop.orelse]:
            for node in walk(stmt):
                if not (isinstance(node, ast.Name) and node.id == var):
                    continue
                if not isinstance(node.ctx, ast.Load):
                    return False
                parent = self.parents.get(id(node))
                if isinstance(parent, ast.Call) and parent.func is node:
                    continue
                if isinstance(parent, ast.Attribute):
                    call = self.parents.get(id(parent))
                    if (
                        isinstance(call, ast.Call)
                        and call.func is parent
                        and parent.attr in _HARMLESS_METHODS
                    ):
                        continue
                    return False
                if not isinstance(parent, ast.Call):
                    return False
                if not self._handed(parent, node, attr, None, contents, scope):
                    return False
        return True


def _same_attr(expr: ast.AST | None, stmt: ast.stmt) -> bool:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]  # type: ignore[attr-defined]
    return expr is not None and any(shape(t) == shape(expr) for t in targets)


def _normed_name(call: ast.Call) -> str | None:
    node = call_arg(call, 1, "name")
    return tn.DEFAULT_WEIGHT_NAME if node is None else string_value(node)


def _layers(
    value: ast.AST, scope: Scope, contents: AttributeLayers, sequence: bool = False
) -> list[set[str]] | None:
    """The layers a value stored in an attribute holds: one layer, a torch
    container of layers, or a list or tuple of them (a comprehension's
    element stands for each); None when not known."""
    if isinstance(value, (ast.List, ast.Tuple)):
        return _all_layers(value.elts, scope, contents)
    if isinstance(value, (ast.ListComp, ast.GeneratorExp)) and not any(
        g.ifs or g.is_async for g in value.generators
    ):
        return _layer(value.elt, scope, contents)
    if sequence:
        return None
    if isinstance(value, ast.Call) and is_container(value.func, scope):
        if value.keywords:
            return None
        if resolves_within(value.func, scope, tn.SEQUENTIAL):
            return _all_layers(value.args, scope, contents)
        if not value.args:
            return []
        if len(value.args) == 1:
            return _layers(value.args[0], scope, contents, sequence=True)
        return None
    return _layer(value, scope, contents)


def _all_layers(
    values: list[ast.expr], scope: Scope, contents: AttributeLayers
) -> list[set[str]] | None:
    out: list[set[str]] = []
    for value in values:
        found = _layer(value, scope, contents)
        if found is None:
            return None
        out.extend(found)
    return out


def _layer(
    value: ast.AST, scope: Scope, contents: AttributeLayers
) -> list[set[str]] | None:
    """One torch layer built in place, weight-normed or not."""
    if not isinstance(value, ast.Call):
        return None
    if norm_api(value.func, scope) is not None:
        name = _normed_name(value)
        inner = call_arg(value, 0, "module")
        found = _layer(inner, scope, contents) if inner is not None else None
        if name is None or found is None:
            return None
        contents.lines.append(value.lineno)
        return [names | {name} for names in found]
    if is_torch_class(value.func, scope) and not is_container(value.func, scope):
        return [set()]
    if is_plain_project_layer(value.func, scope) or is_weightless_wrapper(
        value.func, scope
    ):
        return [set()]
    return None
