"""``flake8 --select WN`` and ``wnlint check`` report the same findings."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, run_cli, run_module
from test_engine import NOQA_CASES


def flake8(*args: str, cwd=ROOT) -> list[str]:
    """flake8 in a new interpreter: it finds the plugin through the installed
    entry point, as it does for users."""
    result = run_module("flake8", "--select", "WN", *args, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout.splitlines()


def wnlint(*args: str, cwd=ROOT) -> list[str]:
    """``wnlint check``'s lines without the ``[*]`` that marks a fixable
    finding (flake8 has no fixes to mark): the rest is flake8's layout."""
    out = run_cli("check", *args, cwd=cwd).stdout
    return [without_fix_mark(line) for line in out.splitlines()]


def without_fix_mark(line: str) -> str:
    return re.sub(r"^(.*?: WN\d{3}) \[\*\] ", r"\1 ", line)


def test_plugin_is_registered():
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wnlint" in result.stdout, "install the package: pip install -e ."


def test_same_findings_on_the_fixtures():
    # flake8 does not read notebooks; wnlint does.
    ours = [line for line in wnlint("fixtures") if ".ipynb:" not in line]
    assert ours, "the fixtures must produce findings"
    assert sorted(flake8("fixtures")) == sorted(ours)


def test_same_positions_noqa_and_columns(tmp_path):
    lines = ["import torch.nn as nn"]
    for comment, _ in NOQA_CASES:
        lines.append(f"nn.utils.weight_norm(c)  {comment}")
    lines += [
        "x = ('héllo', nn.utils.weight_norm(c))",
        "y = nn.utils.weight_norm(c, name='''w",
        "''')  # noqa: WN301",
        "z = nn.utils.weight_norm(",
        "    c,",
        ")  # noqa: WN301",
    ]
    (tmp_path / "cases.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # One rule, so that only noqa and columns differ between lines.
    ours = wnlint("--select", "WN301", "cases.py", cwd=tmp_path)
    theirs = [x for x in flake8("cases.py", cwd=tmp_path) if " WN301 " in x]
    assert sorted(theirs) == sorted(ours)
    expected_unsuppressed = sum(1 for _, s in NOQA_CASES if not s) + 2
    assert len(ours) == expected_unsuppressed
