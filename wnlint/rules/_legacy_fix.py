"""The fix of every WN301 and WN302 finding: one whole-file migration
(:mod:`wnlint.rules._legacy_migration`), built only when ``fix`` asks.

Apart from the sites (:mod:`wnlint.rules._legacy_api`) and the hazards
(:mod:`wnlint.rules._migration_hazards`), which the migration reads: the
rules import this, and libcst is loaded only when a fix is built, so
``check`` never pays for it.
"""

from __future__ import annotations

from wnlint.facts.analysis import FileAnalysis
from wnlint.rules._legacy_api import migration_refused, removes_only
from wnlint.rules._migration_hazards import visible_hazard
from wnlint.rules.fixes import Applicability, Declined, Fix, FixContext, LazyFix


def _migration(ctx: FixContext) -> Fix | Declined:
    from wnlint.rules._legacy_migration import migrate

    return migrate(ctx)


MIGRATION = LazyFix(_migration, Applicability.UNSAFE, expensive=True)
#: The same migration in a file where it refuses a site
#: (:func:`wnlint.rules._legacy_api.migration_refused`): built only to say why.
REFUSED_MIGRATION = LazyFix(
    _migration, Applicability.UNSAFE, expensive=True, declines=True
)
#: The migration of a file that removes weight norm and applies none
#: (:func:`wnlint.rules._legacy_api.removes_only`): it applies only in a run
#: that migrates weight norm elsewhere.
REMOVERS_MIGRATION = LazyFix(
    _migration, Applicability.UNSAFE, expensive=True, with_migration=True
)


def migration_of(analysis: FileAnalysis, removers: bool = False) -> LazyFix:
    """The migration as ``check`` offers it for a file's WN301 (and, with
    ``removers``, WN302) findings: refused where a site cannot be rewritten
    or the file depends on the legacy API's names (what ``fix`` would
    decline, the pickling hazard aside, which only the whole file shows),
    and for a file that only removes weight norm, only beside a migration."""
    if migration_refused(analysis) or visible_hazard(analysis) is not None:
        return REFUSED_MIGRATION
    if removers and removes_only(analysis):
        return REMOVERS_MIGRATION
    return MIGRATION
