"""Fixing: applying the rules' fixes to files, and writing them safely.

:mod:`.fixer` runs the fix loop over a run (edits that collide are held
back to the next pass, whole-file rewrites apply alone) and renders diffs;
:mod:`.safe_write` replaces a file so that an interruption never leaves it
half-written; :mod:`.migration_notes` says what a WN301/WN302 migration
breaks outside the files it rewrites (the one part that knows a rule's
semantics: the migration's). Fixes come from the findings.
"""
