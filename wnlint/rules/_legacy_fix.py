"""The fix of every WN301 and WN302 finding: one whole-file migration
(:mod:`wnlint.rules._legacy_migration`), built only when ``fix`` asks.

Apart from the sites (:mod:`wnlint.rules._legacy_api`), which the
migration reads: the rules import this, and libcst is loaded only when a
fix is built, so ``check`` never pays for it.
"""

from __future__ import annotations

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
