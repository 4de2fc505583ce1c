"""Generated source shapes that once made ``check`` superlinear or fail:
many weight-norm calls in one scope, a long ``elif`` chain of them, and
deeply nested conditional expressions. Shared by ``bench/scale.py`` and the
tests (``tests/test_scale.py``)."""

from __future__ import annotations

HEADER = "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n"


def many_calls(n: int) -> str:
    """``n`` module-level lines ``cK = weight_norm(nn.Conv1d(1, 1, 1))``."""
    return HEADER + "".join(
        f"c{k} = weight_norm(nn.Conv1d(1, 1, 1))\n" for k in range(n)
    )


def elif_chain(n: int) -> str:
    """A function whose ``if``/``elif`` chain of ``n`` arms each applies
    weight norm to the same name."""
    arms = "".join(
        f"    {'elif' if k else 'if'} kind == {k}:\n"
        "        m = weight_norm(nn.Conv1d(1, 1, 1))\n"
        for k in range(n)
    )
    return HEADER + "\ndef build(kind):\n" + arms + "    return m\n"


def nested_conditionals(n: int) -> str:
    """``y = a if b else a if b else ... a`` nested ``n`` deep (Python
    compiles it), beside one legacy call."""
    return (
        HEADER
        + "a = b = 1\n"
        + "y = "
        + "a if b else " * n
        + "a\n"
        + "m = weight_norm(nn.Linear(1, 1))\n"
    )


def many_classes(n: int) -> str:
    """``n`` blocks as a large model file has them: a helper returning a
    weight-normed convolution, an ``nn.Module`` subclass of a shared base
    that builds one with it, holds a scale parameter, runs an init hook
    with ``.apply`` and normalizes in ``forward`` (about 16 lines each)."""
    head = (
        "import torch\n"
        "import torch.nn as nn\n"
        "from torch.nn.utils.parametrizations import weight_norm\n\n\n"
        "def init_weights(m):\n"
        "    if isinstance(m, nn.Conv1d):\n"
        "        nn.init.normal_(m.weight, 0.0, 0.01)\n\n\n"
        "class Base(nn.Module):\n"
        "    def scale(self, x):\n"
        "        return x\n\n\n"
    )
    blocks = "".join(
        f"def wn_conv{k}(*args):\n"
        "    return weight_norm(nn.Conv1d(*args))\n\n\n"
        f"class Block{k}(Base):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        f"        self.conv = wn_conv{k}(1, 1, 1)\n"
        "        self.g = nn.Parameter(torch.ones(1))\n"
        "        self.v = nn.Parameter(torch.ones(1, 1))\n"
        "        self.apply(init_weights)\n\n"
        "    def forward(self, x):\n"
        "        w = self.g * self.v / self.v.norm()\n"
        "        return self.scale(self.conv(x)) * w\n\n\n"
        for k in range(n)
    )
    return head + blocks
