"""What a rule is: a code, a name, a prefilter, a check, and its own docs.

Each rule's class docstring is its documentation page, in ruff's sections,
so ``wnlint rule CODE`` and the meta-tests read the same text the rule ships.
"""

from __future__ import annotations

import ast
import inspect
import re
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.prefilter import AnyOf, InitWrites, Prefilter
from wnlint.rules.fixes import Applicability, Edit, Fix, FixContext, LazyFix

DOC_SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Known problems",
    "References",
)

#: How much a finding matters, for the formats that grade findings (SARIF's
#: ``level``, GitHub's ``::error``/``::warning``, JSON's ``severity``, the
#: README's editor settings): ``"error"`` is a bug, code that is wrong today;
#: ``"warning"`` is a deprecation, code that works but should move on.
Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")

_SECTION_RE = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
_CODE_BLOCK_RE = re.compile(r"```python\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class LineRef:
    """A line of the checked file that a message names: a message field
    holding one reads ``line N``. The finding records where each lands in
    its message (:class:`Cite`), so that a front end numbering lines another
    way (a notebook counts them in cells) restates it exactly, never by
    searching the text for numbers."""

    line: int

    def __format__(self, spec: str) -> str:
        return format(f"line {self.line}", spec)


class Cite(NamedTuple):
    """``message[start:end]`` is the ``line N`` of a :class:`LineRef`."""

    start: int
    end: int
    line: int


_FORMATTER = string.Formatter()


def fill(template: str, fields: Mapping[str, object]) -> tuple[str, tuple[Cite, ...]]:
    """``template.format(**fields)``, and where each :class:`LineRef` field
    landed in it."""
    out: list[str] = []
    cites: list[Cite] = []
    size = 0
    for literal, name, spec, conversion in _FORMATTER.parse(template):
        out.append(literal)
        size += len(literal)
        if name is None:
            continue
        value, _ = _FORMATTER.get_field(name, (), fields)
        value = _FORMATTER.convert_field(value, conversion)
        spec = _FORMATTER.vformat(spec, (), fields) if spec else ""
        text = _FORMATTER.format_field(value, spec)
        if isinstance(value, LineRef):
            cites.append(Cite(size, size + len(text), value.line))
        out.append(text)
        size += len(text)
    return "".join(out), tuple(cites)


@dataclass(frozen=True)
class Finding:
    """A rule's raw result: 1-based line, ``ast`` column (UTF-8 bytes), the
    filled-in message, and the fix that repairs it, if the rule has one."""

    line: int
    col: int
    message: str
    fix: LazyFix | None = None
    #: Which of the rule's message templates produced ``message``.
    variant: str | None = None
    #: Where the reported node ends (``ast``'s end line and byte column,
    #: exclusive), for machine-readable output; None when it has no end.
    end_line: int | None = None
    end_col: int | None = None
    #: The lines of this file that ``message`` names (its :class:`LineRef`
    #: fields).
    cites: tuple[Cite, ...] = ()


class Rule:
    """Base class of every rule; subclasses are listed in ``ALL_RULES``.

    A rule's metadata is used: ``summary`` is its row in the README table,
    ``message`` (or a named template in ``messages``) is what a finding
    says, filled with the finding's fields, ``fix_title`` is what ``fix
    --diff`` and ``wnlint rule`` say the fix does, and ``fix_safety`` is the
    most a fix of this rule may be applied as (checked against the fixes the
    rule actually returns).
    """

    code: ClassVar[str]
    name: ClassVar[str]
    #: ``"error"`` (a bug) or ``"warning"`` (a deprecation); every rule
    #: declares it beside its code, so that a new rule cannot inherit the
    #: wrong one (a meta-test checks).
    severity: ClassVar[Severity]
    #: One line: what the rule finds (the README's rules table).
    summary: ClassVar[str]
    #: The message template, filled by :meth:`finding`'s keyword fields.
    message: ClassVar[str]
    #: Further templates, by name (``finding(node, variant="...")``).
    messages: ClassVar[Mapping[str, str]] = {}
    fix_title: ClassVar[str]
    #: The source text the rule needs (see :mod:`wnlint.facts.prefilter`): files
    #: that no enabled rule's prefilter admits are never parsed.
    prefilter: ClassVar[Prefilter | AnyOf | InitWrites]
    #: None (report only), "safe", "unsafe", or "mixed" (each fix says).
    fix_safety: ClassVar[str | None] = None

    def check(self, analysis: FileAnalysis) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        node: ast.AST,
        variant: str | None = None,
        fix: LazyFix | None = None,
        **fields: object,
    ) -> Finding:
        """A finding at ``node``, its message filled from ``fields``; a line
        of this file the message names is a :class:`LineRef` field."""
        template = self.messages[variant] if variant else self.message
        message, cites = fill(template, fields)
        return Finding(
            node.lineno,  # type: ignore[attr-defined]
            node.col_offset,  # type: ignore[attr-defined]
            message,
            fix,
            variant,
            getattr(node, "end_lineno", None),
            getattr(node, "end_col_offset", None),
            cites,
        )

    @classmethod
    def templates(cls) -> dict[str | None, str]:
        """Every message template, the main one under None."""
        found: dict[str | None, str] = {None: cls.message}
        found.update(cls.messages)
        return found

    @classmethod
    def fix_line(cls) -> str:
        """What fixing a finding does, in one line (``wnlint rule``)."""
        if cls.fix_safety is None:
            return f"Fix: none (report only). Remedy: {cls.fix_title}"
        safety = "safe or unsafe" if cls.fix_safety == "mixed" else cls.fix_safety
        return f"Fix ({safety}): {cls.fix_title}"

    @classmethod
    def documentation(cls) -> str:
        """The rule's page: a title line, what it finds and how it is fixed,
        then its docstring sections."""
        body = inspect.cleandoc(cls.__doc__ or "")
        return (
            f"# {cls.code} {cls.name}\n\n{cls.summary[:1].upper()}{cls.summary[1:]}."
            f"\n\n{cls.fix_line()}\n\n{body}\n"
        )

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


def edits_fix(
    applicability: Applicability,
    make: Callable[..., tuple[Edit, ...]],
    *args: object,
) -> LazyFix:
    """A lazy fix whose edits ``make(*args, source)`` returns (none: no fix)."""

    def build(ctx: FixContext) -> Fix | None:
        edits = make(*args, ctx.source)
        return Fix(applicability, edits) if edits else None

    return LazyFix(build, applicability)
