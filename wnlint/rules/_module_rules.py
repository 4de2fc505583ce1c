"""Helpers shared by the WN1xx rules (kept out of the rules themselves)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint import modules
from wnlint.modules import MethodFacts, ModuleClass, ModuleFacts


def own_nodes(method: MethodFacts) -> Iterator[ast.AST]:
    """Nodes of a method body, without nested functions and classes."""
    return modules.own_nodes(method.node)


def reachable(cls: ModuleClass) -> Iterator[MethodFacts]:
    """The methods ``forward`` reaches, in source order."""
    methods = [cls.methods[name] for name in cls.forward_reachable]
    yield from sorted(methods, key=lambda m: m.node.lineno)


def source(node: ast.AST) -> str:
    """Short source text of ``node`` for a message."""
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def inherits(cls: ModuleClass, base: ModuleClass) -> bool:
    """``cls`` derives from ``base`` through same-file classes."""
    todo = list(cls.file_bases)
    while todo:
        current = todo.pop()
        if current is base:
            return True
        todo.extend(current.file_bases)
    return False


def family(facts: ModuleFacts, cls: ModuleClass) -> list[ModuleClass]:
    """The class, its same-file bases and its same-file subclasses: the code
    that shares ``self`` with it."""
    bases = [c for c in facts.classes if inherits(cls, c)]
    subclasses = [c for c in facts.classes if inherits(c, cls)]
    return [cls, *bases, *subclasses]
