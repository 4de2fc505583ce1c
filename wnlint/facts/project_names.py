"""Torch names that a project's own modules hand on.

``from .torch_core import *`` (fastai's layout) and ``from
pylot.torch.torchlib import nn`` bind a name to whatever the project's
module bound it to, often a torch name: ``torch_core`` itself does ``from
torch.nn.utils import weight_norm``. :func:`reexported` reads that module,
and the modules it imports from in turn, and says which torch name the
import gives, so that every rule resolves ``weight_norm(conv)`` there as it
would ``torch.nn.utils.weight_norm(conv)``; and :meth:`ProjectNames.base`
says which ``torch.nn`` class a project's class derives from (``class
BaseModule(nn.Module)`` in ``base.py``), so that its subclasses elsewhere
are ``nn.Module`` classes to the WN1xx rules.

Only module-level imports and aliases are read (``from M import n as k``,
``import a.b as k``, ``k = a.b.c``, ``from M import *``, the arms of a
module-level ``if``/``try``, ``__all__``), textually cut at the top-level
statements and parsed alone; a name bound by a ``def``, a ``class`` or any
other value is no torch name. Modules are found as Python would import them
(:func:`wnlint.facts.siblings.module_path`), never under ``site-packages``,
never imported or run. Only names that can be part of a torch name the rules
know are followed (:data:`VOCABULARY`), so a project's other imports cost
nothing.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from wnlint.facts import torchnames as tn
from wnlint.facts.cutting import split
from wnlint.facts.definitions import is_torch, is_torch_module_class
from wnlint.facts.siblings import (
    file_text,
    imports_sibling_mentioning,
    module_path,
    version,
)
from wnlint.facts.sources import depend, once_per_run, read_source
from wnlint.facts.syntax import parse_quietly

#: How many modules a name is followed through.
_MAX_DEPTH = 6


def _vocabulary() -> frozenset[str]:
    """Every component of every torch name :mod:`torchnames` spells."""
    words: set[str] = set()
    for value in vars(tn).values():
        items = value if isinstance(value, (frozenset, set, tuple)) else (value,)
        for item in items:
            if isinstance(item, str) and is_torch(item):
                words.update(p for p in item.split(".") if p)
    return frozenset(words)


#: The names worth following: a re-exported ``logging`` or ``BaseModel`` is
#: never a torch name a rule looks for.
VOCABULARY = _vocabulary()


def reexported(path: str, module: str, name: str, star: bool = False) -> str | None:
    """The torch name ``name`` holds when the file at ``path`` imports it
    from ``module`` (``from <module> import <name>``, or with ``star``
    ``from <module> import *`` then ``<name>``), where ``module`` is one of
    the project's; None when it is not a torch name, or not known."""
    return ProjectNames(path).name(module, name, star)


class ProjectNames:
    """What the project's own modules hand on, as seen from one file (the
    analysis puts one on the file's module scope)."""

    __slots__ = ("directory",)

    def __init__(self, path: str) -> None:
        self.directory = os.path.dirname(os.path.abspath(path))

    def name(self, module: str, name: str, star: bool) -> str | None:
        """:func:`reexported`, from this file."""
        if name not in VOCABULARY or is_torch(module):
            return None
        key = ("reexported", self.directory, module, name, star)
        directory = self.directory
        return once_per_run(key, lambda: _follow(directory, module, name, 0, star))

    def base(self, module: str, name: str) -> str | None:
        """The ``torch.nn`` class that the project's class ``name`` (imported
        from ``module``) derives from, through the project's own classes
        (``class BaseModule(nn.Module)`` in ``base.py``); None when it is no
        module class, or not known."""
        if is_torch(module):
            return None
        key = ("project_base", self.directory, module, name)
        directory = self.directory
        return once_per_run(key, lambda: _base_of(directory, module, name, 0))

    def lacks(self, module: str, name: str, any_name: bool = False) -> bool:
        """``from <module> import *`` certainly binds no ``name`` (a torch
        name a rule knows, or with ``any_name`` any name: a helper looked up
        by the summaries): ``__all__`` leaves it out, or the module binds it
        nowhere and each module it star-imports lacks it too. Of a file's
        several star imports, those that lack a name are not where it comes
        from."""
        if (name not in VOCABULARY and not any_name) or is_torch(module):
            return False
        key = ("lacks", self.directory, module, name)
        directory = self.directory
        return once_per_run(key, lambda: _lacks(directory, module, name, 0))

    def plain_layer(self, module: str, name: str) -> str | None:
        """:meth:`base`, for a class that cannot weight-norm itself: the
        modules that define it and its project bases never spell weight
        norm, nor import a project module that does. What it builds is a
        plain layer (CosyVoice's ``CausalConv1d(torch.nn.Conv1d)``)."""
        if is_torch(module):
            return None
        key = ("plain_layer", self.directory, module, name)
        directory = self.directory
        return once_per_run(
            key, lambda: _base_of(directory, module, name, 0, plain=True)
        )


def _lacks(directory: str, module: str, name: str, depth: int) -> bool:
    found = module_path(directory, module)
    if found is None or depth > _MAX_DEPTH:
        return False
    table = _table(found)
    if table.exported is not None:
        return name not in table.exported
    if name.startswith("_"):
        return True
    here = os.path.dirname(found)
    return name not in table.bindings and all(
        _lacks(here, star, name, depth + 1) for star in table.stars
    )


def _base_of(
    directory: str, module: str, name: str, depth: int, plain: bool = False
) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    found = module_path(directory, module)
    if found is None or (plain and may_norm(found)):
        return None
    return _class_base(_table(found), os.path.dirname(found), name, depth, plain)


#: What a module that may weight-norm a layer spells.
_NORM_WORDS = (b"weight_norm", b"parametriz")


def may_norm(path: str) -> bool:
    """The module at ``path`` spells weight norm, or imports a project
    module that does (``from .norms import wn_conv``, ``import pkg.norms``)."""
    text = file_text(path)
    return any(
        word in text or imports_sibling_mentioning(text, path, word, plain=True)
        for word in _NORM_WORDS
    )


def _class_base(
    table: _Table, here: str, name: str, depth: int, plain: bool = False
) -> str | None:
    bases = table.classes.get(name)
    if bases is None:
        # imported into that module from another of the project's
        for value in table.bindings.get(name) or ():
            if value is not None and value[0] == "from":
                return _base_of(here, value[1], value[2], depth + 1, plain)
        return None
    for base in bases:
        if base is None:
            continue
        root, _, tail = base.partition(".")
        head = _lookup(table, here, root, depth + 1) if root in VOCABULARY else None
        found = f"{head}.{tail}" if head and tail else head
        if found is None and not tail:  # a class of the project's, in turn
            found = _class_base(table, here, root, depth + 1, plain)
        if is_torch_module_class(found):
            return found
    return None


@dataclass
class _Table:
    """A module's top-level bindings: name -> each thing bound to it (None:
    something that is no import or alias)."""

    bindings: dict[str, list[tuple[str, ...] | None]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    #: class name -> its bases as written (dotted names; None: another
    #: expression), read from the ``class`` line alone.
    classes: dict[str, list[str | None]] = field(default_factory=dict)
    #: ``__all__``, when the module spells it as a literal.
    exported: frozenset[str] | None = None


def _follow(
    directory: str, module: str, name: str, depth: int, star: bool
) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    found = module_path(directory, module)
    if found is None:
        return None
    table = _table(found)
    if star and table.exported is not None and name not in table.exported:
        return None  # `from m import *` takes only `__all__`
    return _lookup(table, os.path.dirname(found), name, depth)


def _lookup(table: _Table, here: str, name: str, depth: int) -> str | None:
    values = table.bindings.get(name)
    if values is None:
        if name.startswith("_"):
            return None  # never exported by `*`
        answers = {_follow(here, m, name, depth + 1, star=True) for m in table.stars}
        answers.discard(None)
        return answers.pop() if len(answers) == 1 else None
    answers = set()
    for value in values:
        answers.add(_value(value, table, here, depth))
    return answers.pop() if len(answers) == 1 else None


def _value(
    value: tuple[str, ...] | None, table: _Table, here: str, depth: int
) -> str | None:
    if value is None:
        return None
    kind, *rest = value
    if kind == "import":  # `import torch.nn as nn`
        return rest[0] if is_torch(rest[0]) else None
    if kind == "from":  # `from M import n`
        module, imported = rest
        if is_torch(module):
            return f"{module}.{imported}"
        if imported not in VOCABULARY:
            return None
        return _follow(here, module, imported, depth + 1, star=False)
    root, _, tail = rest[0].partition(".")  # `k = a.b.c`
    if depth > _MAX_DEPTH or root not in VOCABULARY:
        return None
    head = _lookup(table, here, root, depth + 1)
    return None if head is None else f"{head}.{tail}" if tail else head


#: path -> (its version, its table).
_TABLES: dict[str, tuple[tuple[int, int], _Table]] = {}

#: What starts a top-level statement worth reading.
_READ = (b"from ", b"import ", b"try:", b"if ", b"__all__")


def _table(path: str) -> _Table:
    key = version(path)
    cached = _TABLES.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    depend(path)
    table = _Table()
    try:
        # Read, not kept: the table is all that is needed of a module (a
        # large one is most of its text in its class bodies).
        data = read_source(path)
    except OSError:
        data = b""
    for segment in split(data):
        if segment.name is not None:
            name = segment.name.decode()
            table.bindings.setdefault(name, []).append(None)
            bases = _class_bases(segment.text)
            if bases is not None:
                table.classes[name] = bases
            continue
        text = segment.text
        if not text.startswith(_READ) and b"=" not in text.split(b"\n", 1)[0]:
            continue
        try:
            statements = parse_quietly(text, path).body
        except (SyntaxError, ValueError):
            continue
        _read(statements, table)
    _TABLES[path] = (key, table)
    return table


def _class_bases(text: bytes) -> list[str | None] | None:
    """The bases of a ``class`` statement, from its header alone (a class
    body can be thousands of lines)."""
    start = text.find(b"class ")
    opening = text.find(b"(", start)
    colon = text.find(b":", start)
    if start < 0 or opening < 0 or (0 <= colon < opening):
        return [] if start >= 0 else None
    depth = 0
    for i in range(opening, min(len(text), opening + 2000)):
        char = text[i : i + 1]
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if depth == 0:
                try:
                    call = ast.parse(b"f" + text[opening : i + 1], mode="eval").body
                except (SyntaxError, ValueError):
                    return None
                return (
                    [_dotted(b) for b in call.args]
                    if isinstance(call, ast.Call)
                    else None
                )
    return None


def _read(statements: list[ast.stmt], table: _Table) -> None:
    for stmt in statements:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".", 1)[0]
                target = alias.name if alias.asname else bound
                table.bindings.setdefault(bound, []).append(("import", target))
        elif isinstance(stmt, ast.ImportFrom):
            module = "." * (stmt.level or 0) + (stmt.module or "")
            for alias in stmt.names:
                if alias.name == "*":
                    table.stars.append(module)
                else:
                    entry = ("from", module, alias.name)
                    table.bindings.setdefault(alias.asname or alias.name, []).append(
                        entry
                    )
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            _assigned(stmt, table)
        elif isinstance(stmt, (ast.If, ast.Try)):
            for block in ("body", "orelse", "finalbody"):
                _read(getattr(stmt, block, []), table)
            for handler in getattr(stmt, "handlers", []):
                _read(handler.body, table)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            table.bindings.setdefault(stmt.name, []).append(None)


def _assigned(stmt: ast.Assign | ast.AnnAssign, table: _Table) -> None:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    value = stmt.value
    for target in targets:
        if not isinstance(target, ast.Name):
            continue
        if target.id == "__all__" and isinstance(value, (ast.List, ast.Tuple)):
            names = [e.value for e in value.elts if isinstance(e, ast.Constant)]
            if all(isinstance(n, str) for n in names):
                table.exported = frozenset(names)  # type: ignore[arg-type]
            continue
        dotted = _dotted(value) if value is not None else None
        entry = ("alias", dotted) if dotted is not None else None
        table.bindings.setdefault(target.id, []).append(entry)


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
