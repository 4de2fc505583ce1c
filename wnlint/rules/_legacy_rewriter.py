"""The migration's libcst transformer: the one implementation of what the
WN301/WN302 rewrite does to a legacy call, a legacy reference and a
``weight_g``/``weight_v`` read, and the imports it asks for.

:mod:`wnlint.rules._legacy_migration` runs it over the whole module or, by
statements, through :mod:`wnlint.rules._legacy_statements`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from wnlint.facts import torchnames as tn
from wnlint.facts.syntax import all_nodes, char_col
from wnlint.rules._legacy_imports import splice
from wnlint.rules.fixes import Source

#: ``match`` patterns (Python 3.10+; nothing matches before).
_PATTERN: Any = getattr(ast, "pattern", ())


@dataclass(frozen=True)
class Target:
    code: str
    kind: str  # "call" or "ref"
    line: int
    col: int  # characters, 0-based


def target_of(code: str, node: ast.expr, src: Source) -> Target:
    line = node.lineno
    col = char_col(src.line_text(line), node.col_offset)
    return Target(code, "call" if isinstance(node, ast.Call) else "ref", line, col)


_ALIASES = "wnlint.aliases"
_REEXPORTED = "wnlint.reexported"

#: The package a relative import is resolved in for libcst's import
#: visitors: a made-up one, deep enough for any relative import's dots.
_PACKAGE = ".".join(f"_wnlint{i}" for i in range(8))


#: A name imported from a module of the project: the module as libcst's
#: import visitors name it, the name there, and whether it is relative.
Reexport = tuple[str, str, bool]


def new_context(
    aliases: dict[str, str] | None, imported: dict[str, Reexport] | None = None
) -> CodemodContext:
    """A codemod context that carries the names the inserted imports use,
    and the names the file imports from its own project's modules."""
    imported = dict(imported or {})
    if any(relative for _, _, relative in imported.values()):
        context = CodemodContext(
            full_module_name=f"{_PACKAGE}._wnlint_module", full_package_name=_PACKAGE
        )
    else:
        context = CodemodContext()
    context.scratch[_ALIASES] = dict(aliases or {})
    context.scratch[_REEXPORTED] = imported
    return context


def project_imports(tree: ast.Module) -> dict[str, Reexport]:
    """The names the module's top level imports from modules other than
    torch's (``from .layers import weight_norm``): a legacy function
    re-exported by the project, whose import the migration drops once its
    calls use the new API (the exporting module no longer binds it)."""
    out: dict[str, Reexport] = {}
    depth = _PACKAGE.count(".") + 1
    for stmt in tree.body:
        if not isinstance(stmt, ast.ImportFrom) or stmt.level > depth:
            continue
        module = stmt.module or ""
        if module == "torch" or module.startswith("torch."):
            continue
        if stmt.level:
            base = _PACKAGE.split(".")[: depth - (stmt.level - 1)]
            module = ".".join([*base, *([module] if module else [])])
        for alias in stmt.names:
            if alias.name != "*":
                out[alias.asname or alias.name] = (module, alias.name, stmt.level > 0)
    return out


def aliases(context: CodemodContext) -> dict[str, str]:
    return context.scratch.get(_ALIASES, {})


def add_import(context: CodemodContext, submodule: str) -> str:
    """Ask for ``from torch.nn.utils import <submodule>`` (under its alias
    where the name is taken); the name the rewritten code uses."""
    alias = aliases(context).get(submodule)
    # The visitor merges repeated plain requests, not aliased ones.
    asked = context.scratch.get(AddImportsVisitor.CONTEXT_KEY, [])
    if alias is None or all(
        (request.module_name, request.obj_name, request.alias)
        != (tn.UTILS, submodule, alias)
        for request in asked
    ):
        AddImportsVisitor.add_needed_import(context, tn.UTILS, submodule, alias)
    return alias or submodule


def free_names(tree: ast.Module) -> dict[str, str]:
    """An alias for each submodule the migration imports whose plain name
    (``parametrizations``, ``parametrize``) the file binds or reads as
    anything but that submodule: a parameter, a local, a function, a read
    of a name the file does not import from ``torch.nn.utils``. Without it
    the rewritten ``parametrizations.weight_norm(...)`` would call an
    attribute of the user's value."""
    wanted = {"parametrizations", "parametrize"}
    taken: set[str] = set()
    clash: set[str] = set()
    right: set[str] = set()  # bound by an import of the submodule itself
    reads: set[str] = set()
    for node in all_nodes(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            reads.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for imported in node.names:
                bound = imported.asname or imported.name.split(".")[0]
                taken.add(bound)
                if bound in wanted:
                    ok = _imports_submodule(node, imported, bound)
                    (right if ok else clash).add(bound)
        else:
            names = _bound_names(node)
            taken.update(names)
            clash.update(wanted.intersection(names))
    # A read is the submodule where the file imports it so, else the
    # file's own value (a star import, a builtin of the user's).
    taken |= reads
    clash.update(wanted.intersection(reads) - right)
    out = {}
    for submodule in sorted(clash):
        alias = f"torch_{submodule}"
        n = 2
        while alias in taken:
            alias = f"torch_{submodule}_{n}"
            n += 1
        taken.add(alias)
        out[submodule] = alias
    return out


def _bound_names(node: ast.AST) -> list[str]:
    """The names a node other than an import binds (a stored ``Name``, a
    parameter, a definition, ``global``, ``except ... as``, a pattern)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return list(node.names)
    if isinstance(node, ast.ExceptHandler):
        return [node.name] if node.name else []
    if isinstance(node, _PATTERN):
        return [
            value
            for field in ("name", "rest")
            if isinstance(value := getattr(node, field, None), str)
        ]
    return []


def _imports_submodule(
    node: ast.Import | ast.ImportFrom, alias: ast.alias, bound: str
) -> bool:
    """The import binds ``bound`` to ``torch.nn.utils.<bound>`` itself."""
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and node.module == tn.UTILS and alias.name == bound
    return alias.asname == bound and alias.name == f"{tn.UTILS}.{bound}"


#: A legacy site as the rewriter finds it: its finding's target and node.
Site = tuple[Target, ast.expr]


class Marked:
    """Text handed to libcst with the name token of each legacy site (a
    call's callee, or a reference) replaced by a sentinel name: the
    rewriter finds its sites by name, with no position metadata (which
    libcst computes by rendering every node it parsed)."""

    def __init__(self, prefix: str) -> None:
        #: Sentinel -> (the site's target, the name it replaced).
        self.sites: dict[str, tuple[Target, str]] = {}
        self.prefix = prefix

    @staticmethod
    def prefix_for(text: str) -> str:
        """A sentinel prefix the text does not hold."""
        n = 0
        while f"__wnlint{n}_" in text:
            n += 1
        return f"__wnlint{n}_"

    def mark(self, src: Source, start: int, end: int, sites: list[Site]) -> str | None:
        """``src.text[start:end]`` with each site's name token replaced; None
        where a token is not spelled as ``ast`` names it (an NFKC variant)."""
        edits = []
        for target, node in sites:
            name = node.func if isinstance(node, ast.Call) else node
            if isinstance(name, ast.Name):
                word = name.id
                at = src.start(name)
            elif isinstance(name, ast.Attribute):
                word = name.attr
                at = src.end(name) - len(word)
            else:
                return None
            if src.text[at : at + len(word)] != word or not start <= at < end:
                return None
            sentinel = f"{self.prefix}{len(self.sites)}"
            self.sites[sentinel] = (target, word)
            edits.append((at - start, at - start + len(word), sentinel))
        return splice(src.text[start:end], sorted(edits))


class Rewriter(cst.CSTTransformer):
    """Rewrites the sites of a :class:`Marked` text, and every
    ``weight_g``/``weight_v`` read."""

    def __init__(self, marked: Marked, context: CodemodContext) -> None:
        super().__init__()
        self.marked = marked
        self.context = context
        self.rewritten = 0
        #: The names that are an attribute's ``attr``: a sentinel there
        #: marks the attribute, which :meth:`leave_Attribute` rewrites.
        self._attrs: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self._attrs.add(id(node.attr))
        return True

    def _site(self, func: cst.BaseExpression, kind: str) -> tuple[Target, str] | None:
        """The site whose sentinel names ``func``, when it is of ``kind``."""
        if isinstance(func, cst.Name):
            found = self.marked.sites.get(func.value)
        elif isinstance(func, cst.Attribute):
            found = self.marked.sites.get(func.attr.value)
        else:
            return None
        return found if found is not None and found[0].kind == kind else None

    def _spell(
        self, func: cst.BaseExpression, new: str, submodule: str
    ) -> cst.BaseExpression:
        """The new API at the spot of ``func``: ``nn.utils.X`` keeps its prefix."""
        if isinstance(func, cst.Attribute):
            return cst.Attribute(
                value=cst.Attribute(value=func.value, attr=cst.Name(submodule)),
                attr=cst.Name(new),
            )
        name = add_import(self.context, submodule)
        return cst.Attribute(value=cst.Name(name), attr=cst.Name(new))

    def _drop_legacy_import(
        self, func: cst.BaseExpression, spelled: str, legacy: str
    ) -> None:
        if not isinstance(func, cst.Name):
            return
        reexported = self.context.scratch.get(_REEXPORTED, {}).get(spelled)
        if reexported is not None:
            module, name, _ = reexported
            asname = spelled if spelled != name else None
            RemoveImportsVisitor.remove_unused_import(
                self.context, module, name, asname
            )
        else:
            asname = spelled if spelled != legacy else None
            RemoveImportsVisitor.remove_unused_import(
                self.context, tn.UTILS, legacy, asname
            )

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        found = self._site(original.func, "call")
        if found is None:
            return updated
        target, spelled = found
        self.rewritten += 1
        if target.code == "WN301":
            self._drop_legacy_import(original.func, spelled, "weight_norm")
            return updated.with_changes(
                func=self._spell(updated.func, "weight_norm", "parametrizations")
            )
        # remove_weight_norm(module, name="weight")
        #   -> parametrize.remove_parametrizations(module, name)
        self._drop_legacy_import(original.func, spelled, "remove_weight_norm")
        positional = [a for a in updated.args if a.keyword is None]
        by_name = {a.keyword.value: a for a in updated.args if a.keyword is not None}
        module_arg = positional[0] if positional else by_name["module"]
        name_arg = positional[1] if len(positional) > 1 else by_name.get("name")
        name = name_arg.value if name_arg is not None else cst.SimpleString('"weight"')
        return updated.with_changes(
            func=self._spell(updated.func, "remove_parametrizations", "parametrize"),
            args=[
                cst.Arg(
                    value=module_arg.value,
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                ),
                cst.Arg(value=name),
            ],
        )

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        found = None if id(original) in self._attrs else self._site(original, "ref")
        if found is None:
            return updated
        self.rewritten += 1
        self._drop_legacy_import(original, found[1], "weight_norm")
        return self._spell(updated, "weight_norm", "parametrizations")

    def leave_Attribute(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        if original.attr.value in tn.LEGACY_TO_PARAMETRIZED:
            # m.weight_g -> m.parametrizations.weight.original0
            return updated.with_changes(
                value=cst.Attribute(
                    value=cst.Attribute(
                        value=updated.value, attr=cst.Name("parametrizations")
                    ),
                    attr=cst.Name("weight"),
                ),
                attr=cst.Name(tn.LEGACY_TO_PARAMETRIZED[original.attr.value]),
            )
        if self._site(original, "ref") is None:
            return updated
        self.rewritten += 1
        return self._spell(updated, "weight_norm", "parametrizations")
