"""WN203 through a script-layout import, in torch: ``fixtures/wn203_scripts``
imported the way a script run from that directory imports it (the
directory first on ``sys.path``). Each positive keeps torch's default init
on its weight-normed layers; each near miss gets its init; after ``wnlint
fix --unsafe-fixes`` (which edits ``utils.py``) every layer has the weights
the init asks for. The reference is the same code with weight norm
replaced by the identity (it draws no random numbers and starts at
``g = ||v||``), built from the same seed."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import FIXTURES, imported_from, run_cli
from test_runtime_wn203_constructs import build as weights

SCRIPTS = FIXTURES / "wn203_scripts"
POSITIVES = ["ResBlock", "Generator"]
NEAR_MISSES = ["InitFirst", "LinearInit"]


def scripts_from(directory):
    """``models`` imported as a script in ``directory`` imports it."""
    return imported_from(directory, "models", ("models", "utils"))


@pytest.mark.parametrize("cls", POSITIVES)
def test_the_init_has_no_effect_through_the_import(cls):
    with scripts_from(SCRIPTS) as models:
        written, meant = weights(models, cls), weights(models, cls, plain=True)
    assert written.keys() == meant.keys()
    for name in written:
        assert not torch.allclose(written[name], meant[name]), name
        assert abs(meant[name].std().item() - 0.01) < 0.005  # normal_(0, 0.01)


@pytest.mark.parametrize("cls", NEAR_MISSES)
def test_the_near_misses_get_their_init(cls):
    with scripts_from(SCRIPTS) as models:
        written, meant = weights(models, cls), weights(models, cls, plain=True)
    for name in written:
        torch.testing.assert_close(written[name], meant[name])


def test_the_fix_makes_every_init_land(tmp_path):
    copy = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, copy)
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=copy)
    assert "fixed in utils.py" in result.stderr, result.stderr
    with scripts_from(SCRIPTS) as models:
        meant = {cls: weights(models, cls, plain=True) for cls in POSITIVES}
    with scripts_from(copy) as models:
        fixed = {cls: weights(models, cls) for cls in POSITIVES}
    for cls in POSITIVES:
        for name, weight in fixed[cls].items():
            torch.testing.assert_close(weight, meant[cls][name], rtol=1e-5, atol=1e-6)
