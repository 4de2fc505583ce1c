"""``wnlint check --add-noqa``: every finding silenced by a ``# noqa``
comment on the line flake8 reads for it, so that ``check`` then passes."""

from __future__ import annotations

import ast
import os
import shutil
import stat

import pytest
from conftest import FIXTURES, run_cli, run_module

from wnlint.cli.add_noqa import add_noqa_comments

HEAD = "import torch.nn as nn\n"
CALL = "nn.utils.weight_norm(nn.Conv1d(1, 1, 1))"


def add_noqa(path, *args: str):
    return run_cli(
        "check", "--no-cache", "--add-noqa", *args, path.name, cwd=path.parent
    )


def check(path):
    return run_cli("check", "--no-cache", path.name, cwd=path.parent)


def write(tmp_path, text: str, name: str = "m.py"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_a_simple_call_gets_the_comment_on_its_line(tmp_path):
    path = write(tmp_path, HEAD + f"conv = {CALL}\nx = 1\n")
    assert check(path).returncode == 1
    result = add_noqa(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "wnlint: added 1 noqa directive in 1 files\n" in result.stderr
    assert path.read_text() == HEAD + f"conv = {CALL}  # noqa: WN301\nx = 1\n"
    after = check(path)
    assert after.returncode == 0 and after.stdout == ""


def test_the_summary_counts_directives_and_files(tmp_path):
    write(tmp_path, HEAD + f"a = {CALL}\nb = {CALL}\n", "one.py")
    write(tmp_path, HEAD + f"c = {CALL}\n", "two.py")
    write(tmp_path, "x = 1\n", "clean.py")
    result = run_cli("check", "--no-cache", "--add-noqa", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "wnlint: added 3 noqa directives in 2 files"
    )


def test_a_bracketed_call_gets_it_on_the_reported_line(tmp_path):
    """flake8 ends each line of a bracketed call with NL: a comment covers
    its own physical line only, so it goes on the line of the finding."""
    text = HEAD + (
        "z = nn.utils.weight_norm(\n"  # reported here
        "    a,\n"
        ")\n"
        "q = wrap(\n"
        "    nn.utils.weight_norm(b),\n"  # and here, inside the brackets
        ")\n"
    )
    path = write(tmp_path, text)
    result = add_noqa(path)
    assert result.returncode == 0, result.stderr
    assert path.read_text() == HEAD + (
        "z = nn.utils.weight_norm(  # noqa: WN301\n"
        "    a,\n"
        ")\n"
        "q = wrap(\n"
        "    nn.utils.weight_norm(b),  # noqa: WN301\n"
        ")\n"
    )
    assert check(path).stdout == ""


def test_flake8_reads_the_comments_where_they_are_put(tmp_path):
    text = HEAD + (
        "z = nn.utils.weight_norm(\n    a,\n)\n"
        "y = nn.utils.weight_norm(b, name='''w\n''')\n"
        "x = 1 + \\\n    nn.utils.weight_norm(c)\n"
    )
    path = write(tmp_path, text)
    before = run_module("flake8", "--isolated", "--select", "WN", "m.py", cwd=tmp_path)
    assert before.stdout.count(" WN301 ") == 3
    add_noqa(path)
    after = run_module("flake8", "--isolated", "--select", "WN", "m.py", cwd=tmp_path)
    assert after.returncode == 0 and after.stdout == "", after.stdout


def test_never_inside_a_multi_line_string(tmp_path):
    """A line that ends inside a string cannot hold a comment: it goes on
    the last line of the string's range, and the string is unchanged."""
    text = HEAD + (
        'y = nn.utils.weight_norm(b, name="""w\n'
        "# not a comment\n"
        '""")\n'
        'u = f(nn.utils.weight_norm(c), doc="""a\n'
        'b""",\n'
        ")\n"
    )
    path = write(tmp_path, text)
    result = add_noqa(path)
    assert result.returncode == 0, result.stderr
    new = path.read_text()
    assert new == HEAD + (
        'y = nn.utils.weight_norm(b, name="""w\n'
        "# not a comment\n"
        '""")  # noqa: WN301\n'
        'u = f(nn.utils.weight_norm(c), doc="""a\n'
        'b""",  # noqa: WN301\n'
        ")\n"
    )
    assert ast.dump(ast.parse(new)) == ast.dump(ast.parse(text))
    assert check(path).stdout == ""


def test_a_backslash_continuation_gets_it_on_its_last_line():
    text = HEAD + "x = nn.utils.weight_norm(c) + \\\n    1\n"
    placed = add_noqa_comments(text, [(2, "WN301")])
    assert (
        placed.text == HEAD + "x = nn.utils.weight_norm(c) + \\\n    1  # noqa: WN301\n"
    )
    assert placed.directives == 1


def test_codes_join_an_existing_noqa_list(tmp_path):
    text = HEAD + (
        f"a = {CALL}  # noqa: E501\n"
        f"b = {CALL}  # noqa:E501,W291\n"
        f"c = {CALL}  # type: ignore  # noqa: E501 long line\n"
        f"d = {CALL}  # a comment\n"
    )
    path = write(tmp_path, text)
    result = add_noqa(path)
    assert result.returncode == 0, result.stderr
    assert path.read_text() == HEAD + (
        f"a = {CALL}  # noqa: E501, WN301\n"
        f"b = {CALL}  # noqa:E501,W291,WN301\n"
        f"c = {CALL}  # type: ignore  # noqa: E501, WN301 long line\n"
        f"d = {CALL}  # a comment  # noqa: WN301\n"
    )
    assert check(path).stdout == ""


def test_several_codes_on_one_line_share_one_comment():
    text = HEAD + f"a = {CALL}  # noqa: E501\n"
    placed = add_noqa_comments(text, [(2, "WN301"), (2, "WN204"), (2, "WN301")])
    assert placed.text == HEAD + f"a = {CALL}  # noqa: E501, WN204, WN301\n"
    assert placed.directives == 1


def test_a_bare_noqa_is_left_alone():
    text = HEAD + f"a = {CALL}  # noqa\n"
    placed = add_noqa_comments(text, [(2, "WN301")])
    assert placed.text == text and placed.directives == 0


def test_a_second_run_adds_nothing(tmp_path):
    text = HEAD + f"a = {CALL}  # noqa: E501\nb = nn.utils.weight_norm(\n    c,\n)\n"
    path = write(tmp_path, text)
    first = add_noqa(path)
    assert "added 2 noqa directives in 1 files" in first.stderr
    once = path.read_bytes()
    second = add_noqa(path)
    assert second.returncode == 0
    assert "wnlint: added 0 noqa directives in 0 files" in second.stderr
    assert path.read_bytes() == once


def test_a_file_that_does_not_parse_is_left_untouched(tmp_path):
    broken = write(tmp_path, HEAD + f"a = {CALL}\ndef (:\n", "broken.py")
    good = write(tmp_path, HEAD + f"a = {CALL}\n", "good.py")
    original = broken.read_bytes()
    result = run_cli("check", "--no-cache", "--add-noqa", ".", cwd=tmp_path)
    assert broken.read_bytes() == original
    assert good.read_text().endswith("  # noqa: WN301\n")
    # What check still reports is reported, as check would.
    assert result.returncode == 1
    assert result.stdout.startswith("./broken.py:")
    assert " WN001 " in result.stdout and " WN301 " not in result.stdout
    assert "added 1 noqa directive in 1 files" in result.stderr


def test_line_endings_and_a_missing_final_newline_are_kept(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(f"import torch.nn as nn\r\na = {CALL}\r\nb = {CALL}".encode())
    assert add_noqa(path).returncode == 0
    assert (
        path.read_bytes()
        == (
            f"import torch.nn as nn\r\na = {CALL}  # noqa: WN301\r\n"
            f"b = {CALL}  # noqa: WN301"
        ).encode()
    )


def test_a_declared_encoding_is_kept(tmp_path):
    path = tmp_path / "m.py"
    text = f"# -*- coding: latin-1 -*-\nimport torch.nn as nn\nc = {CALL}  # é\n"
    path.write_bytes(text.encode("latin-1"))
    assert add_noqa(path).returncode == 0
    assert path.read_bytes() == text.replace("# é", "# é  # noqa: WN301").encode(
        "latin-1"
    )


def test_a_notebook_is_skipped_with_a_message(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    shutil.copy(FIXTURES / "notebook_wn301.ipynb", notebook)
    original = notebook.read_bytes()
    result = add_noqa(notebook)
    assert notebook.read_bytes() == original
    assert "nb.ipynb: notebooks are not edited by --add-noqa; 2 findings left" in (
        result.stderr
    )
    assert result.returncode == 1 and result.stdout.count("nb.ipynb:cell ") == 2


def test_a_read_only_file_is_not_written(tmp_path):
    path = write(tmp_path, HEAD + f"a = {CALL}\n")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        result = add_noqa(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert result.returncode == 2
    assert "m.py: not changed: cannot write" in result.stderr
    assert path.read_text() == HEAD + f"a = {CALL}\n"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".wnlint-tmp")]


def test_a_file_that_does_not_parse_is_left_as_it_is(tmp_path):
    """The file stops parsing before the finding (an indentation error in a
    function): it is one WN001, as flake8 sees it, and no comment is added;
    fixing the syntax comes first."""
    text = (
        HEAD
        + "\n\ndef f():\n    if x:\n            a = 1\n        b = 2\n\n\n"
        + f"c = {CALL}\n"
    )
    path = write(tmp_path, text)
    assert " WN001 " in check(path).stdout and " WN301 " not in check(path).stdout
    result = add_noqa(path)
    assert path.read_text() == text
    assert result.returncode == 1 and " WN001 " in result.stdout


def test_stdin_is_a_usage_error(tmp_path):
    result = run_cli("check", "--add-noqa", "-", cwd=tmp_path)
    assert result.returncode == 2
    assert "--add-noqa edits files in place" in result.stderr


@pytest.mark.parametrize("selection", [(), ("--select", "WN3")])
def test_only_the_selected_findings_are_silenced(tmp_path, selection):
    text = HEAD + (
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        self.w = nn.Parameter(x)\n"
        f"        return {CALL}\n"
    )
    path = write(tmp_path, text)
    result = add_noqa(path, *selection)
    assert result.returncode == 0, result.stderr
    new = path.read_text()
    assert (f"return {CALL}  # noqa: WN301\n") in new
    assert ("nn.Parameter(x)  # noqa: WN106\n" in new) is (not selection)
