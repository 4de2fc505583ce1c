"""Each code's severity (a bug is an error, a deprecation a warning) and
the formats that grade findings by it: SARIF, GitHub, JSON, and the VS Code
settings on the rules page, which are generated from it."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from conftest import IN_FORWARD_SNIPPET as IN_FORWARD
from conftest import LEGACY_SNIPPET as LEGACY
from conftest import ROOT, run_cli

from wnlint.engine.linter import SYSTEM_CODES, known_codes, severity_of
from wnlint.rules import ALL_RULES
from wnlint.rules.base import SEVERITIES

#: The deprecated-API rules; every other rule finds a bug.
DEPRECATIONS = {"WN301", "WN302"}
SCHEMA = json.loads(
    (ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)


@pytest.fixture
def project(tmp_path):
    """A deprecation (WN301) in one file, a bug (WN106) in another, and a
    file that does not parse (WN001)."""
    (tmp_path / "legacy.py").write_text(LEGACY)
    (tmp_path / "bug.py").write_text(IN_FORWARD)
    (tmp_path / "broken.py").write_text(LEGACY + "def (:\n")
    return tmp_path


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_declares_its_severity_on_its_own_class(rule):
    """Declared beside the code, never inherited: a new rule must choose."""
    assert "severity" in vars(rule), f"{rule.code}: declare severity"
    assert rule.severity in SEVERITIES
    expected = "warning" if rule.code in DEPRECATIONS else "error"
    assert rule.severity == expected
    assert severity_of(rule.code) == expected


def test_the_engine_codes_are_errors():
    assert SYSTEM_CODES
    for code in SYSTEM_CODES:
        assert severity_of(code) == "error"


def test_sarif_levels_follow_the_severity(project):
    result = run_cli("check", "--output-format", "sarif", ".", cwd=project)
    log = json.loads(result.stdout)
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert not list(validator.iter_errors(log))
    [run] = log["runs"]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"WN301": "warning", "WN106": "error", "WN001": "error"}
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == set(known_codes())
    for rule in rules:
        assert rule["defaultConfiguration"]["level"] == severity_of(rule["id"])


def test_github_annotations_warn_on_deprecations_and_fail_on_bugs(project):
    result = run_cli("check", "--output-format", "github", ".", cwd=project)
    commands = {
        re.search(r"title=(WN\d+)", line)[1]: line.split(" ", 1)[0]
        for line in result.stdout.splitlines()
    }
    assert commands == {"WN301": "::warning", "WN106": "::error", "WN001": "::error"}


def test_json_carries_the_severity(project):
    result = run_cli("check", "--output-format", "json", ".", cwd=project)
    found = {o["code"]: o["severity"] for o in json.loads(result.stdout)}
    assert found == {"WN301": "warning", "WN106": "error", "WN001": "error"}


def test_the_vs_code_settings_are_generated_from_the_severities():
    from wnlint.cli.docs import VSCODE_ANCHOR, VSCODE_SEVERITY, rules_page

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### VS Code", 1)[1].split("\n## ", 1)[0]
    assert f"(docs/rules.md#{VSCODE_ANCHOR})" in section
    page = rules_page()
    assert f'<a id="{VSCODE_ANCHOR}"></a>' in page
    section = page.split("## Severities in VS Code", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)
    severity = json.loads(block)["flake8.severity"]
    assert severity == {
        code: VSCODE_SEVERITY[severity_of(code)] for code in known_codes()
    }
    assert severity["WN301"] != severity["WN101"]


def test_readme_documents_the_json_severity_field():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Output formats", 1)[1].split("\n## ", 1)[0]
    assert '"severity": "warning"' in section
    assert "`severity` is" in section
