"""WN203's repair: an init written after weight norm lands on the weight.

Each write statement becomes a branch on the module it writes, so that a
function shared by weight-normed and plain modules (an ``.apply`` hook)
still initialises the plain ones exactly as before (the original statement,
in the last arm) and reaches the normed ones through their own tensors:

* the parametrizations API: assigning ``m.weight`` goes through the
  parametrization's ``right_inverse`` (``g = ||w||``, ``v = w``), so the
  init runs on a copy of the weight and the copy is assigned;
* the legacy API: the init runs on the direction ``m.weight_v`` and the
  magnitude ``m.weight_g`` is set to its norm over the normed dimension
  (the dimension ``weight_g`` keeps; -1, the whole tensor, when none);
* a zero init sets the magnitude to zero and keeps the direction (through
  ``right_inverse`` it would make ``v = 0`` and the forward NaN); a
  relative scale (``mul_``, ``div_``, ``*=``, ``/=``) scales the magnitude.

The arms are recognised by :func:`wnlint.facts.guards.weight_norm_test`, so
the repaired code is not reported again. A write that cannot be repaired
honestly (one that reads back the stale weight, a slice, a call whose
result is used, a write made inside a helper it calls) is declined with
the reason.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from wnlint.facts import torchnames as tn
from wnlint.facts.calls import FileSummaries
from wnlint.facts.events import LEGACY, NEW, is_init_function, looked_up_init
from wnlint.facts.resolve import Scope, module_spelling
from wnlint.facts.siblings import file_text
from wnlint.facts.sources import encoding_of
from wnlint.facts.syntax import shape, walk
from wnlint.rules._edits import statement_of
from wnlint.rules.fixes import (
    Applicability,
    Declined,
    Edit,
    Fix,
    FixContext,
    Source,
    span_of,
)

#: In-place methods that set every element whatever it held: the init runs
#: on a copy of the weight (or on ``weight_v``) the same way.
ABSOLUTE = frozenset(
    {
        "normal_",
        "uniform_",
        "fill_",
        "zero_",
        "copy_",
        "random_",
        "bernoulli_",
        "exponential_",
        "log_normal_",
        "cauchy_",
        "geometric_",
        "orthogonal_",
    }
)

#: In-place methods that scale the weight: the scale goes to the magnitude.
SCALES = frozenset({"mul_", "div_"})

_ZERO_INITS = frozenset({"zeros_"})


class Write:
    """One repairable write statement, read from its ``ast``."""

    def __init__(self, stmt: ast.stmt, module: ast.expr, kind: str, text: dict):
        self.stmt = stmt
        #: The module whose weight is written (``m``, ``self.conv``).
        self.module = module
        #: "init" (``nn.init.f_(w, ...)``), "method" (``w.normal_(...)``),
        #: "value" (``w.data = e``), "scale" or "zero".
        self.kind = kind
        #: Source texts of the parts the branches are built from.
        self.text = text


def read_write(
    node: ast.AST, stmt: ast.stmt | None, scope: Scope, source: Source
) -> Write | Declined:
    """The write ``node`` makes (its statement ``stmt``), as something the
    branches can be built from, or why it cannot be repaired."""
    if stmt is None:
        return Declined("the write is not a statement of its own")
    if isinstance(node, ast.Call):
        if not (isinstance(stmt, ast.Expr) and stmt.value is node):
            return Declined("the write's result is used: the statement would change")
        return _read_call(node, stmt, scope, source)
    if isinstance(node, ast.AugAssign) and node is stmt:
        tensor = _weight_of(node.target, data_only=True)
        if tensor is None:
            return Declined("the write is not to a module's weight")
        if not isinstance(node.op, (ast.Mult, ast.Div)):
            return Declined("the write reads the stale weight (not a scale)")
        method = "mul_" if isinstance(node.op, ast.Mult) else "div_"
        factor = source.segment(node.value)
        return Write(stmt, tensor.value, "scale", {"method": method, "args": factor})
    if isinstance(node, ast.Assign) and node is stmt and len(node.targets) == 1:
        tensor = _weight_of(node.targets[0], data_only=True)
        if tensor is None:
            return Declined("the write is not to a module's weight")
        if _reads_weight(node.value, tensor):
            return Declined("the new value is computed from the stale weight")
        return Write(stmt, tensor.value, "value", {"value": source.segment(node.value)})
    return Declined("the write is not one wnlint can rewrite")


class _Unread(Source):
    """A file's text where only :func:`read_write`'s decision is wanted:
    every part reads as empty (the decision never looks at the text)."""

    def __init__(self) -> None:
        super().__init__("")

    def segment(self, node: ast.AST) -> str:
        return ""


def declines(target: Target) -> bool:
    """Whether the repair of ``target`` declines whatever the file's text
    says: :func:`read_write`'s decision, read off the tree (a write inside a
    function other than torch's init functions and in-place methods, by an
    init looked up at run time, part of a larger statement, or computing the
    new value from the stale weight). ``check`` counts such a finding as
    having no fix; ``fix`` still builds it, to say why."""
    scope = target.scope or target.file.scopes.get(id(target.owner))
    if scope is None:
        return False
    stmt = statement_of(target.owner, target.node)
    return isinstance(read_write(target.node, stmt, scope, _Unread()), Declined)


def _read_call(
    call: ast.Call, stmt: ast.stmt, scope: Scope, source: Source
) -> Write | Declined:
    func = call.func
    if call.args and is_init_function(func, scope):
        tensor = _weight_of(call.args[0])
        if tensor is None:
            return Declined("the init does not write a module's weight")
        rest = [source.segment(a) for a in call.args[1:]]
        rest += [source.segment(k) for k in call.keywords]
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in _ZERO_INITS or (name == "constant_" and _is_zero(call, 1, "val")):
            return Write(stmt, tensor.value, "zero", {})
        text = {"func": source.segment(func), "rest": rest}
        return Write(stmt, tensor.value, "init", text)
    if call.args and looked_up_init(func, scope):
        return Declined(
            f"the init function is looked up at run time (`{source.segment(func)}`):"
            " which one runs, a zero init among them, is not known here"
        )
    tensor = _weight_of(func.value) if isinstance(func, ast.Attribute) else None
    if tensor is None or not isinstance(func, ast.Attribute):
        return Declined(
            f"the weight is written inside `{source.segment(func)}`, which may "
            "skip it (only torch's init functions and in-place methods are "
            "rewritten)"
        )
    method = func.attr
    if method == "zero_" or (
        method in ("fill_", "mul_") and _is_zero(call, 0, "value")
    ):
        return Write(stmt, tensor.value, "zero", {})
    args = ", ".join(source.segment(a) for a in [*call.args, *call.keywords])
    if method in SCALES and len(call.args) == 1 and not call.keywords:
        return Write(stmt, tensor.value, "scale", {"method": method, "args": args})
    if method not in ABSOLUTE:
        return Declined(f"`{method}` reads the stale weight it writes")
    if any(_reads_weight(a, tensor) for a in [*call.args, *call.keywords]):
        return Declined("the new value is computed from the stale weight")
    return Write(stmt, tensor.value, "method", {"method": method, "args": args})


def _weight_of(expr: ast.expr, data_only: bool = False) -> ast.Attribute | None:
    """``m.weight`` for ``m.weight`` or ``m.weight.data`` (only the latter
    with ``data_only``), where ``m`` is plain to evaluate again."""
    if isinstance(expr, ast.Attribute) and expr.attr in tn.DETACH_ATTRS:
        expr = expr.value
    elif data_only:
        return None
    if (
        isinstance(expr, ast.Attribute)
        and expr.attr == tn.DEFAULT_WEIGHT_NAME
        and _plain_expr(expr.value)
    ):
        return expr
    return None


def _plain_expr(expr: ast.expr) -> bool:
    """Names, attributes and constant or name subscripts: evaluating them
    again in another arm has no effect of its own."""
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        if isinstance(expr, ast.Subscript) and not isinstance(
            expr.slice, (ast.Constant, ast.Name)
        ):
            return False
        expr = expr.value
    return isinstance(expr, ast.Name)


def _reads_weight(expr: ast.AST, tensor: ast.Attribute) -> bool:
    """``expr`` reads the weight it is meant to replace."""
    # `shape`, not `ast.dump`: check asks too, and a dump leaves a cycle.
    target = shape(tensor)
    return any(isinstance(n, ast.Attribute) and shape(n) == target for n in walk(expr))


def _is_zero(call: ast.Call, index: int, keyword: str) -> bool:
    arg = call.args[index] if len(call.args) > index else None
    for k in call.keywords:
        if k.arg == keyword:
            arg = k.value
    return (
        isinstance(arg, ast.Constant)
        and type(arg.value) in (int, float)
        and arg.value == 0
    )


# -- the branches ------------------------------------------------------------


def branches(
    write: Write, apis: Iterable[str], source: Source, torch_name: str | None
) -> Edit | Declined:
    """The edit replacing ``write``'s statement with one arm per weight-norm
    API in ``apis`` and the original statement for plain modules.
    ``torch_name`` is what the file binds ``torch`` to (None: nothing)."""
    stmt = write.stmt
    if not source.owns_lines(stmt):
        return Declined("the write shares its line with other code")
    if _spans_string(stmt):
        return Declined("the write holds a string over several lines")
    apis = sorted(set(apis), key=[NEW, LEGACY].index)
    m = source.segment(write.module)
    indent = source.indent(stmt)
    unit = "\t" if "\t" in indent else "    "
    nl = source.newline
    lines: list[str] = []
    for api in apis:
        keyword = "if" if not lines else "elif"
        lines.append(f"{indent}{keyword} {_test(api, m, torch_name)}:")
        arm = _new_arm(write, m) if api == NEW else _legacy_arm(write, m, torch_name)
        lines.extend(f"{indent}{unit}{line}" for line in arm)
    lines.append(f"{indent}else:")
    first = source.starts[stmt.lineno - 1]
    end = source.line_end(stmt.end_lineno)  # type: ignore[arg-type]
    original = source.lines[stmt.lineno - 1 : stmt.end_lineno]
    for i, line in enumerate(original):
        line = line.rstrip("\r\n")
        line = line.lstrip("\f") if i == 0 else line  # Python ignores those
        lines.append(f"{unit}{line}" if line.strip() else line)
    text = nl.join(lines) + nl
    return Edit(first, end, text, span_of(stmt), whole_lines=True)


def _test(api: str, m: str, torch_name: str | None) -> str:
    if api == LEGACY:
        return f'hasattr({m}, "weight_g")'
    if torch_name is not None:
        return f'{torch_name}.nn.utils.parametrize.is_parametrized({m}, "weight")'
    return f'"weight" in getattr({m}, "parametrizations", ())'


def _new_arm(write: Write, m: str) -> list[str]:
    """Through ``right_inverse``; the magnitude for a zero or a scale."""
    t = write.text
    magnitude = f"{m}.parametrizations.weight.original0.data"
    copy = f"{m}.weight.detach().clone()"
    if write.kind == "zero":
        return [f"{magnitude}.zero_()"]
    if write.kind == "scale":
        return [f"{magnitude}.{t['method']}({t['args']})"]
    if write.kind == "init":
        return [f"{m}.weight = {t['func']}({', '.join([copy, *t['rest']])})"]
    if write.kind == "method":
        return [f"{m}.weight = {copy}.{t['method']}({t['args']})"]
    return [f"{m}.weight = {t['value']}"]


def _legacy_arm(write: Write, m: str, torch_name: str | None) -> list[str]:
    """The direction takes the init and the magnitude its norm."""
    t = write.text
    v, g = f"{m}.weight_v.data", f"{m}.weight_g.data"
    if write.kind == "zero":
        return [f"{g}.zero_()"]
    if write.kind == "scale":
        return [f"{g}.{t['method']}({t['args']})"]
    if write.kind == "init":
        first = f"{t['func']}({', '.join([v, *t['rest']])})"
    elif write.kind == "method":
        first = f"{v}.{t['method']}({t['args']})"
    else:
        first = f"{v}.copy_({t['value']})"
    dim = f"next((d for d, n in enumerate({m}.weight_g.shape) if n != 1), -1)"
    return [first, f"{g}.copy_({torch_name}.norm_except_dim({v}, 2, {dim}))"]


def _spans_string(stmt: ast.stmt) -> bool:
    return any(
        isinstance(n, ast.Constant)
        and isinstance(n.value, (str, bytes))
        and n.lineno != n.end_lineno
        for n in walk(stmt)
    )


# -- the fix of a finding ----------------------------------------------------


@dataclass
class Target:
    """A write a finding repairs: its node, the function (or module) that
    holds it, the file's summaries, and the APIs that may have normed the
    module it reaches (None: not known which)."""

    node: ast.AST
    owner: ast.AST
    file: FileSummaries
    apis: set[str | None] = field(default_factory=set)
    #: The owner's scope, when the summaries do not keep it (the module's).
    scope: Scope | None = None


def repair(
    targets: list[Target], here: FileSummaries, ctx: FixContext
) -> Fix | Declined | None:
    """The edits of every write in ``targets`` (one function's, in this file
    or a sibling module), or why they cannot be made."""
    if not targets:
        return None
    file = targets[0].file
    apis: set[str] = set()
    for target in targets:
        for api in target.apis:
            # A legacy module may be migrated in this run, here or in the
            # file that norms it: the arm of the new API goes with it.
            apis |= {NEW} if api == NEW else {NEW, LEGACY}
    if file is here and LEGACY in apis and _migrates(ctx):
        return None  # the migration goes first; then the new API's arm
    source = ctx.source if file is here else _sibling_source(file)
    if not isinstance(source, Source):
        return source
    elsewhere = None if file is here else file.path
    edits: dict[int, Edit] = {}
    for target in targets:
        made = _edits(target, apis, source)
        if not isinstance(made, list):
            return _where(made, elsewhere, target.node) if made else None
        edits.update((e.start, e) for e in made)
    ordered = tuple(edits[k] for k in sorted(edits))
    base = source.text if elsewhere else None
    return Fix(Applicability.UNSAFE, ordered, path=elsewhere, base=base)


def _sibling_source(file: FileSummaries) -> Source | Declined | None:
    """The text of a sibling module, as its summaries read it."""
    if file.path is None:
        return None
    data = file_text(file.path)
    try:
        return Source(data.decode(encoding_of(data)))
    except (SyntaxError, UnicodeError, LookupError):
        return Declined(f"cannot read {os.path.basename(file.path)}")


def _edits(
    target: Target, apis: set[str], source: Source
) -> list[Edit] | Declined | None:
    """The edits that repair one write (and import torch where the legacy
    arm needs it and the file does not)."""
    scope = target.scope or target.file.scope_of(target.owner)
    stmt = statement_of(target.owner, target.node)
    found = read_write(target.node, stmt, scope, source)
    module = scope.module.node
    if isinstance(found, Declined) or not isinstance(module, ast.Module):
        return found if isinstance(found, Declined) else None
    out: list[Edit] = []
    # `torch` itself, else a module-level name bound to it alone (`th`).
    torch = module_spelling(scope, {"torch": ""}, prefer="torch")
    if torch is None and LEGACY in apis:
        if scope.lookup("torch"):
            return Declined("`torch` names something else where the write runs")
        at = _first_statement(module)
        if at is None:
            return None
        out.append(source.insert_before(at, f"import torch{source.newline}"))
        torch = "torch"
    edit = branches(found, apis, source, torch)
    if isinstance(edit, Declined):
        return edit
    out.append(edit)
    return out


def _first_statement(module: ast.Module) -> ast.stmt | None:
    """Where an import goes: after the docstring and ``__future__`` imports."""
    for i, stmt in enumerate(module.body):
        if (
            i == 0
            and isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
        ):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        return stmt
    return None


def _migrates(ctx: FixContext) -> bool:
    """This pass migrates the file to the new API (built once per pass, and
    the pass builds it anyway when no span fix applies)."""
    if not any(code == "WN301" for _, _, code in ctx.findings):
        return False
    from wnlint.rules._legacy_migration import migrate

    return isinstance(migrate(ctx), Fix)


def _where(declined: Declined, path: str | None, node: ast.AST) -> Declined:
    line = getattr(node, "lineno", 0)
    place = f"line {line}" + (f" of {os.path.basename(path)}" if path else "")
    return Declined(f"WN203 not fixed at {place}: {declined.reason}")
