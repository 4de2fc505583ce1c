"""``fixtures/wn301_aliases.py`` in torch: the arm that binds the legacy
function leaves a non-leaf ``weight_hh_l0`` that breaks ``copy.deepcopy``
(WN301's pathology); after ``wnlint fix --unsafe-fixes`` that arm binds the
new API's function, and the module deep-copies, keeps its output and its
state_dict loads the original's. The near misses deep-copy as written."""

from __future__ import annotations

import copy
import importlib.util
import shutil

import pytest
import torch
from conftest import FIXTURES, load_fixture, run_cli


def test_the_legacy_arm_breaks_deepcopy():
    module = load_fixture("wn301_aliases")
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(module.NormedRNN())
    copy.deepcopy(module.NormedRNN("spectral_norm"))  # the other arms do not
    copy.deepcopy(module.NormedRNN("none"))


@pytest.mark.parametrize("cls", ["Shim", "NewOrSpectral"])
def test_the_near_misses_deepcopy(cls):
    copy.deepcopy(getattr(load_fixture("wn301_aliases"), cls)())


def test_the_fix_makes_the_arm_the_new_api(tmp_path):
    target = tmp_path / "wn301_aliases.py"
    shutil.copy(FIXTURES / "wn301_aliases.py", target)
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert "0 remaining" in result.stderr, result.stderr
    spec = importlib.util.spec_from_file_location("wn301_aliases_fixed", target)
    fixed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixed)
    torch.manual_seed(0)
    before = load_fixture("wn301_aliases").NormedRNN()
    torch.manual_seed(0)
    after = fixed.NormedRNN()
    copy.deepcopy(after)
    x = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(after(x), before(x))
    after.load_state_dict(before.state_dict(), strict=True)
