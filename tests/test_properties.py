"""Property tests: wnlint survives any input, and its fixes are stable.

The properties, checked on inputs that hypothesis generates:

* ``check`` never raises, never hangs and never reports an internal error
  (WN003), on programs generated from Python's grammar (hypothesmith), on
  arbitrary bytes and text, on damaged weight-norm code, and on generated
  programs with weight-norm snippets spliced in;
* the prefilters change nothing: the normal run and one with the
  prefilters off (every rule on every program, parsed whole) agree on
  every spliced program that parses;
* ``fix`` never raises, never hangs and never notes an internal error; its
  output parses whenever its input did (and compiles whenever its input
  compiled); and a second ``fix`` of its output changes nothing.

Programs generated from the grammar alone almost never contain the text
the prefilter looks for, so they only reach the prefilter. The spliced
programs are what reach the rules and the fixers: realistic weight-norm
code (the shapes of the fixtures) put at statement boundaries of a
generated program, spread between its statements, or moved into a
function body with some of them; with generated statements inside the
snippet's blocks or on its lines after a semicolon, statements that rebind
the names it uses, ``# noqa`` comments, and the file's bytes in another
form (Windows line ends, a byte-order mark, a Latin-1 coding line).

Every test is bounded (a fixed number of examples) and deterministic
(``derandomize``, no example database), so the suite's time and outcome do
not vary between runs. ``test_a_property_catches`` shows that each
property can fail: a bug planted for the duration of one test makes the
property's check raise.
"""

from __future__ import annotations

import ast
import codecs
import re
import signal
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import wnlint.fixing.fixer
from wnlint.engine.linter import Diagnostic, Linter, select_rules
from wnlint.fixing.fixer import FileFix, fix_source

PATH = "t.py"
LINTER = Linter(select_rules())
#: The same rules with the prefilters off: every rule on every file, each
#: parsed whole (the prefilters may only save work, never lose a finding).
WHOLE = Linter(select_rules(), prefilter=False)


def _bounded(examples: int) -> settings:
    """``examples`` examples, the same ones every run, no hypothesis
    deadline (it only reports a slow example after the fact, and the first
    parse of a file warms caches; ``TIME_LIMIT`` stops hangs), and no
    health check that fails a test for slow or large generated data: the
    bound is the example count.

    The targeting phase is left out: hypothesmith asks hypothesis to grow
    its programs, and that search alone took half the time of a run. A
    failure is still shrunk to a small example.
    """
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


# Generated code is full of constructs that the compiler warns about
# (`1()`, `"\d"`, `x is 1`); the warnings say nothing about wnlint.
pytestmark = [
    pytest.mark.filterwarnings("ignore::SyntaxWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


# -- the weight-norm snippets --------------------------------------------------
#
# Each is a small, self-contained piece of the code the rules are about,
# with its own imports, so that it means the same wherever it lands.

SNIPPETS: dict[str, str] = {
    "legacy call": """
        import torch
        import torch.nn as nn

        layer = torch.nn.utils.weight_norm(nn.Linear(4, 3))
        magnitude = layer.weight_g.detach()
    """,
    "legacy import and remover": """
        import torch.nn as nn
        from torch.nn.utils import remove_weight_norm, weight_norm

        conv = weight_norm(nn.Conv1d(2, 2, 3), name="weight", dim=0)
        remove_weight_norm(conv)
    """,
    "legacy in a vocoder class": """
        import torch.nn as nn
        from torch.nn.utils import weight_norm as wn


        class Vocoder(nn.Module):
            def __init__(self, channels=8):
                super().__init__()
                self.ups = nn.ModuleList(
                    [wn(nn.ConvTranspose1d(channels, channels, 4, 2, 1))]
                )
                self.post = nn.utils.weight_norm(nn.Conv1d(channels, 1, 3))

            def forward(self, x):
                for up in self.ups:
                    x = up(x)
                return self.post(x)

            def remove_weight_norm(self):
                for up in self.ups:
                    nn.utils.remove_weight_norm(up)
                nn.utils.remove_weight_norm(self.post)
    """,
    "norm-derived scale": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class RowwiseWN(nn.Module):
            def __init__(self, i, o):
                super().__init__()
                self.v = nn.Parameter(torch.randn(o, i))
                self.bias = nn.Parameter(torch.zeros(o))

            def forward(self, x):
                g = self.v.norm(dim=1, keepdim=True)
                w = g * self.v / self.v.norm(dim=1, keepdim=True)
                return F.linear(x, w, self.bias)
    """,
    "stored computed weight, unused scale": """
        import torch
        import torch.nn as nn


        class WeightNormLinear(nn.Module):
            def __init__(self, i, o):
                super().__init__()
                self.weight_g = nn.Parameter(torch.ones(o))
                self.weight_v = nn.Parameter(torch.randn(o, i))
                self.weight = None

            def forward(self, x):
                norm = torch.norm(self.weight_v, dim=1, keepdim=True) + 1e-7
                self.weight = self.weight_v / norm
                return torch.mm(x, self.weight.t())
    """,
    "normalized init, detached norm": """
        import torch
        import torch.nn as nn


        class Scaled(nn.Module):
            def __init__(self, w):
                super().__init__()
                self.g = nn.Parameter(torch.norm(w))
                self.v = nn.Parameter(w / torch.norm(w))

            def forward(self, x):
                with torch.no_grad():
                    norm = self.v.norm()
                return torch.matmul(x, self.g * self.v / norm)
    """,
    "parameter made in forward": """
        import torch
        import torch.nn as nn


        class Lazy(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.v = nn.Parameter(torch.randn(dim, dim))

            def forward(self, x):
                self.g = nn.Parameter(self.v.detach().norm(dim=1, keepdim=True))
                return x @ (self.g * self.v / self.v.norm(dim=1, keepdim=True)).t()
    """,
    "init applied after weight norm": """
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm


        def init_weights(m):
            if isinstance(m, nn.Conv1d):
                m.weight.data.normal_(0.0, 0.01)


        class Block(nn.Module):
            def __init__(self, channels=4):
                super().__init__()
                self.convs = nn.ModuleList(
                    [weight_norm(nn.Conv1d(channels, channels, 3)) for _ in (1, 3)]
                )
                self.convs.apply(init_weights)
                self.proj = weight_norm(nn.Conv1d(channels, channels, 1))
                nn.init.zeros_(self.proj.weight)
    """,
    "optimizer over non-leaf weights": """
        import torch
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm

        layer = weight_norm(nn.Linear(4, 3))
        opt = torch.optim.Adam([layer.weight, layer.bias], lr=1e-3)
    """,
    "optimizer before weight norm": """
        import torch
        import torch.nn as nn
        from torch.nn.utils import weight_norm as legacy_weight_norm
        from torch.nn.utils.parametrizations import weight_norm

        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        weight_norm(model[0])
        model[2] = legacy_weight_norm(model[2])
    """,
    "weight norm applied twice": """
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm

        conv = weight_norm(nn.Conv1d(4, 4, 3))
        conv = weight_norm(conv)
        nested = weight_norm(weight_norm(nn.Linear(4, 3)))
    """,
    "removers that do not match the API": """
        import torch.nn as nn
        from torch.nn.utils import parametrize


        class ShimmedBlock(nn.Module):
            def __init__(self, channels=4):
                super().__init__()
                self.conv = nn.Conv1d(channels, channels, 3, padding=1)

            def apply_weight_norm(self):
                weight_norm = nn.utils.weight_norm
                if hasattr(nn.utils.parametrizations, "weight_norm"):
                    weight_norm = nn.utils.parametrizations.weight_norm
                weight_norm(self.conv)

            def remove_weight_norm(self):
                nn.utils.remove_weight_norm(self.conv)


        class LegacyBlock(nn.Module):
            def __init__(self, channels=4):
                super().__init__()
                self.conv = nn.utils.weight_norm(nn.Conv1d(channels, channels, 3))

            def remove_weight_norm(self):
                parametrize.remove_parametrizations(self.conv, "weight")
    """,
    "parametrized module pickled": """
        import torch
        import torch.nn as nn
        from torch.nn.utils.parametrizations import weight_norm


        class WNBlock(nn.Module):
            def __init__(self, channels=4):
                super().__init__()
                self.conv = weight_norm(nn.Conv1d(channels, channels, 3))

            def save(self, f):
                torch.save(self, f)


        def checkpoint(f):
            torch.save(WNBlock(), f)
    """,
    "removal that does not match": """
        import torch.nn as nn
        from torch.nn.utils import parametrize
        from torch.nn.utils.parametrizations import weight_norm

        conv = weight_norm(nn.Conv1d(2, 2, 3))
        nn.utils.remove_weight_norm(conv)
        parametrize.remove_parametrizations(conv, "weight")
    """,
}

#: Statements that rebind or shadow the names the snippets use: put among
#: the generated ones, they make the same snippet mean something else
#: (``weight_norm`` no longer torch's, ``nn`` another module), which the
#: rules and, above all, the whole-file rewrites must take into account.
REBINDINGS = [
    "weight_norm = None",
    "from torch.nn.utils import *",
    "import torch.nn.utils as nn",
    "nn = torch",
    "def weight_norm(module, name='weight', dim=0):\n    return module",
    "global weight_norm",
    "del nn",
    "remove_weight_norm = nn.utils.remove_weight_norm",
    "wn = torch.nn.utils.weight_norm",
    "from torch.nn.utils.parametrizations import weight_norm",
    "from torch.nn.utils import weight_norm",
    "torch.nn.utils.weight_norm = torch.nn.utils.parametrizations.weight_norm",
    "if hasattr(nn.utils.parametrizations, 'weight_norm'):\n"
    "    weight_norm = nn.utils.parametrizations.weight_norm",
    "try:\n    from torch.nn.utils.parametrizations import weight_norm\n"
    "except ImportError:\n    from torch.nn.utils import weight_norm",
]


_SNIPPET_TEXT = {
    name: textwrap.dedent(text).lstrip() for name, text in SNIPPETS.items()
}


def _snippet_module(name: str) -> cst.Module:
    return cst.parse_module(_SNIPPET_TEXT[name])


def _is_one_line(block: cst.IndentedBlock) -> bool:
    return len(block.body) == 1 and isinstance(block.body[0], cst.SimpleStatementLine)


class _OneLineBlock(cst.CSTTransformer):
    """Write the ``target``-th block that holds one line of simple
    statements on its header's line (``def f(self): return x``, ``if a: b``),
    the form that a fix turning a statement into a block cannot reuse."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.BaseSuite:
        if not _is_one_line(original_node):
            return updated_node
        index, self.seen = self.seen, self.seen + 1
        line = updated_node.body[0]
        if index != self.target or not isinstance(line, cst.SimpleStatementLine):
            return updated_node
        return cst.SimpleStatementSuite(
            body=line.body, trailing_whitespace=line.trailing_whitespace
        )


class _Counter(cst.CSTVisitor):
    """How many indented blocks (and how many of them hold one line of
    simple statements) and simple-statement lines a module has."""

    def __init__(self) -> None:
        self.blocks = 0
        self.lines = 0
        self.one_line_blocks = 0

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.blocks += 1
        self.one_line_blocks += _is_one_line(original_node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.lines += 1


class _InsertIntoBlock(cst.CSTTransformer):
    """Put ``statement`` at ``position`` in the ``target``-th indented block
    (counted in the order they are left, as ``_Counter`` does)."""

    def __init__(
        self, target: int, position: int, statement: cst.BaseStatement
    ) -> None:
        self.target = target
        self.position = position
        self.statement = statement
        self.seen = 0

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        index, self.seen = self.seen, self.seen + 1
        if index != self.target:
            return updated_node
        body = list(updated_node.body)
        body.insert(min(self.position, len(body)), self.statement)
        return updated_node.with_changes(body=body)


class _JoinLine(cst.CSTTransformer):
    """Put generated simple statements on the ``target``-th line of simple
    statements, before or after its own, separated by semicolons
    (``import torch; x = 1``): code that a line-based reading of the
    source must still take apart."""

    def __init__(
        self, target: int, before: bool, small: list[cst.BaseSmallStatement]
    ) -> None:
        self.target = target
        self.before = before
        self.small = small
        self.seen = 0

    def leave_SimpleStatementLine(
        self,
        original_node: cst.SimpleStatementLine,
        updated_node: cst.SimpleStatementLine,
    ) -> cst.SimpleStatementLine:
        index, self.seen = self.seen, self.seen + 1
        if index != self.target:
            return updated_node
        # Separators are redrawn: each statement's own (a trailing `;`
        # included) is dropped, and libcst puts `; ` between them.
        own = [
            s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            for s in updated_node.body
        ]
        extra = [
            s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in self.small
        ]
        body = [*extra, *own] if self.before else [*own, *extra]
        return updated_node.with_changes(body=body)


class _TrailingComment(cst.CSTTransformer):
    """Give the ``target``-th line of simple statements a trailing comment
    (``# noqa`` and the like), unless it has one."""

    def __init__(self, target: int, comment: str) -> None:
        self.target = target
        self.comment = comment
        self.seen = 0

    def leave_SimpleStatementLine(
        self,
        original_node: cst.SimpleStatementLine,
        updated_node: cst.SimpleStatementLine,
    ) -> cst.SimpleStatementLine:
        index, self.seen = self.seen, self.seen + 1
        trailing = updated_node.trailing_whitespace
        if index != self.target or trailing.comment is not None:
            return updated_node
        return updated_node.with_changes(
            trailing_whitespace=trailing.with_changes(
                whitespace=cst.SimpleWhitespace("  "),
                comment=cst.Comment(self.comment),
            )
        )


#: Comments that change what is reported or fixed on their line.
COMMENTS = [
    "# noqa",
    "# NOQA",
    "# noqa: WN301",
    "# noqa:WN3,WN203",
    "# noqa: WN302  # noqa: WN2",
    "# type: ignore",
]


def _counts(name: str) -> _Counter:
    counter = _Counter()
    _snippet_module(name).visit(counter)
    return counter


_COUNTS = {name: _counts(name) for name in SNIPPETS}


def _parses(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _compiles(data: bytes) -> bool:
    """Also the checks ``ast.parse`` leaves to the compiler (``return``
    outside a function, a late ``from __future__``, ``import *`` in a
    function): a fix that breaks those breaks the import of the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, PATH, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# -- strategies -----------------------------------------------------------------

GENERATED = hypothesmith.from_grammar()


@st.composite
def _snippet_with_generated_inside(draw, name: str, generated: list) -> cst.Module:
    """The snippet, maybe with a generated statement put into one of its
    blocks (a method body, a loop, a class body), maybe with generated
    simple statements joined to one of its lines, maybe with a ``# noqa``
    comment on one of them, and maybe with a one-line block written on its
    header's line."""
    module = _snippet_module(name)
    counts = _COUNTS[name]
    if generated and counts.blocks and draw(st.booleans()):
        statement = draw(st.sampled_from(generated))
        target = draw(st.integers(0, counts.blocks - 1))
        position = draw(st.integers(0, 8))
        module = module.visit(_InsertIntoBlock(target, position, statement))
    small = [
        item
        for line in generated
        if isinstance(line, cst.SimpleStatementLine)
        for item in line.body
    ]
    if small and draw(st.integers(0, 3)) == 0:
        # Drawn among the lines the snippet had: still a line after the
        # block insertion above.
        target = draw(st.integers(0, counts.lines - 1))
        chosen = draw(st.lists(st.sampled_from(small), min_size=1, max_size=2))
        module = module.visit(_JoinLine(target, draw(st.booleans()), chosen))
    if draw(st.integers(0, 4)) == 0:
        target = draw(st.integers(0, counts.lines - 1))
        module = module.visit(_TrailingComment(target, draw(st.sampled_from(COMMENTS))))
    if counts.one_line_blocks and draw(st.integers(0, 3)) == 0:
        # Counted on the snippet as written: an insertion above may have
        # made a block longer, and then this one stays as it is.
        target = draw(st.integers(0, counts.one_line_blocks - 1))
        module = module.visit(_OneLineBlock(target))
    return module


@st.composite
def spliced_programs(draw) -> str:
    """A generated program with one to three snippets spliced in.

    Each snippet goes, at random, to one statement boundary of the
    program, spread over several boundaries (its statements in order, the
    program's between them), or into the body of a new function that also
    takes some of the program's statements. Up to two of ``REBINDINGS``
    join the program's statements first. If libcst cannot read the
    generated program, or the splice does not parse (a ``from __future__``
    moved into a function still parses; a few constructs do not), the
    snippets are appended to the program's text instead, which always
    parses when the program does.
    """
    program = draw(GENERATED)
    names = draw(st.lists(st.sampled_from(sorted(SNIPPETS)), min_size=1, max_size=3))
    try:
        module = cst.parse_module(program)
    except cst.ParserSyntaxError:
        module = None
    generated = list(module.body) if module is not None else []
    rebindings = [
        cst.parse_statement(text + "\n")
        for text in draw(st.lists(st.sampled_from(REBINDINGS), max_size=2))
    ]
    generated += rebindings
    snippets = [draw(_snippet_with_generated_inside(name, generated)) for name in names]
    fallback = program.rstrip("\\ \t\r\n") + "\n\n" + "".join(s.code for s in snippets)
    if module is None:
        return fallback
    body = list(module.body)
    for statement in rebindings:
        body.insert(draw(st.integers(0, len(body))), statement)
    for snippet in snippets:
        statements = list(snippet.body)
        mode = draw(st.sampled_from(["boundary", "spread", "function"]))
        if mode == "boundary":
            at = draw(st.integers(0, len(body)))
            body[at:at] = statements
        elif mode == "spread":
            cuts = sorted(
                draw(
                    st.lists(
                        st.integers(0, len(body)),
                        min_size=len(statements),
                        max_size=len(statements),
                    )
                )
            )
            # Insert from the last cut back so earlier cuts stay valid.
            for cut, statement in reversed(list(zip(cuts, statements))):
                body.insert(cut, statement)
        else:
            start = draw(st.integers(0, len(body)))
            taken = draw(st.integers(0, len(body) - start))
            inner = body[start : start + taken]
            at = draw(st.integers(0, len(inner)))
            inner[at:at] = statements
            function = cst.FunctionDef(
                name=cst.Name(draw(st.sampled_from(["build", "main", "forward"]))),
                params=cst.Parameters(),
                body=cst.IndentedBlock(body=inner),
            )
            body[start : start + taken] = [function]
    code = module.with_changes(body=body).code
    return code if _parses(code.encode("utf-8", "surrogatepass")) else fallback


@st.composite
def as_file(draw, source: str) -> bytes:
    """``source`` as the bytes of a file: UTF-8, maybe with Windows line
    ends, a byte-order mark, or a Latin-1 coding declaration. A variant
    that parses differently from the plain bytes (a coding comment already
    in the program, say) is not used."""
    plain = source.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        source = re.sub(r"(?<!\r)\n", "\r\n", source)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "bom", "latin-1"]))
    try:
        if encoding == "bom":
            data = codecs.BOM_UTF8 + source.encode("utf-8")
        elif encoding == "latin-1":
            data = b"# -*- coding: latin-1 -*-\n" + source.encode("latin-1")
        else:
            data = source.encode("utf-8", "surrogatepass")
    except UnicodeError:
        return plain
    return data if _parses(data) == _parses(plain) else plain


def spliced_files() -> st.SearchStrategy[bytes]:
    return spliced_programs().flatmap(as_file)


@st.composite
def damaged_snippets(draw) -> bytes:
    """A snippet with a few random edits: bytes deleted, inserted, or the
    text cut short. It still has the text the prefilter looks for, so the
    damage reaches the parser and, when it still parses, the rules."""
    data = bytearray(_SNIPPET_TEXT[draw(st.sampled_from(sorted(SNIPPETS)))].encode())
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 40)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        if kind == "truncate":
            del data[start:]
            continue
        new = b""
        if kind != "delete":
            new = draw(
                st.one_of(
                    st.binary(max_size=8),
                    st.sampled_from([b"\n", b"    ", b"\t", b"(", b")", b":", b"\\"]),
                    st.text(max_size=8).map(lambda t: t.encode("utf-8", "replace")),
                )
            )
        if kind == "insert":
            end = start
        data[start:end] = new
    return bytes(data)


# -- the checks ------------------------------------------------------------------


def _encoded(source: str) -> bytes:
    return source.encode("utf-8", "surrogatepass")


class TookTooLong(BaseException):
    """A call into wnlint ran past its time limit: most likely a loop that
    never ends. A ``BaseException``, so that neither wnlint's guards
    against rule bugs (``except Exception``) nor hypothesis's shrinking
    (which would re-run the hang many times) catch it: the test stops at
    once and names the input."""


#: Seconds one call into wnlint may take on these small inputs; they take
#: milliseconds, so only a hang comes near it.
TIME_LIMIT = 5.0


@contextmanager
def _time_limit(what: str, data: bytes) -> Iterator[None]:
    """Raise ``TookTooLong`` in the block after ``TIME_LIMIT`` seconds,
    where an interval timer can interrupt it (Unix, main thread); a hang
    would otherwise stop the whole suite rather than fail one test."""
    usable = hasattr(signal, "setitimer") and (
        threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TookTooLong(f"{what} ran past {TIME_LIMIT} s on:\n{data!r}")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _lint(linter: Linter, data: bytes) -> list[Diagnostic]:
    with _time_limit("check", data):
        return linter.lint_bytes(data, PATH)


def _fix(data: bytes, unsafe: bool) -> FileFix:
    with _time_limit("fix", data):
        return fix_source(data, PATH, LINTER, unsafe=unsafe)


def assert_check_survives(data: bytes) -> list[Diagnostic]:
    """Both parse paths return diagnostics, none an internal error."""
    found = _lint(LINTER, data)
    whole = _lint(WHOLE, data)
    for diagnostics in (found, whole):
        errors = [d.format() for d in diagnostics if d.code == "WN003"]
        assert not errors, f"internal error on:\n{data!r}\n{errors}"
    return found


def assert_cut_and_whole_agree(data: bytes) -> None:
    if not _parses(data):
        return  # a syntax error in a cut definition is not reported: by design
    cut = _lint(LINTER, data)
    whole = _lint(WHOLE, data)
    assert cut == whole, (
        f"the cut and whole parses differ on:\n{data.decode('utf-8', 'replace')}"
    )


def assert_fix_is_stable(data: bytes, unsafe: bool) -> FileFix:
    """``fix`` keeps parsing (and compiling) code parsing, notes no internal
    error, and has nothing left to do on its own output."""
    result = _fix(data, unsafe)
    shown = data.decode("utf-8", "replace")
    errors = [note for note in result.notes if "internal error" in note]
    assert not errors, f"fix noted an internal error on:\n{shown}\n{errors}"
    if _parses(data):
        assert _parses(result.fixed), (
            f"fix output does not parse.\ninput:\n{shown}\n"
            f"output:\n{result.fixed.decode('utf-8', 'replace')}"
        )
    if _compiles(data):
        assert _compiles(result.fixed), (
            f"fix output does not compile.\ninput:\n{shown}\n"
            f"output:\n{result.fixed.decode('utf-8', 'replace')}"
        )
    again = _fix(result.fixed, unsafe)
    assert again.fixed == result.fixed, (
        f"a second fix changed the output.\ninput:\n{shown}\n"
        f"diff of the second fix:\n{again.diff()}"
    )
    return result


# -- check never raises ---------------------------------------------------------

#: Known hard inputs, always run before the generated ones. An import that
#: binds a weight-norm alias, with an item after it on its line that starts
#: with a dot, sent the prefilter looking for an empty name, in a loop that
#: never ended: in a syntax error, and in valid code (``1, .5``).
HANG_INVALID = b"import weight_norm as w, .x\n"
HANG_VALID = b"from torch.nn.utils import weight_norm as wn; scale = 1, .5\n"


@_bounded(150)
@given(GENERATED)
def test_check_survives_generated_programs(source):
    assert_check_survives(_encoded(source))


@_bounded(300)
@given(st.binary(max_size=400))
@example(HANG_INVALID)
def test_check_survives_arbitrary_bytes(data):
    assert_check_survives(data)


@_bounded(200)
@given(st.text(max_size=400))
def test_check_survives_arbitrary_text(text):
    assert_check_survives(_encoded(text))


@_bounded(300)
@given(damaged_snippets())
@example(HANG_INVALID)
def test_check_survives_damaged_snippets(data):
    assert_check_survives(data)


@_bounded(150)
@given(spliced_files())
@example(HANG_VALID)
def test_check_survives_spliced_programs(data):
    assert_check_survives(data)
    assert_cut_and_whole_agree(data)


# -- fix output parses and is a fixed point --------------------------------------


@_bounded(120)
@given(spliced_files(), st.booleans())
@example(HANG_VALID, True)
def test_fix_is_stable_on_spliced_programs(data, unsafe):
    assert_fix_is_stable(data, unsafe)


@_bounded(200)
@given(damaged_snippets(), st.booleans())
def test_fix_is_stable_on_damaged_snippets(data, unsafe):
    assert_fix_is_stable(data, unsafe)


# -- notebooks -------------------------------------------------------------------

#: Lines a notebook cell may hold: weight-norm code, IPython escapes (in and
#: out of blocks), cell magics, broken code and odd characters.
CELL_LINES = [
    "import torch.nn as nn",
    "from torch.nn.utils import weight_norm, remove_weight_norm",
    "conv = weight_norm(nn.Conv1d(2, 2, 3))",
    "remove_weight_norm(conv)",
    "nn.utils.weight_norm(nn.Linear(2, 2))",
    "for m in [conv]:",
    "    %time m",
    "    conv = weight_norm(m)",
    "%matplotlib inline",
    "%%time",
    "%%bash",
    "!pip install torch",
    "x = !ls",
    "conv?",
    "?conv",
    "def f(:",
    "\t x",
    "# noqa",
    "\u00e9 = 1",
    "\x0c",
    "from __future__ import annotations",
    "x = '\udc80'",  # a lone surrogate: JSON can escape one
]


@st.composite
def notebooks(draw) -> bytes:
    """A notebook's JSON: code, markdown and raw cells whose sources are
    drawn lines (as a list or one string), in one of the layouts Jupyter and
    other tools write."""
    import json

    cells = []
    for _ in range(draw(st.integers(0, 5))):
        lines = draw(
            st.lists(st.sampled_from(CELL_LINES) | st.text(max_size=12), max_size=6)
        )
        text = "\n".join(lines)
        source = text if draw(st.booleans()) else [line + "\n" for line in lines]
        kind = draw(st.sampled_from(["code", "code", "markdown", "raw"]))
        cell = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            cell |= {"execution_count": None, "outputs": []}
        cells.append(cell)
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    indent = draw(st.sampled_from([None, 1, 2]))
    ascii_only = draw(st.booleans())
    return json.dumps(notebook, indent=indent, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )


#: A code cell holding a lone surrogate, escaped in the JSON: no UTF-8 source.
SURROGATE_NOTEBOOK = (
    b'{"cells": [{"cell_type": "code", "metadata": {}, "execution_count": null,'
    b' "outputs": [], "source": ["x = \'\\udc80\'"]}]}'
)


@_bounded(150)
@given(notebooks(), st.booleans())
@example(SURROGATE_NOTEBOOK, False)
def test_notebooks_never_break_check_or_fix(data, unsafe):
    """``check`` reports no internal error; ``fix`` notes none, writes a
    notebook that is still JSON with the same cells, and has nothing left
    to do on its own output."""
    import json

    from wnlint.fixing.fixer import fix_bytes

    with _time_limit("check", data):
        found = LINTER.lint_file_bytes(data, "t.ipynb")
    assert not [d for d in found if d.code == "WN003"], data
    with _time_limit("fix", data):
        result = fix_bytes(data, "t.ipynb", LINTER, unsafe)
    assert not [n for n in result.notes if "internal error" in n], result.notes
    if result.changed:
        before, after = json.loads(data), json.loads(result.fixed)
        assert len(after["cells"]) == len(before["cells"])
        for old, new in zip(before["cells"], after["cells"]):
            assert {k: v for k, v in old.items() if k != "source"} == {
                k: v for k, v in new.items() if k != "source"
            }
        with _time_limit("fix", result.fixed):
            again = fix_bytes(result.fixed, "t.ipynb", LINTER, unsafe)
        assert again.fixed == result.fixed


# -- the properties can fail ------------------------------------------------------
#
# Each case plants one bug for the duration of the test and shows that the
# check of the property it breaks raises. Without these, a check that
# could never fail (a test of nothing) would pass as well as a real one.

_LEGACY = _SNIPPET_TEXT["legacy call"].encode()


def _failing(*args, **kwargs):
    raise RuntimeError("planted")


def _plant_rule_bug(patch: pytest.MonkeyPatch) -> None:
    (rule,) = [r for r in LINTER.rules if r.code == "WN301"]
    patch.setattr(type(rule), "check", _failing)


def _plant_engine_bug(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Linter, "_run", _failing)


def _plant_hang(patch: pytest.MonkeyPatch) -> None:
    def never_ends(*args, **kwargs):
        while True:
            pass

    patch.setattr(sys.modules[__name__], "TIME_LIMIT", 0.2)
    patch.setattr(Linter, "_run", never_ends)


def _plant_fixer_bug(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(wnlint.fixing.fixer, "_apply_pass", _failing)


def _plant_builder_bug(patch: pytest.MonkeyPatch) -> None:
    real = Linter.lint_bytes

    def lint_bytes(self, data, path, honor_noqa=True, fixes=False):
        found = real(self, data, path, honor_noqa, fixes)
        return [
            d.replace(fix=replace(d.fix, build=_failing)) if d.fix else d for d in found
        ]

    patch.setattr(Linter, "lint_bytes", lint_bytes)


def _plant_cut_difference(patch: pytest.MonkeyPatch) -> None:
    # The cut parse (LINTER) loses its findings; the whole parse keeps them.
    real = Linter.lint_bytes

    def lint_bytes(self, data, path, honor_noqa=True, fixes=False):
        found = real(self, data, path, honor_noqa, fixes)
        return found if self is WHOLE else []

    patch.setattr(Linter, "lint_bytes", lint_bytes)


def _plant_fix_output(change):
    """``fix_source`` as the checks call it, ``change`` applied to its
    result's bytes."""

    def plant(patch: pytest.MonkeyPatch) -> None:
        real = fix_source

        def wrapped(data, path, linter, unsafe):
            result = real(data, path, linter, unsafe)
            result.fixed = change(result.fixed)
            return result

        patch.setattr(sys.modules[__name__], "fix_source", wrapped)

    return plant


def _check(data: bytes) -> None:
    assert_check_survives(data)


def _fix_unsafe(data: bytes) -> None:
    assert_fix_is_stable(data, unsafe=True)


@pytest.mark.parametrize(
    ("plant", "check", "error", "match"),
    [
        (_plant_rule_bug, _check, AssertionError, "internal error"),
        (_plant_engine_bug, _check, RuntimeError, "planted"),
        (_plant_hang, _check, TookTooLong, "ran past"),
        (_plant_cut_difference, assert_cut_and_whole_agree, AssertionError, "cut"),
        (_plant_fixer_bug, _fix_unsafe, RuntimeError, "planted"),
        (_plant_builder_bug, _fix_unsafe, AssertionError, "internal error"),
        (
            _plant_fix_output(lambda out: out + b"\n)\n"),
            _fix_unsafe,
            AssertionError,
            "does not parse",
        ),
        (
            _plant_fix_output(lambda out: out + b"\nreturn\n"),
            _fix_unsafe,
            AssertionError,
            "does not compile",
        ),
        (
            _plant_fix_output(lambda out: out + b"\n# once more\n"),
            _fix_unsafe,
            AssertionError,
            "second fix changed",
        ),
    ],
    ids=[
        "rule raises",
        "engine raises",
        "check hangs",
        "cut parse differs",
        "fix raises",
        "fix builder raises",
        "fix output does not parse",
        "fix output does not compile",
        "fix is not a fixed point",
    ],
)
def test_a_property_catches(plant, check, error, match):
    with pytest.MonkeyPatch.context() as patch:
        plant(patch)
        with pytest.raises(error, match=match):
            check(_LEGACY)


def test_the_real_checks_pass_on_a_snippet():
    """The planted cases above fail for the plant, not for the input."""
    assert "WN301" in {d.code for d in assert_check_survives(_LEGACY)}
    assert_cut_and_whole_agree(_LEGACY)
    assert assert_fix_is_stable(_LEGACY, unsafe=True).changed
