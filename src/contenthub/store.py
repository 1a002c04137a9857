"""Users, accounts, articles and platform limits: named storage operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.dispatch.events import notify_new_work
from contenthub.errors import InputError, NotFound
from contenthub.models import Account, Article, Platform, User

ACCOUNT_STATUSES = ("active", "needs_login", "disabled")


def owned(
    session: Session,
    model: type[Any],
    ident: int,
    *,
    scope: int | None,
    what: str,
    lock: bool = False,
) -> Any:
    """The row ``ident`` of ``model`` if it belongs to ``scope`` (None: anyone's).

    Someone else's row is reported exactly like a missing one, so ids cannot be probed.
    """
    query = sa.select(model).where(model.id == ident)
    if scope is not None:
        query = query.where(model.user_id == scope)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(what, ident)
    return row


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


def platform_set_limit(session: Session, name: str, max_running: int | None) -> None:
    if max_running is not None and max_running < 1:
        raise InputError("max_running", "must be at least 1")
    existing = session.get(Platform, name)
    if existing is None:
        session.add(Platform(name=name, max_running=max_running))
    else:
        existing.max_running = max_running


def article_create(
    session: Session,
    *,
    user_id: int,
    title: str,
    body: str,
    tags: list[str],
    now: datetime,
    cover: str | None = None,
) -> int:
    if not title.strip():
        raise InputError("title", "must not be empty")
    article = Article(
        user_id=user_id,
        title=title.strip(),
        body=body,
        tags=tags,
        cover=cover,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    return article.id
