"""Per-platform settings shared by every process."""

from __future__ import annotations

from sqlalchemy.orm import Session

from contenthub.errors import InputError
from contenthub.storage.models import Platform


def platform_set_limit(session: Session, name: str, max_running: int | None) -> None:
    if max_running is not None and max_running < 1:
        raise InputError("max_running", "must be at least 1")
    existing = session.get(Platform, name)
    if existing is None:
        session.add(Platform(name=name, max_running=max_running))
    else:
        existing.max_running = max_running
