"""WN303 says what a mismatched remover does: it raises ``ValueError``, or,
in a ``try`` whose handler swallows that error, it removes nothing and
weight norm stays (proven in ``test_runtime_wn303_swallowed.py``)."""

from __future__ import annotations

import textwrap

import pytest
from conftest import run_cli

from wnlint.engine.linter import Linter, select_rules

SOURCE = """\
import torch.nn as nn
from torch.nn.utils import parametrize, remove_weight_norm
from {module} import weight_norm


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 1))

    def remove(self):
{body}
"""


def messages(body: str, module: str = "torch.nn.utils.parametrizations") -> list[str]:
    """WN303's messages on ``body``, a method of a class whose ``self.conv``
    ``module``'s weight norm normed."""
    text = textwrap.indent(textwrap.dedent(body), " " * 8)
    source = SOURCE.format(body=text, module=module)
    found = Linter(select_rules(["WN303"])).lint_bytes(source.encode(), "m.py")
    return [d.message for d in found]


def message(body: str) -> str:
    (found,) = messages(body)
    return found


@pytest.mark.parametrize(
    "body",
    [
        "try:\n    remove_weight_norm(self.conv)\nexcept ValueError:\n    pass\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept Exception as e:\n    print(e)\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept:\n    pass\n",
    ],
)
def test_a_swallowed_error_removes_nothing(body):
    assert "removes nothing: its ValueError is swallowed" in message(body)


@pytest.mark.parametrize(
    "body",
    [
        "remove_weight_norm(self.conv)\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept ValueError:\n    raise\n",
        "try:\n    remove_weight_norm(self.conv)\nexcept KeyError:\n    pass\n",
    ],
)
def test_an_error_that_reaches_the_caller_raises(body):
    assert "raises ValueError" in message(body)


def legacy_normed(body: str) -> list[str]:
    return messages(body, module="torch.nn.utils")


def test_a_new_remover_swallowed_on_legacy_modules_removes_nothing():
    body = (
        'try:\n    parametrize.remove_parametrizations(self.conv, "weight")\n'
        "except ValueError:\n    pass\n"
    )
    (found,) = legacy_normed(body)
    assert "legacy torch.nn.utils.weight_norm" in found
    assert "removes nothing: its ValueError is swallowed" in found


def test_a_new_remover_outside_a_try_raises():
    (found,) = legacy_normed(
        'parametrize.remove_parametrizations(self.conv, "weight")\n'
    )
    assert found.endswith("does not have a parametrization on weight")


@pytest.mark.parametrize(
    "body",
    [
        # the legacy remover is the fallback: whichever API is there goes
        'try:\n    parametrize.remove_parametrizations(self.conv, "weight")\n'
        "except ValueError:\n    remove_weight_norm(self.conv)\n",
        'if hasattr(self.conv, "parametrizations"):\n'
        '    parametrize.remove_parametrizations(self.conv, "weight")\n'
        "else:\n    remove_weight_norm(self.conv)\n",
    ],
)
def test_a_remover_with_the_other_as_fallback_is_left_alone(body):
    assert legacy_normed(body) == []


PLAIN_AND_NORMED = """\
import torch.nn as nn
from torch.nn.utils import remove_weight_norm
from torch.nn.utils.parametrizations import weight_norm


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.ups = nn.ModuleList([weight_norm(nn.Conv1d(2, 2, 1))])
        self.downs = nn.ModuleList()
        for _ in range(2):
            self.downs.append(nn.Conv1d(2, 2, 1))

    def remove(self):
        for layer in self.ups:
            remove_weight_norm(layer)
        for layer in self.downs:
            remove_weight_norm(layer)
"""


def test_a_remover_on_layers_never_normed_is_left_to_wn306():
    """CosyVoice's generator: the legacy remover on the new API's
    ``self.ups`` is WN303's; on ``self.downs``, plain convolutions, it
    fails with either API (WN306), and WN303's guarded fix would not help."""
    linter = Linter(select_rules(["WN303", "WN306"]))
    found = linter.lint_bytes(PLAIN_AND_NORMED.encode(), "m.py")
    assert [(d.line, d.code) for d in found] == [(16, "WN303"), (18, "WN306")]


INIT_APPLIED = """\
import torch.nn as nn
from torch.nn.utils import remove_weight_norm
from torch.nn.utils.parametrizations import weight_norm

from commons import init_weights


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_conv = nn.Conv1d(2, 2, 1)
        self.input_conv.apply(init_weights)
        self.convs = nn.ModuleList([weight_norm(nn.Conv1d(2, 2, 1))])

    def remove(self):
        remove_weight_norm(self.input_conv)
"""

COMMONS = """\
def init_weights(m):
    if m.__class__.__name__.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.01)
"""


@pytest.mark.parametrize(
    "commons, code",
    [
        (COMMONS, "WN306"),
        # The init may norm, or calls what may: nothing is known of the layer.
        (COMMONS + "    torch.nn.utils.weight_norm(m)\n", "WN303"),
        ("from norms import init_weights\n", "WN303"),
        # Defined in the file itself: its body may be cut out, so unknown.
        (None, "WN303"),
    ],
    ids=["writes-weights", "norms", "from-a-norming-module", "same-file"],
)
def test_a_layer_an_init_was_applied_to_is_still_known(tmp_path, commons, code):
    """Applio's ``ParallelResBlock``: ``self.input_conv.apply(init_weights)``
    with an init from a module that never spells weight norm leaves a plain
    layer, so the remover fails for want of weight norm (WN306), not for
    its API; where the init may norm, WN303 stands as before."""
    source = INIT_APPLIED
    if commons is None:
        source = source.replace("from commons import init_weights\n", COMMONS)
    else:
        (tmp_path / "commons.py").write_text(commons)
    (tmp_path / "norms.py").write_text(COMMONS + "    weight_norm(m)\n")
    (tmp_path / "m.py").write_text(source)
    found = run_cli(
        "check", "--no-cache", "--select", "WN303,WN306", "m.py", cwd=tmp_path
    )
    line = source.splitlines().index("        remove_weight_norm(self.input_conv)") + 1
    assert f"m.py:{line}:9: {code}" in found.stdout
    assert found.stdout.count(f"m.py:{line}:9:") == 1
