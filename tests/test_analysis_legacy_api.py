"""The dual-API queries WN301-WN303 share, at home in rules._legacy_api."""

from __future__ import annotations

import ast
import textwrap

from wnlint.facts.analysis import FileAnalysis, Site
from wnlint.rules._legacy_api import in_dual_api_branch, mentions_new_api


def remover_site(source: str) -> Site:
    analysis = FileAnalysis(ast.parse(textwrap.dedent(source)))
    (site,) = [
        s
        for s in analysis.calls
        if isinstance(s.node, ast.Call)
        and isinstance(s.node.func, ast.Attribute)
        and s.node.func.attr == "remove_weight_norm"
    ]
    return site


def test_a_plain_call_is_not_in_a_dual_api_branch():
    site = remover_site(
        """
        import torch
        torch.nn.utils.remove_weight_norm(m)
        """
    )
    assert not in_dual_api_branch(site)
    assert not in_dual_api_branch(site, tolerant_try=True)


def test_a_branch_on_the_new_api_attribute_is_dual():
    site = remover_site(
        """
        import torch
        if hasattr(m, "parametrizations"):
            pass
        else:
            torch.nn.utils.remove_weight_norm(m)
        """
    )
    assert in_dual_api_branch(site)


def test_an_except_fallback_from_the_new_api_is_dual():
    site = remover_site(
        """
        import torch
        try:
            torch.nn.utils.parametrize.remove_parametrizations(m, "weight")
        except ValueError:
            torch.nn.utils.remove_weight_norm(m)
        """
    )
    assert in_dual_api_branch(site)


def test_a_tolerant_try_counts_only_when_asked():
    site = remover_site(
        """
        import torch
        def strip(m):
            torch.nn.utils.parametrize.remove_parametrizations(m, "weight")
            try:
                torch.nn.utils.remove_weight_norm(m)
            except ValueError:
                pass
        """
    )
    assert not in_dual_api_branch(site)
    assert in_dual_api_branch(site, tolerant_try=True)


def test_mentions_new_api_resolves_names():
    analysis = FileAnalysis(
        ast.parse("from torch import __version__ as v\nfrom x import y\n")
    )
    scope = analysis.module_scope
    assert mentions_new_api([ast.parse("v >= '2.1'").body[0]], scope)
    assert not mentions_new_api([ast.parse("y >= '2.1'").body[0]], scope)
