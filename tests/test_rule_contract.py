"""A rule's metadata, documentation and code say the same thing.

The fix travels with its finding, so these tests read the fixes the rules
actually attach (built against the fixtures) rather than a table kept by
hand: a rule documented as report-only attaches none, a fixable rule offers
fixes of exactly the safety it declares, and its "Fix safety" section says
so. Message templates are all used and all filled.
"""

from __future__ import annotations

import ast
import re
import string
from functools import cache

import pytest
from conftest import FIXTURES, ROOT

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts.analysis import FileAnalysis
from wnlint.fixing.fixer import offered_fixes
from wnlint.rules import ALL_RULES
from wnlint.rules.fixes import Applicability, Fix

SOURCES = sorted(FIXTURES.glob("*.py")) + sorted((FIXTURES / "fix").glob("*.py"))
_LEVELS = {
    "safe": {Applicability.SAFE},
    "unsafe": {Applicability.UNSAFE},
    "mixed": {Applicability.SAFE, Applicability.UNSAFE},
}


@cache
def _offered() -> dict[str, list]:
    """Per code, every finding's built fix over the fixtures and doc examples."""
    linter = Linter(select_rules())
    out: dict[str, list] = {rule.code: [] for rule in ALL_RULES}
    sources = [(p.name, p.read_bytes()) for p in SOURCES]
    sources += [(f"{r.code}.py", r.doc_code("Example").encode()) for r in ALL_RULES]
    for name, data in sources:
        for diagnostic, fix in offered_fixes(data, name, linter):
            if diagnostic.code in out:
                out[diagnostic.code].append((diagnostic, fix))
    return out


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rules_attach_fixes_of_exactly_their_declared_safety(rule):
    offered = _offered()[rule.code]
    assert offered, f"{rule.code} has no finding in the fixtures"
    if rule.fix_safety is None:
        assert all(d.fix is None for d, _ in offered), "a report-only rule offers a fix"
        return
    levels = {f.applicability for _, f in offered if isinstance(f, Fix)}
    assert levels == _LEVELS[rule.fix_safety]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_fix_safety_section_matches_the_code(rule):
    text = rule.doc_sections()["Fix safety"]
    if rule.fix_safety is None:
        assert text.startswith("No automatic fix"), text
        return
    assert "No automatic fix" not in text
    if rule.fix_safety in ("unsafe", "mixed"):
        assert re.search(r"\bunsafe\b", text, re.IGNORECASE), text
    if rule.fix_safety in ("safe", "mixed"):
        assert re.search(r"\bSafe\b", text), text


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_message_template_is_used_and_filled(rule):
    used = set()
    for path in SOURCES:
        analysis = FileAnalysis(ast.parse(path.read_bytes()))
        for finding in rule().check(analysis):
            used.add(finding.variant)
            assert "{" not in finding.message and "}" not in finding.message
            # A line the message names is where its cite says (a notebook
            # restates it there, counted in its cell).
            for start, end, line in finding.cites:
                assert finding.message[start:end] == f"line {line}"
    assert used == set(rule.templates())
    for template in rule.templates().values():
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        assert all(f.isidentifier() for f in fields), template


def test_fix_loop_knows_no_rule():
    """The fix loop is the loop only: every rule-specific decision travels
    with the finding's fix (whose types, :mod:`wnlint.rules.fixes`, are
    what rules hand it). Every module of ``wnlint/fixing`` is the loop's
    but ``migration_notes.py`` and the loader shapes it reads
    (``state_loads.py``, ``keyed_loaders.py``), the one part that knows a rule (what the
    migration breaks in other files)."""
    fixing = ROOT / "wnlint" / "fixing"
    loop = [
        path
        for path in sorted(fixing.glob("*.py"))
        if path.name
        not in {
            "__init__.py",
            "migration_notes.py",
            "state_loads.py",
            "keyed_loaders.py",
        }
    ]
    assert {"fixer.py", "apply.py", "runner.py"} <= {path.name for path in loop}
    for path in loop:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"WN\d{3}", text), path.name
        tree = ast.parse(text)
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        rules = {m for m in imported if m.startswith("wnlint.rules")}
        assert rules <= {"wnlint.rules.fixes"}, path.name
        assert "wnlint.facts.torchnames" not in imported, path.name


def test_torch_names_are_spelled_only_in_torchnames():
    """Names matched or emitted (``torch.x.y``) live in one module; prose in
    messages and docstrings may mention them."""
    for path in (ROOT / "wnlint").rglob("*.py"):
        if path.name == "torchnames.py":
            continue
        tree = ast.parse(path.read_bytes())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(
                node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            )
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and re.fullmatch(r"torch(\.\w+)+", node.value)
            ):
                raise AssertionError(f"{path.name}:{node.lineno}: {node.value!r}")


def test_the_rules_table_has_a_row_per_rule_and_is_on_the_rules_page():
    from wnlint.cli.docs import rules_page, rules_table

    assert rules_table().count("\n| WN") == len(ALL_RULES)
    assert rules_table() in rules_page()


def test_the_readme_names_no_rule_the_rules_page_lacks():
    """Everything generated from the rules lives on the rules page, so a new
    rule changes no other file; the README links to it and names no code
    that is no rule's."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/rules.md)" in readme
    named = set(re.findall(r"\bWN[1-9]\d\d\b", readme))
    assert named <= {rule.code for rule in ALL_RULES}, named


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_page_says_what_the_fix_does(rule):
    page = rule.documentation()
    assert rule.fix_title in page.split("## What it does")[0]
    assert ("report only" in page) == (rule.fix_safety is None)


def test_fix_diff_summary_names_each_fix(tmp_path, capsys):
    from wnlint.cli.main import main

    target = tmp_path / "m.py"
    target.write_bytes((FIXTURES / "fix" / "wn105_before.py").read_bytes())
    assert main(["fix", "--unsafe-fixes", "--diff", str(target)]) == 1
    err = capsys.readouterr().err
    from wnlint.rules import RULES_BY_CODE

    assert f"{target}: WN105 x2: {RULES_BY_CODE['WN105'].fix_title}" in err
