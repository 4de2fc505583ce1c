"""The engine: one parse and one analysis per file, every admitted rule
run over it, and its findings filtered by ``noqa`` and configuration.

:mod:`.linter` holds the :class:`~wnlint.engine.linter.Linter` every front
end drives; :mod:`.runner` runs one over many files (discovery, worker
processes); :mod:`.diagnostics` the findings it returns; :mod:`.noqa` the
suppression comments; :mod:`.notebook` the cells of a Jupyter notebook as
one Python source, and :mod:`.notebook_write` a fixed one written back.
Above :mod:`wnlint.rules` and :mod:`wnlint.facts`, below
:mod:`wnlint.fixing` and :mod:`wnlint.cli`.
"""
