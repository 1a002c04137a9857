"""Platform accounts: named storage operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.storage.events import notify_new_work
from contenthub.storage.models import Account
from contenthub.storage.scope import owned

ACCOUNT_STATUSES = ("active", "needs_login", "disabled")


def account_create(
    session: Session,
    *,
    user_id: int,
    platform: str,
    name: str,
    now: datetime,
    options: dict[str, Any] | None = None,
    credentials: bytes | None = None,
    min_interval_seconds: float = 0.0,
    daily_cap: int | None = None,
) -> int:
    if not name.strip():
        raise InputError("name", "must not be empty")
    if min_interval_seconds < 0:
        raise InputError("min_interval_seconds", "must not be negative")
    if daily_cap is not None and daily_cap < 1:
        raise InputError("daily_cap", "must be at least 1")
    if session.scalar(
        sa.select(Account.id).where(Account.user_id == user_id, Account.name == name)
    ):
        raise InputError("name", f"an account named {name!r} exists already")
    account = Account(
        user_id=user_id,
        platform=platform,
        name=name,
        options=options or {},
        credentials=credentials,
        min_interval_seconds=min_interval_seconds,
        daily_cap=daily_cap,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    session.flush()
    return account.id


def account_find(session: Session, ref: str | int, *, user_id: int | None) -> Account:
    """An account by id or by name, among the user's own."""
    if isinstance(ref, int) or str(ref).isdigit():
        return owned(session, Account, int(ref), scope=user_id, what="account")
    query = sa.select(Account).where(Account.name == ref)
    if user_id is not None:
        query = query.where(Account.user_id == user_id)
    account = session.scalar(query)
    if account is None:
        raise NotFound("account", ref)
    return account


def account_set_status(
    session: Session, account_id: int, status: str, *, now: datetime, message: str | None = None
) -> None:
    """Re-activating an account releases the tasks that waited for it."""
    if status not in ACCOUNT_STATUSES:
        raise InputError("status", f"must be one of {', '.join(ACCOUNT_STATUSES)}")
    session.execute(
        sa.update(Account)
        .where(Account.id == account_id)
        .values(status=status, status_message=message, updated_at=now)
    )
    if status == "active":
        notify_new_work(session)


def account_list(session: Session, *, user_id: int | None) -> list[Account]:
    query = sa.select(Account).order_by(Account.id)
    if user_id is not None:
        query = query.where(Account.user_id == user_id)
    return list(session.scalars(query))
