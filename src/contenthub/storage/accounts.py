"""Platform accounts: named storage operations.

Reads answer ``AccountRow`` values, never live ORM objects: a caller cannot change an
account except through the operations here. Rules (which platform, sensible limits) are the
service's; this module keeps only what the table itself guarantees (one name per user).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.states import ACTIVE
from contenthub.storage.events import notify_new_work
from contenthub.storage.models import Account, PublishTask
from contenthub.storage.ready import mark_accounts_ready
from contenthub.storage.rows import snapshot
from contenthub.storage.scope import MAX_ID, owned_row

ACCOUNT_STATUSES = ("active", "needs_login", "disabled")


@dataclass(frozen=True)
class AccountRow:
    id: int
    user_id: int
    platform: str
    name: str
    options: dict[str, Any]
    credentials: bytes | None  # sealed; only a SecretBox opens them
    status: str
    status_message: str | None
    min_interval_seconds: float
    daily_cap: int | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


ACCOUNTS = Account.__table__


def _row(account: Any) -> AccountRow:
    return snapshot(AccountRow, account, options=dict(account.options or {}))


def _refuse_taken_name(
    session: Session, user_id: int, name: str, *, other_than: int | None = None
) -> None:
    query = sa.select(Account.id).where(Account.user_id == user_id, Account.name == name)
    if other_than is not None:
        query = query.where(Account.id != other_than)
    if session.scalar(query) is not None:
        raise InputError("name", f"an account named {name!r} exists already")


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
    _refuse_taken_name(session, user_id, name)
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


def account_find(session: Session, ref: str | int, *, user_id: int | None) -> AccountRow:
    """An account by id or by name, among the user's own (None: anyone's)."""
    if isinstance(ref, int) or str(ref).isdigit():
        return _row(owned_row(session, ACCOUNTS, int(ref), scope=user_id, what="account"))
    query = sa.select(Account).where(Account.name == ref).order_by(Account.id)
    if user_id is not None:
        query = query.where(Account.user_id == user_id)
    account = session.scalars(query).first()
    if account is None:
        raise NotFound("account", ref)
    return _row(account)


def account_rows(
    session: Session, account_ids: Collection[int], *, user_id: int
) -> dict[int, AccountRow]:
    """The user's own accounts among ``account_ids``, by id, in one statement (a publish
    checks each account's platform rules); others' and missing ones are left out."""
    ids = sorted({i for i in account_ids if isinstance(i, int) and 1 <= i <= MAX_ID})
    rows = session.connection().execute(_OWN_ACCOUNTS, {"ids": ids, "user_id": user_id})
    return {row.id: _row(row) for row in rows}


# Built once: every publish reads its accounts.
_OWN_ACCOUNTS = sa.select(ACCOUNTS).where(
    ACCOUNTS.c.id.in_(sa.bindparam("ids", expanding=True)),
    ACCOUNTS.c.user_id == sa.bindparam("user_id"),
)


def account_list(session: Session, *, user_id: int | None) -> list[AccountRow]:
    query = sa.select(Account).order_by(Account.id)
    if user_id is not None:
        query = query.where(Account.user_id == user_id)
    return [_row(a) for a in session.scalars(query)]


def account_update(
    session: Session,
    account_id: int,
    *,
    now: datetime,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    credentials: bytes | None = None,
    min_interval_seconds: float | None = None,
    daily_cap: int | None = None,
    clear_daily_cap: bool = False,
    is_default: bool | None = None,
) -> None:
    """Change the given settings (None: keep); ``clear_daily_cap`` removes the cap. An
    account made the default is the only default of its user on its platform."""
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        user_id = session.scalar(sa.select(Account.user_id).where(Account.id == account_id))
        if user_id is None:
            raise NotFound("account", account_id)
        _refuse_taken_name(session, user_id, name, other_than=account_id)
        values["name"] = name
    if options is not None:
        values["options"] = options
    if credentials is not None:
        values["credentials"] = credentials
    if min_interval_seconds is not None:
        values["min_interval_seconds"] = min_interval_seconds
    if daily_cap is not None or clear_daily_cap:
        values["daily_cap"] = daily_cap
        _look_again(session, account_id, now)  # a higher cap (or none) may free it now
    if is_default is not None:
        values["is_default"] = is_default
        if is_default:
            _clear_other_defaults(session, account_id)
    done = session.execute(
        sa.update(Account).where(Account.id == account_id).values(**values)
    ).rowcount
    if done != 1:
        raise NotFound("account", account_id)


def _clear_other_defaults(session: Session, account_id: int) -> None:
    owner = session.execute(
        sa.select(Account.user_id, Account.platform).where(Account.id == account_id)
    ).one_or_none()
    if owner is None:
        raise NotFound("account", account_id)
    session.execute(
        sa.update(Account)
        .where(
            Account.user_id == owner.user_id,
            Account.platform == owner.platform,
            Account.id != account_id,
            Account.is_default.is_(True),
        )
        .values(is_default=False)
    )


def account_set_status(
    session: Session, account_id: int, status: str, *, now: datetime, message: str | None = None
) -> None:
    """The one writer of an account's status. Re-activating an account releases the tasks
    that waited for it."""
    if status not in ACCOUNT_STATUSES:
        raise InputError("status", f"must be one of {', '.join(ACCOUNT_STATUSES)}")
    if status == "active":
        _look_again(session, account_id, now)
    session.execute(
        sa.update(Account)
        .where(Account.id == account_id)
        .values(status=status, status_message=message, updated_at=now)
    )
    if status == "active":
        notify_new_work(session)


def _look_again(session: Session, account_id: int, now: datetime) -> None:
    """The account may start something now: the claim looks at it again (ready.py)."""
    owner = session.scalar(sa.select(Account.user_id).where(Account.id == account_id))
    if owner is not None:
        mark_accounts_ready(session, [owner], [account_id], now)


def account_active_task_count(session: Session, account_id: int) -> int:
    """Tasks that are still to run, or running, on the account."""
    return (
        session.scalar(
            sa.select(sa.func.count()).where(
                PublishTask.account_id == account_id, PublishTask.status.in_(ACTIVE)
            )
        )
        or 0
    )


def account_delete(session: Session, account_id: int) -> None:
    """Its finished tasks go with it (the foreign key cascades)."""
    done = session.execute(sa.delete(Account).where(Account.id == account_id)).rowcount
    if done != 1:
        raise NotFound("account", account_id)


def account_credentials_reseal(session: Session, reseal: Callable[[AccountRow], bytes]) -> int:
    """Every account's sealed credentials replaced by ``reseal(row)``, rows locked first, in
    the caller's one transaction: an error from ``reseal`` leaves every row as it was.
    ``updated_at`` is kept: the account did not change, its sealing did."""
    accounts = session.scalars(
        sa.select(Account)
        .where(Account.credentials.is_not(None))
        .order_by(Account.id)
        .with_for_update()
    ).all()
    for account in accounts:
        session.execute(
            sa.update(Account)
            .where(Account.id == account.id)
            .values(credentials=reseal(_row(account)), updated_at=account.updated_at)
        )
    return len(accounts)
