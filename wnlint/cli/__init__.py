"""The ``wnlint`` command line and what it reads and writes.

:mod:`.main` parses arguments and runs ``check``, ``fix`` and ``rule``;
:mod:`.config` reads ``[tool.wnlint]`` and selects files (:mod:`.globs`,
:mod:`.gitignore`); :mod:`.output` prints findings in each format;
:mod:`.cache` keeps findings of unchanged files; :mod:`.add_noqa` writes
suppression comments; :mod:`.docs` generates the rule documentation. The
top layer: nothing below imports it.
"""
