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
