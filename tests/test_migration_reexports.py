"""A legacy function a project module re-exports (``from .layers import
weight_norm``): the migration of the exporting module stops binding the
name, so a migrated importer drops its import of it, and any other file
that still imports or reads it is warned about (``ImportError``,
``AttributeError`` once the module is written)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import HAVE_TORCH, run_cli

LAYERS = """\
import torch.nn as nn
from torch.nn.utils import weight_norm


def WNConv1d(*args):
    return weight_norm(nn.Conv1d(*args))
"""

MODEL = """\
import torch.nn as nn

from .layers import weight_norm as wn, WNConv1d
from pkg.layers import weight_norm


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = WNConv1d(2, 2, 3)
        self.b = wn(nn.Linear(2, 2))
        self.c = weight_norm(nn.Linear(2, 2))
"""

#: Not migrated (nothing it calls is known for weight norm): it keeps
#: importing and reading the name.
OTHER = """\
from pkg.layers import weight_norm, WNConv1d
from pkg import layers
import pkg.layers as L


def norm(module):
    return layers.weight_norm(module), L.WNConv1d
"""


def _package(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "layers.py").write_text(LAYERS)
    (tmp_path / "pkg" / "model.py").write_text(MODEL)
    (tmp_path / "pkg" / "other.py").write_text(OTHER)


@pytest.mark.parametrize("diff", [True, False], ids=["diff", "write"])
def test_a_migrated_importer_drops_the_name_and_the_others_are_warned(tmp_path, diff):
    _package(tmp_path)
    mode = ["--diff"] if diff else []
    result = run_cli("fix", "--unsafe-fixes", *mode, ".", cwd=tmp_path)
    assert (
        "fix 3 findings in 2 files" in result.stderr
        or "fixed 3 findings in 2 files" in result.stderr
    )
    if diff:
        assert "+from .layers import WNConv1d\n" in result.stdout
        assert "\n-from pkg.layers import weight_norm\n" in result.stdout
    else:
        model = (tmp_path / "pkg" / "model.py").read_text()
        assert "from .layers import WNConv1d\n" in model
        assert "from pkg.layers import weight_norm" not in model
    for line, how in ((1, "imports"), (7, "reads")):
        assert (
            f"pkg/other.py: warning: line {line} {how} `weight_norm` from "
            "pkg/layers.py, which the weight norm migration no longer binds"
        ) in result.stderr
    assert (
        "L.WNConv1d" not in result.stderr and "model.py: warning" not in result.stderr
    )


def test_a_file_outside_the_run_is_warned_about_too(tmp_path):
    _package(tmp_path)
    result = run_cli("fix", "--unsafe-fixes", "--diff", "pkg/layers.py", cwd=tmp_path)
    assert "pkg/model.py: warning: line 3 imports `weight_norm`" in result.stderr
    assert "pkg/model.py: warning: line 4 imports `weight_norm`" in result.stderr
    assert "pkg/other.py: warning: line 1 imports `weight_norm`" in result.stderr


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_the_migrated_package_imports_and_builds(tmp_path):
    """Before the importer dropped its import, ``import pkg.model`` raised
    ImportError once ``pkg/layers.py`` was migrated."""
    _package(tmp_path)
    (tmp_path / "pkg" / "other.py").unlink()
    run_cli("fix", "--unsafe-fixes", ".", cwd=tmp_path)
    code = textwrap.dedent(
        """\
        import warnings
        warnings.simplefilter("error", FutureWarning)  # no legacy API left
        import pkg.model
        m = pkg.model.M()
        assert "parametrizations" in dict(m.named_modules())["b"].__dict__["_modules"]
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert done.stdout == "ok\n", done.stderr
