"""contenthub account: bind, list, change, delete, check and log in platform accounts."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    key_values,
    open_as,
    out,
)
from contenthub.cli.login import interactive_login
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.platforms.base import secret_fields
from contenthub.platforms.registry import publisher_for
from contenthub.platforms.session import CookieCredentials
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts
from contenthub.services.platforms import check_platform
from contenthub.storage import Session

app = typer.Typer(help="Platform accounts.", no_args_is_help=True)
F = TypeVar("F", bound=Callable[..., Any])

OptionsOption = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="KEY=VALUE; repeat for many."),
]
CookiesOption = Annotated[
    Path | None,
    typer.Option(
        "--cookies",
        help="Cookie platforms (zhihu, juejin, csdn): the login exported from your browser, as a "
        "Playwright storage state, a JSON cookie list or a Netscape cookies.txt.",
    ),
]
CredentialsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--credential",
        "-c",
        help="KEY=VALUE, or KEY alone to be asked for it (secrets without echo); repeat for "
        "many. A platform's missing credentials are asked for on 'add'.",
    ),
]


def _credentials_said_where(fn: F) -> F:
    """An option named like a credential: say how the CLI takes credentials instead."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as error:
            if error.field.startswith("options.") and "looks like a credential" in error.message:
                key = error.field.removeprefix("options.")
                raise InputError(
                    error.field,
                    f"looks like a credential; give it with --credential {key} "
                    f"(asked for without echo), never as an option",
                ) from None
            raise

    return wrapper  # type: ignore[return-value]


def _label(platform: str, key: str, model: type[BaseModel]) -> str:
    """What a prompt asks for: the field's own description when it has one."""
    field = model.model_fields.get(key)
    said = (field.description or "").rstrip(".") if field else ""
    return f"{platform} {key} — {said}" if said else f"{platform} {key}"


def _ask(platform: str, key: str, model: type[BaseModel], *, secret: bool, section: str) -> str:
    try:
        # Piped in (a script): read as a line, since there is no echo to turn off.
        hidden = secret and sys.stdin.isatty()
        return str(typer.prompt(_label(platform, key, model), hide_input=hidden))
    except typer.Abort:
        flag = "--credential" if section == "credentials" else "--option"
        raise InputError(
            f"{section}.{key}", f"not given: type it when asked, or pass {flag} {key}=…"
        ) from None


def _parse_credentials(
    platform: str, pairs: list[str], *, ask_missing: bool
) -> dict[str, str] | None:
    """``KEY=VALUE`` pairs, and a prompt for each ``KEY`` given alone and (``ask_missing``) for
    each credential the platform needs that was not given. Secrets are read without echo."""
    model = type(publisher_for(platform)).credentials_model
    secrets = set(secret_fields(model))
    given: dict[str, str] = {}
    asked: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise InputError("credential", f"{pair!r} is not KEY=VALUE or KEY")
        if sep:
            given[key] = value
        else:
            asked.append(key)
    simple = {n for n, f in model.model_fields.items() if f.annotation is str}
    if ask_missing and simple and len(simple) == len(model.model_fields):
        asked += [
            n
            for n, f in model.model_fields.items()
            if f.is_required() and n not in given and n not in asked
        ]
    for key in asked:
        secret = key in secrets or key not in model.model_fields
        given[key] = _ask(platform, key, model, secret=secret, section="credentials")
    return given or None


def _ask_missing_options(platform: str, options: dict[str, str]) -> None:
    """Prompt for each option the platform requires that was not given (WordPress's site)."""
    model = type(publisher_for(platform)).options_model
    for key, field in model.model_fields.items():
        if field.is_required() and key not in options:
            options[key] = _ask(platform, key, model, secret=False, section="options")


def _is_cookie_platform(platform: str) -> bool:
    return issubclass(type(publisher_for(platform)).credentials_model, CookieCredentials)


def _cookie_login(platform: str, cookies: Path | None, *, ask: bool) -> dict[str, Any] | None:
    """The login of a cookie platform: from ``--cookies FILE``, or the file asked for (an
    empty answer: log in later)."""
    if cookies is None and ask:
        try:
            answer = typer.prompt(
                f"{platform} cookies file (exported from your browser; empty: log in later)",
                default="",
                show_default=False,
            )
        except typer.Abort:  # nothing to read (a script's closed stdin): log in later
            answer = ""
        cookies = Path(answer).expanduser() if answer.strip() else None
    return accounts.read_cookie_file(cookies) if cookies is not None else None


def _parse_options(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs; a relative ``root`` (the local site's folder) is taken from the
    current directory, since the server may run elsewhere."""
    options = key_values(pairs, "option")
    if options.get("root"):
        options["root"] = str(Path(options["root"]).expanduser().resolve())
    return options


def _box() -> SecretBox:
    return SecretBox.from_env(Settings.from_env().data_dir)


@app.command("add")
@_credentials_said_where
def account_add(
    platform: str,
    name: str,
    option: OptionsOption = None,
    credential: CredentialsOption = None,
    cookies: CookiesOption = None,
    min_interval: Annotated[float, typer.Option(help="Seconds between two publish starts.")] = 0.0,
    daily_cap: Annotated[
        int | None, typer.Option(help="At most this many publishes a day.")
    ] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Bind a platform account; what it needs and was not given is asked for.

    Options come with -o, credentials with -c or --cookies; a secret asked for is not echoed."""
    options = _parse_options(option or [])
    db, me = open_as(user)
    check_platform(platform)
    for key in options:  # before asking for any secret
        accounts.check_option_name(platform, key)
    _ask_missing_options(platform, options)
    if _is_cookie_platform(platform):
        credentials = _cookie_login(platform, cookies, ask=not credential)
        credentials = {
            **(credentials or {}),
            **(_parse_credentials(platform, credential or [], ask_missing=False) or {}),
        } or None
    elif cookies is not None:
        raise InputError("cookies", f"{platform} takes no cookies; see its credentials with -c")
    else:
        credentials = _parse_credentials(platform, credential or [], ask_missing=True)
    box = _box()
    account = db.write(
        lambda s: accounts.account_create(
            s,
            me,
            platform=platform,
            name=name,
            now=utcnow(),
            box=box,
            options=options,
            credentials=credentials,
            min_interval_seconds=min_interval,
            daily_cap=daily_cap,
        )
    )
    out.print(f"account {account.id} ({account.name}) added{_held(account, box)}")
    if _is_cookie_platform(platform) and not credentials:
        out.print(
            f"not logged in yet: run 'contenthub account login {account.name}' "
            "(add '--cookies FILE' to use a login exported from your browser)",
            soft_wrap=True,
        )


def _held(account: accounts.AccountRow, box: SecretBox) -> str:
    """What credentials the account holds, never their values."""
    fields = accounts.credential_fields(account, box)
    if not fields:
        return ""
    if "storage_state" in fields:  # a cookie login: its cookies count, and a stored password
        count = accounts.session_cookie_count(account, box)
        login = f"; login: {count} cookies stored (encrypted)" if count else "; not logged in"
        return login + ("; password stored (encrypted)" if fields.get("password") else "")
    return "; credentials: " + ", ".join(
        f"{name} {'set' if is_set else 'not set'}" for name, is_set in fields.items()
    )


@app.command("list")
def account_list(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """Your accounts and their login health (an admin sees everyone's)."""
    db, me = open_as(user)
    found = db.read(lambda s: accounts.account_list(s, scope=me.scope))
    rows = [
        {
            "id": a.id,
            "platform": a.platform,
            "name": a.name,
            "status": a.status,
            "min_interval_seconds": a.min_interval_seconds,
            "daily_cap": a.daily_cap,
        }
        for a in found
    ]
    if as_json:
        box = _box()
        extra = {
            a.id: {
                "options": a.options,
                "is_default": a.is_default,
                "has_credentials": bool(a.credentials),
                "credential_fields": accounts.credential_fields(a, box),
            }
            for a in found
        }
        out.print_json(json.dumps([{**r, **extra[r["id"]]} for r in rows]))
        return
    table = Table(*rows[0].keys()) if rows else Table("id", "platform", "name", "status")
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    out.print(table)


@app.command("update")
@_credentials_said_where
def account_update(
    account: Annotated[str, typer.Argument(help="The account's id or name.")],
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="KEY=VALUE to set, KEY= to remove; other options stay."
        ),
    ] = None,
    credential: Annotated[
        list[str] | None,
        typer.Option(
            "--credential",
            "-c",
            help="KEY=VALUE, or KEY alone to be asked for it without echo; the others stay.",
        ),
    ] = None,
    min_interval: Annotated[
        float | None, typer.Option(help="Seconds between two publish starts.")
    ] = None,
    daily_cap: Annotated[
        int | None, typer.Option(help="At most this many publishes a day.")
    ] = None,
    no_daily_cap: Annotated[
        bool, typer.Option("--no-daily-cap", help="Remove the daily cap.")
    ] = False,
    cookies: CookiesOption = None,
    default: Annotated[
        bool | None,
        typer.Option(
            "--default/--not-default",
            help="The account the old API's endpoints (/api/publish_zhihu) publish to on its "
            "platform.",
        ),
    ] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Change an account's name, options, credentials (a new cookie login too) or pacing."""
    if daily_cap is not None and no_daily_cap:
        raise InputError("daily_cap", "give --daily-cap or --no-daily-cap, not both")
    changes = _parse_options(option or [])
    db, me = open_as(user)
    box = _box()
    credentials = None
    if credential or cookies:
        found = db.read(lambda s: accounts.account_find(s, account, me))
        for key in changes:  # before asking for any secret
            accounts.check_option_name(found.platform, key)
        if cookies is not None and not _is_cookie_platform(found.platform):
            raise InputError("cookies", f"{found.platform} takes no cookies")
        credentials = {
            **(_cookie_login(found.platform, cookies, ask=False) or {}),
            **(_parse_credentials(found.platform, credential or [], ask_missing=False) or {}),
        }

    def work(s: Session) -> accounts.AccountRow:
        found = accounts.account_find(s, account, me)
        merged = {**found.options, **changes}
        return accounts.account_update(
            s,
            found.id,
            scope=me.scope,
            now=utcnow(),
            box=box,
            name=name,
            options={k: v for k, v in merged.items() if v != ""} if changes else None,
            credentials=credentials,
            min_interval_seconds=min_interval,
            daily_cap=daily_cap,
            clear_daily_cap=no_daily_cap,
            is_default=default,
        )

    updated = db.write(work)
    cap = "no daily cap" if updated.daily_cap is None else f"at most {updated.daily_cap} a day"
    chosen = f", the default {updated.platform} account" if updated.is_default else ""
    out.print(
        f"account {updated.id} ({updated.name}) updated: "
        f"{updated.min_interval_seconds:g} s between starts, {cap}{chosen}{_held(updated, box)}"
    )


@app.command("delete")
def account_delete(
    account: Annotated[str, typer.Argument(help="The account's id or name.")],
    user: UserOption = DEFAULT_USER,
) -> None:
    """Delete an account and its finished tasks; refused while publishes still use it."""
    db, me = open_as(user)

    def work(s: Session) -> str:
        found = accounts.account_find(s, account, me)
        accounts.account_delete(s, found.id, scope=me.scope)
        return found.name

    out.print(f"account {db.write(work)} deleted")


@app.command("activate")
def account_activate(account: str, user: UserOption = DEFAULT_USER) -> None:
    """Mark an account active again (after a re-login); its waiting tasks resume."""
    db, me = open_as(user)
    box = _box()

    def work(s: Session) -> None:
        found = accounts.account_find(s, account, me)
        accounts.account_update(s, found.id, scope=me.scope, now=utcnow(), box=box, status="active")

    db.write(work)
    out.print(f"account {account} active")


@app.command("check")
def account_check(account: str, user: UserOption = DEFAULT_USER) -> None:
    """Verify an account's login now; an expired one holds its tasks until it logs in again."""
    db, me = open_as(user)
    found = db.read(lambda s: accounts.account_find(s, account, me))
    result = asyncio.run(accounts.account_verify(db, found, _box()))
    out.print(
        f"{found.name}: {result.status}"
        + (f" as {result.identity}" if result.identity else "")
        + (f" ({result.message})" if result.message else "")
    )
    if result.status != "active":
        raise typer.Exit(1)


@app.command("login")
def account_login(
    account: str,
    cookies: Annotated[
        Path | None,
        typer.Option(
            help="Import this login instead: a Playwright storage-state file, a JSON cookie "
            "list or a Netscape cookies.txt."
        ),
    ] = None,
    password: Annotated[
        bool,
        typer.Option(
            "--password", help="Log in with username and password (asked for without echo)."
        ),
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    username: Annotated[
        str | None, typer.Option(help="The username to log in with (default: the stored one).")
    ] = None,
    remember_password: Annotated[
        bool,
        typer.Option(
            "--remember-password",
            help="Store the password (encrypted): a publish whose login expired then logs in "
            "again by itself, once, before the account is held.",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the login before giving up.")
    ] = 300.0,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Log in on the platform's own page (QR code or password), or import cookies.

    A headless browser opens the platform's login page: scan its QR code, or give a password.
    The QR code is drawn here and saved as a PNG.
    On success the session is stored (encrypted) and the account's waiting publishes resume.
    With --cookies, import a login made elsewhere instead."""
    if cookies is not None and (password or password_stdin or remember_password):
        raise InputError("cookies", "give --cookies or a password login, not both")
    db, me = open_as(user)
    box = _box()
    if cookies is None:
        interactive_login(
            db,
            me,
            box,
            account,
            by_password=password,
            password_stdin=password_stdin,
            username=username,
            remember_password=remember_password,
            timeout_seconds=timeout,
        )
        return
    credentials: dict[str, Any] = accounts.read_cookie_file(cookies)

    def work(s: Session) -> str:
        found = accounts.account_find(s, account, me)
        accounts.account_update(
            s,
            found.id,
            scope=me.scope,
            now=utcnow(),
            box=box,
            credentials=credentials,
            status="active",
        )
        return found.name

    name = db.write(work)
    count = len(credentials["storage_state"]["cookies"])
    out.print(f"{name}: {count} cookies stored (encrypted); account active")
