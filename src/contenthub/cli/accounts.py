"""contenthub account: bind, list, change, delete, check and log in platform accounts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    friendly_errors,
    key_values,
    open_as,
    out,
)
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts
from contenthub.storage import Session

app = typer.Typer(help="Platform accounts.", no_args_is_help=True)

OptionsOption = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="KEY=VALUE; repeat for many."),
]


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
@friendly_errors
def account_add(
    platform: str,
    name: str,
    option: OptionsOption = None,
    min_interval: Annotated[float, typer.Option(help="Seconds between two publish starts.")] = 0.0,
    daily_cap: Annotated[
        int | None, typer.Option(help="At most this many publishes a day.")
    ] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Bind a platform account."""
    options = _parse_options(option or [])
    db, me = open_as(user)
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
            min_interval_seconds=min_interval,
            daily_cap=daily_cap,
        )
    )
    out.print(f"account {account.id} ({account.name}) added")


@app.command("list")
@friendly_errors
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
        options = {a.id: a.options for a in found}
        out.print_json(json.dumps([{**r, "options": options[r["id"]]} for r in rows]))
        return
    table = Table(*rows[0].keys()) if rows else Table("id", "platform", "name", "status")
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    out.print(table)


@app.command("update")
@friendly_errors
def account_update(
    account: Annotated[str, typer.Argument(help="The account's id or name.")],
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="KEY=VALUE to set, KEY= to remove; other options stay."
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
    user: UserOption = DEFAULT_USER,
) -> None:
    """Change an account's name, options or pacing."""
    if daily_cap is not None and no_daily_cap:
        raise InputError("daily_cap", "give --daily-cap or --no-daily-cap, not both")
    changes = _parse_options(option or [])
    db, me = open_as(user)
    box = _box()

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
            min_interval_seconds=min_interval,
            daily_cap=daily_cap,
            clear_daily_cap=no_daily_cap,
        )

    updated = db.write(work)
    cap = "no daily cap" if updated.daily_cap is None else f"at most {updated.daily_cap} a day"
    out.print(
        f"account {updated.id} ({updated.name}) updated: "
        f"{updated.min_interval_seconds:g} s between starts, {cap}"
    )


@app.command("delete")
@friendly_errors
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
@friendly_errors
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
@friendly_errors
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
    credentials: dict[str, Any] = accounts.read_cookie_file(cookies)
    db, me = open_as(user)
    box = _box()

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
