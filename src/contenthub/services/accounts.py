"""Platform accounts: bound by users, credentials sealed at rest, login checked on demand."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.errors import AuthExpired, InputError, PublishError
from contenthub.platforms.base import AccountAccess
from contenthub.platforms.registry import known_platforms, publisher_for
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from contenthub.storage.models import Account, PublishTask

ACTIVE_TASK_STATUSES = ("scheduled", "queued", "running")


@dataclass(frozen=True)
class LoginCheck:
    status: str  # active | needs_login | unknown
    identity: str | None
    message: str | None


def check_platform(platform: str) -> None:
    if platform not in known_platforms():
        raise InputError(
            "platform", f"unknown platform {platform!r}; known: " + ", ".join(known_platforms())
        )


def account_get(session: Session, account_id: int, *, scope: int | None) -> Account:
    return storage.account_find(session, account_id, user_id=scope)


def account_update(
    session: Session,
    account_id: int,
    *,
    scope: int | None,
    now: datetime,
    box: SecretBox,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    min_interval_seconds: float | None = None,
    daily_cap: int | None = None,
    clear_daily_cap: bool = False,
    status: str | None = None,
) -> Account:
    account = account_get(session, account_id, scope=scope)
    if name is not None:
        if not name.strip():
            raise InputError("name", "must not be empty")
        clash = session.scalar(
            sa.select(Account.id).where(
                Account.user_id == account.user_id, Account.name == name, Account.id != account.id
            )
        )
        if clash:
            raise InputError("name", f"an account named {name!r} exists already")
        account.name = name.strip()
    if options is not None:
        account.options = options
    if credentials is not None:
        account.credentials = box.seal(credentials)
    if min_interval_seconds is not None:
        if min_interval_seconds < 0:
            raise InputError("min_interval_seconds", "must not be negative")
        account.min_interval_seconds = min_interval_seconds
    if daily_cap is not None:
        if daily_cap < 1:
            raise InputError("daily_cap", "must be at least 1")
        account.daily_cap = daily_cap
    elif clear_daily_cap:
        account.daily_cap = None
    account.updated_at = now
    if status is not None:
        storage.account_set_status(session, account.id, status, now=now)
    return account


def account_delete(session: Session, account_id: int, *, scope: int | None) -> None:
    account = account_get(session, account_id, scope=scope)
    busy = session.scalar(
        sa.select(sa.func.count()).where(
            PublishTask.account_id == account.id, PublishTask.status.in_(ACTIVE_TASK_STATUSES)
        )
    )
    if busy:
        raise InputError(
            "account", f"{busy} publish task(s) still use this account; cancel them first"
        )
    session.delete(account)


async def account_check(account: Account, box: SecretBox) -> LoginCheck:
    """Ask the platform who the credentials log in as (no database session is held)."""
    publisher = publisher_for(account.platform)
    access = AccountAccess(account.name, dict(account.options or {}), box.open(account.credentials))
    try:
        identity = await publisher.check_login(access)
    except AuthExpired as error:
        return LoginCheck("needs_login", None, error.message)
    except PublishError as error:
        return LoginCheck("unknown", None, error.message)
    return LoginCheck("active", f"{identity.name} ({identity.user_id})", None)


async def account_verify(db: Database, account: Account, box: SecretBox) -> LoginCheck:
    """Check the login and record what it showed: an expired login holds the account's tasks,
    a good one releases them. The one place a login check changes an account's status."""
    result = await account_check(account, box)
    if result.status != "unknown":
        await asyncio.to_thread(
            db.write,
            lambda s: storage.account_set_status(
                s, account.id, result.status, now=datetime.now(UTC), message=result.message
            ),
        )
    return result


def read_cookie_file(path: Path) -> dict[str, Any]:
    """Credentials from a Playwright storage-state file, a JSON cookie list or a Netscape file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError("cookies", f"cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        jar = MozillaCookieJar()
        try:
            jar.load(str(path), ignore_discard=True, ignore_expires=True)
        except (LoadError, OSError):
            raise InputError(
                "cookies", f"{path} is neither JSON nor a Netscape cookie file"
            ) from None
        cookies = [
            {"name": c.name, "value": c.value, "domain": c.domain, "path": c.path} for c in jar
        ]
        return {"storage_state": {"cookies": cookies, "origins": []}}
    if isinstance(data, dict) and "cookies" in data:
        return {"storage_state": data}
    if isinstance(data, list) and all(isinstance(c, dict) and "name" in c for c in data):
        return {"storage_state": {"cookies": data, "origins": []}}
    raise InputError("cookies", f"{path} holds no cookies (expected a storage state or a list)")
