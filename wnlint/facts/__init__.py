"""The facts: what the rules read of a file, computed once per file.

Bottom layer: nothing here imports a rule, the engine or a front end.
:mod:`.sources` reads and decodes files; :mod:`.prefilter` tells from the
bytes alone which files no rule can match; :mod:`.analysis` walks the parsed
module once, building the scopes (:mod:`.resolve`) every name is resolved
through; :mod:`.events` recognizes what a call does to modules (weight norm
applied or removed, an optimizer built, a tensor written) and walks a body
in source order with its branches; :mod:`.order` (statement order within a
body), :mod:`.calls` (what functions and classes do across calls and
sibling files), :mod:`.module_classes` and :mod:`.norms` (the ``nn.Module``
classes and the norms in them) and :mod:`.pickling` are built on those.
"""
