"""contenthub task: list, show, cancel, retry.

A task may be named by any unique prefix of its id (what a narrow table used to show).
Ids and URLs are never cut: on a terminal, long cells fold; piped, rows are plain
tab-separated lines that other tools can read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    _jsonable,
    open_as,
    out,
)
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.services import tasks as task_service
from contenthub.services.tasks import TaskFilter
from contenthub.states import TaskStatus
from contenthub.storage import ControlResult

app = typer.Typer(help="Publish tasks.", no_args_is_help=True)
TaskRef = Annotated[str, typer.Argument(help="The task's id, or any unique start of it.")]


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[str]], *, fold: set[str]) -> None:
    """A table on a terminal (``fold`` columns wrap, never truncated); tab-separated lines
    when piped."""
    if not out.is_terminal:
        for line in [headers, *rows]:
            print("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in line))
        return
    table = Table()
    for header in headers:
        if header in fold:
            table.add_column(header, overflow="fold")
        else:
            table.add_column(header)
    for row in rows:
        table.add_row(*row)
    out.print(table)


@app.command("list")
def task_list(
    status: Annotated[
        list[TaskStatus] | None, typer.Option("--status", help="Only these statuses.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """The newest tasks first."""
    db, me = open_as(user)
    rows = task_service.task_page(db, me, TaskFilter(statuses=status or ()), limit=limit)
    if as_json:
        out.print_json(json.dumps([_jsonable(r) for r in rows]))
        return
    print_rows(
        ("task", "status", "progress", "platform", "priority", "title", "result / error"),
        [
            (
                r["public_id"],
                r["status"],
                f"{r['progress']}% {r['stage'] or ''}".strip(),
                r["platform"],
                str(r["priority"]),
                r["title"][:40],
                r["result_url"] or r["error_message"] or "",
            )
            for r in rows
        ],
        fold={"task", "result / error"},
    )


SHOWN = (
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
    "reviewed_at",
    "error_class",
    "error_message",
    "leftovers",
    "warnings",
)


def held_line(held: dict[str, str]) -> str:
    """Why a task waits on its account, and what to run (escaped for rich markup)."""
    state = "needs a login" if held["status"] == "needs_login" else f"is {held['status']}"
    return escape(f"account {held['account']} {state} ({held['reason']}); run: {held['fix']}")


@app.command("show")
def task_show(
    task_id: TaskRef, user: UserOption = DEFAULT_USER, as_json: JsonOption = False
) -> None:
    """One task with its timeline."""
    db, me = open_as(user)
    task, events = task_service.task_detail(db, me, task_id, prefix=True)
    shots = task_service.task_screenshots(db, me, task, Settings.from_env().data_dir)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    **_jsonable(task),
                    "events": [_jsonable(e) for e in events],
                    "screenshots": [str(p) for p in shots],
                }
            )
        )
        return
    for key in SHOWN:
        value = task[key]
        if key in ("leftovers", "warnings"):  # named only when there are some
            if not value:
                continue
            value = "; ".join(value)
        if key == "reviewed_at" and value is None:  # only posts a platform held for review
            continue
        out.print(f"[bold]{key:>13}[/bold]  {value}", soft_wrap=True, highlight=False)
    if task["held"]:
        out.print(f"[bold]{'held':>13}[/bold]  {held_line(task['held'])}", soft_wrap=True)
    if task["status"] == TaskStatus.IN_REVIEW:
        note = (
            "the platform accepted the post and holds it for review; a review_check job "
            "records when it goes live (contenthub scheduler create --type review_check)"
        )
        out.print(f"[bold]{'review':>13}[/bold]  {escape(note)}", soft_wrap=True)
    for path in shots:
        out.print(f"[bold]{'screenshot':>13}[/bold]  {path}", soft_wrap=True, highlight=False)
    print_rows(
        ("at", "change", "reason", "stage", "message"),
        [
            (
                e["at"].strftime("%H:%M:%S.%f")[:-3],
                f"{e['from_status'] or ''} → {e['to_status']}"
                if e["kind"] == "status"
                else e["kind"],
                e["reason"],
                f"{e['stage'] or ''} {e['progress'] if e['progress'] is not None else ''}".strip(),
                e["message"] or "",
            )
            for e in events
        ],
        fold={"message"},
    )


@app.command("cancel")
def task_cancel(task_id: TaskRef, user: UserOption = DEFAULT_USER) -> None:
    """Cancel a task: at once if waiting, at its next step if running."""
    db, me = open_as(user)
    result, _ = task_service.task_cancel(db, me, task_id, now=utcnow(), prefix=True)
    if result.cancel_requested:
        out.print(f"{result.public_id} cancel requested; the publish stops at its next step")
    else:
        out.print(f"{result.public_id} {result.status}", highlight=False)


@app.command("retry")
def task_retry(task_id: TaskRef, user: UserOption = DEFAULT_USER) -> None:
    """Publish a failed or cancelled task again, with a fresh attempt budget.

    A cancelled scheduled task whose time is still ahead waits for that time again."""
    db, me = open_as(user)
    result, _ = task_service.task_retry(db, me, task_id, now=utcnow(), prefix=True)
    out.print(_retried(result), soft_wrap=True, highlight=False)


def _retried(result: ControlResult) -> str:
    if result.status == TaskStatus.SCHEDULED and result.due_at is not None:
        local = result.due_at.astimezone().isoformat(" ", timespec="seconds")
        return f"{result.public_id} scheduled for {local} (its time is still ahead)"
    return f"{result.public_id} {result.status}"
