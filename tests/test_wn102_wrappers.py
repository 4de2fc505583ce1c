"""WN102 on wrappers: a computed weight stored on a wrapped module in any
nn.Module, the parameters it is computed from found under the names the
wrapper registered them with, and the near misses that differ by one thing.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts import prefilter
from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.param_reads import named_param_read

HEADER = """\
import torch
import torch.nn as nn
import torch.nn.functional as F

"""

WRAPPER = """
class Wrapper(nn.Module):
    def __init__(self, module, names=("weight",)):
        super().__init__()
        self.module = module
        self.names = names
        for name in names:
            w = getattr(module, name)
            del module._parameters[name]
            self.register_parameter({registered}, nn.Parameter(w.data))

    def _setweights(self):
        for name in self.names:
            raw = getattr(self, {read})
            setattr(self.module, name, {value})

    def forward(self, *args):
        self._setweights()
        return self.module(*args)
"""

WN102 = Linter(select_rules(["WN102"]))
FAST = Linter(select_rules())
FULL = Linter(select_rules(), reduce=False)


def _lint(text: str, linter: Linter = WN102) -> list:
    return linter.lint_bytes((HEADER + textwrap.dedent(text)).encode(), "m.py")


def _line_of(text: str, needle: str) -> int:
    """The line of the linted source (header included) holding ``needle``."""
    lines = (HEADER + textwrap.dedent(text)).splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def _wrapper(
    registered='f"{name}_raw"', read='f"{name}_raw"', value="F.dropout(raw, 0.5)"
) -> str:
    return WRAPPER.format(registered=registered, read=read, value=value)


@pytest.mark.parametrize(
    ("registered", "read", "value"),
    [
        ('f"{name}_raw"', 'f"{name}_raw"', "F.dropout(raw, 0.5)"),
        ('name + "_raw"', 'name + "_raw"', "raw * 2"),
        ('"{}_raw".format(name)', '"{}_raw".format(name)', "raw.clone()"),
        ('"weight_raw"', '"weight_raw"', "raw.t().t()"),
        # the products that weight norm writes with shape methods
        ('f"{name}_raw"', 'f"{name}_raw"', "raw * (2 / raw.norm()).expand_as(raw)"),
        ('f"{name}_raw"', 'f"{name}_raw"', "raw * raw.sum().view(1, 1).expand(3, 4)"),
        ('f"{name}_raw"', 'f"{name}_raw"', "raw.max().view_as(raw[:1, :1]) * raw"),
    ],
)
def test_wrapper_store_is_reported(registered, read, value):
    text = _wrapper(registered, read, value)
    found = _lint(text)
    assert [(d.code, d.line) for d in found] == [
        ("WN102", _line_of(text, "setattr(self.module"))
    ]
    assert "wrapped module" in found[0].message
    assert "`setattr(self.module, name, ...)`" in found[0].message


@pytest.mark.parametrize(
    ("registered", "read", "value"),
    [
        # another name than the registered one: a buffer, an attribute
        ('f"{name}_raw"', 'f"{name}_g"', "raw * 2"),
        ('name + "_raw"', 'name + "_v"', "raw * 2"),
        # a leaf: the parameter itself, or a new Parameter
        ('f"{name}_raw"', 'f"{name}_raw"', "raw"),
        ('f"{name}_raw"', 'f"{name}_raw"', "nn.Parameter(raw * 2)"),
        # autograd cut
        ('f"{name}_raw"', 'f"{name}_raw"', "(raw * 2).detach()"),
        ('f"{name}_raw"', 'f"{name}_raw"', "raw.data * 2"),
        ('f"{name}_raw"', 'f"{name}_raw"', "raw.detach() * 2"),
        # not computed from the parameter
        ('f"{name}_raw"', 'f"{name}_raw"', "torch.zeros(raw.shape)"),
        ('f"{name}_raw"', 'f"{name}_raw"', "torch.ones(raw.size(0), 1)"),
    ],
)
def test_wrapper_near_miss_is_silent(registered, read, value):
    assert _lint(_wrapper(registered, read, value)) == []


def test_bare_names_are_not_compared_across_methods():
    """``register_parameter(name, ...)`` with an argument and a
    ``getattr(self, name)`` elsewhere name different things."""
    text = """
    class Registry(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer
            self.register_buffer("scale", torch.ones(1))

        def add(self, name, value):
            self.register_parameter(name, nn.Parameter(value))

        def forward(self, x):
            for name in ("scale",):
                setattr(self.layer, "gain", getattr(self, name) * 2)
            return self.layer(x)
    """
    assert _lint(text) == []


def test_store_under_no_grad_or_in_an_unreached_method_is_silent():
    text = """
    class Masked(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer
            self.weight_orig = nn.Parameter(layer.weight.detach().clone())
            del layer.weight
            self.register_buffer("mask", torch.ones_like(self.weight_orig))

        @torch.no_grad()
        def _apply_mask(self):
            self.layer.weight = self.weight_orig * self.mask

        def forward(self, x):
            self._apply_mask()
            return self.layer(x)

        def export(self):
            self.layer.weight = self.weight_orig * self.mask
    """
    assert _lint(text) == []


def test_activation_from_an_argument_is_silent():
    """What depends on the method's input is an activation, not a weight,
    even when a parameter takes part; a shape or a dtype borrowed from the
    input does not make a weight an activation."""
    activation = """
    class Cache(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer
            self.gain = nn.Parameter(torch.ones(1))

        def forward(self, x):
            self.layer.cache = self.gain * x
            return self.layer(x)
    """
    assert _lint(activation) == []
    weight = activation.replace("self.gain * x", "(self.gain * 2).to(x).expand_as(x)")
    assert [d.line for d in _lint(weight)] == [_line_of(weight, "self.layer.cache")]


def test_store_in_a_base_class_is_reported_once():
    text = """
    class Base(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer
            self.weight_orig = nn.Parameter(layer.weight.detach().clone())

        def _store(self):
            self.layer.weight = self.weight_orig * 2

    class A(Base):
        def forward(self, x):
            self._store()
            return self.layer(x)

    class B(A):
        pass

    class C(Base):
        def forward(self, x):
            self._store()
            return self.layer(x) * 2
    """
    assert [d.line for d in _lint(text)] == [_line_of(text, "self.layer.weight =")]


def test_a_class_that_is_not_a_module_is_not_checked():
    text = """
    class Holder:
        def __init__(self, layer):
            self.layer = layer
            self.weight_orig = nn.Parameter(layer.weight.detach().clone())

        def forward(self, x):
            self.layer.weight = self.weight_orig * 2
            return self.layer(x)
    """
    assert _lint(text) == []


def test_submodule_stores_are_report_only():
    data = (HEADER + textwrap.dedent(_wrapper())).encode()
    (found,) = WN102.lint_bytes(data, "m.py", fixes=True)
    assert found.fix is None


def test_named_parameter_reads():
    source = HEADER + textwrap.dedent(
        """
        class Wrapper(nn.Module):
            def __init__(self, module, name="weight"):
                super().__init__()
                self.module = module
                self.name = name
                self.module.register_parameter(self.name + "_bar", nn.Parameter(torch.ones(2)))
                module.register_parameter("weight_u", nn.Parameter(torch.ones(2)))
                self.register_parameter(f"{name}_g", nn.Parameter(torch.ones(2)))
                self.g = nn.Parameter(torch.ones(1))

            def forward(self):
                a = getattr(self.module, self.name + "_bar")
                b = self.module.weight_u
                c = getattr(self, "g")
                d = getattr(self.module, self.name + "_u")
                e = getattr(self, self.name + "_bar")
                f = self.module.weight_bar
                for name in ("weight",):
                    g = getattr(self, f"{name}_g")
                return a, b, c, d, e, f, g
        """
    )
    analysis = FileAnalysis(ast.parse(source))
    (cls,) = analysis.modules.classes_around({id(analysis.class_nodes[0])})
    method = cls.methods["forward"]
    values = {
        node.targets[0].id: node.value
        for node in ast.walk(method.node)
        if isinstance(node, ast.Assign)
    }
    reads = {name: named_param_read(value, method) for name, value in values.items()}
    assert reads == {
        "a": True,
        "b": True,  # registered through the argument stored as self.module
        "c": True,
        "d": False,
        "e": False,  # registered on the submodule, read on self
        "f": False,
        "g": True,
    }


PREFILTER_CASES = {
    "wrapper without a norm": _wrapper(),
    "parameters declared in a base class": """
        class Base(nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer
                self.register_parameter("weight_raw", nn.Parameter(layer.weight.data))

        class Unrelated(nn.Module):
            def forward(self, x):
                return x

        class Dropped(Base):
            def forward(self, x):
                self.layer.weight = F.dropout(self.weight_raw, 0.5)
                return self.layer(x)
    """,
    "annotated store": """
        class Masked(nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer
                self.weight_orig = nn.Parameter(layer.weight.detach().clone())

            def forward(self, x):
                self.layer.weight: torch.Tensor = self.weight_orig * 2
                return self.layer(x)
    """,
}


@pytest.mark.parametrize("name", sorted(PREFILTER_CASES))
def test_cut_and_whole_parse_agree(name):
    data = (HEADER + textwrap.dedent(PREFILTER_CASES[name])).encode()
    whole = FULL.lint_bytes(data, "t.py")
    assert [d.code for d in whole] == ["WN102"]
    assert FAST.lint_bytes(data, "t.py") == whole


def test_prefilter_needs_a_parameter_and_a_store_on_a_submodule():
    stores = prefilter.WRAPPED_STORES
    assert stores.file_may_match(
        b"self.p = nn.Parameter(x)\nsetattr(self.m, n, self.p * 2)\n"
    )
    assert stores.file_may_match(b"self.p = nn.Parameter(x)\nself.m.w = self.p * 2\n")
    assert stores.file_may_match(b"self.p = nn.Parameter(x)\nself . m . w = 2 * p\n")
    assert not stores.file_may_match(b"self.p = nn.Parameter(x)\nself.m.w == 2\n")
    assert not stores.file_may_match(b"self.p = nn.Parameter(x)\nself.w = 2\n")
    assert not stores.file_may_match(b"setattr(self.m, n, 2)\nself.m.w = 2\n")


def test_a_weight_restored_after_the_call_is_silent():
    """Set for one call and put back: only what stays on the module after
    forward matters, so only the last store of a target counts."""
    text = """
    class Scaled(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer
            self.weight = nn.Parameter(layer.weight.detach().clone())
            del layer.weight

        def forward(self, x):
            self.layer.weight = self.weight
            self.layer.weight = self.weight * 2
            out = self.layer(x)
            {restore}
            return out
    """
    stored = text.format(restore="pass")
    assert [d.line for d in _lint(stored)] == [_line_of(stored, "self.weight * 2")]
    for restore in (
        "self.layer.weight = self.weight",
        "self.layer.weight = None",
        "del self.layer.weight",
        'delattr(self.layer, "weight")',
        'setattr(self.layer, "weight", None)',
    ):
        assert _lint(text.format(restore=restore)) == [], restore
