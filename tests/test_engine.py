"""Engine behaviour the CLI and plugin share: discovery, noqa, encodings,
positions, and never crashing on bad input."""

from __future__ import annotations

import os

import pytest
from conftest import UNKNOWN_PREFIX

from wnlint.engine import noqa
from wnlint.engine.linter import Linter, select_rules
from wnlint.engine.runner import discover
from wnlint.rules import ALL_RULES, RULES_BY_CODE

CALL = "import torch.nn as nn\nnn.utils.weight_norm(c)\n"


def lint(source, path="t.py"):
    data = source if isinstance(source, bytes) else source.encode("utf-8")
    return Linter(select_rules()).lint_bytes(data, path)


def positions(source):
    return [(d.line, d.col, d.code) for d in lint(source)]


def test_discovery_skips_caches_builds_and_virtualenvs(tmp_path):
    for rel in [
        "pkg/a.py",
        "pkg/sub/b.py",
        "pkg/notes.txt",
        ".git/hooks/c.py",
        ".venv/lib/d.py",
        "build/lib/e.py",
        "pkg/__pycache__/f.py",
        "pkg.egg-info/g.py",
        "myenv/lib/h.py",
        "node_modules/x/i.py",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    found = [os.path.relpath(p, tmp_path) for p in discover([str(tmp_path)])]
    assert found == ["pkg/a.py", "pkg/sub/b.py"]


def test_prefilter_skips_files_that_cannot_match():
    # No trigger text: not even parsed, so no syntax error either.
    assert lint("def broken(:\n") == []
    assert [d.code for d in lint("weight_norm(\n")] == ["WN001"]


def test_column_counts_characters_not_bytes():
    source = "import torch.nn as nn\nx = ('é', nn.utils.weight_norm(c))\n"
    assert positions(source) == [(2, 11, "WN301")]


def test_crlf_and_form_feed_keep_line_numbers():
    assert positions(CALL.replace("\n", "\r\n")) == [(2, 1, "WN301")]
    source = "import torch.nn as nn\n\x0c\nx = 1\nnn.utils.weight_norm(c)\n"
    assert positions(source) == [(4, 1, "WN301")]


def test_declared_encoding_and_bom():
    latin = "# -*- coding: latin-1 -*-\nimport torch.nn as nn\ns = 'é'; nn.utils.weight_norm(c)\n"
    assert positions(latin.encode("latin-1")) == [(3, 10, "WN301")]
    assert positions(b"\xef\xbb\xbf" + CALL.encode()) == [(2, 1, "WN301")]


@pytest.mark.parametrize(
    "data, needle",
    [
        (b"import torch\x00\nweight_norm(x)\n", "null bytes"),
        (b"weight_norm = '\xff\xfe'\n", "cannot parse"),
        (b"weight_norm(\n", "cannot parse"),
        (b"if x:\nweight_norm(c)\n", "expected an indented block"),
    ],
)
def test_bad_input_is_one_wn001(data, needle):
    found = lint(data)
    assert [d.code for d in found] == ["WN001"]
    assert needle in found[0].message


def test_deeply_nested_source_does_not_crash():
    deep = "from torch.nn.utils import weight_norm\nx = " + " + ".join(["a"] * 20000)
    found = lint(deep + "\nweight_norm(c)\n")
    assert [d.code for d in found] in (["WN301"], ["WN001"])
    parens = "weight_norm\nx = " + "(" * 300 + ")" * 300 + "\n"
    assert [d.code for d in lint(parens)] in ([], ["WN001"])


def test_a_failing_rule_is_reported_and_the_others_still_run(monkeypatch):
    def explode(self, analysis):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    monkeypatch.setattr(RULES_BY_CODE["WN302"], "check", explode)
    found = lint(CALL + "from torch.nn.utils import remove_weight_norm\n")
    assert [(d.code, d.message) for d in found] == [
        ("WN003", "internal error in WN302: RuntimeError: boom"),
        ("WN301", RULES_BY_CODE["WN301"].message),
    ]


def test_unreadable_file_is_wn002(tmp_path):
    found = Linter(select_rules()).lint_file(str(tmp_path))  # a directory
    assert [d.code for d in found] == ["WN002"]


NOQA_CASES = [
    ("# noqa", True),
    ("# NOQA", True),
    ("# noqa: WN301", True),
    ("# noqa:WN301", True),
    ("# noqa: E501,WN301", True),
    ("# noqa: E501 WN301", True),
    ("# noqa: WN3", True),
    ("# noqa: WN", True),  # not a code list, so a blanket noqa
    ("# noqa: WN302", False),
    ("# noqa : WN301", True),  # flake8 reads this as a blanket noqa
    ("#noqa", False),
]


@pytest.mark.parametrize("comment, suppressed", NOQA_CASES)
def test_noqa_matches_flake8(comment, suppressed):
    assert noqa.is_suppressed("WN301", comment) is suppressed
    source = "import torch.nn as nn\nnn.utils.weight_norm(c)  " + comment + "\n"
    assert (lint(source) == []) is suppressed


MULTILINE_NOQA = [
    # (source, suppressed). As in flake8, physical lines are joined only
    # where one token spans them (a triple-quoted string), not in brackets.
    ("nn.utils.weight_norm(  # noqa: WN301\n    c)\n", True),
    ("nn.utils.weight_norm(\n    c)  # noqa\n", False),
    ("nn.utils.weight_norm(c)  # noqa: E501, F401\n", False),
    ('nn.utils.weight_norm(c, """\n# noqa""")\n', True),
    ('nn.utils.weight_norm(c, """\n# noqa: E501""")\n', False),
    # flake8's code list runs on into the string's next line.
    ('nn.utils.weight_norm(c, """  # noqa: E501,\nWN3""")\n', True),
]


@pytest.mark.parametrize("body, suppressed", MULTILINE_NOQA)
def test_noqa_on_logical_lines(body, suppressed):
    source = "import torch.nn as nn\n" + body
    assert (lint(source) == []) is suppressed
    lines = source.splitlines(keepends=True)
    exact = noqa.noqa_text_by_line(lines)
    assert noqa.is_suppressed("WN301", exact[2]) is suppressed
    # The shortcut that skips tokenizing never hides a comment that counts.
    assert noqa.may_suppress(lines, {"WN301"}) or not suppressed


def test_file_level_flake8_noqa():
    assert lint("# flake8: noqa\n" + CALL) == []
    # Only on a line of its own, as flake8 has it.
    assert lint("x = 1  # flake8: noqa\n" + CALL) != []


def test_select_defaults_and_unknown_prefixes():
    assert [r.code for r in select_rules()] == [r.code for r in ALL_RULES]
    assert [r.code for r in select_rules(["WN302"])] == ["WN302"]
    with pytest.raises(Exception, match="unknown rule code"):
        select_rules([UNKNOWN_PREFIX])


def test_parallel_run_matches_serial_run(tmp_path):
    """Enough files to use worker processes; the same findings, in order."""
    from conftest import fixture_files

    sources = [p.read_bytes() for p in fixture_files()]
    for i in range(230):
        (tmp_path / f"m{i:03d}.py").write_bytes(sources[i % len(sources)])
    linter = Linter(select_rules())
    serial = linter.lint_paths([str(tmp_path)], jobs=1)
    parallel = linter.lint_paths([str(tmp_path)], jobs=2)
    assert serial.files_checked == parallel.files_checked == 230
    assert parallel.diagnostics == serial.diagnostics != []
