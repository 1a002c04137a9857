"""Users: named storage operations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import NotFound
from contenthub.storage.models import User


def user_ensure(
    session: Session, name: str, *, now: datetime, role: str = "user", max_running: int = 10
) -> int:
    existing = session.scalar(sa.select(User.id).where(User.name == name))
    if existing is not None:
        return existing
    user = User(name=name, role=role, max_running=max_running, created_at=now)
    session.add(user)
    session.flush()
    return user.id


def user_by_name(session: Session, name: str) -> User:
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        raise NotFound("user", name)
    return user
