"""When two weight-norm applications in one body are the same bug (WN204).

Applying weight norm twice to one tensor of one module raises (the new API)
or stacks two reparametrizations (the legacy one); applications that never
both run in one call, or that norm different tensors, are not a repeat.
This module answers the two questions on the facts of
:mod:`wnlint.facts.order`: which tensor an application norms (its ``name``
as written, an f-string's pattern, or an unresolved expression), and what
the ``if`` tests around a statement say about variables (:class:`Branches`,
over the arms that :mod:`wnlint.facts.events` records).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from wnlint.facts.order import Application, ScopeFlow, covers, key_of
from wnlint.facts.syntax import shape, walk

# -- which tensor an application norms (WN204) ----------------------------------

#: A normed tensor's name as far as it is known: ``("text", "weight")``, an
#: f-string's ``("pattern", ("weight_ih_l", None))`` (None: a formatted
#: value), or an unresolved expression's ``("expr", shape(...))``.
TensorName = tuple[str, Any]


def tensor_name(app: Application, flow: ScopeFlow) -> TensorName:
    """The name of the tensor ``app`` norms; a local name assigned once to a
    string or an f-string stands for that value."""
    expr = app.name_arg
    if expr is None:
        return ("text", "weight")
    if isinstance(expr, ast.Name):
        defs = flow.defs.get(expr.id, [])
        if len(defs) == 1 and isinstance(defs[0][1], (ast.Constant, ast.JoinedStr)):
            expr = defs[0][1]
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return ("text", expr.value)
    if isinstance(expr, ast.JoinedStr):
        return ("pattern", _fstring_parts(expr))
    return ("expr", shape(expr))


def _fstring_parts(expr: ast.JoinedStr) -> tuple[str | None, ...]:
    parts: list[str | None] = []
    for value in expr.values:
        part = value.value if isinstance(value, ast.Constant) else None
        if not isinstance(part, str):
            if not parts or parts[-1] is not None:
                parts.append(None)
        elif parts and parts[-1] is not None:
            parts[-1] += part
        else:
            parts.append(part)
    return tuple(parts)


def same_tensor(a: TensorName, b: TensorName) -> bool:
    """May two tensor names be the same? Distinct strings never are, nor
    f-strings with different constant parts, nor an unresolved expression
    and anything spelled differently."""
    if a[0] == b[0]:
        return a[1] == b[1]
    if {a[0], b[0]} == {"text", "pattern"}:
        text, pattern = (a[1], b[1]) if a[0] == "text" else (b[1], a[1])
        regex = "".join(".*" if p is None else re.escape(p) for p in pattern)
        return re.fullmatch(regex, text, re.DOTALL) is not None
    return False


def names_rebound_between(flow: ScopeFlow, expr: ast.AST, start: int, end: int) -> bool:
    """Is a name read in ``expr`` rebound after ``start`` and before ``end``?"""
    names = {n.id for n in walk(expr) if isinstance(n, ast.Name)}
    return any(start < order < end and key in names for order, key in flow.rebinds)


# -- the conditions a statement runs under (WN204) ------------------------------


@dataclass(frozen=True)
class Condition:
    """What one test says about one variable where a statement runs: it is
    one of ``values`` (``inside``) or none of them. ``kind`` is "value" for
    ``==``/``is``/``in`` against constants, "truth" for ``if x``/``if not x``
    (values ``{True}``)."""

    key: str
    kind: str
    values: frozenset[Any]
    inside: bool
    order: int  # the statement that holds the test

    def contradicts(self, other: Condition) -> bool:
        if self.key != other.key or self.kind != other.kind:
            return False
        if self.inside and other.inside:
            return not self.values & other.values
        if self.inside != other.inside:
            inside, outside = (self, other) if self.inside else (other, self)
            return inside.values <= outside.values
        return False

    def negated(self) -> Condition:
        return Condition(self.key, self.kind, self.values, not self.inside, self.order)


def conditions(test: ast.expr, holds: bool, order: int) -> list[Condition]:
    """What ``test`` being true (``holds``) or false says about variables."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return conditions(test.operand, not holds, order)
    if isinstance(test, ast.BoolOp):
        # `a and b` true: both are; `a or b` false: neither is.
        if isinstance(test.op, ast.And) != holds:
            return []
        return [c for value in test.values for c in conditions(value, holds, order)]
    if isinstance(test, ast.Compare):
        found = _comparison(test, order)
        if found is None:
            return []
        return [found if holds else found.negated()]
    key = key_of(test)
    if key is None:
        return []
    return [Condition(key, "truth", frozenset({True}), holds, order)]


_EQUALITY = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)
_INSIDE = (ast.Eq, ast.Is, ast.In)


def _comparison(test: ast.Compare, order: int) -> Condition | None:
    """``x == c``, ``c == x``, ``x is c``, ``x in (c1, c2)`` and negations."""
    if len(test.ops) != 1:
        return None
    op, left, right = test.ops[0], test.left, test.comparators[0]
    if isinstance(op, _EQUALITY) and key_of(left) is None:
        left, right = right, left
    key = key_of(left)
    if isinstance(op, _EQUALITY):
        items = [right]
    elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(
        right, (ast.Tuple, ast.List, ast.Set)
    ):
        items = right.elts
    else:
        return None
    if key is None or not all(isinstance(i, ast.Constant) for i in items):
        return None
    values = frozenset(i.value for i in items)  # type: ignore[attr-defined]
    return Condition(key, "value", values, isinstance(op, _INSIDE), order)


class Branches:
    """The ``if`` tests each statement of a flow runs under, and the loops
    around it, for telling applications that never run in one call apart."""

    def __init__(self, flow: ScopeFlow) -> None:
        self.flow = flow
        assert flow.body is not None
        self.body = flow.body
        #: order -> statement, in the order the flow counts them.
        self.statements: list[ast.stmt] = [s for s, _ in flow.body.statements]
        self._loops = _loop_spans(self.statements)

    def conditions(self, order: int) -> list[Condition]:
        """What the ``if`` arms (and early exits) around ``order`` imply."""
        starts = self.flow.starts
        return [
            c
            for node, holds in self.body.tests(self.flow.paths.get(order, ()))
            for c in conditions(node.test, holds, starts[id(node)])
        ]

    def exclusive(self, a: int, b: int, key: str) -> bool:
        """Statements ``a`` and ``b`` (applications to module ``key``) never
        both run in one call: arms of one compound statement, or tests that
        contradict on a variable that nothing on the way changes."""
        if self.flow.exclusive(a, b):
            return True
        return any(
            first.contradicts(second)
            and not self._changed(first, second, a, b)
            and not self._carried(first, second, key)
            for first in self.conditions(a)
            for second in self.conditions(b)
        )

    def _changed(self, first: Condition, second: Condition, a: int, b: int) -> bool:
        """The variable is rebound between the two tests, on a path that
        runs both statements."""
        low, high = sorted((first.order, second.order))
        flow = self.flow
        return any(
            low < order < high
            and covers(k, first.key)
            and not flow.exclusive(order, a)
            and not flow.exclusive(order, b)
            for order, k in flow.rebinds
        )

    def _carried(self, first: Condition, second: Condition, key: str) -> bool:
        """A loop around both tests changes the variable but not the module:
        a later turn may take the other arm on the same module."""
        low, high = sorted((first.order, second.order))
        rebinds = self.flow.rebinds
        for start, end in self._loops:
            if start < low and high <= end:
                inside = [k for order, k in rebinds if start <= order <= end]
                if any(covers(k, first.key) for k in inside) and not any(
                    covers(k, key) for k in inside
                ):
                    return True
        return False


def _loop_spans(statements: list[ast.stmt]) -> list[tuple[int, int]]:
    """(order of a loop, order of the last statement inside it)."""
    spans = []
    for start, stmt in enumerate(statements):
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            end = start
            last_line = stmt.end_lineno or stmt.lineno
            while end + 1 < len(statements) and statements[end + 1].lineno <= last_line:
                end += 1
            spans.append((start, end))
    return spans
