"""Meta-tests over the rule registry and each rule's documentation."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from conftest import ROOT, UNKNOWN_CODE, UNKNOWN_PREFIX

from wnlint.cli.docs import RULES_PAGE
from wnlint.engine.linter import SYSTEM_CODES, Linter, known_codes
from wnlint.rules import ALL_RULES, Rule
from wnlint.rules.base import DOC_SECTIONS


def test_codes_and_names_are_unique_and_well_formed():
    codes = [r.code for r in ALL_RULES]
    names = [r.name for r in ALL_RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    assert codes == sorted(codes)
    assert not set(codes) & set(SYSTEM_CODES)
    for rule in ALL_RULES:
        assert re.fullmatch(r"WN[1-9]\d\d", rule.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
        assert rule.message and rule.fix_title and rule.prefilter


def test_the_unknown_sentinels_stay_unknown():
    codes = known_codes()
    assert all(re.fullmatch(r"WN00\d", code) for code in SYSTEM_CODES)
    assert not any(code.startswith(UNKNOWN_PREFIX) for code in codes)
    assert UNKNOWN_CODE.startswith(UNKNOWN_PREFIX)


def test_every_rule_module_is_registered():
    found = set()
    for path in (ROOT / "wnlint" / "rules").glob("wn*.py"):
        module = importlib.import_module(f"wnlint.rules.{path.stem}")
        rules = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule
        ]
        assert len(rules) == 1, f"{path.name}: one rule per module"
        (rule,) = rules
        assert path.stem == f"{rule.code.lower()}_{rule.name.replace('-', '_')}"
        found.add(rule)
    assert found == set(ALL_RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_documentation_has_every_section_in_order(rule):
    sections = list(rule.doc_sections())
    assert sections == list(DOC_SECTIONS)
    assert all(rule.doc_sections()[s] for s in sections)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_doc_example_triggers_and_use_instead_does_not(rule):
    linter = Linter([rule])
    example = rule.doc_code("Example")
    better = rule.doc_code("Use instead")
    assert example and better
    assert [d.code for d in linter.lint_bytes(example.encode(), "x.py")] == [rule.code]
    assert linter.lint_bytes(better.encode(), "y.py") == []


def test_the_rules_page_lists_every_rule():
    page = (ROOT / RULES_PAGE).read_text(encoding="utf-8")
    for rule in ALL_RULES:
        assert f"| {rule.code} | `{rule.name}` |" in page


def test_the_rules_tables_fix_column_matches_fix_safety():
    page = (ROOT / RULES_PAGE).read_text(encoding="utf-8")
    shown = {"safe": "safe", "unsafe": "unsafe", "mixed": "safe / unsafe", None: "—"}
    for rule in ALL_RULES:
        row = next(line for line in page.splitlines() if f"| {rule.code} |" in line)
        assert row.endswith(f"| {shown[rule.fix_safety]} |"), row


def test_every_rule_with_a_fix_has_a_fix_pair():
    pairs = (ROOT / "fixtures" / "fix").glob("*_before.py")
    covered = {p.name[:5].upper() for p in pairs}
    legacy = {"WN301", "WN302"}  # fixed together, by legacy_api_before.py
    for rule in ALL_RULES:
        if rule.fix_safety is None:
            continue  # tests/test_rule_contract.py: it attaches no fix
        if rule.code in legacy:
            assert (ROOT / "fixtures" / "fix" / "legacy_api_before.py").exists()
        else:
            assert rule.code in covered
