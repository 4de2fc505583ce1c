"""The rule registry: every rule, once, in code order.

A rule is a module of this package named after its code
(``wn203_init_after_weight_norm.py``) that defines one :class:`Rule`
subclass with that code; nothing else lists it. The codes come from the
file names, so that configuration, ``--select`` and a file no rule's
prefilter admits never import a rule (or the analysis the rules need):
``ALL_RULES`` and ``RULES_BY_CODE`` import the rule modules the first time
they are asked for.
"""

from __future__ import annotations

import importlib
import os
import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wnlint.rules.base import Finding, Rule
    from wnlint.rules.catalog import RuleInfo

_MODULE = re.compile(r"(wn\d{3})_\w+\.py\Z")


_HERE = os.path.dirname(os.path.abspath(__file__))


def _modules() -> dict[str, str]:
    """Rule code -> module name, from the files of this package."""
    found = {}
    for name in os.listdir(_HERE):
        match = _MODULE.match(name)
        if match:
            found[match.group(1).upper()] = name[: -len(".py")]
    return dict(sorted(found.items()))


_MODULES = _modules()
#: Every rule's code, in order.
CODES: tuple[str, ...] = tuple(_MODULES)


def default_enabled(code: str) -> bool:
    """Whether a rule runs without ``--select`` naming it: WN9xx
    heuristics are opt-in, every other rule is on."""
    return not code.startswith("WN9")


def module_files() -> dict[str, str]:
    """Rule code -> the path of its module."""
    return {code: os.path.join(_HERE, f"{name}.py") for code, name in _MODULES.items()}


@cache
def infos() -> dict[str, RuleInfo]:
    """What the front ends show of each rule, by code, read once per
    process from the rule modules' text (:mod:`wnlint.rules.catalog`)."""
    from wnlint.rules.catalog import read_rules

    return read_rules(module_files())


def info(code: str) -> RuleInfo | None:
    """What the front ends show of a rule, without importing it; None for a
    code that is no rule's."""
    return infos().get(code)


def _load(code: str) -> type[Rule]:
    from wnlint.rules.base import Rule

    module = importlib.import_module(f"{__name__}.{_MODULES[code]}")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Rule)
        and value.__module__ == module.__name__
        and getattr(value, "code", None) == code
    ]
    if len(found) != 1:
        raise ImportError(f"{module.__name__} must define one rule with code {code}")
    return found[0]


def __getattr__(name: str) -> object:
    if name in ("ALL_RULES", "RULES_BY_CODE"):
        rules = tuple(_load(code) for code in CODES)
        globals()["ALL_RULES"] = rules
        globals()["RULES_BY_CODE"] = {rule.code: rule for rule in rules}
        return globals()[name]
    if name in ("Finding", "Rule"):
        from wnlint.rules import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ALL_RULES: tuple[type[Rule], ...]
RULES_BY_CODE: dict[str, type[Rule]]

__all__ = [
    "ALL_RULES",
    "CODES",
    "RULES_BY_CODE",
    "Finding",
    "Rule",
    "default_enabled",
    "info",
    "infos",
    "module_files",
]
