"""Helpers shared by the WN2xx rules (kept out of the rules themselves)."""

from __future__ import annotations

from wnlint.flow import Application, ScopeFlow


def applied_before(
    flow: ScopeFlow, key: str, order: int, name: str | None = None
) -> Application | None:
    """The latest weight-norm application to ``key`` before statement ``order``
    that is still in effect there (not rebound, removed, or in another arm)."""
    found = None
    for app in flow.applications:
        if app.order >= order or flow.exclusive(app.order, order):
            continue
        if name is not None and app.name != name:
            continue
        if key in app.keys and not flow.rebound_between(key, app.order, order):
            found = app
    return found
