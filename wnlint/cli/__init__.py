"""The ``wnlint`` command line and what it reads and writes.

:mod:`.main` is the entry point: it parses arguments with :mod:`.parser`
and runs ``check``, ``rule`` and ``clean`` (:mod:`.commands`) or ``fix``
(:mod:`.fix_command`);
:mod:`.config` reads ``[tool.wnlint]`` and selects files (:mod:`.globs`,
:mod:`.gitignore`); :mod:`.output` prints findings in each format;
:mod:`.cache` keeps findings of unchanged files; :mod:`.add_noqa` writes
suppression comments; :mod:`.docs` generates the rule documentation. The
top layer: nothing below imports it.
"""
