"""Same-file inheritance: which classes share ``self`` with which.

Every class of the file takes part, not only ``nn.Module`` subclasses or
those that compute a norm: a plain base class or mixin that reads
``self.w`` is code that runs on the same object, and a fix that turns
``self.w`` into a local must see it.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable


class ClassGraph:
    """The classes of one file and their same-file bases (by name, as
    written at the class statement; the latest earlier class of that name)."""

    def __init__(self, class_nodes: Iterable[ast.ClassDef]) -> None:
        self.bases: dict[int, list[ast.ClassDef]] = {}
        self.subclasses: dict[int, list[ast.ClassDef]] = {}
        self.nodes: list[ast.ClassDef] = []
        by_name: dict[str, ast.ClassDef] = {}
        for node in sorted(class_nodes, key=lambda n: (n.lineno, n.col_offset)):
            found = [
                by_name[base.id]
                for base in node.bases
                if isinstance(base, ast.Name) and base.id in by_name
            ]
            self.bases[id(node)] = found
            self.subclasses.setdefault(id(node), [])
            for base in found:
                self.subclasses.setdefault(id(base), []).append(node)
            by_name[node.name] = node
            self.nodes.append(node)

    def file_bases(self, node: ast.ClassDef) -> list[ast.ClassDef]:
        """Direct same-file bases of ``node``, in the order written."""
        return self.bases.get(id(node), [])

    def ancestors(self, node: ast.ClassDef) -> list[ast.ClassDef]:
        """Every same-file base, transitively, nearest first."""
        return self._closure(node, self.bases)

    def descendants(self, node: ast.ClassDef) -> list[ast.ClassDef]:
        """Every same-file subclass, transitively."""
        return self._closure(node, self.subclasses)

    def inherits(self, node: ast.ClassDef, base: ast.ClassDef) -> bool:
        return any(c is base for c in self.ancestors(node))

    def family(self, node: ast.ClassDef) -> list[ast.ClassDef]:
        """The classes whose code may run with the same ``self`` as
        ``node``'s: the class, its subclasses, and every base of any of
        them (a subclass's other mixins included). ``node`` comes first."""
        out: dict[int, ast.ClassDef] = {id(node): node}
        for member in [node, *self.descendants(node)]:
            out.setdefault(id(member), member)
            for base in self.ancestors(member):
                out.setdefault(id(base), base)
        return list(out.values())

    @staticmethod
    def _closure(
        node: ast.ClassDef, edges: dict[int, list[ast.ClassDef]]
    ) -> list[ast.ClassDef]:
        seen: dict[int, ast.ClassDef] = {}
        todo = deque(edges.get(id(node), []))
        while todo:
            current = todo.popleft()
            if id(current) in seen or current is node:
                continue
            seen[id(current)] = current
            todo.extend(edges.get(id(current), []))
        return list(seen.values())
