"""The package's imports go one way: no module imports, at any depth, one
that imports it back, counting imports inside functions (a deferred
import is still a dependency) and those under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast

from conftest import ROOT

PACKAGE = ROOT / "wnlint"


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path, name: str, known: set[str]) -> set[str]:
    """The package modules ``path`` imports anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, name, known) for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_graph_is_read():
    graph = _graph()
    assert "wnlint.engine.diagnostics" in graph["wnlint.engine.linter"]
    assert "wnlint.rules.base" in graph["wnlint.rules.wn301_legacy_weight_norm"]


def test_no_import_cycle():
    assert _cycle(_graph()) is None


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


#: The layers, bottom first: a module imports only from its own layer and
#: the layers below it. The top-level modules are the entry points other
#: tools name (``python -m wnlint``, the flake8 plugin, libcst's codemod).
LAYERS = ("facts", "rules", "engine", "fixing", "cli")


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return len(LAYERS)  # `wnlint`, an entry point: above every layer
    return LAYERS.index(parts[1])


def test_imports_only_go_down_the_layers():
    upward = sorted(
        (name, dep)
        for name, deps in _graph().items()
        for dep in deps
        if _layer(dep) > _layer(name) and dep != "wnlint"
    )
    assert upward == []


def test_every_module_sits_in_a_layer_or_is_an_entry_point():
    loose = {
        name
        for name in _graph()
        if _layer(name) == len(LAYERS) and name.count(".") == 1
    }
    assert loose == {"wnlint.__main__", "wnlint.codemod", "wnlint.flake8_plugin"}


def test_a_module_over_its_layer_is_caught():
    assert _layer("wnlint.facts.events") < _layer("wnlint.rules.base")
    assert _layer("wnlint.cli.main") > _layer("wnlint.fixing.fixer")


#: A module a reader can hold in mind: past this, it holds two jobs.
MAX_MODULE_LINES = 500


def test_no_module_is_over_the_size_a_reader_holds_in_mind():
    long = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
