"""The code examples of the seed reports, verbatim, give exactly their
expected findings (``fixtures/seeds/README.md``)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import FIXTURES, ROOT

from wnlint.engine.linter import Linter, select_rules

SEEDS = FIXTURES / "seeds"

#: fixture -> the (line, code) findings it must give, and nothing else.
EXPECTED: dict[str, Counter] = {
    "seed000_example1.py": Counter({(8, "WN104"): 1}),
    "seed000_example2.py": Counter({(15, "WN102"): 1}),
    "seed000_example3.py": Counter({(6, "WN301"): 1}),
    "seed002_example1.py": Counter({(12, "WN101"): 1}),
    "seed002_example2.py": Counter({(8, "WN103"): 1}),
    "seed002_example3.py": Counter(),
}

#: Where the reports are kept beside a checkout (absent from an sdist).
REPORTS = ROOT.parent / "shared" / "seeds"
SOURCES = {"seed000": "000_85d26ef7e165847c.txt", "seed002": "002_02e4cafe6376e997.txt"}


def test_every_seed_fixture_has_its_expectation():
    assert sorted(p.name for p in SEEDS.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_example_findings(name):
    found = Linter(select_rules()).lint_file(str(SEEDS / name))
    assert Counter((d.line, d.code) for d in found) == EXPECTED[name], "\n".join(
        d.format() for d in found
    )


@pytest.mark.skipif(
    not REPORTS.is_dir(), reason="the seed reports are not beside this checkout"
)
@pytest.mark.parametrize("seed", sorted(SOURCES))
def test_seed_fixtures_are_the_reports_code_verbatim(seed):
    text = (REPORTS / SOURCES[seed]).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    for number, block in enumerate(blocks, 1):
        path = SEEDS / f"{seed}_example{number}.py"
        assert path.read_text(encoding="utf-8") == block, path.name
