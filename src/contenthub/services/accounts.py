"""Platform accounts: bound by users, credentials sealed at rest, login checked on demand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from typing import Any

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.errors import AuthExpired, InputError, NotFound, PublishError
from contenthub.platforms.base import AccountAccess
from contenthub.platforms.outbound import check_base_url
from contenthub.platforms.registry import publisher_for
from contenthub.secrets_box import SecretBox
from contenthub.services.platforms import check_platform
from contenthub.services.users import Principal
from contenthub.storage import AccountRow, Session
from contenthub.storage.db import Database


@dataclass(frozen=True)
class LoginCheck:
    status: str  # active | needs_login | unknown
    identity: str | None
    message: str | None


def _check_settings(
    *, name: str | None, min_interval_seconds: float | None, daily_cap: int | None
) -> None:
    if name is not None and not name.strip():
        raise InputError("name", "must not be empty")
    if min_interval_seconds is not None and min_interval_seconds < 0:
        raise InputError("min_interval_seconds", "must not be negative")
    if daily_cap is not None and daily_cap < 1:
        raise InputError("daily_cap", "must be at least 1")


def account_create(
    session: Session,
    me: Principal,
    *,
    platform: str,
    name: str,
    now: datetime,
    box: SecretBox,
    options: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    min_interval_seconds: float = 0.0,
    daily_cap: int | None = None,
) -> AccountRow:
    """Bind a platform account for ``me``; its credentials are sealed before they are stored."""
    check_platform(platform)
    _check_settings(name=name, min_interval_seconds=min_interval_seconds, daily_cap=daily_cap)
    check_base_url(platform, options)
    account_id = storage.account_create(
        session,
        user_id=me.user_id,
        platform=platform,
        name=name.strip(),
        now=now,
        options=options,
        credentials=box.seal(credentials) if credentials else None,
        min_interval_seconds=min_interval_seconds,
        daily_cap=daily_cap,
    )
    return storage.account_find(session, account_id, user_id=me.user_id)


def account_get(session: Session, account_id: int, *, scope: int | None) -> AccountRow:
    return storage.account_find(session, account_id, user_id=scope)


def account_find(session: Session, ref: str | int, me: Principal) -> AccountRow:
    """An account as a person names it: by id (any an admin may see), or by name among
    ``me``'s own (names are unique per user only)."""
    if isinstance(ref, int) or ref.isdigit():
        return storage.account_find(session, int(ref), user_id=me.scope)
    return storage.account_find(session, ref, user_id=me.user_id)


def account_ids(session: Session, refs: Sequence[str], *, owner_id: int) -> list[int]:
    """The ids of the owner's own accounts named by id or name (what a person publishes to);
    an unknown one is bad input."""
    ids = []
    for ref in refs:
        try:
            ids.append(storage.account_find(session, ref, user_id=owner_id).id)
        except NotFound:
            raise InputError("account", f"no account {ref!r} for this user") from None
    return ids


def account_list(session: Session, *, scope: int | None) -> list[AccountRow]:
    return storage.account_list(session, user_id=scope)


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
) -> AccountRow:
    """Change what is given (None: keep). New credentials are sealed before they are stored."""
    account = account_get(session, account_id, scope=scope)
    _check_settings(name=name, min_interval_seconds=min_interval_seconds, daily_cap=daily_cap)
    check_base_url(account.platform, options)
    storage.account_update(
        session,
        account.id,
        now=now,
        name=name.strip() if name is not None else None,
        options=options,
        credentials=box.seal(credentials) if credentials is not None else None,
        min_interval_seconds=min_interval_seconds,
        daily_cap=daily_cap,
        clear_daily_cap=clear_daily_cap,
    )
    if status is not None:
        storage.account_set_status(session, account.id, status, now=now)
    return account_get(session, account.id, scope=scope)


def account_delete(session: Session, account_id: int, *, scope: int | None) -> None:
    """Refused while tasks still wait for or run on the account: deleting it would drop them."""
    account = account_get(session, account_id, scope=scope)
    busy = storage.account_active_task_count(session, account.id)
    if busy:
        raise InputError(
            "account", f"{busy} publish task(s) still use this account; cancel them first"
        )
    storage.account_delete(session, account.id)


async def account_check(account: AccountRow, box: SecretBox) -> LoginCheck:
    """Ask the platform who the credentials log in as (no database session is held)."""
    publisher = publisher_for(account.platform)
    access = AccountAccess(account.name, dict(account.options), box.open(account.credentials))
    try:
        identity = await publisher.check_login(access)
    except AuthExpired as error:
        return LoginCheck("needs_login", None, error.message)
    except PublishError as error:
        return LoginCheck("unknown", None, error.message)
    return LoginCheck("active", f"{identity.name} ({identity.user_id})", None)


async def account_verify(db: Database, account: AccountRow, box: SecretBox) -> LoginCheck:
    """Check the login and record what it showed: an expired login holds the account's tasks,
    a good one releases them. The one place a login check changes an account's status."""
    result = await account_check(account, box)
    if result.status != "unknown":
        await asyncio.to_thread(
            db.write,
            lambda s: storage.account_set_status(
                s, account.id, result.status, now=utcnow(), message=result.message
            ),
        )
    return result


def bind_demo_accounts(
    db: Database, me: Principal, sandbox_url: str, box: SecretBox, *, now: datetime
) -> list[str]:
    """One account per simulated platform for ``me``, pointing at the sandbox; accounts bound
    before are pointed at it again and made active."""
    from contenthub.sandbox.demo import demo_accounts  # the sandbox loads only for --demo

    def work(session: Session) -> list[str]:
        names = []
        for spec in demo_accounts(sandbox_url):
            try:
                found = storage.account_find(session, spec["name"], user_id=me.user_id)
            except NotFound:
                account_create(
                    session,
                    me,
                    platform=spec["platform"],
                    name=spec["name"],
                    now=now,
                    box=box,
                    options=spec["options"],
                    credentials=spec["credentials"],
                    min_interval_seconds=spec["min_interval_seconds"],
                )
            else:
                account_update(
                    session,
                    found.id,
                    scope=me.user_id,
                    now=now,
                    box=box,
                    options=spec["options"],
                    credentials=spec["credentials"],
                    status="active",
                )
            names.append(spec["name"])
        return names

    return db.write(work)


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
