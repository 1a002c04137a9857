"""contenthub publish: an article to accounts, and watching it go out."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Column

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    UserOption,
    _account_ids,
    open_as,
    out,
)
from contenthub.cli.tasks import held_line
from contenthub.clock import parse_time, utcnow, zone_named
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.services import tasks as task_service
from contenthub.services.accounts import account_get
from contenthub.services.articles import read_cover
from contenthub.services.publishing import (
    Draft,
    Target,
    preview,
    read_markdown,
)
from contenthub.services.publishing import (
    publish as publish_use_case,
)
from contenthub.services.users import Principal
from contenthub.states import FINAL, TaskStatus
from contenthub.storage import Database, Session

commands = typer.Typer()  # `contenthub publish`, at the root


@commands.command()
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
    cover: Annotated[
        str | None,
        typer.Option(
            help="A cover image: an http(s) address or an image file (a Markdown file only)."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Watch until every task ends.")] = False,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="A new post, even on accounts that already have the article (without it, "
            "their post is updated in place) or where a publish of it is on its way.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check each account's platform rules and say what its adapter would do; "
            "queue nothing.",
        ),
    ] = False,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Publish an article (stored, or from a Markdown file) to one or more accounts."""
    settings = Settings.from_env()
    zone = zone_named(timezone)
    due = parse_time(at, zone=zone) if at else None
    article: int | Draft
    if source.isdigit() and not Path(source).exists():
        if cover is not None:
            raise InputError(
                "cover",
                f"article {source} is stored: set its cover with 'article edit {source} --cover'",
            )
        article = int(source)
    else:
        article = read_markdown(Path(source), title=title, tags=tag or ())
        if cover:
            article = replace(article, cover=read_cover(cover))
    db, me = open_as(user)
    account_ids = _account_ids(db, account, me.user_id) or []
    if dry_run:
        raise typer.Exit(_dry_run(db, me, article, account_ids, as_json))
    done = publish_use_case(
        db,
        me,
        [Target(article, account_ids)],
        priority=priority,
        scheduled_at=due,
        per_minute=settings.submissions_per_minute,
        now=utcnow(),
        republish=again,
    )
    ids = [t["public_id"] for t in done.tasks]
    if as_json and not wait:
        out.print_json(json.dumps({"tasks": ids, "notice": done.notice, "notes": done.notes}))
        return
    for note in [done.notice, *done.notes]:
        if note:
            out.print(f"note: {note}", soft_wrap=True, highlight=False)
    for task in done.tasks:
        out.print(_went(task, zone), soft_wrap=True, highlight=False)
    if wait:
        raise typer.Exit(watch(db, me, ids))


def _dry_run(
    db: Database, me: Principal, article: int | Draft, account_ids: list[int], as_json: bool
) -> int:
    """Each account: ``ok`` or ``refused`` with the rule, and the notes (exit 2 if any is
    refused, as the publish itself would be)."""
    found = preview(db, me, article, account_ids)
    if as_json:
        rows = [
            {"account": a.account, "platform": a.platform, "problems": a.problems, "notes": a.notes}
            for a in found
        ]
        out.print_json(json.dumps({"accounts": rows}))
    else:
        for a in found:
            verdict = f"refused: {'; '.join(a.problems)}" if a.problems else "ok"
            out.print(f"{a.account} ({a.platform}): {verdict}", soft_wrap=True, highlight=False)
            for note in a.notes:
                out.print(f"  note: {note}", soft_wrap=True, highlight=False)
    return 2 if any(a.problems for a in found) else 0


def _went(task: dict[str, Any], zone: tzinfo) -> str:
    """What happened to a new task, by its real status: 'queued <id>' or 'scheduled … for …'."""
    if task["status"] == TaskStatus.SCHEDULED:
        due: datetime = task["due_at"]
        return f"scheduled {task['public_id']} for {due.astimezone(zone).isoformat(' ')}"
    updates = f" (updates post {task['updates']})" if task.get("updates") else ""
    return f"{task['status']} {task['public_id']}{updates}"


HELD_EXIT = 3  # the tasks wait on an account a person must fix (log in, activate)


def watch(db: Database, me: Principal, ids: list[str]) -> int:
    """Live progress bars, one per account, until every task has ended (non-zero if any did
    not succeed) or every one left waits on its account: then each held task, why and the
    command that releases it (exit code 3)."""
    tasks = task_service.task_rows(db, me, ids)
    labels = db.read(lambda s: _labels(s, me, tasks))
    # The label keeps its width (up to 60 columns); a long state (a URL, an error) is what
    # gets cut when the terminal is narrow.
    label_width = min(60, max(len(label) for label in labels.values()))
    with Progress(
        TextColumn("{task.description}", table_column=Column(min_width=label_width, no_wrap=True)),
        BarColumn(),
        TextColumn("{task.fields[state]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        console=out,
    ) as bars:
        rows = {
            t["public_id"]: bars.add_task(labels[t["public_id"]], total=100, state="")
            for t in tasks
        }
        while True:
            tasks = task_service.task_rows(db, me, ids)
            for task in tasks:
                bars.update(rows[task["public_id"]], completed=task["progress"], state=_state(task))
            if all(t["status"] in FINAL for t in tasks):
                return 0 if all(t["status"] == TaskStatus.SUCCEEDED for t in tasks) else 1
            if all(t["status"] in FINAL or t["held"] for t in tasks):
                break  # nothing moves until a person acts: say what, instead of waiting forever
            time.sleep(0.3)
    for task in tasks:
        if task["held"]:
            out.print(f"{task['public_id']} waits: {held_line(task['held'])}", soft_wrap=True)
    out.print("The held publishes start by themselves once their accounts are fixed.")
    return HELD_EXIT


def _labels(s: Session, me: Principal, tasks: list[dict[str, Any]]) -> dict[str, str]:
    """'<account> on <platform> · <task id prefix>' for each task."""
    names = {
        account_id: account_get(s, account_id, scope=me.scope).name
        for account_id in {t["account_id"] for t in tasks}
    }
    return {
        t["public_id"]: f"{names[t['account_id']]} on {t['platform']} · {t['public_id'][:8]}"
        for t in tasks
    }


def _state(task: dict[str, Any]) -> str:
    state = task["status"] + (f" · {task['stage']}" if task["stage"] else "")
    if task["held"]:
        return f"{state} · held on account {task['held']['account']}"
    if task["status"] == TaskStatus.SUCCEEDED:
        updated = " · updated" if task.get("outcome") == "updated" else ""
        return f"{state}{updated} · {task['result_url']}"
    if task["error_message"]:
        return f"{state} · {task['error_message']}"
    return state
