"""What every command shares: output, options, errors, the database and the acting user."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contenthub.clock import parse_time, utcnow
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.platforms.registry import load_modules
from contenthub.services import users
from contenthub.services.users import Principal
from contenthub.storage import migrate
from contenthub.storage.db import Database

out = Console()
err = Console(stderr=True)
DEFAULT_USER = "local"

UserOption = Annotated[
    str, typer.Option("--user", envvar="CONTENTHUB_USER", help="Act as this user.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
TimezoneOption = Annotated[
    str | None,
    typer.Option("--tz", envvar="CONTENTHUB_TIMEZONE", help="Zone of times given without one."),
]


def open_db(
    settings: Settings, *, upgrade: bool = False, pool_size: int = 10, adapters_now: bool = False
) -> Database:
    """The configured database, set up if empty. Plugin adapters load when a command first
    looks a platform up, or at once with ``adapters_now`` (a server: a broken plugin stops it
    at its start, not at its first publish)."""
    db = Database.connect(
        settings.database_url, pool_size=pool_size, session_url=settings.database_session_url
    )
    # An empty database is set up by whichever command touches it first; an older schema
    # is upgraded only on purpose (serve, worker, db upgrade).
    if upgrade or migrate.current_revision(db.engine) is None:
        with db.session_engine() as engine:
            migrate.upgrade(engine)
    elif not migrate.is_current(db.engine):
        err.print(
            "[red]error:[/red] the database schema is not current; run 'contenthub db upgrade'"
        )
        raise typer.Exit(2)
    load_modules(settings.extra_platform_modules, when_needed=not adapters_now)
    return db


def resolve_principal(db: Database, name: str) -> Principal:
    """Who a command acts as: the named user, scoped as the API scopes a caller. Read-only,
    except on the default user's first use, which makes it (and its local site)."""
    if name == DEFAULT_USER:
        data_dir = Settings.from_env().data_dir
        return users.default_user_ensure(db, name, data_dir=data_dir, now=utcnow())
    return db.read(lambda s: users.principal_of(s, name))


def open_as(user: str) -> tuple[Database, Principal]:
    """The configured database, and the principal a command acts as."""
    db = open_db(Settings.from_env())
    return db, resolve_principal(db, user)


def print_counts(counts: Mapping[str, int], noun: str) -> None:
    """A two-column table: each status, and how many ``noun`` are in it."""
    table = Table("status", noun)
    for status, count in counts.items():
        table.add_row(status, str(count))
    out.print(table)


def key_values(pairs: list[str], field: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs from repeated options (``KEY=`` gives an empty value)."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(field, f"{pair!r} is not KEY=VALUE")
        found[key] = value
    return found


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in row.items()
        if k not in ("lease_token",)
    }


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _cli_time(text: str | None, field: str, zone: Any) -> datetime | None:
    """ISO 8601 or 'YYYY-MM-DD HH:MM:SS' in the user's zone, as UTC; errors name the option."""
    if text is None:
        return None
    try:
        return parse_time(text, zone=zone)
    except InputError as error:
        raise InputError(field, error.message) from None


def _account_ids(db: Database, refs: list[str] | None, user_id: int) -> list[int] | None:
    if not refs:
        return None
    # Here, not at the top: the accounts service brings the adapters, which a command that
    # names no account never needs.
    from contenthub.services.accounts import account_ids

    return db.read(lambda s: account_ids(s, refs, owner_id=user_id))
