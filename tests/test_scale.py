"""``check`` is linear and total on valid Python: the shapes that once took
minutes or failed (``bench/shapes.py``) finish, in a separate process under a
generous limit so that a regression fails instead of hanging, with every
finding and no internal error. ``bench/scale.py`` measures the growth."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from shapes import elif_chain, many_calls, many_classes, nested_conditionals

from wnlint.engine.linter import Linter, select_rules
from wnlint.flake8_plugin import WnlintPlugin

#: Each took minutes before (quadratic and cubic passes); now seconds.
SHAPES = [
    pytest.param(many_calls(30_000), 30_000, id="30000-calls"),
    pytest.param(elif_chain(2_000), 2_000, id="2000-arm-elif-chain"),
]


def _check(path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wnlint", "check", *args, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(("source", "count"), SHAPES)
def test_many_applications_finish_with_every_finding(source, count, tmp_path):
    try:
        compile(source, "m.py", "exec")
    except RecursionError:
        pytest.skip("this Python cannot compile the file either")
    path = tmp_path / "m.py"
    path.write_text(source)
    proc = _check(path)
    assert proc.returncode == 1, proc.stderr
    codes = [line.split()[1] for line in proc.stdout.splitlines()]
    assert codes == ["WN301"] * count


def test_a_large_model_file_finishes_with_every_finding(tmp_path):
    """1,000 helper-and-module blocks (17,000 lines): the lookups of
    definitions, subclasses and the prefilter's kept classes once grew
    with the square of the file; each block's dead init is found."""
    blocks = 1_000
    path = tmp_path / "models.py"
    path.write_text(many_classes(blocks))
    proc = _check(path, "--no-cache")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["WN203"] * blocks
    # Every block's .apply line, in order: a lookup that found another
    # block's helper or class would report elsewhere or twice.
    source = path.read_text().splitlines()
    applies = [i + 1 for i, text in enumerate(source) if "self.apply(" in text]
    assert [int(line.split(":")[1]) for line in lines] == applies


def test_elif_arms_exclude_each_other_but_not_what_follows(tmp_path):
    """An application after the chain re-applies what any arm applied."""
    source = elif_chain(300).replace(
        "    return m\n", "    m = weight_norm(m)\n    return m\n"
    )
    found = Linter(select_rules()).lint_bytes(source.encode(), "m.py")
    last = len(source.splitlines()) - 1
    assert [d.line for d in found if d.code == "WN204"] == [last]


DEEP = nested_conditionals(1_000)


def test_python_compiles_the_deep_file():
    compile(DEEP, "deep.py", "exec")


def test_deep_nesting_check_and_stdin(tmp_path):
    path = tmp_path / "deep.py"
    path.write_text(DEEP)
    for args in ((), ("--stdin-filename", str(path))):
        if args:
            proc = subprocess.run(
                [sys.executable, "-m", "wnlint", "check", *args, "-"],
                input=DEEP,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=ROOT,
                check=False,
            )
        else:
            proc = _check(path)
        assert "WN003" not in proc.stdout, proc.stdout
        assert [line.split()[1] for line in proc.stdout.splitlines()] == ["WN301"]
        assert proc.returncode == 1, proc.stderr


def test_deep_nesting_flake8_plugin():
    tree = ast.parse(DEEP)
    plugin = WnlintPlugin(tree, DEEP.splitlines(keepends=True), "deep.py")
    found = [message.split()[0] for _, _, message, _ in plugin.run()]
    assert found == ["WN301"]
