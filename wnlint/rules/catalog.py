"""Each rule's name, severity, fix safety, fix title and prefilter, read
from the text of the rule modules, never by importing them.

The front ends print these for findings read from the cache, ``--select``
checks codes against them, and the engine asks the declared prefilters
before any rule can match; importing the rules for that would import the
analysis under them on every start (an editor's flake8 starts often). A
rule class declares each as a plain assignment in its body, after its
docstring (``name = "the-name"``, ``prefilter = MODULE_CLASSES``), so its
file is all that lists it: this module reads those lines (the registry,
:mod:`wnlint.rules`, once per process).
``tests/test_startup.py`` holds what is read equal to the imported classes.
"""

from __future__ import annotations

import os
from typing import Literal, NamedTuple

FIELDS = ("name", "severity", "fix_safety", "fix_title", "prefilter")


class RuleInfo(NamedTuple):
    name: str
    severity: Literal["error", "warning"]
    fix_safety: str | None
    fix_title: str
    #: The name, in wnlint.facts.prefilter, of the rule's prefilter.
    prefilter: str


class CatalogError(Exception):
    """A rule module whose class does not declare its fields as plain
    assignments this module can read."""


def read_rule(text: str, where: str = "<rule>") -> RuleInfo:
    """The fields the rule class in ``text`` declares before its first
    method (``fix_safety`` defaults to None, as on ``Rule``). Plain string
    work: compiling patterns would cost more than reading every rule."""
    fields: dict[str, str | None] = {"fix_safety": None}
    lines = iter(_class_body(text, where).split("\n"))
    for line in lines:
        key, equals, value = line.partition(" = ")
        if not (equals and key.startswith("    ") and key[4:] in FIELDS):
            continue
        key = key[4:]
        if value == "(":  # a parenthesized value, ended by `    )`
            parts = []
            for part in lines:
                if part == "    )":
                    break
                parts.append(part.strip())
            value = " ".join(parts)
        fields[key] = _value(key, value, where)
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise CatalogError(f"{where}: the rule class does not declare {missing}")
    return RuleInfo(**fields)  # type: ignore[arg-type]


def _value(key: str, value: str, where: str) -> str | None:
    """A field's value: the prefilter's name, ``None``, or a string (the
    double-quoted pieces the formatter writes, joined; anything else is
    read by ``ast.literal_eval``)."""
    if key == "prefilter":
        if not value.isidentifier():
            raise CatalogError(f"{where}: `prefilter = {value}` is not a name")
        return value
    if value == "None":
        return None
    pieces = value.split('"')
    if len(pieces) % 2 == 1 and "\\" not in value and not "".join(pieces[::2]).strip():
        return "".join(pieces[1::2])
    import ast  # an escape or another quote: rare, and exact this way

    try:
        found = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        found = None
    if not isinstance(found, str):
        raise CatalogError(f"{where}: `{key} = {value}` is not a string or None")
    return found


def _class_body(text: str, where: str) -> str:
    """The rule class's body between its docstring (whose examples may
    spell a field) and its first method or decorator."""
    start = text.find("(Rule):\n")
    line = text.rfind("\n", 0, start) + 1
    if start == -1 or not text.startswith("class ", line):
        raise CatalogError(f"{where}: no `class ...(Rule):` statement")
    start += len("(Rule):\n")
    if text[start:].lstrip(" ").startswith(('"""', 'r"""')):
        opening = text.find('"""', start)
        closing = text.find('"""', opening + 3)
        start = closing + 3 if closing != -1 else len(text)
    ends = [text.find(mark, start) for mark in _BODY_ENDS]
    return text[start : min([end for end in ends if end != -1], default=len(text))]


#: What ends the fields' part of a class body.
_BODY_ENDS = ("\n    def ", "\n    async def ", "\n    @", "\nclass ", "\ndef ")


def read_rules(paths: dict[str, str]) -> dict[str, RuleInfo]:
    """The fields of each rule, by code, from the module files ``paths``
    (code -> path) names."""
    found = {}
    for code, path in paths.items():
        with open(path, encoding="utf-8") as handle:
            found[code] = read_rule(handle.read(), os.path.basename(path))
    return found
