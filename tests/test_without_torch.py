"""Without torch installed, the runtime tests are skipped with a reason and
the static suite passes (torch is a test extra, never a dependency)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

#: A pytest plugin that makes ``import torch`` fail as on a machine without
#: it (and ``importlib.util.find_spec("torch")`` answer None).
HIDE_TORCH = 'import sys\n\nsys.modules["torch"] = None\n'


def test_static_tests_pass_and_runtime_tests_skip_without_torch(tmp_path):
    (tmp_path / "hide_torch.py").write_text(HIDE_TORCH, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "hide_torch",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "tests/test_registry.py",
            "tests/test_runtime_legacy_api.py",
            "tests/test_fix.py::test_fixed_vocoder_matches_the_legacy_one",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "test_runtime_legacy_api.py: torch is not installed" in out
    assert "2 skipped" in out
    assert " passed" in out and "error" not in out.lower()
