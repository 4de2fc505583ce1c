"""The machine-readable formats: ``json``, ``sarif`` and ``github``.

A module of its own so that a run in the human layouts (``text``, ``full``,
in :mod:`wnlint.cli.output`) never loads them: :func:`wnlint.cli.output.write_report`
imports this module only when one of these formats is asked for, and
:func:`to_json` imports :mod:`json` only when called.

* ``json``: a list of objects, one per finding (the schema is in the
  README, and :func:`json_object` builds one);
* ``sarif``: a SARIF 2.1.0 log for code-scanning services
  (:func:`sarif_log`);
* ``github``: GitHub Actions workflow commands, one annotation per finding
  (:func:`github_annotation`).

What each reads of a finding (its rule's name, cell, end and fix) comes
from :mod:`wnlint.cli.findings`, as for the human layouts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from wnlint import __version__
from wnlint import rules as registry  # the rules load when first used
from wnlint.cli.docs import REPOSITORY_URL, rule_url
from wnlint.cli.findings import (
    Fixes,
    Position,
    cell_of,
    end_of,
    fix_key,
    rule_name,
)
from wnlint.engine.linter import SYSTEM_CODES, Diagnostic, severity_of

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"


def to_json(value: object) -> str:
    """``value`` as indented JSON (imported here: text output needs none)."""
    import json

    return json.dumps(value, indent=2)


# -- JSON --------------------------------------------------------------------------
def _location(position: Position) -> dict[str, int]:
    return {"row": position[0], "column": position[1]}


def json_object(d: Diagnostic, fixes: Fixes | None = None) -> dict[str, Any]:
    """One finding of ``--output-format json`` (the README documents it)."""
    fix = (fixes or {}).get(fix_key(d))
    return {
        "code": d.code,
        "name": rule_name(d.code),
        "severity": severity_of(d.code),
        "message": d.message,
        "filename": d.path,
        "cell": cell_of(d),
        "location": _location((d.line, d.col)),
        "end_location": _location(end_of(d)),
        "fix": None
        if fix is None
        else {
            "applicability": fix.applicability,
            "message": fix.message,
            "whole_file": fix.whole_file,
            "edits": [
                {
                    "content": e.content,
                    "location": _location(e.start),
                    "end_location": _location(e.end),
                }
                for e in fix.edits
            ],
        },
        "url": rule_url(d.code),
    }


# -- SARIF -------------------------------------------------------------------------
def sarif_rules() -> list[dict[str, Any]]:
    """Every code's reporting descriptor: id, name, descriptions, help."""
    rules = []
    for code, rule in registry.RULES_BY_CODE.items():
        what = rule.doc_sections().get("What it does", rule.summary)
        doc = rule.documentation()
        rules.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": _sentence(rule.summary)},
                "fullDescription": {"text": what},
                "help": {"text": doc, "markdown": doc},
                "helpUri": rule_url(code),
                "defaultConfiguration": {"level": severity_of(code)},
                "properties": {
                    "fix_safety": rule.fix_safety or "none",
                    "default_enabled": registry.default_enabled(code),
                },
            }
        )
    for code, (name, text) in SYSTEM_CODES.items():
        rules.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": _sentence(text.split(". ")[0])},
                "fullDescription": {"text": text},
                "help": {"text": text},
                "helpUri": rule_url(code),
                "defaultConfiguration": {"level": severity_of(code)},
            }
        )
    return rules


def _sentence(text: str) -> str:
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}"


def artifact_location(path: str, cwd: str) -> dict[str, str]:
    """A file as SARIF's ``artifactLocation``: relative to ``%SRCROOT%`` (the
    working directory) when it lies under it, else an absolute URI."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive
        relative = None
    if relative is None or relative == ".." or relative.startswith(".." + os.sep):
        return {"uri": _file_uri(absolute)}
    return {"uri": _quote(relative.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _quote(path: str) -> str:
    # os.fsencode: a name that is not valid UTF-8 keeps its own bytes.
    from urllib.parse import quote  # SARIF only

    return quote(os.fsencode(path), safe="/")


def _file_uri(absolute: str) -> str:
    posix = absolute.replace(os.sep, "/")
    if not posix.startswith("/"):
        posix = "/" + posix  # C:/x -> /C:/x
    return "file://" + _quote(posix)


def _region(start: Position, end: Position) -> dict[str, int]:
    return {
        "startLine": start[0],
        "startColumn": start[1],
        "endLine": end[0],
        "endColumn": end[1],
    }


def sarif_log(
    diagnostics: Sequence[Diagnostic], fixes: Fixes | None, cwd: str
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run; it validates against the schema
    vendored in ``tests/data``."""
    rules = sarif_rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for d in diagnostics:
        where = artifact_location(d.path, cwd)
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": severity_of(d.code),
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": where,
                        "region": _region((d.line, d.col), end_of(d)),
                    }
                }
            ],
        }
        fix = (fixes or {}).get(fix_key(d))
        if fix is not None:
            result["fixes"] = [
                {
                    "description": {"text": fix.message},
                    "artifactChanges": [
                        {
                            "artifactLocation": where,
                            "replacements": [
                                {
                                    "deletedRegion": _region(e.start, e.end),
                                    "insertedContent": {"text": e.content},
                                }
                                for e in fix.edits
                            ],
                        }
                    ],
                }
            ]
            result["properties"] = {"fix_applicability": fix.applicability}
        cell = cell_of(d)
        if cell is not None:
            result.setdefault("properties", {})["cell"] = cell
        results.append(result)
    root = cwd.replace(os.sep, "/").rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "wnlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": REPOSITORY_URL,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": _file_uri(root)}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


# -- GitHub Actions ----------------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(d: Diagnostic) -> str:
    """An ``::error`` (a bug) or ``::warning`` (a deprecation) workflow
    command: GitHub shows it on the file's line in the pull request and the
    run summary, graded as the code's severity."""
    end_line, end_col = end_of(d)
    properties = {
        "file": d.path[2:] if d.path.startswith("./") else d.path,
        "line": str(d.line),
        "col": str(d.col),
        "endLine": str(end_line),
        "endColumn": str(end_col),
        "title": f"{d.code} {rule_name(d.code)}".strip(),
    }
    joined = ",".join(f"{k}={_escape_property(v)}" for k, v in properties.items())
    cell = cell_of(d)
    message = d.message if cell is None else f"cell {cell}: {d.message}"
    return f"::{severity_of(d.code)} {joined}::{_escape_data(message)}"
