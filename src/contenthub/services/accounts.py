"""Platform accounts: bound by users, credentials sealed at rest, login checked on demand.

Each platform declares its options and its credentials (``Publisher.options_model`` and
``credentials_model``); every account is checked against them here, whoever calls (API, CLI,
demo). Options are shown back, so an option named like a secret is refused; credentials are
sealed and never come out again (``credential_fields`` says which are set)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.errors import AuthExpired, InputError, NotFound, PublishError
from contenthub.platforms import session as login_session
from contenthub.platforms.base import AccountScope, Publisher, looks_like_secret
from contenthub.platforms.content import AccountAccess
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


def _models(platform: str) -> type[Publisher]:
    """The adapter's declarations; an account of a plugin not loaded in this process is
    checked as a plugin that declares nothing (it may still be renamed or paced)."""
    try:
        return type(publisher_for(platform))
    except LookupError:
        return Publisher


def explain(platform: str, section: str, error: dict[str, Any]) -> tuple[str, str]:
    """One pydantic error about an account's ``options`` or ``credentials`` as the field it
    names and a message that says what to send instead (never the value that was sent)."""
    adapter = _models(platform)
    model = adapter.options_model if section == "options" else adapter.credentials_model
    loc = [str(p) for p in error["loc"]]
    field = ".".join([section, *loc])
    kind = error["type"]
    known = ", ".join(model.model_fields) or "none"
    if kind == "extra_forbidden" and section == "options" and loc:
        secret = _secret_message(adapter, loc[0])
        if secret:
            return field, secret
        return field, f"{platform} has no option {loc[0]!r}; its options: {known}"
    if kind == "extra_forbidden":
        return field, f"{platform} takes no credential {loc[-1]!r}; its credentials: {known}"
    if kind == "missing":
        return field, f"required by {platform}"
    if kind == "value_error":
        return field, str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "string_pattern_mismatch" and "https?://" in str(error.get("ctx", {})):
        return field, "must be an http:// or https:// address"
    return field, str(error["msg"])


def _secret_message(adapter: type[Publisher], key: str) -> str | None:
    if looks_like_secret(key) or key in adapter.credentials_model.model_fields:
        return f"options.{key} looks like a credential; send it in credentials.{key}"
    return None


def _validated(
    platform: str, section: str, model: type[BaseModel], data: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(section, "must be an object")
    try:
        checked = model.model_validate(data, **kw)
    except ValidationError as error:
        raise InputError(*explain(platform, section, error.errors()[0])) from None
    return checked.model_dump(mode="json", exclude_none=True)


def _scope(owner: str, account: str, current_root: str | None = None) -> AccountScope:
    settings = Settings.from_env()
    return AccountScope(
        user=owner,
        account=account,
        data_dir=settings.data_dir,
        local_roots=settings.local_roots,
        current_root=current_root,
    )


def local_scope(owner: str, account: str, data_dir: Path) -> AccountScope:
    """What the default user's own site is checked against (its data directory given)."""
    return AccountScope(
        user=owner, account=account, data_dir=data_dir, local_roots=Settings.from_env().local_roots
    )


def check_option_name(platform: str, key: str) -> None:
    """An option named like a credential is refused, saying where it belongs."""
    secret = _secret_message(_models(platform), key)
    if secret:
        raise InputError(f"options.{key}", secret)


def check_options(platform: str, options: dict[str, Any], scope: AccountScope) -> dict[str, Any]:
    """The account's options as its platform declares them (defaults filled in, a folder
    resolved); InputError naming the option otherwise."""
    for key in options if isinstance(options, dict) else ():
        check_option_name(platform, str(key))
    return _validated(platform, "options", _models(platform).options_model, options, context=scope)


def check_credentials(
    platform: str, credentials: dict[str, Any], stored: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The credentials as the platform declares them. New ones complete in themselves replace
    the stored ones; otherwise they are completed from the stored ones (a key rotated alone)."""
    model = _models(platform).credentials_model
    if stored and issubclass(model, login_session.CookieCredentials):
        # A new session (imported or logged in) keeps the login stored for the platform's page.
        kept = {k: stored[k] for k in ("username", "password") if stored.get(k)}
        credentials = {**kept, **credentials}
    if stored:
        try:
            return _validated(platform, "credentials", model, credentials)
        except InputError:
            merged = {**stored, **credentials}
            return _validated(
                platform, "credentials", model, {k: v for k, v in merged.items() if v is not None}
            )
    return _validated(platform, "credentials", model, credentials)


def credential_fields(account: AccountRow, box: SecretBox) -> dict[str, bool]:
    """Which of the platform's credential fields are set (never their values)."""
    held = box.open(account.credentials) if account.credentials else {}
    declared = list(_models(account.platform).credentials_model.model_fields)
    return {name: name in held for name in [*declared, *(k for k in held if k not in declared)]}


def session_cookie_count(account: AccountRow, box: SecretBox) -> int:
    """How many cookies the account's stored login holds (never what they are)."""
    held = box.open(account.credentials) if account.credentials else {}
    state = held.get("storage_state")
    return len(state.get("cookies") or []) if isinstance(state, dict) else 0


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
    """Bind a platform account for ``me``; its options and credentials are checked against what
    the platform declares, and the credentials sealed before they are stored."""
    check_platform(platform)
    _check_settings(name=name, min_interval_seconds=min_interval_seconds, daily_cap=daily_cap)
    options = check_options(platform, options or {}, _scope(me.name, name.strip()))
    credentials = check_credentials(platform, credentials) if credentials else None
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
    is_default: bool | None = None,
) -> AccountRow:
    """Change what is given (None: keep). Options are replaced and checked as on create (a
    ``root`` the account already has may stay); credentials are checked, completed from the
    stored ones when only some are given, and sealed before they are stored."""
    account = account_get(session, account_id, scope=scope)
    _check_settings(name=name, min_interval_seconds=min_interval_seconds, daily_cap=daily_cap)
    if options is not None:
        owner = storage.user_by_id(session, account.user_id).name
        current_root = account.options.get("root")
        options = check_options(
            account.platform,
            options,
            _scope(owner, (name or account.name).strip(), str(current_root or "") or None),
        )
    if credentials is not None:
        credentials = check_credentials(
            account.platform, credentials, box.open(account.credentials)
        )
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
        is_default=is_default,
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


async def account_check(
    account: AccountRow, box: SecretBox, db: Database | None = None
) -> LoginCheck:
    """Ask the platform who the credentials log in as (no database session is held); with
    ``db``, cookies the platform refreshed meanwhile are saved to the account."""
    publisher = publisher_for(account.platform)
    saver = session_saver(db, account.id, box) if db is not None else None
    access = AccountAccess(
        account.name, dict(account.options), box.open(account.credentials), saver
    )
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
    result = await account_check(account, box, db)
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
    """Credentials from a login exported by a browser: a Playwright storage-state file, a
    JSON cookie list (browser extensions) or a Netscape cookies.txt."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError("cookies", f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(
            "cookies", f"{path} is not text: export the cookies as JSON or cookies.txt"
        ) from None
    try:
        state = login_session.parse_cookie_text(text)
    except login_session.CookieFileError as error:
        raise InputError("cookies", f"{path} {error}") from None
    return {"storage_state": state.model_dump(mode="json")}


def session_refresh(
    db_session: Session,
    account_id: int,
    storage_state: dict[str, Any],
    *,
    box: SecretBox,
    now: datetime,
) -> bool:
    """Store, sealed, the session a platform refreshed during a publish or a login check (the
    cookies it set, as a Playwright storage state); the account's other credentials stay.
    Whoever saw the platform set cookies calls it: the HTTP adapters through the worker, the
    browser pool, a login check. False when nothing changed."""
    account = storage.account_find(db_session, account_id, user_id=None)
    held = box.open(account.credentials) if account.credentials else {}
    state = login_session.StorageState.model_validate(storage_state).without_expired()
    fresh = state.model_dump(mode="json")
    if held.get("storage_state") == fresh and "cookies" not in held:
        return False
    held.pop("cookies", None)  # the older {name: value} shape, superseded
    held["storage_state"] = fresh
    storage.account_update(db_session, account_id, now=now, credentials=box.seal(held))
    return True


def session_saver(db: Database, account_id: int, box: SecretBox) -> login_session.SessionSaver:
    """What an adapter is handed to save a refreshed session (``AccountAccess.save_session``)."""

    async def save(storage_state: dict[str, Any]) -> None:
        await asyncio.to_thread(
            db.write,
            lambda s: session_refresh(s, account_id, storage_state, box=box, now=utcnow()),
        )

    return save


def credentials_reseal_all(db: Database, box: SecretBox) -> int:
    """Seal every account's credentials again with ``box``'s first key, all or nothing: one
    that no key of ``box`` opens stops the whole change, naming the account."""

    def reseal(account: AccountRow) -> bytes:
        try:
            return box.reseal(account.credentials or b"")
        except ValueError:
            raise InputError(
                "secret key",
                f"account {account.name!r} (id {account.id}, user id {account.user_id}) cannot "
                "be opened with any of the keys given; nothing was changed",
            ) from None

    return db.write(lambda s: storage.account_credentials_reseal(s, reseal))
