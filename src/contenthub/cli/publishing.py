"""contenthub publish: an article to accounts, and watching it go out."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn

from contenthub import storage
from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    _account_ids,
    friendly_errors,
    open_as,
    out,
)
from contenthub.cli.root import app
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.services.publishing import parse_time, publish_article, read_markdown, zone_named
from contenthub.states import FINAL
from contenthub.storage.db import Database


@app.command()
@friendly_errors
def publish(
    source: Annotated[
        str,
        typer.Argument(
            metavar="ARTICLE",
            help="A stored article's id, or a Markdown file (its first '# ' line is the title).",
        ),
    ],
    account: Annotated[
        list[str], typer.Option("--account", "-a", help="Account id or name; repeat for many.")
    ],
    priority: Annotated[int, typer.Option(help="1 (most urgent) … 10.")] = 5,
    at: Annotated[
        str | None, typer.Option(help="Publish at this time (ISO 8601 or 'YYYY-MM-DD HH:MM').")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--tz", envvar="CONTENTHUB_TIMEZONE", help="Zone of --at without an offset."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title, if the file has no '# ' line.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag; repeat for many.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Watch until every task ends.")] = False,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Publish an article (stored, or from a Markdown file) to one or more accounts."""
    settings = Settings.from_env()
    db, me = open_as(user)
    user_id = me.user_id
    due = parse_time(at, zone=zone_named(timezone)) if at else None
    if source.isdigit() and not Path(source).exists():
        from contenthub.services.publishing import Target, publish_targets

        targets = [Target(int(source), _account_ids(db, account, user_id) or [])]
        ids = db.write(
            lambda s: publish_targets(
                s,
                user_id=user_id,
                targets=targets,
                priority=priority,
                scheduled_at=due,
                now=utcnow(),
                per_minute=settings.submissions_per_minute,
            )
        )
    else:
        draft = read_markdown(Path(source), title=title, tags=tag or ())
        ids = publish_article(
            db,
            user_id=user_id,
            draft=draft,
            accounts=account,
            priority=priority,
            at=due,
            now=utcnow(),
        )
    if as_json and not wait:
        out.print_json(json.dumps({"tasks": ids}))
        return
    for public_id in ids:
        out.print(f"queued {public_id}")
    if wait:
        raise typer.Exit(watch(db, ids, user_id))


def watch(db: Database, ids: list[str], user_id: int) -> int:
    """Live progress bars until every task has ended; non-zero if any did not succeed."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[state]}"),
        console=out,
    ) as bars:
        rows = {i: bars.add_task(i[:8], total=100, state="") for i in ids}
        while True:
            tasks = db.read(lambda s: [storage.task_get(s, i, user_id=user_id) for i in ids])
            for task in tasks:
                state = task["status"] + (f" · {task['stage']}" if task["stage"] else "")
                if task["status"] == "succeeded":
                    state += f" · {task['result_url']}"
                elif task["error_message"]:
                    state += f" · {task['error_message']}"
                bars.update(rows[task["public_id"]], completed=task["progress"], state=state)
            if all(t["status"] in FINAL for t in tasks):
                return 0 if all(t["status"] == "succeeded" for t in tasks) else 1
            time.sleep(0.3)
