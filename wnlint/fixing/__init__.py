"""Fixing: applying the rules' fixes to files, and writing them safely.

:mod:`.fixer` runs the fix loop over a file (edits that collide are held
back to the next pass, whole-file rewrites apply alone), with
:mod:`.apply` putting a pass's edits into the text; :mod:`.runner` fixes a
run's files, in worker processes when there are many; :mod:`.diff` renders
diffs; :mod:`.safe_write` replaces a file so that an interruption never
leaves it half-written; :mod:`.migration_notes` says what a WN301/WN302 migration
breaks outside the files it rewrites (the one part that knows a rule's
semantics: the migration's). Fixes come from the findings.
"""
