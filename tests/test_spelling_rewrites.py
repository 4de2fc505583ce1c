"""A spelling of the same meaning never changes a verdict.

Each rule's fixture is rewritten into equivalent spellings that real code
uses (``super(Class, self).__init__()`` and ``nn.Module.__init__(self)`` for
``super().__init__()``; ``torch.norm(x)``, ``x.norm()`` and
``torch.linalg.vector_norm(x)`` for one another; a norm kept in a local
before it is used), and must give the same findings on the same lines. Every
rewrite keeps line numbers: what it adds goes on the line it rewrites.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator

import pytest
from conftest import fixture_files

from wnlint.engine.linter import Linter, select_rules

FILES = [p for p in fixture_files() if p.suffix == ".py"]

#: (line, start column, end column, replacement) on one line of the source.
Span = tuple[int, int, int, str]


def _apply(source: str, spans: list[Span]) -> str:
    """The source with each one-line span replaced (later columns first)."""
    lines = source.splitlines(keepends=True)
    for line, start, end, text in sorted(spans, key=lambda s: (s[0], -s[1])):
        row = lines[line - 1]
        lines[line - 1] = row[:start] + text + row[end:]
    return "".join(lines)


def _one_line(node: ast.AST) -> bool:
    return node.lineno == node.end_lineno  # type: ignore[attr-defined]


def _super_calls(tree: ast.Module) -> Iterator[tuple[ast.ClassDef, ast.Call]]:
    """``super()`` calls directly in a class's methods, with the class."""
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        for method in cls.body:
            if not isinstance(method, ast.FunctionDef):
                continue
            for node in ast.walk(method):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "super"
                    and not node.args
                    and _one_line(node)
                ):
                    yield cls, node


def old_style_super(source: str) -> str:
    """``super()`` -> ``super(Class, self)``."""
    tree = ast.parse(source)
    spans = [
        (n.lineno, n.col_offset, n.end_col_offset, f"super({cls.name}, self)")
        for cls, n in _super_calls(tree)
    ]
    return _apply(source, spans)  # type: ignore[arg-type]


def type_of_self_super(source: str) -> str:
    """``super()`` -> ``super(type(self), self)``."""
    tree = ast.parse(source)
    spans = [
        (n.lineno, n.col_offset, n.end_col_offset, "super(type(self), self)")
        for _, n in _super_calls(tree)
    ]
    return _apply(source, spans)  # type: ignore[arg-type]


def _plain_module_base(cls: ast.ClassDef) -> bool:
    """The class's one base is ``nn.Module`` (so the explicit call is the
    same call as ``super().__init__()``)."""
    return (
        len(cls.bases) == 1
        and isinstance(cls.bases[0], ast.Attribute)
        and ast.unparse(cls.bases[0]) == "nn.Module"
    )


def module_init_call(source: str) -> str:
    """``super().__init__()`` -> ``nn.Module.__init__(self)`` in classes
    whose one base is ``nn.Module``."""
    tree = ast.parse(source)
    spans: list[Span] = []
    for cls, node in _super_calls(tree):
        parent = _parents(tree).get(node)
        call = _parents(tree).get(parent) if parent is not None else None
        if (
            _plain_module_base(cls)
            and isinstance(parent, ast.Attribute)
            and parent.attr == "__init__"
            and isinstance(call, ast.Call)
            and not call.args
            and not call.keywords
            and _one_line(call)
        ):
            spans.append(
                (
                    call.lineno,
                    call.col_offset,
                    call.end_col_offset,
                    "nn.Module.__init__(self)",
                )  # type: ignore[arg-type]
            )
    return _apply(source, spans)


_PARENTS: dict[int, dict[ast.AST, ast.AST]] = {}


def _parents(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    key = id(tree)
    if key not in _PARENTS:
        _PARENTS.clear()
        _PARENTS[key] = {
            child: node
            for node in ast.walk(tree)
            for child in ast.iter_child_nodes(node)
        }
    return _PARENTS[key]


def _norm_calls(tree: ast.Module) -> Iterator[tuple[ast.Call, str, ast.expr]]:
    """One-line norm calls as (call, spelling, tensor): ``torch.norm(x, ...)``
    is ``"function"``, ``x.norm(...)`` is ``"method"``,
    ``torch.linalg.vector_norm(x, ...)`` is ``"linalg"``. Only keyword
    arguments (or none) after the tensor, so every spelling means the same."""
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _one_line(node)
            and not any(
                isinstance(k.value, ast.Starred) or k.arg is None for k in node.keywords
            )
            and all(k.arg in ("dim", "keepdim") for k in node.keywords)
        ):
            continue
        func = ast.unparse(node.func)
        if func == "torch.norm" and len(node.args) == 1:
            yield node, "function", node.args[0]
        elif func == "torch.linalg.vector_norm" and len(node.args) == 1:
            yield node, "linalg", node.args[0]
        elif (
            node.func.attr == "norm"
            and not node.args
            and not (
                isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("torch", "linalg", "F")
            )
        ):
            yield node, "method", node.func.value


def _keywords(call: ast.Call) -> str:
    return "".join(f", {k.arg}={ast.unparse(k.value)}" for k in call.keywords)


def norm_spelling(target: str):
    """Every norm call -> the ``target`` spelling."""

    def rewrite(source: str) -> str:
        tree = ast.parse(source)
        spans: list[Span] = []
        for call, spelling, tensor in _norm_calls(tree):
            if spelling == target:
                continue
            text = ast.unparse(tensor)
            kw = _keywords(call)
            if target == "method":
                new = f"({text}).norm({kw[2:]})"
            elif target == "function":
                new = f"torch.norm({text}{kw})"
            else:
                new = f"torch.linalg.vector_norm({text}{kw})"
            spans.append((call.lineno, call.col_offset, call.end_col_offset, new))  # type: ignore[arg-type]
        return _apply(source, _outermost(spans))

    rewrite.__name__ = f"norm_as_{target}"
    return rewrite


def _outermost(spans: list[Span]) -> list[Span]:
    """Drop spans nested in another on the same line (a norm of a norm)."""
    keep = []
    for span in spans:
        line, start, end, _ = span
        if not any(
            o[0] == line and o[1] <= start and end <= o[2] and o != span for o in spans
        ):
            keep.append(span)
    return keep


_UNSAFE_CONTEXT = (
    ast.Lambda,
    ast.IfExp,
    ast.BoolOp,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def norm_in_local(source: str) -> str:
    """``w = v / v.norm(dim=1)`` -> ``_n0 = v.norm(dim=1); w = v / _n0``:
    the norm is computed into a local on the line of the statement that
    uses it (inside a function, one norm a simple statement)."""
    tree = ast.parse(source)
    parents = _parents(tree)
    spans: list[Span] = []
    used: set[ast.stmt] = set()
    for index, (call, _, _) in enumerate(_norm_calls(tree)):
        node: ast.AST = call
        inside_unsafe = False
        while not isinstance(node, ast.stmt):
            node = parents[node]
            inside_unsafe |= isinstance(node, _UNSAFE_CONTEXT)
        stmt = node
        owner = parents.get(stmt)
        if (
            inside_unsafe
            or stmt in used
            or not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Return, ast.Expr))
            or not isinstance(
                owner,
                (ast.FunctionDef, ast.AsyncFunctionDef, ast.If, ast.For, ast.With),
            )
            or stmt.lineno != call.lineno
        ):
            continue
        used.add(stmt)
        local = f"_norm{index}"
        text = ast.get_source_segment(source, call)
        spans.append((call.lineno, call.col_offset, call.end_col_offset, local))  # type: ignore[arg-type]
        spans.append(
            (stmt.lineno, stmt.col_offset, stmt.col_offset, f"{local} = {text}; ")
        )
    return _apply(source, spans)


def init_data(source: str) -> str:
    """``nn.init.normal_(m.weight)`` -> ``nn.init.normal_(m.weight.data)``:
    the same tensor's storage, a spelling much real init code uses."""
    tree = ast.parse(source)
    spans: list[Span] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and ast.unparse(node.func.value) in ("nn.init", "torch.nn.init", "init")
            and node.args
            and isinstance(node.args[0], ast.Attribute)
            and node.args[0].attr != "data"
            and _one_line(node.args[0])
        ):
            arg = node.args[0]
            end = arg.end_col_offset
            spans.append((arg.end_lineno, end, end, ".data"))  # type: ignore[arg-type]
    return _apply(source, spans)


REWRITES = [
    init_data,
    old_style_super,
    type_of_self_super,
    module_init_call,
    norm_spelling("function"),
    norm_spelling("method"),
    norm_spelling("linalg"),
    norm_in_local,
]


def _findings(source: str, tmp_path, name: str) -> Counter:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    found = Linter(select_rules()).lint_file(str(path))
    return Counter((d.line, d.code) for d in found)


@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda r: r.__name__)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_rewrite_keeps_findings(path, rewrite, tmp_path):
    source = path.read_text(encoding="utf-8")
    rewritten = rewrite(source)
    ast.parse(rewritten)  # the rewrite itself is valid Python
    expected = _findings(source, tmp_path, path.name)
    assert _findings(rewritten, tmp_path, path.name) == expected


@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda r: r.__name__)
def test_rewrite_changes_some_fixture(rewrite):
    """Each rewrite applies somewhere, or the test above proves nothing."""
    changed = [
        p.name
        for p in FILES
        if rewrite(p.read_text(encoding="utf-8")) != p.read_text(encoding="utf-8")
    ]
    assert changed, rewrite.__name__


def test_rewrites_read_as_intended():
    source = (
        "import torch\nimport torch.nn as nn\n\n"
        "class A(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n\n"
        "    def forward(self, v):\n"
        "        w = v / torch.norm(v, dim=1, keepdim=True)\n"
        "        return w * v.norm()\n"
    )
    assert "super(A, self).__init__()" in old_style_super(source)
    assert "super(type(self), self).__init__()" in type_of_self_super(source)
    assert "        nn.Module.__init__(self)\n" in module_init_call(source)
    assert "v / (v).norm(dim=1, keepdim=True)" in norm_spelling("method")(source)
    assert "w * torch.norm(v)" in norm_spelling("function")(source)
    assert "torch.linalg.vector_norm(v, dim=1, keepdim=True)" in norm_spelling(
        "linalg"
    )(source)
    init = "nn.init.normal_(self.conv.weight, 0.0, 0.02)\n"
    assert init_data(init) == "nn.init.normal_(self.conv.weight.data, 0.0, 0.02)\n"
    local = norm_in_local(source)
    assert (
        "        _norm0 = torch.norm(v, dim=1, keepdim=True); w = v / _norm0\n" in local
    )
    assert "        _norm1 = v.norm(); return w * _norm1\n" in local
