"""contenthub publish-pool: articles waiting for the publishing job."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    TimezoneOption,
    UserOption,
    _account_ids,
    _cli_time,
    _iso,
    err,
    open_as,
    out,
    print_counts,
)
from contenthub.clock import utcnow, zone_named
from contenthub.services import pool

app = typer.Typer(help="The publish pool: articles waiting for their time.", no_args_is_help=True)


def _entry_json(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the seeds' CLI printed it: the article's id is ``content_id``."""
    shown = {k: v for k, v in entry.items() if k != "article_id"}
    return {"content_id": entry["article_id"], **shown}


def _note_if_past(when: datetime | None, now: datetime) -> None:
    """A time already past is taken as "now"; say so rather than accept it without a word."""
    if when is not None and when < now:
        err.print(
            f"note: {when:%Y-%m-%d %H:%M:%S} UTC has passed; the entry is due now and goes "
            "with the next publishing run",
            highlight=False,
        )


def _pool_table(items: list[dict[str, Any]]) -> Table:
    table = Table("id", "article", "status", "priority", "scheduled at (UTC)", "retries", "note")
    for e in items:
        table.add_row(
            str(e["id"]),
            e["title"],
            e["status"],
            str(e["priority"]),
            e["scheduled_at"].strftime("%Y-%m-%d %H:%M:%S"),
            f"{e['retry_count']}/{e['max_retries']}",
            (e["last_error"] or "")[:60],
        )
    return table


@app.command("add")
def pool_add(
    content_id: Annotated[int, typer.Argument(help="The article's id.")],
    priority: Annotated[int, typer.Option(help="1 (most urgent) … 10.")] = 5,
    scheduled_at: Annotated[
        str | None,
        typer.Option(help="When it may be published: ISO 8601 or 'YYYY-MM-DD HH:MM:SS'."),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Account id or name; repeat. Default: all active."),
    ] = None,
    max_retries: Annotated[int, typer.Option(help="Retries after a failed publish.")] = 3,
    timezone: TimezoneOption = None,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Add an article to the publish pool; the publishing job releases it when it is due."""
    db, me = open_as(user)
    when = _cli_time(scheduled_at, "scheduled_at", zone_named(timezone))
    account_ids = _account_ids(db, account, me.user_id)
    now = utcnow()
    entry = db.write(
        lambda s: pool.pool_add(
            s,
            owner=me,
            article_id=content_id,
            now=now,
            priority=priority,
            scheduled_at=when,
            account_ids=account_ids,
            max_retries=max_retries,
        )
    )
    _note_if_past(when, now)
    if as_json:
        out.print_json(json.dumps(_entry_json(entry), default=_iso))
        return
    out.print(
        f"pool entry {entry['id']} added: article {content_id} '{entry['title']}', "
        f"priority {entry['priority']}, due {entry['scheduled_at']:%Y-%m-%d %H:%M:%S} UTC",
        highlight=False,
    )


@app.command("list")
def pool_list(
    status: Annotated[list[str] | None, typer.Option("--status", help="Only these.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Pool entries in release order: most urgent first, then earliest."""
    db, me = open_as(user)
    items, total = db.read(
        lambda s: pool.pool_list(
            s, scope=me.scope, statuses=status or (), limit=limit, offset=offset
        )
    )
    if as_json:
        shown = [_entry_json(e) for e in items]
        out.print_json(json.dumps({"items": shown, "total": total}, default=_iso))
        return
    out.print(_pool_table(items))


@app.command("stats")
def pool_stats(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """How many entries are pending, publishing, published, failed."""
    db, me = open_as(user)
    counts = db.read(lambda s: pool.pool_stats(s, scope=me.scope))
    if as_json:
        out.print_json(json.dumps(counts))
        return
    print_counts(counts, "entries")


@app.command("cancel")
def pool_cancel(entry_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Take an entry out of the pool (its running publishes are asked to stop)."""
    db, me = open_as(user)
    db.write(lambda s: pool.pool_cancel(s, entry_id, scope=me.scope, now=utcnow()))
    out.print(f"pool entry {entry_id} cancelled")


@app.command("reschedule")
def pool_reschedule(
    entry_id: int,
    scheduled_at: Annotated[str | None, typer.Option(help="New time.")] = None,
    priority: Annotated[int | None, typer.Option(help="New priority, 1 … 10.")] = None,
    timezone: TimezoneOption = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Move a pending entry in time or in urgency."""
    db, me = open_as(user)
    when = _cli_time(scheduled_at, "scheduled_at", zone_named(timezone))
    now = utcnow()
    entry = db.write(
        lambda s: pool.pool_reschedule(
            s, entry_id, scope=me.scope, now=now, scheduled_at=when, priority=priority
        )
    )
    _note_if_past(when, now)
    out.print(
        f"pool entry {entry_id}: priority {entry['priority']}, "
        f"due {entry['scheduled_at']:%Y-%m-%d %H:%M:%S} UTC"
    )
