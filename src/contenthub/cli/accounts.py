"""contenthub account: bind, list, check and log in platform accounts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from contenthub import storage
from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    friendly_errors,
    open_as,
    open_db,
    out,
    resolve_principal,
)
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.secrets_box import SecretBox

app = typer.Typer(help="Platform accounts.", no_args_is_help=True)


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError("option", f"{pair!r} is not KEY=VALUE")
        options[key] = value
    return options


@app.command("add")
@friendly_errors
def account_add(
    platform: str,
    name: str,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE")] = None,
    min_interval: Annotated[float, typer.Option(help="Seconds between two publish starts.")] = 0.0,
    daily_cap: Annotated[
        int | None, typer.Option(help="At most this many publishes a day.")
    ] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Bind a platform account."""
    from contenthub.platforms.registry import known_platforms

    settings = Settings.from_env()
    db = open_db(settings)
    if platform not in known_platforms():
        raise InputError(
            "platform", f"unknown platform {platform!r}; known: {', '.join(known_platforms())}"
        )
    user_id = resolve_principal(db, user).user_id
    options = _parse_options(option or [])
    if platform == "local" and "root" in options:
        options["root"] = str(Path(options["root"]).expanduser().resolve())
    account_id = db.write(
        lambda s: storage.account_create(
            s,
            user_id=user_id,
            platform=platform,
            name=name,
            now=utcnow(),
            options=options,
            min_interval_seconds=min_interval,
            daily_cap=daily_cap,
        )
    )
    out.print(f"account {account_id} ({name}) added")


@app.command("list")
@friendly_errors
def account_list(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """Your accounts and their login health."""
    db, me = open_as(user)
    user_id = me.user_id
    accounts = db.read(lambda s: storage.account_list(s, user_id=user_id))
    rows = [
        {
            "id": a.id,
            "platform": a.platform,
            "name": a.name,
            "status": a.status,
            "min_interval_seconds": a.min_interval_seconds,
            "daily_cap": a.daily_cap,
        }
        for a in accounts
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(*rows[0].keys()) if rows else Table("id", "platform", "name", "status")
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    out.print(table)


@app.command("activate")
@friendly_errors
def account_activate(account: str, user: UserOption = DEFAULT_USER) -> None:
    """Mark an account active again (after a re-login); its waiting tasks resume."""
    db, me = open_as(user)
    user_id = me.user_id

    def work(s: Any) -> None:
        found = storage.account_find(s, account, user_id=user_id)
        storage.account_set_status(s, found.id, "active", now=utcnow())

    db.write(work)
    out.print(f"account {account} active")


@app.command("check")
@friendly_errors
def account_check(account: str, user: UserOption = DEFAULT_USER) -> None:
    """Verify an account's login now; an expired one holds its tasks until it logs in again."""
    from contenthub.services import accounts

    settings = Settings.from_env()
    db = open_db(settings)
    user_id = resolve_principal(db, user).user_id
    found = db.read(lambda s: storage.account_find(s, account, user_id=user_id))
    box = SecretBox.from_env(settings.data_dir)
    result = asyncio.run(accounts.account_verify(db, found, box))
    out.print(
        f"{found.name}: {result.status}"
        + (f" as {result.identity}" if result.identity else "")
        + (f" ({result.message})" if result.message else "")
    )
    if result.status != "active":
        raise typer.Exit(1)


@app.command("login")
@friendly_errors
def account_login(
    account: str,
    cookies: Annotated[
        Path,
        typer.Option(
            help="A Playwright storage-state file, a JSON cookie list or a Netscape cookies.txt."
        ),
    ],
    user: UserOption = DEFAULT_USER,
) -> None:
    """Import a browser login (cookies) into an account; it becomes active again."""
    from contenthub.services import accounts

    settings = Settings.from_env()
    credentials = accounts.read_cookie_file(cookies)
    db = open_db(settings)
    user_id = resolve_principal(db, user).user_id
    box = SecretBox.from_env(settings.data_dir)

    def work(s: Any) -> str:
        found = storage.account_find(s, account, user_id=user_id)
        accounts.account_update(
            s,
            found.id,
            scope=user_id,
            now=utcnow(),
            box=box,
            credentials=credentials,
            status="active",
        )
        return found.name

    name = db.write(work)
    count = len(credentials["storage_state"]["cookies"])
    out.print(f"{name}: {count} cookies stored (encrypted); account active")
