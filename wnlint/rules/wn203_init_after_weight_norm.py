from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from wnlint.facts import torchnames as tn
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.calls import WRITE_WORDS, FileSummaries, Normed
from wnlint.facts.definitions import Def
from wnlint.facts.guards import ParamWrite, api_of, reaches
from wnlint.facts.prefilter import INIT_WRITES
from wnlint.facts.resolve import Scope
from wnlint.facts.syntax import is_self, parameter_names, self_root_attr
from wnlint.rules._flow_rules import applied_before
from wnlint.rules._init_repair import Target, repair
from wnlint.rules.base import Finding, LineRef, Rule
from wnlint.rules.fixes import Applicability, LazyFix


class InitAfterWeightNorm(Rule):
    """
    ## What it does
    Flags writes to the weight of a module that weight norm (either API) has
    already wrapped: `nn.init.*_(m.weight)` (or `m.weight.data`, or an init
    looked up by name: `getattr(nn.init, name)(m.weight)`), in-place
    writes such as `m.weight.data.normal_()` or `m.weight.copy_(...)`,
    assignments to `m.weight.data`, and calls of functions that make such a write
    (transformers' `initialization` wrappers included). It follows the code
    the way real models are written, within the file and into sibling
    modules of the same package (`from .utils import init_weights`,
    `from pkg.layers import WNConv1d`) or of a repository run as scripts
    (`from utils import init_weights` finds `utils.py` beside the file, as
    Python does for a script there, else at the project's root, the
    nearest directory above with `pyproject.toml`, `setup.py`, `setup.cfg`
    or `.git`), which are read, never imported:
    - the same function: weight norm, or a helper that returns
      `weight_norm(...)` (or a module it normed in place:
      `weight_norm(conv); return conv`), then the write;
    - `<modules>.apply(init_fn)`, reported at the call, when `init_fn`
      writes `m.weight` and the modules hold weight-normed ones that its type
      test admits (`isinstance(m, nn.Conv1d)`, which a user subclass of
      `nn.Conv1d` passes too, `classname.find("Conv")`; either layer of
      `weight_norm(A(...) if causal else B(...))`):
      containers (`nn.ModuleList`, `nn.Sequential`, `.append`, and a local
      list or `nn.ModuleDict` filled first: `layers += [...]`,
      `model["x"] = ...`), helpers,
      instances of classes that hold them (a subclass holds its parent's
      unless it skips the parent's `__init__`, calling
      `nn.Module.__init__(self)`, or rebinds the attribute to a plain
      layer), and modules weight-normed by an
      earlier `self.apply(fn)` whose `fn` norms what it is handed;
    - a method that writes `self.X.weight` when `__init__` weight-norms
      `self.X` and the method runs after it (called later in `__init__`, or
      afterwards);
    - a hook typed by `isinstance(module, SomeClass)` that writes
      `module.conv.weight` when `SomeClass.__init__` weight-norms `self.conv`:
      every instance is past that point.

    ## Why is this bad?
    After weight norm, `m.weight` is recomputed from `g` and `v` (on every
    forward with the legacy API, on every access with the parametrizations
    API). Writing into it changes a temporary: the next forward recomputes
    the weight and the initialisation has no effect (observed with both
    APIs).

    ## Example
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv1d(16, 16, 3))
    nn.init.kaiming_normal_(conv.weight)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torch.nn.utils.parametrizations import weight_norm

    conv = nn.Conv1d(16, 16, 3)
    nn.init.kaiming_normal_(conv.weight)
    conv = weight_norm(conv)
    ```

    ## Fix safety
    Unsafe: it changes the initial weights, on purpose, to the ones the init
    asks for. Each write becomes a branch on the module it writes, and the
    original statement stays as the last arm, so a function shared by
    weight-normed and plain modules still initialises the plain ones exactly
    as before (same values for the same seed):
    - new API (`parametrize.is_parametrized(m, "weight")`): the init runs on
      a copy of the weight and the copy is assigned to `m.weight`, which
      goes through the parametrization (`g = ||w||`, `v = w`);
    - legacy API (`hasattr(m, "weight_g")`, emitted whenever the legacy API
      may reach the write): the init runs on `m.weight_v` and `m.weight_g`
      is set to its norm over the normed dimension;
    - a zero init sets the magnitude to zero and keeps the direction (a zero
      `v` would make the forward NaN); a scale (`mul_`, `div_`, `*=`,
      `/=`) scales the magnitude.
    When the file's own legacy calls are being migrated in the same run
    (WN301), the repair waits for the migration and writes the new API's
    arm only. An init helper in a sibling module is edited there, when that
    file is part of the run (else the finding stays, with a note naming
    it). Never changed: parameter names, the state_dict's keys, and what a
    checkpoint loaded over the init sets. Declined, with the reason: a
    write whose new value reads the stale weight (`renorm` of it), a write
    made inside a function it calls (transformers' `init.normal_`, which
    may skip a loaded tensor), a write that is part of a larger statement.
    The new API's arm tests `is_parametrized`, so a module parametrized
    otherwise (spectral norm through `parametrizations`) that a shared hook
    also reaches takes it too: its init then goes through that
    parametrization, and a zero init or a scale, which set the magnitude
    `original0`, raise `AttributeError` there.

    ## Known problems
    In one function body, statements are seen in source order; a removal of
    weight norm (or a rebinding of the name) in between ends the effect.
    Not reported: a hook that writes the weight of every `nn.Conv1d` (no
    class test) and reaches a weight-normed one only because a base class
    in another package runs it over every submodule (transformers'
    `PreTrainedModel._init_weights`, hubert); a file that neither applies
    weight norm nor calls `.apply(` is not parsed, so a hook there typed by
    a class that inherits its weight norm from another file is not seen;
    modules built under a condition are treated as built.

    ## References
    - https://pytorch.org/docs/stable/nn.init.html
    """

    code = "WN203"
    name = "init-after-weight-norm"
    severity = "error"
    summary = (
        "`nn.init.*_(m.weight)` or `m.weight.data` writes after weight norm, "
        "also through helpers, `.apply(init_fn)`, later methods, typed hooks and "
        "sibling modules: no effect"
    )
    message = (
        "`{key}.{attr}` is recomputed by weight norm: writing to it has no "
        "effect; initialise before weight norm, or write to g and v"
    )
    messages: ClassVar[Mapping[str, str]] = {
        "apply": (
            "`{init}` writes the weight of the modules `.apply()` hands it, and "
            "`{target}` holds weight-normed ones (weight norm on {where}): the "
            "write has no effect; initialise before weight norm, or write to g "
            "and v"
        ),
        "attribute": (
            "`{target}.weight` is recomputed by weight norm (applied on {where}): "
            "writing to it has no effect; initialise before weight norm, or "
            "write to g and v"
        ),
    }
    fix_title = "Make the init land on the effective weight (through g and v)"
    fix_safety = "unsafe"
    prefilter = INIT_WRITES

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        seen: set[int] = set()
        summaries = analysis.summaries
        for flow in analysis.flows:
            for write in flow.writes:
                app = applied_before(flow, write.key, write.order, write.attr)
                if app is None or not reaches(write.plain, app.api):
                    continue
                seen.add(id(write.node))
                owner: Any = flow.scope.node  # the function or the module
                target = Target(write.node, owner, summaries, {app.api}, flow.scope)
                fix = _fix([target], summaries)
                yield self.finding(write.node, fix=fix, key=write.key, attr=write.attr)
        for node, variant, fields, targets in _followed(analysis, summaries):
            if id(node) not in seen:
                seen.add(id(node))
                fix = _fix(targets, summaries)
                yield self.finding(node, variant, fix, **fields)


def _fix(targets: list[Target], summaries: FileSummaries) -> LazyFix:
    """Each write made to land on the weight (see :mod:`._init_repair`)."""
    return LazyFix(lambda ctx: repair(targets, summaries, ctx), Applicability.UNSAFE)


# -- followed through calls, methods and hooks -------------------------------------


def _followed(
    analysis: FileAnalysis, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    typed: dict[int, ast.AST] = {}
    tests_types: set[int] = set()
    writing: dict[int, ast.ClassDef] = {}
    for site in analysis.calls:
        call: ast.Call = site.node  # type: ignore[assignment]
        yield from _apply_call(call, site.scope, summaries)
        func = _enclosing_function(site.scope)
        is_test = isinstance(call.func, ast.Name) and call.func.id == "isinstance"
        if is_test and func is not None:
            tests_types.add(id(func))
        root = _weight_chain_root(call)
        if root is None:
            continue
        if is_self(root):
            cls = _enclosing_class(site.scope)
            if cls is not None:
                writing[id(cls)] = cls
        elif func is not None and _is_argument(root, func):
            typed[id(func)] = func
    # Only classes that touch `self.X.weight` in a call can write it there.
    for cls in writing.values():
        yield from _method_writes(cls, summaries)
    # A hook both tests types and touches `<module>.X.weight`.
    for key, func in typed.items():
        if key in tests_types:
            yield from _typed_hook(func, summaries)  # type: ignore[arg-type]


def _is_argument(name: ast.expr, func: ast.AST) -> bool:
    """``name`` is a parameter of ``func``: what a hook is handed."""
    if not isinstance(name, ast.Name) or not hasattr(func, "args"):
        return False
    return name.id in parameter_names(func)  # type: ignore[arg-type]


def _weight_chain_root(call: ast.Call) -> ast.expr | None:
    """The root of ``<root>.X.weight...`` when it is the callee's receiver
    or an argument: the calls that may write a submodule's weight."""
    for expr in (call.func, *call.args):
        chain = []
        while isinstance(expr, (ast.Attribute, ast.Subscript)):
            if isinstance(expr, ast.Attribute):
                chain.append(expr.attr)
            expr = expr.value
        if (
            isinstance(expr, ast.Name)
            and len(chain) >= 2
            and tn.DEFAULT_WEIGHT_NAME in chain
        ):
            return expr
    return None


def _where(normed: Normed, here: str | None) -> LineRef | str:
    """``line N`` of this file (a :class:`LineRef`, which a notebook counts
    in its cells); ``line N of other.py`` in a sibling module."""
    if normed.path is None or normed.path == here:
        return LineRef(normed.line)
    return f"line {normed.line} of {os.path.basename(normed.path)}"


def _method_writes(
    cls: ast.ClassDef, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """``self.X.weight`` written by a method of a class whose ``__init__``
    weight-norms ``self.X``, at a point that runs after it."""
    methods = [
        (m, w)
        for m in cls.body
        if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
        for w in summaries.param_writes(m)
        if _self_weight(w) is not None
    ]
    if not methods:
        return
    normed = summaries.class_normed(cls)
    if not normed:
        return
    trace = summaries.init_trace(cls)
    order_of = {id(stmt): i for i, (stmt, _) in enumerate(trace)}
    in_init = {id(func) for _, func in trace}
    for method, write in methods:
        attr = _self_weight(write)
        if attr is None or attr not in normed:
            continue
        since, found = normed[attr]
        if not any(write.reaches(api_of(n.api)) for n in found):
            continue
        if id(method) in in_init:
            order = _order_of(write.node, method, order_of)
            if order is None or order <= since:
                continue
        fields = {
            "target": f"self.{attr}",
            "where": _where(found[0], summaries.path),
        }
        apis = {api_of(n.api) for n in found}
        yield (
            write.node,
            "attribute",
            fields,
            [Target(write.node, method, summaries, apis)],
        )


def _self_weight(write: ParamWrite) -> str | None:
    """``X`` for a write of ``self.X.weight``."""
    if (
        write.index == 0
        and len(write.path) == 2
        and write.path[1] == tn.DEFAULT_WEIGHT_NAME
    ):
        return write.path[0]
    return None


def _order_of(node: ast.AST, method: ast.AST, order_of: dict[int, int]) -> int | None:
    """Position in the ``__init__`` trace of the statement holding ``node``."""
    best = None
    for stmt in ast.walk(method):
        if isinstance(stmt, ast.stmt) and id(stmt) in order_of and _holds(stmt, node):
            order = order_of[id(stmt)]
            best = order if best is None else max(best, order)
    return best


def _holds(outer: ast.AST, inner: ast.AST) -> bool:
    return any(n is inner for n in ast.walk(outer))


def _apply_call(
    call: ast.Call, scope: Scope, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """``<modules>.apply(init_fn)`` where ``init_fn`` writes ``m.weight``
    and the modules hold weight-normed ones it admits."""
    func = call.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "apply"
        and len(call.args) == 1
        and not call.keywords
    ):
        return
    writes, init_fn, file = _init_fn_writes(call.args[0], scope, summaries)
    if not writes:
        return
    reached: dict[int, Target] = {}
    first: Normed | None = None
    for normed in _modules_of(func.value, call, scope, summaries):
        api = api_of(normed.api)
        for w in writes:
            if w.admits(normed.layer, normed.kinds) and w.reaches(api):
                first = first or normed
                target = reached.setdefault(id(w.node), Target(w.node, init_fn, file))
                target.apis.add(api)
    if first is not None:
        fields = {
            "init": ast.unparse(call.args[0]),
            "target": ast.unparse(func.value),
            "where": _where(first, summaries.path),
        }
        yield call, "apply", fields, list(reached.values())


def _init_fn_writes(
    expr: ast.expr, scope: Scope, summaries: FileSummaries
) -> tuple[list[ParamWrite], Any, FileSummaries]:
    """The writes of ``m.weight`` an ``apply`` callback makes on its module:
    the first parameter of a function, the second of a method of the class
    (``self.apply(self._init_weights)``)."""
    if isinstance(expr, ast.Attribute) and is_self(expr.value):
        cls = _enclosing_class(scope)
        func: Def | None = _method(cls, expr.attr) if cls is not None else None
        file, index = summaries, 1
    elif isinstance(expr, (ast.Name, ast.Attribute)):
        found = summaries.definition(expr, scope, WRITE_WORDS)
        func = found.node if found is not None else None
        file, index = (found.file if found is not None else summaries), 0
    else:
        return [], None, summaries
    if func is None or isinstance(func, ast.ClassDef):
        return [], None, summaries
    writes = [
        w
        for w in file.param_writes(func)
        if w.index == index and w.path == (tn.DEFAULT_WEIGHT_NAME,)
    ]
    return writes, func, file


def _enclosing_class(scope: Scope) -> ast.ClassDef | None:
    found = scope.enclosing("class")
    return found.node if found is not None else None  # type: ignore[return-value]


def _enclosing_function(scope: Scope) -> ast.AST | None:
    found = scope.enclosing("function")
    return found.node if found is not None else None


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == name:
            return item
    return None


def _modules_of(
    receiver: ast.expr, call: ast.Call, scope: Scope, summaries: FileSummaries
) -> list[Normed]:
    """The weight-normed modules ``receiver`` holds when ``call`` runs."""
    func = _enclosing_function(scope)
    cls = _enclosing_class(scope)
    if cls is not None and (is_self(receiver) or self_root_attr(receiver)):
        normed = summaries.class_normed(cls)
        trace = summaries.init_trace(cls)
        order = None
        if func is not None and any(f is func for _, f in trace):
            order = _order_of(call, func, {id(s): i for i, (s, _) in enumerate(trace)})
        attr = self_root_attr(receiver)
        chosen = [normed[key] for key in (attr, "*") if key in normed]
        if is_self(receiver):
            chosen = list(normed.values())
        return [
            n
            for since, found in chosen
            if order is None or since < order
            for n in found
        ]
    if isinstance(receiver, ast.Name) and func is not None:
        return summaries.normed(receiver, scope, func)
    return []


def _tests_a_normed_class(func: ast.AST, summaries: FileSummaries) -> bool:
    """``func`` calls ``isinstance(x, C)`` for a class ``C`` (here or in a
    sibling module) that weight-norms one of its submodules."""
    scope = summaries.scope_of(func)
    for node in ast.walk(func):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
        ):
            continue
        kinds = node.args[1]
        for kind in kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]:
            key = summaries.type_key(kind, scope)
            found = summaries.class_for(key, scope) if key else None
            if found is not None and found.file.class_normed(found.node):
                return True
    return False


def _typed_hook(
    func: ast.FunctionDef | ast.AsyncFunctionDef, summaries: FileSummaries
) -> Iterator[tuple[ast.AST, str, dict[str, Any], list[Target]]]:
    """``if isinstance(module, C): init(module.conv.weight)`` where ``C``'s
    ``__init__`` weight-norms ``self.conv``: every instance is past it."""
    if not _tests_a_normed_class(func, summaries):
        return  # the writes matter only under such a test
    for write in summaries.param_writes(func):
        if len(write.path) != 2 or write.path[1] != tn.DEFAULT_WEIGHT_NAME:
            continue
        for guard in write.guards:
            if guard.param != write.index or not guard.positive:
                continue
            for key in guard.types:
                found = summaries.class_for(key, summaries.scope_of(func))
                if found is None:
                    continue
                normed = found.file.class_normed(found.node)
                if write.path[0] in normed:
                    _, modules = normed[write.path[0]]
                    apis = {api_of(n.api) for n in modules}
                    if not any(write.reaches(api) for api in apis):
                        continue
                    fields = {
                        "target": f"{write.name}.{write.path[0]}",
                        "where": _where(modules[0], summaries.path),
                    }
                    target = Target(write.node, func, summaries, apis)
                    yield write.node, "attribute", fields, [target]
                    break
