"""contenthub task: list, show, cancel, retry."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from contenthub import storage
from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    _jsonable,
    friendly_errors,
    open_as,
    out,
)
from contenthub.clock import utcnow

app = typer.Typer(help="Publish tasks.", no_args_is_help=True)


@app.command("list")
@friendly_errors
def task_list(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """The newest tasks first."""
    db, me = open_as(user)
    user_id = me.user_id
    rows = db.read(
        lambda s: storage.task_list(s, user_id=user_id, statuses=status or (), limit=limit)
    )
    if as_json:
        out.print_json(json.dumps([_jsonable(r) for r in rows]))
        return
    table = Table("task", "status", "progress", "platform", "priority", "title", "result / error")
    for r in rows:
        table.add_row(
            r["public_id"],
            r["status"],
            f"{r['progress']}% {r['stage'] or ''}",
            r["platform"],
            str(r["priority"]),
            r["title"][:40],
            r["result_url"] or r["error_message"] or "",
        )
    out.print(table)


@app.command("show")
@friendly_errors
def task_show(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """One task with its timeline."""
    db, me = open_as(user)
    user_id = me.user_id

    def work(s: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        task = storage.task_get(s, task_id, user_id=user_id)
        return task, storage.task_events(s, task["id"])

    task, events = db.read(work)
    if as_json:
        out.print_json(json.dumps({**_jsonable(task), "events": [_jsonable(e) for e in events]}))
        return
    for key in (
        "public_id",
        "status",
        "progress",
        "stage",
        "platform",
        "account_id",
        "priority",
        "attempt",
        "max_attempts",
        "due_at",
        "result_url",
        "error_class",
        "error_message",
    ):
        out.print(f"[bold]{key:>13}[/bold]  {task[key]}")
    timeline = Table("at", "change", "stage", "message")
    for e in events:
        change = (
            f"{e['from_status'] or ''} → {e['to_status']}" if e["kind"] == "status" else e["kind"]
        )
        stage = f"{e['stage'] or ''} {e['progress'] if e['progress'] is not None else ''}".strip()
        timeline.add_row(e["at"].strftime("%H:%M:%S.%f")[:-3], change, stage, e["message"] or "")
    out.print(timeline)


@app.command("cancel")
@friendly_errors
def task_cancel(task_id: str, user: UserOption = DEFAULT_USER) -> None:
    """Cancel a task: at once if waiting, at its next step if running."""
    db, me = open_as(user)
    user_id = me.user_id
    result = db.write(lambda s: storage.task_cancel(s, task_id, user_id=user_id, now=utcnow()))
    out.print(
        "cancel requested; the publish stops at its next step"
        if result.cancel_requested
        else f"{task_id} {result.status}"
    )


@app.command("retry")
@friendly_errors
def task_retry(task_id: str, user: UserOption = DEFAULT_USER) -> None:
    """Queue a failed or cancelled task again with a fresh attempt budget."""
    db, me = open_as(user)
    user_id = me.user_id
    result = db.write(lambda s: storage.task_retry(s, task_id, user_id=user_id, now=utcnow()))
    out.print(f"{task_id} {result.status}")
