"""Helpers shared by the WN1xx rules (kept out of the rules themselves)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from wnlint import modules
from wnlint.modules import MethodFacts, ModuleClass


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
