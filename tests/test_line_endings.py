"""One notion of a line: Python's (``\\n``, ``\\r\\n`` and a lone ``\\r``).

Every fixture and fix pair, with its line endings rewritten to ``\\r`` or
mixed, gives the same findings at the same places and the same fixes (line
endings aside); with a form feed in front of its indented lines, the same
findings on the same lines and the same fixes (form feeds aside). A fix
whose edit would land on other text than the rule analysed is an internal
error that keeps the file's bytes.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, fixture_files

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts import cutting
from wnlint.fixing import fixer as fix_module
from wnlint.fixing.fixer import fix_guarded
from wnlint.rules.fixes import Edit, Fix

SOURCES = [p for p in fixture_files() if p.suffix == ".py"] + sorted(
    (FIXTURES / "fix").glob("*_before.py")
)


def lone_cr(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r")


def mixed(text: str) -> str:
    """The line breaks in turn: ``\\n``, ``\\r\\n``, ``\\r`` (never a lone
    ``\\r`` before an empty line's ``\\n``: the two would be one break)."""
    parts = text.split("\n")
    breaks = ("\n", "\r\n", "\r")
    out = []
    for i, part in enumerate(parts[:-1]):
        brk = breaks[i % 3]
        if brk == "\n" and not part and out and out[-1].endswith("\r"):
            brk = "\r\n"
        out.append(part + brk)
    return "".join(out) + parts[-1]


def form_feeds(text: str) -> str:
    """A form feed at the start of every indented line (Python ignores it
    for indentation)."""
    return re.sub(r"(?m)^(?=[ \t]+\S)", "\f", text)


def plain(text: str) -> str:
    """What the rewrites above change, undone: ``\\n`` line ends, no form feeds."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "")


def _findings(data: bytes, path) -> list[tuple[int, int, str]]:
    found = Linter(select_rules()).lint_bytes(data, str(path))
    return sorted((d.line, d.col, d.code) for d in found)


def _fixed(data: bytes, path) -> tuple[str, list[str], bool]:
    result = fix_guarded(data, str(path), Linter(select_rules()), unsafe=True)
    return result.fixed.decode("utf-8"), result.notes, result.failed


@pytest.mark.parametrize("rewrite", [lone_cr, mixed], ids=lambda r: r.__name__)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_line_endings_keep_findings_and_fixes(path, rewrite):
    text = path.read_text(encoding="utf-8")
    data = rewrite(text).encode("utf-8")
    assert _findings(data, path) == _findings(text.encode("utf-8"), path)
    fixed, notes, failed = _fixed(data, path)
    expected, expected_notes, _ = _fixed(text.encode("utf-8"), path)
    assert not failed, notes
    assert plain(fixed) == expected
    assert notes == expected_notes


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_form_feeds_in_indentation_keep_findings_and_fixes(path):
    text = path.read_text(encoding="utf-8")
    data = form_feeds(text).encode("utf-8")
    lines = [(line, code) for line, _, code in _findings(data, path)]
    assert lines == [(line, code) for line, _, code in _findings(text.encode(), path)]
    fixed, notes, failed = _fixed(data, path)
    expected, _, _ = _fixed(text.encode("utf-8"), path)
    assert not failed, notes
    assert plain(fixed) == expected


def test_rewrites_apply():
    text = "class A:\n    x = 1\n"
    assert lone_cr(text) == "class A:\r    x = 1\r"
    assert mixed(text) == "class A:\n    x = 1\r\n"
    assert form_feeds(text) == "class A:\n\f    x = 1\n"


# -- the lone \r inside a definition the prefilter cuts -----------------------------

#: The WN103 fix pair with an old-Mac line end in a definition the
#: prefilter cuts: every line after it was one too low.
_WN103 = (FIXTURES / "fix" / "wn103_before.py").read_bytes()
_AT = _WN103.index(b"class WNLinear")
LONE_CR = _WN103[:_AT] + b"def unrelated(a):\r    return a\n\n\n" + _WN103[_AT:]


def test_reduce_source_counts_every_python_line_break():
    assert cutting.line_breaks(b"a\rb\r\nc\nd") == 3
    segments = cutting.split(LONE_CR)
    keep = [segment.name != b"unrelated" for segment in segments]
    reduced = cutting.reduce_source(LONE_CR, keep, segments)
    assert reduced != LONE_CR
    assert reduced.count(b"\n") == cutting.line_breaks(LONE_CR)


def test_lone_cr_check_and_flake8_agree(tmp_path):
    path = tmp_path / "lone.py"
    path.write_bytes(LONE_CR)
    found = Linter(select_rules()).lint_file(str(path))
    plain_lines = Linter(select_rules()).lint_bytes(
        LONE_CR.replace(b"\r", b"\n"), str(path)
    )
    assert [(d.line, d.col, d.code) for d in found] == [
        (d.line, d.col, d.code) for d in plain_lines
    ]
    assert [d.code for d in found] == ["WN103", "WN103"]
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "WN", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert flake8.stdout.splitlines() == [
        f"{path}:{d.line}:{d.col}: {d.code} {d.message}" for d in found
    ]


def test_lone_cr_noqa_applies_on_the_real_line(tmp_path):
    line = next(d.line for d in Linter(select_rules()).lint_bytes(LONE_CR, "m.py"))
    lines = LONE_CR.replace(b"\r", b"\n").split(b"\n")
    lines[line - 1] += b"  # noqa: WN103"
    silenced = b"\n".join(lines).replace(b"def unrelated(a):\n", b"def unrelated(a):\r")
    found = Linter(select_rules()).lint_bytes(silenced, "m.py")
    assert line not in [d.line for d in found] and len(found) == 1


def test_lone_cr_fix_equals_the_fix_of_the_same_file_with_newlines(tmp_path):
    path = tmp_path / "lone.py"
    fixed, notes, failed = _fixed(LONE_CR.replace(b"\r", b"\n"), path)
    assert not failed and fixed != LONE_CR.replace(b"\r", b"\n").decode(), notes
    fixed_cr, notes_cr, failed_cr = _fixed(LONE_CR, path)
    assert not failed_cr, notes_cr
    assert plain(fixed_cr) == fixed
    assert "def forward(self, x):" in fixed_cr


def test_a_shifted_edit_is_an_internal_error_and_the_file_keeps_its_bytes(
    tmp_path, monkeypatch
):
    """The guard: with the cut's old line count back (``\\n`` only), every
    position after the lone ``\\r`` is one line off; the fix's edits would
    land on the wrong code and still parse. They are caught before anything
    is written."""
    monkeypatch.setattr(cutting, "line_breaks", lambda text: text.count(b"\n"))
    path = tmp_path / "lone.py"
    result = fix_guarded(LONE_CR, str(path), Linter(select_rules()), unsafe=True)
    assert result.failed and result.fixed == LONE_CR
    assert any("does not match the analysed source" in n for n in result.notes), (
        result.notes
    )


def test_the_guard_passes_edits_that_match():
    """Every fixture's fixes pass the guard when the prefilter cuts the file
    (no internal error anywhere above); and a matching fix passes it here."""
    from wnlint.rules.fixes import Source, mismatch

    source = Source("a = 1\nb = 2\n")
    seen = Source("a = 1\nb = 2\n")
    edit = Edit(6, 7, "c", anchor=(2, 0, 2, 1))
    assert mismatch(Fix(fix_module.Applicability.SAFE, (edit,)), source, seen) is None
    moved = Source("x = None\n\nb = 2\n")
    assert mismatch(Fix(fix_module.Applicability.SAFE, (edit,)), source, moved) == edit


# -- a form feed as the first indentation -------------------------------------------

FORM_FEED = (
    b"import torch.nn as nn\n"
    b"from torch.nn.utils import weight_norm, remove_weight_norm\n"
    b"\n\n"
    b"class M(nn.Module):\n"
    b"\f    def __init__(self):\n"
    b"        super().__init__()\n"
    b"        self.conv = weight_norm(nn.Conv1d(1, 1, 1))\n"
    b"\n"
    b"    def strip(self):\n"
    b"        remove_weight_norm(self.conv)\n"
)


def test_form_feed_as_first_indentation_is_fixed_not_an_internal_error(tmp_path):
    fixed, notes, failed = _fixed(FORM_FEED, tmp_path / "ff.py")
    assert not failed, notes
    assert "parametrizations.weight_norm(nn.Conv1d" in fixed, notes
    assert "remove_parametrizations(self.conv, " in fixed, notes
    expected, _, _ = _fixed(FORM_FEED.replace(b"\f", b""), tmp_path / "ff.py")
    assert plain(fixed) == expected
    compile(fixed, "ff.py", "exec")
