"""contenthub platform: settings shared by every worker."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from contenthub.cli.context import JsonOption, open_db, out
from contenthub.config import Settings
from contenthub.services import platforms

app = typer.Typer(help="Platform-wide settings.", no_args_is_help=True)
commands = typer.Typer()  # `contenthub platforms`, at the root


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


@commands.command("platforms")
def platforms_list(as_json: JsonOption = False) -> None:
    """List every platform: how an account logs in, and what the platform supports."""
    rows = platforms.platform_catalogue()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    marks = {True: "yes", False: "no", None: "?"}
    table = Table("platform", "login", *platforms.FEATURES, header_style="bold")
    for row in rows:
        table.add_row(
            row["platform"], row["login"] or "?", *(marks[row[k]] for k in platforms.FEATURES)
        )
    out.print(table)
    legend = [
        "images: the body's images are uploaded to the platform",
        "cover: the post shows a cover image",
        "scheduled: the platform itself can publish at a set time",
        "  (contenthub schedules on its side for every platform: publish --at)",
        "review: the platform may hold a post before the public sees it",
    ]
    out.print("\n".join(legend), style="dim", highlight=False)
    notes = [row for row in rows if row["note"]]
    if notes:
        out.print()
    for row in rows:
        if row["note"]:
            out.print(f"[bold]{row['platform']}[/bold]: {row['note']}", highlight=False)
