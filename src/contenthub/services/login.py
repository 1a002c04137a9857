"""Logging an account in through its platform's web login page, and what a login changes.

* ``log_in``: one browser login (QR code or password) for an account, recorded: the new
  session (Playwright storage state) is checked with the platform, sealed and stored, and the
  account becomes active, which releases its held publishes. A captcha or a second factor
  makes the account ``needs_login`` with the page's words and a screenshot.
* ``publish_or_log_in_once``: the rule "cookie first, password as fallback", in one place: a
  publish whose login expired, on an account with a stored password, logs in once with it and
  publishes again; only if that fails does the expiry reach the completer, which holds the
  account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.errors import AuthExpired, PublishError
from contenthub.platforms import session
from contenthub.platforms.base import Identity, LoginPage, PublishContext, Publisher, PublishResult
from contenthub.platforms.content import AccountAccess, TaskContent
from contenthub.platforms.registry import publisher_for
from contenthub.secrets_box import SecretBox
from contenthub.services.accounts import account_update, check_credentials
from contenthub.storage import AccountRow, Session

T = TypeVar("T")
Write = Callable[[Callable[[Session], T]], Awaitable[T]]
RELOGIN_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class LoginReport:
    """How a login ended, for the person who asked for it."""

    status: str  # active | needs_login | unchanged
    message: str
    identity: Identity | None = None
    screenshot: Path | None = None  # what the login page showed when it stopped


def login_page_of(platform: str) -> LoginPage | None:
    """Where a person logs in to ``platform`` on the web (None: no login page known)."""
    try:
        return type(publisher_for(platform)).login_page
    except LookupError:
        return None


def can_log_in_again(publisher: Publisher, credentials: Mapping[str, Any]) -> bool:
    """A stored username and password, and a login page to type them into."""
    return bool(
        type(publisher).login_page and credentials.get("username") and credentials.get("password")
    )


def screenshot_path(account_id: int, what: str) -> Path:
    """Where a login keeps what it saw: ``<data dir>/login/``."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    return Settings.from_env().data_dir / "login" / f"account-{account_id}-{what}-{stamp}.png"


def session_credentials(
    held: Mapping[str, Any],
    storage_state: dict[str, Any],
    *,
    username: str | None,
    password: str | None,
) -> dict[str, Any]:
    """The account's credentials after a login: the new session replaces the old cookies; the
    username is kept, and so is a stored password; ``password`` is the one to store now."""
    kept = {k: held[k] for k in ("username", "password") if held.get(k)}
    given = {k: v for k, v in (("username", username), ("password", password)) if v}
    return {**kept, **given, "storage_state": storage_state}


async def log_in(
    write: Write[Any],
    account: AccountRow,
    box: SecretBox,
    *,
    timeout_seconds: float,
    username: str | None = None,
    password: str | None = None,
    remember_password: bool = False,
    on_qr: Callable[[bytes, str], Awaitable[None]] | None = None,
) -> LoginReport:
    """One browser login for ``account`` (by password when one is given, else by QR code),
    and its consequences recorded."""
    from contenthub.login.flow import browser_login  # the browser loads only for a login

    page = login_page_of(account.platform)
    if page is None:
        return LoginReport("unchanged", f"{account.platform} has no web login page to open")
    held = box.open(account.credentials) if account.credentials else {}
    username = username or held.get("username")
    result = await browser_login(
        page,
        account.options,
        screenshot=screenshot_path(account.id, "login"),
        timeout_seconds=timeout_seconds,
        username=username,
        password=password,
        on_qr=on_qr,
    )
    if result.outcome == "logged_in":
        assert result.storage_state is not None
        credentials = session_credentials(
            held,
            _as_platforms_own(account, result.storage_state),
            username=username,
            # A password that just worked replaces a stored one (stored passwords were asked for).
            password=password if remember_password or held.get("password") else None,
        )
        return await _store_session(write, account, box, credentials)
    if result.outcome == "blocked":
        await _hold(write, account, result.explained)
        return LoginReport("needs_login", result.explained, screenshot=result.screenshot)
    return LoginReport("unchanged", result.explained, screenshot=result.screenshot)


def _as_platforms_own(account: AccountRow, held: dict[str, Any]) -> dict[str, Any]:
    """The browser's session as cookies of the platform's own domain (a sandbox standing in
    for it sets them on its own host)."""
    domain = getattr(publisher_for(account.platform).credentials_model, "cookie_domain", "")
    state = session.StorageState.model_validate(held)
    return session.from_site(state, account.options, domain).model_dump(mode="json")


async def _store_session(
    write: Write[Any], account: AccountRow, box: SecretBox, credentials: dict[str, Any]
) -> LoginReport:
    """Ask the platform who the new session is; store it (sealed) and activate the account."""
    checked = check_credentials(account.platform, credentials)
    publisher = publisher_for(account.platform)
    try:
        access = AccountAccess(account.name, account.options, checked)
        identity = await publisher.check_login(access)
    except PublishError as error:
        message = f"the login page let us in, but the platform refused the session: {error}"
        if isinstance(error, AuthExpired):
            await _hold(write, account, message)
            return LoginReport("needs_login", message)
        return LoginReport("unchanged", message)

    def work(session: Session) -> None:
        account_update(
            session,
            account.id,
            scope=None,
            now=utcnow(),
            box=box,
            credentials=credentials,
            status="active",
        )

    await write(work)
    return LoginReport("active", f"logged in as {identity.name} ({identity.user_id})", identity)


async def _hold(write: Write[Any], account: AccountRow, message: str) -> None:
    await write(
        lambda s: storage.account_set_status(
            s, account.id, "needs_login", now=utcnow(), message=message[:500]
        )
    )


def database_writer(db: storage.Database) -> Write[Any]:
    """``write`` for a caller holding a plain Database (the CLI): each unit on a thread."""
    return lambda work: asyncio.to_thread(db.write, work)


async def publish_or_log_in_once(
    publisher: Publisher,
    ctx: PublishContext,
    content: TaskContent,
    *,
    account_id: int,
    write: Write[Any],
    box: SecretBox | None,
) -> PublishResult:
    """Publish; if the login expired and a password is stored, log in once with it and
    publish again (the checkpoints make the second try resume, never post twice). When that
    login fails, the expiry is raised with its reason, and the account is held."""
    try:
        return await publisher.publish(ctx, content)
    except AuthExpired as expired:
        if box is None or not can_log_in_again(publisher, content.credentials):
            raise
        fresh = await _log_in_with_stored_password(
            write, account_id, box, content.credentials, expired
        )
    return await publisher.publish(ctx, replace(content, credentials=fresh))


async def _log_in_with_stored_password(
    write: Write[Any],
    account_id: int,
    box: SecretBox,
    held: Mapping[str, Any],
    expired: AuthExpired,
) -> dict[str, Any]:
    account = await write(lambda s: storage.account_find(s, account_id, user_id=None))
    report = await log_in(
        write,
        account,
        box,
        timeout_seconds=RELOGIN_TIMEOUT_SECONDS,
        username=str(held["username"]),
        password=str(held["password"]),
    )
    if report.status != "active":
        raise AuthExpired(
            f"{expired.message}; logging in again with the stored password failed: {report.message}"
        )
    account = await write(lambda s: storage.account_find(s, account_id, user_id=None))
    return box.open(account.credentials)
