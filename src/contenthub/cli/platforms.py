"""contenthub platform: settings shared by every worker."""

from __future__ import annotations

from typing import Annotated

import typer

from contenthub.cli.context import open_db, out
from contenthub.config import Settings
from contenthub.services import platforms

app = typer.Typer(help="Platform-wide settings.", no_args_is_help=True)


@app.command("limit")
def platform_limit(
    name: str,
    max_running: Annotated[
        int | None, typer.Argument(help="Most publishes at once; omit for none.")
    ] = None,
) -> None:
    """Set how many publishes may run at once on a platform, across every worker."""
    db = open_db(Settings.from_env())
    db.write(lambda s: platforms.platform_limit_set(s, name, max_running))
    out.print(f"{name}: {'no limit' if max_running is None else f'at most {max_running} at once'}")
