"""What a rule is: a code, a name, a prefilter, a check, and its own docs.

Each rule's class docstring is its documentation page, in ruff's sections,
so ``wnlint rule CODE`` and the meta-tests read the same text the rule ships.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from typing import ClassVar, NamedTuple

from wnlint.analysis import FileAnalysis
from wnlint.prefilter import AnyOf, Prefilter
from wnlint.rules._edits import Fix, Source

DOC_SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Known problems",
    "References",
)

_SECTION_RE = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
_CODE_BLOCK_RE = re.compile(r"```python\n(.*?)```", re.DOTALL)


class Finding(NamedTuple):
    """A rule's raw result: 1-based line, ``ast`` column (UTF-8 bytes)."""

    line: int
    col: int
    message: str


class Rule:
    """Base class of every rule; subclasses are listed in ``ALL_RULES``."""

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    fix_title: ClassVar[str]
    #: The source text the rule needs (see :mod:`wnlint.prefilter`): files
    #: that no enabled rule's prefilter admits are never parsed.
    prefilter: ClassVar[Prefilter | AnyOf]
    #: WN9xx heuristics are opt-in.
    default_enabled: ClassVar[bool] = True
    #: None (report only), "safe", "unsafe", or "mixed" (each fix says).
    fix_safety: ClassVar[str | None] = None

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        raise NotImplementedError

    def fixes(self, analysis: FileAnalysis, source: Source) -> Iterator[Fix]:
        """Repairs for this rule's findings (as span edits); most rules'
        findings have none, or only under conditions each rule documents."""
        return iter(())

    def finding(self, node: ast.AST, message: str | None = None) -> Finding:
        return Finding(
            node.lineno,  # type: ignore[attr-defined]
            node.col_offset,  # type: ignore[attr-defined]
            message or self.message,
        )

    @classmethod
    def documentation(cls) -> str:
        """The rule's page: a title line, then its docstring sections."""
        body = inspect.cleandoc(cls.__doc__ or "")
        return f"# {cls.code} {cls.name}\n\n{body}\n"

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        text = inspect.cleandoc(cls.__doc__ or "")
        heads = list(_SECTION_RE.finditer(text))
        sections = {}
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            sections[head.group(1)] = text[head.end() : end].strip()
        return sections

    @classmethod
    def doc_code(cls, section: str) -> str:
        """The first python code block of ``section`` (for the meta-tests)."""
        match = _CODE_BLOCK_RE.search(cls.doc_sections().get(section, ""))
        return match.group(1) if match else ""
