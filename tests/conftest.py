"""Shared test helpers: the fixture files, their inline markers, a device."""

from __future__ import annotations

import importlib.util
import io
import re
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

_MARKER = re.compile(r"#\s*(todo-expect|expect):\s*(WN\d{3}(?:\s*,\s*WN\d{3})*)")


def run_module(
    module: str, *args: str, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """``python -m <module> <args>`` in ``cwd``, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.py"))


def markers(path: Path, kind: str = "expect") -> Counter:
    """(line, code) pairs marked ``# expect: WN301`` in a fixture's comments.

    Comments are read with ``tokenize``, so a docstring that mentions the
    marker syntax is not a marker.
    """
    found: Counter = Counter()
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        for match in _MARKER.finditer(tok.string):
            if match.group(1) != kind:
                continue
            for code in re.split(r"\s*,\s*", match.group(2)):
                found[(tok.start[0], code)] += 1
    return found


def load_fixture(name: str) -> ModuleType:
    """Import ``fixtures/<name>.py`` (``name`` may be ``fix/wn101_after``) as
    a module (runtime tests)."""
    path = FIXTURES / f"{name}.py"
    module_name = "wnlint_fixture_" + name.replace("/", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def device():
    """CUDA when this machine has it, otherwise the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pytest_addoption(parser):
    parser.addoption(
        "--update-fixtures",
        action="store_true",
        help="rewrite fixtures/fix/*_after.py from their *_before.py with "
        "`wnlint fix --unsafe-fixes` (review the diff before committing)",
    )
