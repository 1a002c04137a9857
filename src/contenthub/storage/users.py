"""Users: named storage operations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.storage.models import User
from contenthub.storage.rows import snapshot


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    max_running: int
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _row(user: User) -> UserRow:
    return snapshot(UserRow, user)


def user_insert(
    session: Session,
    name: str,
    *,
    now: datetime,
    role: str = "user",
    max_running: int = 10,
    password_hash: str | None = None,
) -> int:
    """The one way a user row is made."""
    if session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise InputError("name", f"a user named {name!r} exists already")
    user = User(
        name=name,
        role=role,
        max_running=max_running,
        password_hash=password_hash,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user.id


def user_ensure(
    session: Session, name: str, *, now: datetime, role: str = "user", max_running: int = 10
) -> int:
    """The user called ``name``, made (without a password) if missing."""
    existing = session.scalar(sa.select(User.id).where(User.name == name))
    if existing is not None:
        return existing
    return user_insert(session, name, now=now, role=role, max_running=max_running)


def user_by_id(session: Session, user_id: int) -> UserRow:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return _row(user)


def user_by_name(session: Session, name: str) -> UserRow:
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        raise NotFound("user", name)
    return _row(user)


def user_password_hash(session: Session, name: str) -> tuple[UserRow, str | None] | None:
    """The user called ``name`` and their password hash (None: no such user)."""
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        return None
    return _row(user), user.password_hash


def user_list(session: Session) -> list[UserRow]:
    return [_row(u) for u in session.scalars(sa.select(User).order_by(User.id))]
