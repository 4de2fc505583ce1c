"""Jupyter notebooks: code cells checked and fixed as one module, findings
at ``path:cell N:line:col``, the notebook's JSON kept as it was."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, fixture_files, run_cli

from wnlint.engine import notebook, notebook_write
from wnlint.engine.linter import Diagnostic, Linter, select_rules
from wnlint.facts import cutting
from wnlint.fixing import fixer as fix_module
from wnlint.fixing.fixer import FileFix
from wnlint.rules import RULES_BY_CODE

FIXTURE = FIXTURES / "notebook_wn301.ipynb"
LEGACY = "nn.utils.weight_norm(nn.Linear(2, 2))"
IMPORT = "import torch.nn as nn"


def make(*cells: str | tuple[str, str], **dump: object) -> str:
    """A notebook's text: each cell a code cell's source, or (type, source);
    written as nbformat writes it unless ``dump`` says otherwise."""
    out = []
    for n, cell in enumerate(cells):
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        entry: dict = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            entry.update(execution_count=n, outputs=[])
        out.append(entry)
    nb = {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    options = {"indent": 1, "sort_keys": True, "ensure_ascii": False, **dump}
    return json.dumps(nb, **options) + "\n"  # type: ignore[arg-type]


def lines(text: str) -> list[str]:
    """nbformat's list form of a source."""
    return notebook_write._split_source(text)


def check(tmp_path, text: str, *args: str):
    (tmp_path / "nb.ipynb").write_text(text, encoding="utf-8")
    return run_cli("check", *args, "nb.ipynb", cwd=tmp_path)


def where(stdout: str) -> list[str]:
    """Each finding's position and code."""
    return [re.match(r".*?: WN\d{3}", line).group() for line in stdout.splitlines()]  # type: ignore[union-attr]


def found(tmp_path, text: str) -> list[str]:
    return where(check(tmp_path, text).stdout)


# -- not a notebook -------------------------------------------------------------


def test_a_notebook_that_is_not_json_is_a_syntax_error(tmp_path):
    # A Python literal that is not JSON: once linted as Python, "no findings".
    (tmp_path / "train.ipynb").write_text("{'cells': []}\n")
    result = run_cli("check", "train.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("train.ipynb:1:2: WN001 cannot parse: ")
    assert "not a Jupyter notebook: invalid JSON" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"nbformat": 4}', 'not a Jupyter notebook: no "cells" list'),
        ("[1, 2]", 'not a Jupyter notebook: no "cells" list'),
        ('{"worksheets": []}', "nbformat 3 notebooks are not supported"),
        ('{"cells": [1]}', "cell 1 is not a JSON object"),
        (
            '{"cells": [{"cell_type": "code", "source": 3}]}',
            'cell 1 has no valid "source"',
        ),
        (b'{"cells": ["\xff"]}', "not UTF-8"),
        (
            '{"cells": [{"cell_type": "code", "source": ["x = \'\\udc80\'"]}]}',
            "cell 1 is not valid Unicode",
        ),
    ],
)
def test_json_that_is_not_a_notebook_is_a_syntax_error(tmp_path, content, message):
    path = tmp_path / "nb.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = run_cli("check", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("nb.ipynb:1:1: WN001 cannot parse: "), result.stdout
    assert message in result.stdout


def test_fix_leaves_a_broken_notebook_alone_and_reports_it(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text("not json\n")
    result = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert "nb.ipynb:1:1: WN001 cannot parse: not a Jupyter notebook" in result.stdout
    assert path.read_text() == "not json\n"


def test_ignore_wn001_silences_a_broken_notebook(tmp_path):
    result = check(tmp_path, "not json", "--ignore", "WN001")
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize(
    "text",
    [
        make(),
        make(("markdown", "# only prose, nn.utils.weight_norm(x)")),
        make(""),
        make(("raw", LEGACY)),
    ],
    ids=["no cells", "markdown only", "an empty code cell", "a raw cell"],
)
def test_empty_and_prose_notebooks_are_clean(tmp_path, text):
    result = check(tmp_path, text)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout
    fixed = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert fixed.returncode == 0
    assert (tmp_path / "nb.ipynb").read_text() == text


# -- the fixture ------------------------------------------------------------------


def test_fixture_findings_at_their_cells():
    result = run_cli("check", "fixtures/notebook_wn301.ipynb")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "fixtures/notebook_wn301.ipynb:cell 3:2:5: WN301 [*] "
        + RULES_BY_CODE["WN301"].message,
        "fixtures/notebook_wn301.ipynb:cell 5:5:1: WN302 [*] "
        + RULES_BY_CODE["WN302"].message,
    ]


def test_fixture_is_fixed_in_its_cells_outputs_untouched(tmp_path):
    target = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, target)
    result = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fixed 2 findings in 1 files, 0 remaining" in result.stderr
    before_text, after_text = FIXTURE.read_text("utf-8"), target.read_text("utf-8")
    before, after = json.loads(before_text), json.loads(after_text)
    changed = {
        i for i, (a, b) in enumerate(zip(before["cells"], after["cells"])) if a != b
    }
    assert changed == {2, 4}  # the cells numbered 3 and 5
    for i in changed:  # only their sources differ
        a, b = dict(before["cells"][i]), dict(after["cells"][i])
        assert a.pop("source") != b.pop("source")
        assert a == b
    assert {k: v for k, v in before.items() if k != "cells"} == {
        k: v for k, v in after.items() if k != "cells"
    }
    assert after["cells"][4]["outputs"][0]["data"]["image/png"].startswith("iVBOR")
    # Bytes outside the two changed sources are the original bytes.
    old = notebook_write._source_spans(before_text)
    new = notebook_write._source_spans(after_text)
    cuts_old = [0, old[2][0], old[2][1], old[4][0], old[4][1], len(before_text)]
    cuts_new = [0, new[2][0], new[2][1], new[4][0], new[4][1], len(after_text)]
    for k in (0, 2, 4):
        assert (
            before_text[cuts_old[k] : cuts_old[k + 1]]
            == after_text[cuts_new[k] : cuts_new[k + 1]]
        )
    # The changed cells keep nbformat's list form and their escapes exactly.
    assert (
        after["cells"][2]["source"][1]
        == "    nn.utils.parametrizations.weight_norm(nn.Linear(4, 4)),\n"
    )
    assert after["cells"][4]["source"][:4] == before["cells"][4]["source"][:4]
    assert after["cells"][4]["source"][4] == (
        'nn.utils.parametrize.remove_parametrizations(model[0], "weight")'
        "  # fold g into the weight"
    )
    # A second run changes nothing; check is clean.
    again = run_cli("fix", "--unsafe-fixes", target.name, cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, "")
    assert target.read_text("utf-8") == after_text
    assert run_cli("check", target.name, cwd=tmp_path).returncode == 0


def test_diff_on_a_notebook_is_a_json_diff_that_git_applies(tmp_path):
    target = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, target)
    result = run_cli("fix", "--unsafe-fixes", "--diff", target.name, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith(f"--- a/{FIXTURE.name}\n+++ b/{FIXTURE.name}\n")
    assert '-    "    nn.utils.weight_norm(nn.Linear(4, 4)),\\n",\n' in result.stdout
    assert (
        '+    "    nn.utils.parametrizations.weight_norm(nn.Linear(4, 4)),\\n",\n'
        in result.stdout
    )
    assert target.read_bytes() == FIXTURE.read_bytes()
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", "apply", "-"], cwd=tmp_path, input=result.stdout.encode(), check=True
    )
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    shutil.copy(FIXTURE, fixed / FIXTURE.name)
    run_cli("fix", "--unsafe-fixes", FIXTURE.name, cwd=fixed)
    assert target.read_bytes() == (fixed / FIXTURE.name).read_bytes()


def test_directories_are_searched_for_notebooks(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "a.ipynb")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    shutil.copy(FIXTURE, tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb")
    result = run_cli("check", ".", cwd=tmp_path)
    assert where(result.stdout) == [
        "./a.ipynb:cell 3:2:5: WN301",
        "./a.ipynb:cell 5:5:1: WN302",
    ]
    fixed = run_cli("fix", "--unsafe-fixes", ".", cwd=tmp_path)
    assert "fixed 2 findings in 1 files" in fixed.stderr


# -- cells and escapes ------------------------------------------------------------


def test_names_resolve_across_cells_and_cells_count_markdown(tmp_path):
    text = make(IMPORT, ("markdown", "prose"), "x = 1\n\ny = " + LEGACY)
    assert found(tmp_path, text) == ["nb.ipynb:cell 3:3:5: WN301"]


@pytest.mark.parametrize(
    "escape",
    [
        "%matplotlib inline",
        "%load_ext autoreload",
        "!pip install torch",
        "?nn.Linear",
        "nn.Linear?",
        "nn.Linear??",
        "np.*load*?",
        "files = !ls",
        "a, b = %sx echo 1",
        "%config InlineBackend.figure_format = \\\n    'retina'",
        "for i in range(2):\n    %time f(i)\n    !echo {i}",
        "if True:\n    ?nn",
        "/print 1",
        ",print a b",
        ";print a b",
    ],
)
def test_escapes_are_neither_errors_nor_rewritten(tmp_path, escape):
    text = make(IMPORT, escape + "\nm = " + LEGACY)
    n = escape.count("\n")
    assert found(tmp_path, text) == [f"nb.ipynb:cell 2:{n + 2}:5: WN301"]
    fixed = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    cell = "".join(
        json.loads((tmp_path / "nb.ipynb").read_text())["cells"][1]["source"]
    )
    assert (
        cell == escape + "\nm = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))"
    )


def test_python_cell_magics_are_checked_other_cell_magics_skipped(tmp_path):
    text = make(
        IMPORT,
        "%%time\nm = " + LEGACY,
        "%%bash\necho nn.utils.weight_norm(x) (\n",
        "%%writefile model.py\nimport torch.nn as nn\nnn.utils.weight_norm(x)",
    )
    assert found(tmp_path, text) == ["nb.ipynb:cell 2:2:5: WN301"]


def test_escape_like_lines_inside_strings_and_brackets_are_code():
    text = make(
        's = """\n%not an escape\n"""\n'
        "t = '\\\n!not one either'\n"
        "u = (1,\n     2)\n"
        "v = [\n    x?\n]"
    )
    (cell,) = notebook.read(text.encode()).cells
    assert cell.magics == {}
    assert cell.masked == json.loads(text)["cells"][0]["source"] + "\n"


def test_a_late_future_import_is_masked_not_an_error(tmp_path):
    # Legal in a notebook (each cell compiles alone); in the joined module it
    # would follow other statements.
    first = "from __future__ import annotations\n" + IMPORT
    text = make(
        first, "%matplotlib inline\nfrom __future__ import annotations", "m = " + LEGACY
    )
    assert found(tmp_path, text) == ["nb.ipynb:cell 3:1:5: WN301"]
    cells = notebook.read(text.encode()).cells
    # The first one opens the module: a header comment, as its escapes are.
    assert cells[0].masked == "# wnlint-magic 0\n" + IMPORT + "\n"
    assert len(cells[1].magics) == 2
    assert cells[1].masked.startswith("pass  # wnlint-magic 1\n")


def test_syntax_error_in_a_cell_is_wn001_at_its_cell(tmp_path):
    # As in a .py file, only where the prefilter lets the parser look.
    text = make(IMPORT, ("markdown", "prose"), "x = 1\nm = " + LEGACY + " +\ny = 2")
    result = check(tmp_path, text)
    assert result.returncode == 1
    assert result.stdout.startswith("nb.ipynb:cell 3:2:"), result.stdout
    assert " WN001 cannot parse: invalid syntax" in result.stdout


def test_a_cell_cannot_continue_the_block_of_the_cell_before(tmp_path):
    # Each cell is compiled alone: an indented first line is an error there.
    text = make(IMPORT + "\nfor i in x:\n    m = " + LEGACY, "    print(i)")
    result = check(tmp_path, text)
    assert "nb.ipynb:cell 2:1:" in result.stdout and " WN001 " in result.stdout


def test_noqa_in_a_cell(tmp_path):
    text = make(IMPORT, "m = " + LEGACY + "  # noqa: WN301", "k = " + LEGACY)
    assert found(tmp_path, text) == ["nb.ipynb:cell 3:1:5: WN301"]


def test_a_cell_written_as_one_string(tmp_path):
    text = make(IMPORT + "\n", "x = 1\nm = " + LEGACY + "\n")
    assert found(tmp_path, text) == ["nb.ipynb:cell 2:2:5: WN301"]
    run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    cells = json.loads((tmp_path / "nb.ipynb").read_text())["cells"]
    assert (
        cells[1]["source"]
        == "x = 1\nm = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))\n"
    )


def test_diagnostic_carries_its_cell():
    d = Diagnostic("nb.ipynb", 2, 5, "WN301", "m", cell=3)
    assert d.format() == "nb.ipynb:cell 3:2:5: WN301 m"
    assert Diagnostic("a.py", 2, 5, "WN301", "m").format() == "a.py:2:5: WN301 m"
    (first, _) = Linter(select_rules()).lint_file(str(FIXTURE))
    assert (first.cell, first.line, first.col) == (3, 2, 5)


# -- lines a message cites ---------------------------------------------------------


def test_a_line_a_message_cites_is_a_line_of_its_cell(tmp_path):
    """``line N`` in a message counts in a cell, as the position does: ``of
    cell M`` when it is another cell's line."""
    text = make(
        "import torch\nimport torch.nn as nn\nfrom torch.nn.utils import weight_norm",
        ("markdown", "prose"),
        "m = nn.Linear(2, 2)\nm = weight_norm(m)",
        "x = 1\nweight_norm(m)",
        "def build():\n    conv = nn.Linear(2, 2)\n    conv = weight_norm(conv)\n"
        "    conv = weight_norm(conv)\n    return conv",
        "n = nn.Linear(2, 2)\nopt = torch.optim.SGD(n.parameters(), lr=0.1)",
        "n = weight_norm(n)",
    )
    result = check(tmp_path, text, "--select", "WN202,WN204")
    assert [line.split(": the ")[0] for line in result.stdout.splitlines()] == [
        "nb.ipynb:cell 4:2:1: WN204 weight norm applied to `m` again "
        "(first on line 2 of cell 3)",
        "nb.ipynb:cell 5:4:12: WN204 weight norm applied to `conv` again "
        "(first on line 3)",
        "nb.ipynb:cell 7:1:5: WN202 [*] weight norm applied to `n` after "
        "`n.parameters()` went to the optimizer on line 2 of cell 6: it keeps "
        "the removed weight, and g and v are never stepped",
    ]


def in_cells(message: str, starts: list[int], cell: int | None) -> str:
    """A ``.py`` file's message with the lines it names (``line N``, not
    ``line N of other.py``) counted in cells that start at ``starts``, as
    a notebook whose finding is in ``cell`` names them."""

    def restated(match: re.Match[str]) -> str:
        line = int(match.group(1))
        k = max(i for i, start in enumerate(starts) if start <= line)
        within = f"line {line - starts[k] + 1}"
        return within if k + 1 == cell else f"{within} of cell {k + 1}"

    return re.sub(r"\bline (\d+)\b(?! of \S+\.py)", restated, message)


def test_every_rule_that_cites_a_line_cites_it_in_its_cell(tmp_path):
    """The fixtures as notebooks (one cell per top-level statement): each
    message is the ``.py`` file's, with every line it names counted in its
    cell; a sibling module's line (``line N of other.py``) stays."""
    linter = Linter(select_rules())
    cited: set[str] = set()
    for path in fixture_files():
        cells = as_cells(path.read_bytes())
        nb_path = tmp_path / (path.stem + ".ipynb")
        nb_path.write_text(make(*cells), encoding="utf-8")
        starts = [1]
        for cell in cells[:-1]:
            starts.append(starts[-1] + cell.count("\n"))
        expected = linter.lint_file(str(path))
        got = linter.lint_file(str(nb_path))
        assert len(got) == len(expected), path.name
        for d, py in zip(got, expected):
            message = in_cells(py.message, starts, d.cell)
            assert d.message == message, path.name
            if message != py.message:
                cited.add(d.code)
    assert cited == {"WN202", "WN203", "WN204", "WN304", "WN306"}


def test_full_shows_the_cells_own_lines(tmp_path):
    """``--output-format full`` shows the lines of the finding's cell, escapes
    as written, never the notebook's JSON nor the lines of another cell."""
    text = make(IMPORT, ("markdown", "prose"), "%matplotlib inline\nm = " + LEGACY)
    result = check(tmp_path, text, "--output-format", "full")
    assert result.returncode == 1
    assert result.stdout == (
        f"nb.ipynb:cell 3:2:5: WN301 {RULES_BY_CODE['WN301'].message}\n"
        "  |\n"
        "1 | %matplotlib inline\n"
        f"2 | m = {LEGACY}\n"
        "  |     " + "^" * len(LEGACY) + " WN301\n"
        "  |\n"
        f"  = help: {RULES_BY_CODE['WN301'].fix_title}\n"
    )


def test_a_notebook_finding_ends_in_its_cell(tmp_path):
    text = make(IMPORT, "x = 1\nm = " + LEGACY)
    result = check(tmp_path, text, "--output-format", "json")
    (finding,) = json.loads(result.stdout)
    assert finding["cell"] == 2
    assert finding["location"] == {"row": 2, "column": 5}
    assert finding["end_location"] == {"row": 2, "column": 5 + len(LEGACY)}


# -- the prefilter reads the cells, not the JSON ------------------------------------


def as_cells(data: bytes) -> list[str]:
    """A Python file cut into one cell per top-level statement."""
    starts = [s.start for s in cutting.split(data)][1:]
    bounds = [0, *starts, len(data)]
    return [data[a:b].decode() for a, b in zip(bounds, bounds[1:]) if b > a]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_a_fixture_as_a_notebook_has_the_same_findings(path, tmp_path):
    """Quotes and line breaks are escaped in the JSON: the prefilter and the
    rules must read the joined cells, or these findings would go missing."""
    data = path.read_bytes()
    cells = as_cells(data)
    nb_path = tmp_path / (path.stem + ".ipynb")
    nb_path.write_text(make(*cells), encoding="utf-8")
    linter = Linter(select_rules())
    expected = linter.lint_file(str(path))
    first_line = [1]
    for cell in cells[:-1]:
        first_line.append(first_line[-1] + cell.count("\n"))
    got = [
        (first_line[d.cell - 1] + d.line - 1, d.col, d.code)
        for d in linter.lint_file(str(nb_path))
    ]
    assert got == [(d.line, d.col, d.code) for d in expected]


# -- layout -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dump",
    [
        {},
        {"indent": 2},
        {"indent": 4, "sort_keys": False},
        {"indent": None},
        {"indent": None, "separators": (",", ":")},
        {"ensure_ascii": True},
        {"indent": "\t"},
    ],
    ids=[
        "nbformat",
        "indent 2",
        "indent 4 unsorted",
        "compact",
        "minified",
        "ascii",
        "tabs",
    ],
)
@pytest.mark.parametrize("as_string", [False, True], ids=["lines", "string"])
def test_a_fixed_notebook_keeps_its_layout(tmp_path, dump, as_string):
    """Written back as the tool that wrote it would write the fixed cells:
    the whole file equals that tool's output for the fixed notebook."""
    sources = ["# é\n" + IMPORT, "x = 'ü'\nm = " + LEGACY + "\n%time m", "y = 2"]
    cells = [s if as_string else lines(s) for s in sources]
    text = make(*cells, **dump)
    (tmp_path / "nb.ipynb").write_text(text, encoding="utf-8")
    result = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert "fixed 1 findings" in result.stderr, result.stderr
    fixed = sources[1].replace(
        "nn.utils.weight_norm", "nn.utils.parametrizations.weight_norm"
    )
    cells[1] = fixed if as_string else lines(fixed)
    assert (tmp_path / "nb.ipynb").read_text(encoding="utf-8") == make(*cells, **dump)


def test_windows_line_breaks_in_the_json_are_kept(tmp_path):
    text = make(IMPORT, "m = " + LEGACY).replace("\n", "\r\n")
    (tmp_path / "nb.ipynb").write_bytes(text.encode())
    run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    fixed = (tmp_path / "nb.ipynb").read_bytes().decode()
    expected = make(
        IMPORT, "m = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))"
    )
    assert fixed == expected.replace("\n", "\r\n")


def test_an_empty_source_list_gains_lines_in_the_notebooks_indent(tmp_path):
    text = make([], "from torch.nn.utils import weight_norm as w\nm = w(c)")
    (tmp_path / "nb.ipynb").write_text(text)
    run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert (tmp_path / "nb.ipynb").read_text() == make(
        ["from torch.nn.utils import parametrizations"],
        "m = parametrizations.weight_norm(c)",
    )


def fixed_sources(tmp_path, text: str) -> list[str]:
    """The cells' sources after ``wnlint fix --unsafe-fixes`` of the notebook
    ``text``, which must succeed."""
    (tmp_path / "nb.ipynb").write_text(text)
    result = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return [
        "".join(c["source"])
        for c in json.loads((tmp_path / "nb.ipynb").read_text())["cells"]
    ]


def test_imports_the_migration_adds_go_into_the_first_code_cell(tmp_path):
    text = make(
        ("markdown", "# title"),
        "%load_ext autoreload\nimport torch.nn as nn\nfrom torch.nn.utils import weight_norm",
        "m = weight_norm(nn.Linear(2, 2))\nprint(m.weight_g)",
        "from torch.nn.utils import remove_weight_norm\nremove_weight_norm(m)",
    )
    cells = fixed_sources(tmp_path, text)
    assert cells[1] == (
        "%load_ext autoreload\nimport torch.nn as nn\n"
        "from torch.nn.utils import parametrizations, parametrize"
    )
    assert (
        cells[2]
        == "m = parametrizations.weight_norm(nn.Linear(2, 2))\nprint(m.parametrizations.weight.original0)"
    )
    assert cells[3] == 'parametrize.remove_parametrizations(m, "weight")'


@pytest.mark.parametrize(
    "opening",
    [
        "!pip install torch",
        "%matplotlib inline",
        "%%capture\n!pip install torch",
        "# setup\n!pip install torch\n\n%load_ext autoreload",
        "%pip install \\\n    torch",
        "!pip install torch\nfrom __future__ import annotations",
        "from __future__ import annotations\n%matplotlib inline",
    ],
)
def test_imports_the_migration_adds_go_after_the_leading_escapes(tmp_path, opening):
    """The first cell's opening escapes (``!pip install``, ``%%capture``) run
    first, and ``from __future__`` imports stay first: the migration's import
    goes after them, still in the first code cell."""
    first = opening + "\nimport torch.nn as nn\nfrom torch.nn.utils import weight_norm"
    text = make(("markdown", "# title"), first, "m = weight_norm(nn.Linear(2, 2))")
    cells = fixed_sources(tmp_path, text)
    assert cells[1] == (
        opening + "\nimport torch.nn as nn\nfrom torch.nn.utils import parametrizations"
    )
    assert cells[2] == "m = parametrizations.weight_norm(nn.Linear(2, 2))"


def test_a_first_cell_of_escapes_only_gets_the_import_after_them(tmp_path):
    text = make(
        "!pip install torch",
        "from torch.nn.utils import weight_norm\nm = weight_norm(x)",
    )
    cells = fixed_sources(tmp_path, text)
    assert cells[0] == (
        "!pip install torch\nfrom torch.nn.utils import parametrizations"
    )
    assert cells[1] == "m = parametrizations.weight_norm(x)"


# -- a split that cannot be trusted -----------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "note"),
    [
        (
            lambda s: s.replace("pass  # wnlint-cell-boundary 1\n", ""),
            "a cell boundary was lost",
        ),
        (lambda s: s.replace("boundary 1", "boundary 2"), "a cell boundary moved"),
        (
            lambda s: s.replace("pass  # wnlint-magic 0\n", ""),
            "an IPython escape was lost in cell 2",
        ),
        (lambda s: s + "pass  # wnlint-magic 0\n", "an IPython escape moved in cell 2"),
    ],
    ids=["boundary lost", "boundary moved", "escape lost", "escape repeated"],
)
def test_a_damaged_split_writes_nothing(tmp_path, monkeypatch, damage, note):
    real = fix_module.fix_guarded

    def damaging(original, path, linter, unsafe, *rest):
        result = real(original, path, linter, unsafe, *rest)
        return FileFix(
            path, original, damage(result.fixed.decode()).encode(), applied=1
        )

    monkeypatch.setattr(fix_module, "fix_guarded", damaging)
    text = make(IMPORT, "%time x\nm = " + LEGACY)
    (tmp_path / "nb.ipynb").write_text(text)
    result = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 2
    assert f"nb.ipynb: not fixed: {note}" in result.stderr
    assert "nb.ipynb:cell 2:2:5: WN301 " in result.stdout
    assert (tmp_path / "nb.ipynb").read_text() == text


def test_the_pre_commit_hooks_pass_notebooks():
    """pre-commit tags ``.ipynb`` files ``jupyter``, never ``python``."""
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    kinds = re.findall(r"^  types(?:_or)?: (.+)$", hooks, flags=re.MULTILINE)
    assert kinds == ["[python, jupyter]"] * 2
    assert "  types_or: [python, jupyter]" in hooks


def test_the_readme_local_hook_passes_notebooks():
    """The README's ``repo: local`` hook sees what the shipped hooks see."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## pre-commit\n") :]
    start = section.index("  - repo: local\n")
    local = section[start : section.index("```", start)]
    assert "        types_or: [python, jupyter]\n" in local
    assert "types:" not in local


def test_stdin_reads_a_notebook_by_its_filename(tmp_path):
    """``--stdin-filename x.ipynb``: the buffer is read as a notebook for
    check and fix, as the same file on disk is."""
    data = (FIXTURES / "notebook_wn301.ipynb").read_bytes()
    on_disk = run_cli("check", str(FIXTURES / "notebook_wn301.ipynb"))
    checked = subprocess.run(
        [sys.executable, "-m", "wnlint", "check", "--stdin-filename", "nb.ipynb", "-"],
        input=data,
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    lines = checked.stdout.decode().splitlines()
    assert lines and all(line.startswith("nb.ipynb:cell ") for line in lines)
    assert [line.split(":", 1)[1] for line in lines] == [
        line.split(":", 1)[1] for line in on_disk.stdout.splitlines()
    ]
    command = [sys.executable, "-m", "wnlint", "fix", "--unsafe-fixes"]
    fixed = subprocess.run(
        [*command, "--stdin-filename", "nb.ipynb", "-"],
        input=data,
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    notebook = json.loads(fixed.stdout)
    assert notebook["cells"][2]["outputs"] == json.loads(data)["cells"][2]["outputs"]
    assert "parametrizations.weight_norm" in "".join(notebook["cells"][2]["source"])


def test_cells_the_fix_leaves_alone_keep_their_bytes(tmp_path):
    """An unchanged cell is never re-serialized, even where its JSON is not
    what ``json.dumps`` would write (a line split in two, an escaped ``/``,
    ``\\u`` escapes)."""
    odd = '["x = \\"a\\/b\\"", " + \\"\\u00e9\\"\\n", "y = 2"]'
    text = make(IMPORT, "ODD", "m = " + LEGACY).replace('"ODD"', odd)
    assert json.loads(text)["cells"][1]["source"] == ['x = "a/b"', ' + "é"\n', "y = 2"]
    (tmp_path / "nb.ipynb").write_text(text, encoding="utf-8")
    result = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert "fixed 1 findings" in result.stderr, result.stderr
    after = (tmp_path / "nb.ipynb").read_text(encoding="utf-8")
    assert odd in after
    assert after == text.replace(
        "nn.utils.weight_norm", "nn.utils.parametrizations.weight_norm"
    )


def test_a_rewrite_that_would_not_read_back_writes_nothing(tmp_path, monkeypatch):
    """The last guard: the spliced notebook must parse to the original with
    only the fixed sources replaced, or nothing is written."""
    real = notebook_write._render

    def lossy(new, *args):
        return real(new.replace("parametrizations.", ""), *args)

    monkeypatch.setattr(notebook_write, "_render", lossy)
    text = make(IMPORT, "m = " + LEGACY)
    (tmp_path / "nb.ipynb").write_text(text)
    result = run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 2
    assert "nb.ipynb: not fixed: the rewritten notebook would not read back" in (
        result.stderr
    )
    assert (tmp_path / "nb.ipynb").read_text() == text


def test_an_error_on_a_boundary_line_is_put_in_the_cell_before(tmp_path):
    # The cell ends in a backslash: the parser fails on the boundary line
    # that follows it, a line of no cell.
    text = make(IMPORT, "m = " + LEGACY + " + \\", "y = 2")
    assert found(tmp_path, text) == ["nb.ipynb:cell 2:1:1: WN001"]


def test_a_byte_order_mark_is_kept(tmp_path):
    text = make(IMPORT, "m = " + LEGACY)
    (tmp_path / "nb.ipynb").write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = run_cli("check", "nb.ipynb", cwd=tmp_path)  # read, BOM and all
    assert where(result.stdout) == ["nb.ipynb:cell 2:1:5: WN301"]
    run_cli("fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    fixed = text.replace(
        "nn.utils.weight_norm", "nn.utils.parametrizations.weight_norm"
    )
    assert (tmp_path / "nb.ipynb").read_bytes() == b"\xef\xbb\xbf" + fixed.encode()
