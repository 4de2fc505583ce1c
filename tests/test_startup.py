"""What a run loads: a file that no rule can match is settled without
importing a rule or the analysis, and the light objects that stand in for
dataclasses on that path behave as the dataclasses did."""

from __future__ import annotations

import ast
import json
import pickle
import re
import subprocess
import sys

import pytest
from conftest import ROOT, UNKNOWN_CODE

from wnlint.cli import parser
from wnlint.cli.parser import build_parser
from wnlint.engine.linter import _ONLY_AST, Diagnostic, Linter, Report
from wnlint.facts import prefilter
from wnlint.rules import ALL_RULES, CODES, info

#: Loaded only for a file some rule's prefilter admits (or a finding).
HEAVY = (
    "wnlint.facts.analysis",
    "wnlint.facts.calls",
    "wnlint.facts.order",
    "wnlint.rules.fixes",
    "wnlint.rules.base",
    "wnlint.engine.noqa",
    "dataclasses",
    "tempfile",
    "shutil",
)

_PROBE = """
import json, sys
from wnlint.cli.main import main
status = main(sys.argv[1:])
print(json.dumps([status, sorted(sys.modules)]))
"""


def _modules_after(*argv: str) -> tuple[int, set[str]]:
    """The exit status of ``wnlint *argv`` and the modules it loaded, in a
    fresh interpreter that imports this checkout's wnlint."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    status, modules = json.loads(out.splitlines()[-1])
    return status, set(modules)


def test_a_file_no_rule_can_match_loads_no_rule(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("import os\n\n\ndef main():\n    return os.getcwd()\n")
    status, modules = _modules_after("check", "--no-cache", "-q", str(plain))
    assert status == 0
    loaded = sorted(m for m in HEAVY if m in modules)
    assert loaded == [], f"loaded for a file no rule can match: {loaded}"
    assert not any(m.startswith("wnlint.rules.wn") for m in modules)


def test_a_file_a_rule_matches_loads_the_rules(tmp_path):
    legacy = tmp_path / "legacy.py"
    legacy.write_text(
        "from torch import nn\nlayer = nn.utils.weight_norm(nn.Linear(2, 2))\n"
    )
    status, modules = _modules_after("check", "--no-cache", "-q", str(legacy))
    assert status == 1
    assert {"wnlint.facts.analysis", "wnlint.rules.wn301_legacy_weight_norm"} <= modules


def test_findings_from_the_cache_are_printed_without_importing_a_rule(tmp_path):
    """A warm run prints findings, their ``[*]`` marks and the fixable
    summary from the generated catalog: the rules stay unloaded."""
    legacy = tmp_path / "legacy.py"
    legacy.write_text(
        "from torch import nn\nlayer = nn.utils.weight_norm(nn.Linear(2, 2))\n"
    )
    argv = ("check", "--cache-dir", str(tmp_path / "cache"), str(legacy))
    cold, _ = _modules_after(*argv)
    status, modules = _modules_after(*argv)
    assert cold == status == 1
    assert not any(m.startswith("wnlint.rules.wn") for m in modules)
    assert "wnlint.facts.analysis" not in modules


def test_listing_the_rules_imports_none():
    status, modules = _modules_after("rule")
    assert status == 0
    assert not any(m.startswith("wnlint.rules.wn") for m in modules)


def test_the_catalog_reads_what_the_rule_classes_declare():
    """The catalog reads the rule modules' text, never imports them: what
    it reads must be what the classes hold."""
    for rule in ALL_RULES:
        shown = info(rule.code)
        assert shown is not None
        assert (shown.name, shown.severity) == (rule.name, rule.severity)
        assert (shown.fix_safety, shown.fix_title) == (rule.fix_safety, rule.fix_title)
    assert info(UNKNOWN_CODE) is None


_RULE_TEXT = '''"""A rule."""

from wnlint.rules.base import Rule


class Sample(Rule):
    """Its page. An example may spell a field:

    name = "not-this-one"
    """

    code = "WN999"
    name = "sample-rule"
    severity = "warning"
    summary = (
        "a summary "
        "on two lines"
    )
    fix_title = (
        "Do this, "
        "then that"
    )
    prefilter = LEGACY_API

    def check(self, analysis):
        name = "a local"
        yield from ()
'''


def test_the_catalog_reads_the_fields_after_the_docstring_and_before_a_method():
    from wnlint.rules.catalog import RuleInfo, read_rule

    assert read_rule(_RULE_TEXT) == RuleInfo(
        name="sample-rule",
        severity="warning",
        fix_safety=None,
        fix_title="Do this, then that",
        prefilter="LEGACY_API",
    )
    escaped = _RULE_TEXT.replace('"sample-rule"', r'"sample\\-rule"')
    assert read_rule(escaped).name == "sample\\-rule"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("class Sample(Rule):", "class Sample:"), "no `class ...(Rule):`"),
        (("    prefilter = LEGACY_API\n", ""), "does not declare ['prefilter']"),
        (("prefilter = LEGACY_API", "prefilter = make()"), "is not a name"),
        (('severity = "warning"', "severity = WARNING"), "is not a string or None"),
    ],
)
def test_a_rule_the_catalog_cannot_read_is_named(change, message):
    from wnlint.rules.catalog import CatalogError, read_rule

    with pytest.raises(CatalogError, match=re.escape(message)):
        read_rule(_RULE_TEXT.replace(*change), "wn999_sample.py")


def test_every_rules_prefilter_is_the_one_the_catalog_names():
    """The engine settles a file with the prefilters the catalog names for
    its enabled rules, before any rule is imported: a rule whose prefilter
    were named wrong would never see a file only it admits."""
    for rule in ALL_RULES:
        assert getattr(prefilter, info(rule.code).prefilter) is rule.prefilter


def test_the_engine_asks_only_the_enabled_rules_prefilters():
    legacy = Linter(["WN301", "WN302", "WN303"])
    assert legacy._declared_filters() == (prefilter.LEGACY_API,)
    every = Linter(list(CODES))._declared_filters()
    assert set(map(id, every)) == {id(r.prefilter) for r in ALL_RULES}
    assert len(every) == len(set(map(id, every)))


def test_codes_come_from_the_rule_files():
    assert tuple(rule.code for rule in ALL_RULES) == CODES
    files = sorted((ROOT / "wnlint" / "rules").glob("wn[0-9][0-9][0-9]_*.py"))
    assert [f.name[:5].upper() for f in files] == list(CODES)


def test_the_only_ast_flag_is_pythons():
    assert ast.PyCF_ONLY_AST == _ONLY_AST


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--select", "WN3", "-q", "a.py", "b"],
        ["check", "--fix", "--unsafe-fixes", "--output-format", "concise"],
        ["fix", "--diff", "--leftovers", "remove", "x.py"],
        ["rule", "WN301"],
        ["clean", "--cache-dir", "somewhere"],
    ],
)
def test_one_commands_parser_reads_its_arguments_as_the_whole_one(argv):
    whole = build_parser().parse_args(argv)
    alone = build_parser(argv[0]).parse_args(argv)
    assert vars(alone) == vars(whole)


@pytest.mark.parametrize("columns", ["50", "120", "", "junk"])
@pytest.mark.parametrize("command", [None, "check", "rule"])
def test_help_is_laid_out_as_argparse_would_lay_it_out(monkeypatch, columns, command):
    """The width wnlint hands argparse is the one argparse finds itself
    (with ``shutil``, which wnlint does not import)."""
    monkeypatch.setenv("COLUMNS", columns)
    ours = build_parser(command).format_help()
    monkeypatch.setattr(parser, "_help_width", lambda: None)
    assert ours == build_parser(command).format_help()


# -- Diagnostic and Report --------------------------------------------------------


def test_a_diagnostic_is_immutable_and_known_by_where_it_is_and_what_it_says():
    d = Diagnostic("a.py", 2, 5, "WN301", "m", end_line=2, end_col=9)
    with pytest.raises(AttributeError):
        d.line = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del d.code
    # fix, end and cites are not part of its identity, the cell is.
    other = Diagnostic("a.py", 2, 5, "WN301", "m", fix=None, end_line=None, cites=())
    assert d == other and hash(d) == hash(other)
    assert d != d.replace(cell=1)
    assert d != d.replace(message="n")
    assert d != ("a.py", 2, 5, "WN301", "m")
    assert len({d, other, d.replace(line=3)}) == 2
    with pytest.raises(TypeError):
        d.replace(colour=1)


def test_a_diagnostic_survives_pickling_with_every_field():
    d = Diagnostic("a.py", 2, 5, "WN301", "m", None, 2, 9, 3, ())
    back = pickle.loads(pickle.dumps(d))
    assert back == d
    assert [getattr(back, n) for n in d.FIELDS] == [getattr(d, n) for n in d.FIELDS]
    assert "end_col=9" in repr(d) and "fix" not in repr(d)


def test_a_report_starts_empty_and_counts_files_with_findings():
    assert Report().diagnostics == [] and Report().files_checked == 0
    assert Report().diagnostics is not Report().diagnostics
    found = [Diagnostic("a.py", 1, 1, "WN301", "m"), Diagnostic("a.py", 2, 1, "X", "n")]
    assert Report(found, files_checked=3).files_with_findings == 1


# -- what a run leaves behind ---------------------------------------------------------


def test_checking_a_file_leaves_nothing_to_the_cycle_collector(tmp_path):
    """Every object of a file's analysis (its tree, scopes, summaries,
    module facts) is freed by reference counting when the file is done:
    the CLI can run the cycle collector rarely, and a long-lived process
    (an editor's flake8) holds no tree it is done with."""
    import gc

    from conftest import FIXTURES

    from wnlint.engine.linter import select_rules

    linter = Linter(select_rules())
    paths = sorted(FIXTURES.glob("wn*.py")) + sorted(
        (FIXTURES / "wn203_package").rglob("*.py")
    )
    for path in paths:  # warm: sibling files parsed once, caches filled
        linter.lint_file(str(path))
    gc.collect()
    gc.disable()
    try:
        left = {}
        for path in paths:
            assert linter.lint_file(str(path)) is not None
            found = gc.collect()
            if found:
                left[path.name] = found
    finally:
        gc.enable()
    assert left == {}


def test_a_run_restores_the_collectors_settings():
    """``main`` runs inside other programs (tests, editors): the collector's
    thresholds and a freeze of the caller's own are as they were after it."""
    import gc

    from wnlint.cli.main import main

    before = gc.get_threshold()
    gc.freeze()
    try:
        assert main(["rule", "WN301"]) == 0
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() > 0  # still frozen: not undone by main
    finally:
        gc.unfreeze()
    assert main(["rule", "WN301"]) == 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
