"""Whether a function handed to ``module.apply(fn)`` can weight-norm.

``self.input_conv.apply(init_weights)`` runs ``init_weights`` on the layer
and everything in it: what the layer holds afterwards depends on it. The
analysis of a class's layers (:mod:`wnlint.facts.held_layers`) reads such a
call as harmless only when the function cannot weight-norm: it comes from a
project module that never spells weight norm or a parametrization, nor
imports from a project module that does (Applio's ``init_weights`` in
``commons.py``, which writes ``m.weight.data``), as
:meth:`wnlint.facts.project_names.ProjectNames.plain_layer` reads a class.

The sibling module is read as text, never parsed. A function of the file
itself stays unknown: the prefilter may have cut its body out, and a file
is analysed the same with and without the cut.
"""

from __future__ import annotations

import ast
import os

from wnlint.facts.analysis import FileAnalysis
from wnlint.facts.definitions import local_definition
from wnlint.facts.project_names import may_norm
from wnlint.facts.resolve import Scope, resolve
from wnlint.facts.siblings import module_path


def cannot_norm(fn: ast.expr, scope: Scope, analysis: FileAnalysis) -> bool:
    """``fn`` (read in ``scope`` of the file ``analysis`` reads) names a
    function that cannot weight-norm what it is handed (see the module
    docstring)."""
    if not isinstance(fn, ast.Name) or local_definition(fn.id, scope) is not None:
        return False
    names = resolve(fn, scope)
    if len(names) != 1:
        return False
    (qual,) = names
    module = (qual or "").rpartition(".")[0]
    return bool(module) and _plain_module(module, analysis.path)


def _plain_module(module: str, path: str | None) -> bool:
    """The project module ``module`` (imported by the file at ``path``)
    cannot weight-norm (:func:`wnlint.facts.project_names.may_norm`)."""
    if path is None or module.split(".", 1)[0] == "torch":
        return False
    found = module_path(os.path.dirname(os.path.abspath(path)), module)
    return found is not None and not may_norm(found)
