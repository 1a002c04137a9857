"""contenthub user: users and their API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from contenthub.cli.context import open_as, open_db, out
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.services import users

app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)


@app.command("create")
def user_create(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="May see and act on everything.")] = False,
    password: Annotated[
        str | None, typer.Option(envvar="CONTENTHUB_NEW_PASSWORD", help="Asked for when not given.")
    ] = None,
) -> None:
    """Create a user (passwords are stored as argon2 hashes)."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    db = open_db(Settings.from_env())
    user_id = db.write(lambda s: users.user_create(s, name, password, admin=admin, now=utcnow()))
    out.print(f"user {user_id} ({name}) created{' as admin' if admin else ''}")


@app.command("token")
def user_token(
    name: str,
    label: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
) -> None:
    """Print a new API token for a user; it is shown this once."""
    db, me = open_as(name)
    _, plaintext = db.write(lambda s: users.token_create(s, me.user_id, label, now=utcnow()))
    out.print(plaintext, highlight=False)
