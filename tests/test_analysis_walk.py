"""The one pass of FileAnalysis: iterative, in source order, and generic."""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest
from conftest import ROOT

from wnlint.facts.analysis import FileAnalysis


def analyse(source: str) -> FileAnalysis:
    return FileAnalysis(ast.parse(textwrap.dedent(source)))


def parse_deep(source: str) -> ast.Module:
    """Parse under a raised limit (CPython's AST construction counts against
    it); the walk afterwards runs under the interpreter's usual limit."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return ast.parse(source)
    finally:
        sys.setrecursionlimit(limit)


def test_a_5000_term_expression_does_not_overflow_the_stack():
    # A recursive walker fails long before depth 5,000 under the default
    # limit of 1,000 frames; the iterative one visits every term.
    terms = " + ".join(f"x{i}" for i in range(5000))
    analysis = FileAnalysis(parse_deep(f"total = {terms}\n"))
    assert len(analysis.references) == 5000


def test_a_5000_call_method_chain_does_not_overflow_the_stack():
    chain = "".join(".step()" for _ in range(5000))
    analysis = FileAnalysis(parse_deep(f"out = model{chain}\n"))
    assert len(analysis.calls) == 5000


def test_bindings_are_recorded_in_source_order():
    analysis = analyse(
        """
        import a
        norm = a.first
        if flag:
            norm = a.second
        else:
            norm = a.third
        try:
            norm = a.fourth
        except ImportError:
            norm = a.fifth
        """
    )
    aliases = analysis.module_scope.bindings["norm"]
    assert [node.attr for node, _ in aliases] == [  # type: ignore[misc]
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
    ]


def test_statements_of_a_block_are_visited_in_source_order():
    analysis = analyse(
        """
        first()

        @deco()
        def f(x=default()):
            inner_one()
            inner_two()

        class C(base()):
            attr_one = body_one()
            attr_two = body_two()

        last()
        """
    )
    order = [site.node.func.id for site in analysis.calls]  # type: ignore[attr-defined]
    expected = ["first", "deco", "default", "inner_one", "inner_two", "base"]
    expected += ["body_one", "body_two", "last"]
    assert sorted(order) == sorted(expected)
    for earlier, later in [
        ("first", "deco"),
        ("first", "inner_one"),
        ("deco", "default"),
        ("inner_one", "inner_two"),
        ("inner_two", "base"),
        ("body_one", "body_two"),
        ("base", "last"),
        ("body_two", "last"),
    ]:
        assert order.index(earlier) < order.index(later), (earlier, later)


def test_each_function_class_and_lambda_opens_a_scope():
    analysis = analyse(
        """
        def f(a, /, b, *args, c, **kw):
            g = lambda d: d
        class C:
            pass
        """
    )
    kinds = sorted(scope.kind for scope in analysis.scopes.values())
    assert kinds == ["class", "function", "lambda"]
    (function,) = [s for s in analysis.scopes.values() if s.kind == "function"]
    assert set(function.bindings) == {"a", "b", "args", "c", "kw", "g"}
    assert [c.name for c in analysis.class_nodes] == ["C"]


def test_a_walrus_in_a_comprehension_binds_in_the_enclosing_scope():
    analysis = analyse("def f(xs):\n    return [(last := x) for x in xs]\n")
    (function,) = analysis.scopes.values()
    assert "last" in function.bindings
    assert "x" not in function.bindings


def test_guards_record_branches_handlers_and_early_exits():
    analysis = analyse(
        """
        def f(m):
            if hasattr(m, "x"):
                return in_if()
            after_exit()
            try:
                in_try()
            except Exception:
                in_except()
        """
    )
    guards = {
        site.node.func.id: [kind for kind, _, _ in site.guards]  # type: ignore[attr-defined]
        for site in analysis.calls
        if site.node.func.id != "hasattr"  # type: ignore[attr-defined]
    }
    assert guards == {
        "in_if": ["if"],
        "after_exit": ["else"],
        "in_try": ["else", "try"],
        "in_except": ["else", "except"],
    }


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match needs Python 3.10")
def test_match_captures_are_bound():
    analysis = analyse(
        """
        match value:
            case [first, *rest]:
                pass
            case {"k": v, **others}:
                pass
            case _ as whole:
                pass
        """
    )
    bound = set(analysis.module_scope.bindings)
    assert {"first", "rest", "v", "others", "whole"} <= bound


def test_the_analysis_knows_no_torch_vocabulary():
    # Torch names live in wnlint.facts.torchnames; rule-specific queries live with
    # their rules, so FileAnalysis serves every rule the same way.
    source = (ROOT / "wnlint" / "facts" / "analysis.py").read_text(encoding="utf-8")
    assert "torch" not in source
    assert "parametrizations" not in source
