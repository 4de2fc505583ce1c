"""Jupyter notebooks: code cells checked and fixed as one module, findings
at ``path:cell N:line:col``, the notebook's JSON kept as it was."""

from __future__ import annotations

from conftest import run_cli


def test_a_notebook_that_is_not_json_is_a_syntax_error(tmp_path):
    # A Python literal that is not JSON: once linted as Python, "no findings".
    (tmp_path / "train.ipynb").write_text("{'cells': []}\n")
    result = run_cli("check", "train.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("train.ipynb:1:2: WN001 cannot parse: ")
    assert "not a Jupyter notebook" in result.stdout
