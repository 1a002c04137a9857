"""Per-platform settings shared by every process."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.storage.models import Platform


def platform_set_limit(session: Session, name: str, max_running: int | None) -> None:
    """At most ``max_running`` publishes at once on the platform, across every worker
    (None: no limit)."""
    existing = session.get(Platform, name)
    if existing is None:
        session.add(Platform(name=name, max_running=max_running))
    else:
        existing.max_running = max_running


def platform_limits(session: Session) -> dict[str, int | None]:
    """Every platform's stored limit (a platform without a row has none)."""
    return {p.name: p.max_running for p in session.scalars(sa.select(Platform))}
