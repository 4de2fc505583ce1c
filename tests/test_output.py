"""``--output-format``, ``--output-file``, ``--statistics``, ``--show-fixes``,
colours, and the generated rules page."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import jsonschema
import pytest
from conftest import FIXTURES, ROOT, run_cli

from wnlint.cli import findings, formats, output
from wnlint.cli.docs import REPOSITORY_URL, RULES_PAGE, rule_url, rules_page
from wnlint.engine.linter import SYSTEM_CODES, Diagnostic, Linter, select_rules
from wnlint.fixing.fixer import offered_fixes as built_fixes
from wnlint.rules import ALL_RULES, RULES_BY_CODE
from wnlint.rules.fixes import Fix, Source

LEGACY = "import torch.nn as nn\nconv = nn.utils.weight_norm(nn.Conv1d(1, 1, 1))\n"
REMOVE = "from torch.nn.utils import remove_weight_norm\nremove_weight_norm(conv)\n"
SCHEMA = json.loads(
    (ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)
JSON_KEYS = {
    "code",
    "name",
    "severity",
    "message",
    "filename",
    "cell",
    "location",
    "end_location",
    "fix",
    "url",
}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "legacy.py").write_text(LEGACY)
    (tmp_path / "remove.py").write_text(REMOVE)
    return tmp_path


@pytest.fixture
def fixtures_copy(tmp_path):
    """``fixtures/`` in a temporary directory (a run may write files there)."""
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    return tmp_path


def validate_sarif(log: dict) -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def offsets(text: str):
    """(row, column) -> character offset in ``text``."""
    starts = [0]
    for line in io.StringIO(text, newline="").readlines():
        starts.append(starts[-1] + len(line))
    return lambda row, column: starts[row - 1] + column - 1


def apply_json_edits(text: str, edits: list[dict]) -> str:
    at = offsets(text)
    spans = sorted(
        (
            at(e["location"]["row"], e["location"]["column"]),
            at(e["end_location"]["row"], e["end_location"]["column"]),
            e["content"],
        )
        for e in edits
    )
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        assert end <= start, "edits overlap"
    for start, end, content in reversed(spans):
        text = text[:start] + content + text[end:]
    return text


def apply_fix(text: str, fix: Fix) -> str:
    for edit in sorted(fix.edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.new + text[edit.end :]
    return text


# -- text, colours ----------------------------------------------------------------
def test_text_is_the_default_and_flake8s_layout(project):
    plain = run_cli("check", ".", cwd=project)
    text = run_cli("check", "--output-format", "text", ".", cwd=project)
    assert plain.stdout == text.stdout
    assert plain.stdout.splitlines() == [
        "./legacy.py:2:8: WN301 [*] " + RULES_BY_CODE["WN301"].message,
        "./remove.py:2:1: WN302 [*] " + RULES_BY_CODE["WN302"].message,
    ]
    assert "\x1b[" not in plain.stdout  # piped: no colour


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "stream, env, expected",
    [
        (Tty(), {}, True),
        (io.StringIO(), {}, False),
        (Tty(), {"NO_COLOR": "1"}, False),
        (Tty(), {"NO_COLOR": ""}, True),  # no-color.org: empty means unset
        (io.StringIO(), {"FORCE_COLOR": "1"}, True),
        (Tty(), {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
    ],
)
def test_colour_only_on_a_terminal_and_no_color_respected(stream, env, expected):
    assert output.use_color(stream, env) is expected


def test_colours_wrap_the_text_layout_without_changing_it(project, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    coloured = run_cli("check", ".", cwd=project).stdout
    assert "\x1b[1;31mWN301\x1b[0m" in coloured
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    monkeypatch.setenv("NO_COLOR", "1")
    assert run_cli("check", ".", cwd=project).stdout == stripped
    assert "\x1b[" not in stripped


def test_only_json_sarif_and_show_fixes_pay_for_libcst(project):
    """Building fixes needs libcst; the other formats never import it."""
    code = (
        "import sys\n"
        "from wnlint.cli.main import main\n"
        "for fmt in ('text', 'full', 'github'):\n"
        "    main(['check', '-q', '--output-format', fmt, '.'])\n"
        "main(['check', '-q', '--statistics', '.'])\n"
        "assert 'libcst' not in sys.modules, 'imported libcst'\n"
        "main(['check', '-q', '--output-format', 'json', '.'])\n"
        "assert 'libcst' in sys.modules, 'json built no fix'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- full ----------------------------------------------------------------------------
def test_full_shows_the_line_a_caret_and_the_fix_title(project):
    result = run_cli("check", "--output-format", "full", "legacy.py", cwd=project)
    assert result.returncode == 1
    title = RULES_BY_CODE["WN301"].fix_title
    assert result.stdout == (
        f"legacy.py:2:8: WN301 {RULES_BY_CODE['WN301'].message}\n"
        "  |\n"
        "1 | import torch.nn as nn\n"
        "2 | conv = nn.utils.weight_norm(nn.Conv1d(1, 1, 1))\n"
        "  |        " + "^" * 40 + " WN301\n"
        "  |\n"
        f"  = help: {title}\n"
    )


def test_full_has_no_help_line_for_a_report_only_rule(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\n\n"
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        self.w = nn.Parameter(x)\n"
        "        return x\n"
    )
    result = run_cli("check", "--output-format", "full", "m.py", cwd=tmp_path)
    assert "WN106" in result.stdout
    assert "^" in result.stdout and "= help" not in result.stdout


# -- end positions ---------------------------------------------------------------------
def test_diagnostics_end_where_the_reported_node_ends():
    source = "import torch.nn as nn\nx = 'é'; c = nn.utils.weight_norm(m)\n"
    [d] = Linter(select_rules()).lint_bytes(source.encode(), "x.py")
    assert (d.line, d.col) == (2, 14)  # characters, not UTF-8 bytes
    assert (d.end_line, d.end_col) == (2, 37)
    assert source.splitlines()[1][d.col - 1 : d.end_col - 1] == (
        "nn.utils.weight_norm(m)"
    )


def test_a_parse_error_is_a_point():
    [d] = Linter(select_rules()).lint_bytes(LEGACY.encode() + b"def (:\n", "x.py")
    assert d.code == "WN001" and d.end_line is None
    [obj] = json.loads(_json_of([d]))
    assert obj["end_location"] == obj["location"]


def _json_of(diagnostics) -> str:
    stream = io.StringIO()
    output.write_report(diagnostics, "json", stream)
    return stream.getvalue()


# -- json ------------------------------------------------------------------------------
def test_json_objects_have_the_documented_fields(project):
    result = run_cli("check", "--output-format", "json", ".", cwd=project)
    assert result.returncode == 1
    objects = json.loads(result.stdout)
    assert [o["code"] for o in objects] == ["WN301", "WN302"]
    for obj in objects:
        assert set(obj) == JSON_KEYS
        assert obj["name"] == RULES_BY_CODE[obj["code"]].name
        assert obj["cell"] is None
        assert obj["url"] == rule_url(obj["code"])
        assert obj["fix"]["applicability"] == "unsafe"
        assert obj["fix"]["message"] == RULES_BY_CODE[obj["code"]].fix_title
    assert objects[0]["filename"] == "./legacy.py"
    assert objects[0]["location"] == {"row": 2, "column": 8}
    assert objects[0]["end_location"] == {"row": 2, "column": 48}


def test_readme_json_example_is_what_wnlint_prints(tmp_path):
    """The README's example object is the real output for its own sample."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Output formats", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL).group(1)
    [documented] = json.loads(block)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(LEGACY)
    result = run_cli("check", "--output-format", "json", "src/model.py", cwd=tmp_path)
    [actual] = json.loads(result.stdout)
    prefix = documented.pop("message").rstrip(".").rstrip()
    assert actual.pop("message").startswith(prefix)
    assert actual == documented


def test_json_edits_rebuild_each_fix_exactly(fixtures_copy):
    """Applying a finding's JSON edits to the checked file gives what its
    fix gives, span fixes and the whole-file migration alike."""
    result = run_cli("check", "--output-format", "json", "fixtures", cwd=fixtures_copy)
    objects = json.loads(result.stdout)
    linter = Linter(select_rules())
    by_file: dict[str, list[dict]] = {}
    for obj in objects:
        by_file.setdefault(obj["filename"], []).append(obj)
    seen = {"span": 0, "whole": 0}
    for filename, found in by_file.items():
        if filename.endswith(".ipynb"):  # cell positions: shown without edits
            assert all(obj["fix"] is None for obj in found)
            assert all(obj["cell"] for obj in found)
            continue
        path = fixtures_copy / filename
        data = path.read_bytes()
        text = data.decode("utf-8")
        fixes = {
            (d.line, d.col, d.code): fix
            for d, fix in built_fixes(data, str(path), linter)
        }
        for obj in found:
            fix = fixes[
                (obj["location"]["row"], obj["location"]["column"], obj["code"])
            ]
            if not isinstance(fix, Fix) or not fix.edits or fix.path is not None:
                # none, declined, or edits to another file (a sibling's helper)
                assert obj["fix"] is None, obj
                continue
            assert obj["fix"]["applicability"] == fix.applicability.value
            assert obj["fix"]["whole_file"] is fix.alone
            rebuilt = apply_json_edits(text, obj["fix"]["edits"])
            assert rebuilt == apply_fix(text, fix), (filename, obj["code"])
            seen["whole" if fix.alone else "span"] += 1
    assert seen["span"] >= 10 and seen["whole"] >= 10, seen


def test_whole_file_edits_are_the_changed_lines_only():
    text = "import torch.nn as nn\n\n\nx = 1\nc = nn.utils.weight_norm(m)\n"
    source = Source(text)
    new = text.replace("nn.utils.weight_norm", "nn.utils.parametrizations.weight_norm")
    [edit] = findings.Offsets(text).edits([source.whole(new)], whole=True)
    assert (edit.start, edit.end) == ((5, 1), (6, 1))
    assert edit.content == "c = nn.utils.parametrizations.weight_norm(m)\n"


def test_json_fix_is_null_for_a_report_only_rule(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\n\n"
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        self.w = nn.Parameter(x)\n"
        "        return x\n"
    )
    result = run_cli("check", "--output-format", "json", "m.py", cwd=tmp_path)
    [obj] = json.loads(result.stdout)
    assert obj["code"] == "WN106" and obj["fix"] is None


def test_json_without_findings_is_an_empty_list(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = run_cli("check", "--output-format", "json", ".", cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_fix_writes_what_remains_in_the_chosen_format(project):
    result = run_cli("fix", "--output-format", "json", ".", cwd=project)
    assert result.returncode == 1  # the unsafe fixes were not applied
    objects = json.loads(result.stdout)
    assert [o["code"] for o in objects] == ["WN301", "WN302"]
    assert {o["fix"]["applicability"] for o in objects} == {"unsafe"}
    fixed = run_cli(
        "fix", "--unsafe-fixes", "--output-format", "json", ".", cwd=project
    )
    assert fixed.returncode == 0 and json.loads(fixed.stdout) == []


# -- sarif -----------------------------------------------------------------------------
def test_sarif_on_fixtures_validates_against_the_schema(fixtures_copy):
    result = run_cli("check", "--output-format", "sarif", "fixtures", cwd=fixtures_copy)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    validate_sarif(log)
    [run] = log["runs"]
    results = run["results"]
    assert len(results) == len(
        run_cli("check", "fixtures", cwd=fixtures_copy).stdout.splitlines()
    )
    assert any("fixes" in r for r in results)
    for r in results:
        [location] = r["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert artifact["uri"].startswith("fixtures/")
        assert (fixtures_copy / artifact["uri"]).is_file()
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert root.startswith("file://") and root.endswith("/")


def test_sarif_schema_is_the_official_one_and_rejects_a_broken_log():
    assert SCHEMA["$id"].endswith(
        "oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
    )
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    log = formats.sarif_log([], None, str(ROOT))
    validate_sarif(log)
    del log["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(AssertionError):
        validate_sarif(log)


def test_sarif_rules_carry_the_rule_documentation():
    rules = {r["id"]: r for r in formats.sarif_rules()}
    assert set(rules) == {*RULES_BY_CODE, *SYSTEM_CODES}
    for code, rule in RULES_BY_CODE.items():
        entry = rules[code]
        assert entry["name"] == rule.name
        assert (
            entry["shortDescription"]["text"]
            .lower()
            .startswith(rule.summary[:20].lower())
        )
        assert entry["fullDescription"]["text"] == rule.doc_sections()["What it does"]
        assert entry["help"]["text"] == rule.documentation()
        assert entry["helpUri"].endswith(f"{RULES_PAGE}#{code.lower()}")


def test_sarif_uri_outside_the_working_directory_is_absolute(tmp_path):
    inside = formats.artifact_location(str(tmp_path / "a b" / "x.py"), str(tmp_path))
    assert inside == {"uri": "a%20b/x.py", "uriBaseId": "%SRCROOT%"}
    outside = formats.artifact_location(str(tmp_path / "x.py"), str(tmp_path / "sub"))
    assert outside["uri"].startswith("file:///") and "uriBaseId" not in outside


def test_readme_ci_job_writes_sarif_that_validates(fixtures_copy):
    """The README's GitHub Actions job: its wnlint command, run on
    ``fixtures/``, writes the file its upload step names, and it validates."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    jobs = [
        block
        for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
        if "github/codeql-action/upload-sarif" in block
    ]
    assert len(jobs) == 1
    assert f"wnlint @ git+{REPOSITORY_URL}" in jobs[0]  # installs this project
    [command] = re.findall(r"- run: (wnlint check .*)", jobs[0])
    [uploaded] = re.findall(r"sarif_file: (\S+)", jobs[0])
    argv = shlex.split(command)
    assert argv[:2] == ["wnlint", "check"]
    result = run_cli(*argv[1:], cwd=fixtures_copy)
    assert result.returncode == 1 and result.stdout == ""
    log = json.loads((fixtures_copy / uploaded).read_text(encoding="utf-8"))
    validate_sarif(log)
    assert log["runs"][0]["results"]


# -- github --------------------------------------------------------------------------
def test_github_annotations(project):
    result = run_cli("check", "--output-format", "github", ".", cwd=project)
    assert result.stdout.splitlines()[0] == (
        "::warning file=legacy.py,line=2,col=8,endLine=2,endColumn=48,"
        "title=WN301 legacy-weight-norm::" + RULES_BY_CODE["WN301"].message
    )


def test_github_escapes_data_and_properties():
    d = Diagnostic("a,b:c%.py", 1, 1, "WN001", "cannot parse: 100%\r\nbad")
    line = formats.github_annotation(d)
    assert line == (
        "::error file=a%2Cb%3Ac%25.py,line=1,col=1,endLine=1,endColumn=1,"
        "title=WN001 syntax-error::cannot parse: 100%25%0D%0Abad"
    )


# -- output file ------------------------------------------------------------------------
def test_output_file_gets_the_findings_and_stdout_stays_empty(project):
    result = run_cli(
        "check",
        "--output-format",
        "json",
        "--output-file",
        "out/f.json",
        ".",
        cwd=project,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "2 findings" in result.stderr
    assert len(json.loads((project / "out" / "f.json").read_text())) == 2


def test_unwritable_output_file_is_an_error_without_traceback(project):
    (project / "taken").write_text("")
    result = run_cli("check", "--output-file", "taken/x.txt", ".", cwd=project)
    assert result.returncode == 2
    assert "cannot write taken/x.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error(project):
    result = run_cli("check", "--output-format", "xml", ".", cwd=project)
    assert result.returncode == 2 and "invalid choice: 'xml'" in result.stderr


# -- statistics and show-fixes ------------------------------------------------------------
def test_statistics_counts_per_code(project):
    (project / "more.py").write_text(LEGACY)
    result = run_cli("check", "--statistics", ".", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "2\tWN301\t[*] legacy-weight-norm",
        "1\tWN302\t[*] legacy-remove-weight-norm",
    ]
    as_json = run_cli(
        "check", "--statistics", "--output-format", "json", ".", cwd=project
    )
    assert json.loads(as_json.stdout) == [
        {"code": "WN301", "name": "legacy-weight-norm", "count": 2, "fixable": True},
        {
            "code": "WN302",
            "name": "legacy-remove-weight-norm",
            "count": 1,
            "fixable": True,
        },
    ]


def test_check_show_fixes_lists_the_fixable_findings(tmp_path):
    (tmp_path / "m.py").write_text(
        LEGACY + "\nclass M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        self.w = nn.Parameter(x)\n"
        "        return x\n"
    )
    result = run_cli("check", "--show-fixes", "m.py", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "m.py:2:8: WN301 [*] " + RULES_BY_CODE["WN301"].message,
        "m.py:6:18: WN106 " + RULES_BY_CODE["WN106"].message,
    ]
    assert lines[2:] == [
        "Fixes available (0 safe, 1 with --unsafe-fixes):",
        f"  m.py:2:8: WN301 [unsafe] {RULES_BY_CODE['WN301'].fix_title}",
    ]


def test_fix_show_fixes_lists_what_was_applied(project):
    result = run_cli("fix", "--unsafe-fixes", "--show-fixes", ".", cwd=project)
    assert result.returncode == 0
    assert (
        "Fixed 2 findings:\n"
        "- ./legacy.py:\n    1 x WN301 (legacy-weight-norm)\n"
        "- ./remove.py:\n    1 x WN302 (legacy-remove-weight-norm)\n"
    ) in result.stderr
    again = run_cli("fix", "--show-fixes", ".", cwd=project)
    assert "Fixed nothing." in again.stderr


# -- notebooks: the cell hook ---------------------------------------------------------------
def test_formats_show_a_cell_when_a_diagnostic_has_one():
    d = Diagnostic("nb.ipynb", 2, 8, "WN301", "legacy", end_line=2, end_col=10, cell=3)
    stream = io.StringIO()
    output.write_report([d], "text", stream)
    assert stream.getvalue() == "nb.ipynb:cell 3:2:8: WN301 [*] legacy\n"
    assert json.loads(_json_of([d]))[0]["cell"] == 3
    assert formats.github_annotation(d).endswith("::cell 3: legacy")
    log = formats.sarif_log([d], None, str(ROOT))
    assert log["runs"][0]["results"][0]["properties"]["cell"] == 3


# -- the rules page -----------------------------------------------------------------------
def test_rules_page_is_up_to_date():
    page = (ROOT / RULES_PAGE).read_text(encoding="utf-8")
    assert page == rules_page(), "run: python -m wnlint.cli.docs"


def test_rules_page_has_an_anchor_and_the_documentation_of_every_code():
    page = rules_page()
    for rule in ALL_RULES:
        assert (
            f'<a id="{rule.code.lower()}"></a>\n\n## {rule.code} {rule.name}\n' in page
        )
        for section in rule.doc_sections():
            assert f"\n### {section}\n" in page
    for code in SYSTEM_CODES:
        assert f'<a id="{code.lower()}"></a>' in page


def test_rule_all_prints_the_rules_page():
    result = run_cli("rule", "--all")
    assert result.returncode == 0 and result.stdout == rules_page()
    both = run_cli("rule", "--all", "WN301")
    assert both.returncode == 2 and "not both" in both.stderr


def test_the_cli_offers_every_output_format():
    from wnlint.cli.parser import OUTPUT_FORMATS

    assert OUTPUT_FORMATS == output.FORMATS


# -- gaps found by mutation checking ------------------------------------------------------
def test_sarif_regions_and_fixes_agree_with_json(fixtures_copy):
    """Each SARIF result has the JSON object's positions, and its fix's
    replacements, applied to the file, rebuild the fix JSON shows (which
    ``test_json_edits_rebuild_each_fix_exactly`` checks against the fix)."""
    as_json = json.loads(
        run_cli(
            "check", "--output-format", "json", "fixtures", cwd=fixtures_copy
        ).stdout
    )
    log = json.loads(
        run_cli(
            "check", "--output-format", "sarif", "fixtures", cwd=fixtures_copy
        ).stdout
    )
    results = log["runs"][0]["results"]
    assert len(results) == len(as_json)
    fixed = 0
    for obj, result in zip(as_json, results):
        assert result["ruleId"] == obj["code"]
        [location] = result["locations"]
        region = location["physicalLocation"]["region"]
        assert region == {
            "startLine": obj["location"]["row"],
            "startColumn": obj["location"]["column"],
            "endLine": obj["end_location"]["row"],
            "endColumn": obj["end_location"]["column"],
        }
        if obj["fix"] is None:
            assert "fixes" not in result
            assert "fix_applicability" not in result.get("properties", {})
            continue
        assert result["properties"]["fix_applicability"] == obj["fix"]["applicability"]
        [sarif_fix] = result["fixes"]
        assert sarif_fix["description"]["text"] == obj["fix"]["message"]
        [change] = sarif_fix["artifactChanges"]
        assert (
            change["artifactLocation"]
            == (location["physicalLocation"]["artifactLocation"])
        )
        edits = [
            {
                "content": r["insertedContent"]["text"],
                "location": {
                    "row": r["deletedRegion"]["startLine"],
                    "column": r["deletedRegion"]["startColumn"],
                },
                "end_location": {
                    "row": r["deletedRegion"]["endLine"],
                    "column": r["deletedRegion"]["endColumn"],
                },
            }
            for r in change["replacements"]
        ]
        text = (fixtures_copy / obj["filename"]).read_text(encoding="utf-8")
        rebuilt = apply_json_edits(text, edits)
        assert rebuilt == apply_json_edits(text, obj["fix"]["edits"])
        assert rebuilt != text
        fixed += 1
    assert fixed >= 20


def test_an_edit_at_the_end_of_a_file_without_a_final_newline_ends_on_its_last_line():
    text = "import torch.nn as nn\nc = nn.utils.weight_norm(m)"
    source = Source(text)
    new = text.replace("nn.utils.weight_norm", "nn.utils.parametrizations.weight_norm")
    [edit] = findings.Offsets(text).edits([source.whole(new)], whole=True)
    assert (edit.start, edit.end) == (
        (2, 1),
        (2, len("c = nn.utils.weight_norm(m)") + 1),
    )
    # With a final newline the end is the start of the (empty) next line.
    assert findings.Offsets(text + "\n").position(len(text) + 1) == (3, 1)


def test_statistics_puts_the_most_frequent_first_and_marks_report_only_rules(
    project,
):
    for name in ("more.py", "again.py"):
        (project / name).write_text(LEGACY)
    (project / "m.py").write_text(
        "import torch.nn as nn\n\n"
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        self.w = nn.Parameter(x)\n"
        "        self.b = nn.Parameter(x)\n"
        "        return x\n"
    )
    result = run_cli("check", "--statistics", ".", cwd=project)
    assert result.stdout.splitlines() == [
        "3\tWN301\t[*] legacy-weight-norm",
        "2\tWN106\t[ ] parameter-in-forward",
        "1\tWN302\t[*] legacy-remove-weight-norm",
    ]
    as_json = run_cli(
        "check", "--statistics", "--output-format", "json", ".", cwd=project
    )
    assert [(o["code"], o["fixable"]) for o in json.loads(as_json.stdout)] == [
        ("WN301", True),
        ("WN106", False),
        ("WN302", True),
    ]


def test_check_show_fixes_counts_safe_and_unsafe_fixes(tmp_path):
    shutil.copy(FIXTURES / "fix" / "wn102_before.py", tmp_path / "m.py")
    result = run_cli("check", "--show-fixes", "m.py", cwd=tmp_path)
    assert "Fixes available (1 safe, 1 with --unsafe-fixes):\n" in result.stdout
    assert ": WN102 [safe] " in result.stdout
    assert ": WN102 [unsafe] " in result.stdout


def test_check_show_fixes_says_when_there_is_none(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\n\n"
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        self.w = nn.Parameter(x)\n"
        "        return x\n"
    )
    result = run_cli("check", "--show-fixes", "m.py", cwd=tmp_path)
    assert result.stdout.splitlines()[-1] == "No fixes available."


def test_check_show_fixes_keeps_json_parseable(project):
    """JSON already carries each fix: the list is not appended to it."""
    result = run_cli(
        "check", "--show-fixes", "--output-format", "json", ".", cwd=project
    )
    objects = json.loads(result.stdout)
    assert [o["code"] for o in objects] == ["WN301", "WN302"]
    assert "Fixes available" not in result.stdout


def test_fix_diff_show_fixes_says_would_fix(project):
    result = run_cli(
        "fix", "--unsafe-fixes", "--diff", "--show-fixes", ".", cwd=project
    )
    assert result.returncode == 1
    assert "Would fix 2 findings:\n" in result.stderr
    assert "Fixed" not in result.stderr
    assert (project / "legacy.py").read_text() == LEGACY  # nothing written


def test_full_is_coloured_like_text(project, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    coloured = run_cli("check", "--output-format", "full", ".", cwd=project).stdout
    assert "\x1b[1;31mWN301\x1b[0m" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run_cli("check", "--output-format", "full", ".", cwd=project).stdout
    assert "\x1b[" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_an_output_file_that_fails_while_written_is_exit_2(project):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    result = run_cli("check", "--output-file", "/dev/full", ".", cwd=project)
    assert result.returncode == 2
    assert "cannot write /dev/full" in result.stderr


def test_headings_inside_code_blocks_are_not_demoted():
    from wnlint.cli.docs import _demoted

    page = "# Title\n\n```python\n# a comment\nx = 1\n```\n\n## Section\n"
    assert _demoted(page) == (
        "## Title\n\n```python\n# a comment\nx = 1\n```\n\n### Section\n"
    )
