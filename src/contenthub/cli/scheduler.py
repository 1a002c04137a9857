"""contenthub scheduler: recurring jobs and their history."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from contenthub.cli.context import (
    DEFAULT_USER,
    JsonOption,
    TimezoneOption,
    UserOption,
    _cli_time,
    _iso,
    err,
    key_values,
    open_as,
    out,
)
from contenthub.clock import utcnow, zone_named
from contenthub.config import Settings
from contenthub.errors import InputError
from contenthub.scheduler import Schedule, jobs
from contenthub.scheduler.schedule import SCHEDULE_TYPES, zone_of
from contenthub.secrets_box import SecretBox

app = typer.Typer(help="Recurring jobs and their history.", no_args_is_help=True)


def _ask(value: Any, field: str, question: str, check: Callable[[str], Any] = str) -> Any:
    """A flag's value, or the answer to a prompt (as the seeds' CLI asks). A wrong answer is
    said and asked again; only the end of input gives up."""
    if value is not None:
        return value
    while True:
        try:
            answer = typer.prompt(question)
        except typer.Abort:
            raise InputError(field, f"missing; pass --{field.replace('_', '-')}") from None
        try:
            return check(answer.strip())
        except InputError as error:
            err.print(f"[red]error:[/red] {error.message}; try again", highlight=False)


def _one_of(choices: Sequence[str], field: str) -> Callable[[str], str]:
    def check(answer: str) -> str:
        if answer not in choices:
            raise InputError(field, f"{answer!r} is not one of {', '.join(choices)}")
        return answer

    return check


def _interval(answer: str) -> int:
    try:
        seconds = int(answer)
    except ValueError:
        raise InputError("interval", f"{answer!r} is not a whole number of seconds") from None
    Schedule("interval", seconds).validate()
    return seconds


def _cron_in(timezone: str) -> Callable[[str], str]:
    def check(answer: str) -> str:
        Schedule("cron", cron=answer, timezone=timezone).validate()
        return answer

    return check


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a value that reads as JSON is taken as JSON, else as text."""
    return {key: _json_or_text(raw) for key, raw in key_values(pairs, "param").items()}


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _job_line(job: dict[str, Any]) -> str:
    every = (
        f"every {job['interval_seconds']} s"
        if job["schedule_type"] == "interval"
        else f"cron '{job['cron']}' ({job['timezone']})"
    )
    return f"job {job['id']} '{job['name']}': {job['job_type']}, {every}"


@app.command("list")
def scheduler_list(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """Your scheduled jobs."""
    db, me = open_as(user)
    rows = db.read(lambda s: jobs.job_list(s, scope=me.scope))
    if as_json:
        out.print_json(json.dumps(rows, default=_iso))
        return
    table = Table("id", "name", "type", "schedule", "enabled", "next run (UTC)", "last run (UTC)")
    for j in rows:
        schedule = (
            f"every {j['interval_seconds']} s"
            if j["schedule_type"] == "interval"
            else f"{j['cron']} {j['timezone']}"
        )
        table.add_row(
            str(j["id"]),
            j["name"],
            j["job_type"],
            schedule,
            "yes" if j["enabled"] else "no",
            f"{j['next_run']:%Y-%m-%d %H:%M:%S}",
            f"{j['last_run']:%Y-%m-%d %H:%M:%S}" if j["last_run"] else "",
        )
    out.print(table)


@app.command("create")
def scheduler_create(
    name: Annotated[str | None, typer.Option(help="What the job is called.")] = None,
    job_type: Annotated[
        str | None, typer.Option("--type", help="publishing, account_check, review_check, cleanup.")
    ] = None,
    schedule_type: Annotated[str | None, typer.Option(help="interval or cron.")] = None,
    interval: Annotated[int | None, typer.Option(help="Seconds between runs.")] = None,
    cron: Annotated[str | None, typer.Option(help="A cron line, e.g. '*/10 * * * *'.")] = None,
    job_tz: Annotated[str, typer.Option("--job-tz", help="Time zone of the cron line.")] = "UTC",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE; repeat.")
    ] = None,
    first_run: Annotated[
        str | None, typer.Option(help="When the first run is due (default: the next tick).")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it paused.")] = False,
    timezone: TimezoneOption = None,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Create a recurring job; asks for whatever the flags leave out."""
    zone_of(job_tz)  # a wrong --job-tz is refused before any question
    name = _ask(name, "name", "Job name")
    job_type = _ask(
        job_type,
        "type",
        f"Job type ({' / '.join(jobs.JOB_TYPES)})",
        _one_of(jobs.JOB_TYPES, "job_type"),
    )
    jobs.check_job_type(job_type)  # a wrong --type is refused before more questions
    schedule_type = _ask(
        schedule_type,
        "schedule_type",
        f"Schedule type ({' / '.join(SCHEDULE_TYPES)})",
        _one_of(SCHEDULE_TYPES, "schedule_type"),
    )
    if schedule_type == "interval":
        interval = _ask(interval, "interval", "Seconds between runs", _interval)
    elif schedule_type == "cron":
        question = "Cron expression (min hour day month weekday)"
        cron = _ask(cron, "cron", question, _cron_in(job_tz))
    schedule = Schedule(schedule_type, interval, cron, job_tz)
    start = _cli_time(first_run, "first_run", zone_named(timezone))
    db, me = open_as(user)
    job = db.write(
        lambda s: jobs.job_create(
            s,
            owner=me,
            name=name,
            job_type=job_type,
            schedule=schedule,
            now=utcnow(),
            params=_parse_params(param or []),
            enabled=not disabled,
            next_run=start,
        )
    )
    if as_json:
        out.print_json(json.dumps(job, default=_iso))
        return
    out.print(f"{_job_line(job)}; first run {job['next_run']:%Y-%m-%d %H:%M:%S} UTC")


@app.command("edit")
def scheduler_edit(
    job_id: int,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    interval: Annotated[
        int | None, typer.Option(help="Run every this many seconds (instead of a cron line).")
    ] = None,
    cron: Annotated[
        str | None, typer.Option(help="Run on this cron line (instead of an interval).")
    ] = None,
    job_tz: Annotated[
        str | None, typer.Option("--job-tz", help="Time zone of the cron line.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="KEY=VALUE; repeat. Other parameters are kept."),
    ] = None,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Change a job's name, schedule or parameters; a new schedule counts from now."""
    if interval is not None and cron is not None:
        raise InputError("interval", "give --interval or --cron, not both")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if interval is not None:
        changes.update(schedule_type="interval", interval_seconds=interval)
    if cron is not None:
        changes.update(schedule_type="cron", cron=cron)
    if job_tz is not None:
        changes["timezone"] = job_tz
    if not changes and not param:
        raise InputError(
            "job", "nothing to change: give --name, --interval, --cron, --job-tz or --param"
        )
    db, me = open_as(user)

    def edit(s: Any) -> dict[str, Any]:
        if param:
            current = jobs.job_get(s, job_id, scope=me.scope)["params"]
            changes["params"] = {**current, **_parse_params(param)}
        return jobs.job_update(s, job_id, scope=me.scope, now=utcnow(), changes=changes)

    job = db.write(edit)
    if as_json:
        out.print_json(json.dumps(job, default=_iso))
        return
    params = ", ".join(f"{k}={v}" for k, v in job["params"].items()) or "no parameters"
    out.print(
        f"{_job_line(job)}; {params}; next run {job['next_run']:%Y-%m-%d %H:%M:%S} UTC",
        highlight=False,
    )


@app.command("delete")
def scheduler_delete(job_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Delete a job and its history of runs."""
    db, me = open_as(user)

    def delete(s: Any) -> dict[str, Any]:
        job = jobs.job_get(s, job_id, scope=me.scope)
        jobs.job_delete(s, job_id, scope=me.scope)
        return job

    job = db.write(delete)
    out.print(f"{_job_line(job)}: deleted", highlight=False)


@app.command("trigger")
def scheduler_trigger(
    job_id: int, user: UserOption = DEFAULT_USER, as_json: JsonOption = False
) -> None:
    """Run a job now, in this process, and show its result."""
    # Here: the duty brings every job's executor (publishing, logins …), which only a
    # command that runs a job needs.
    from contenthub.scheduler.duty import Scheduler

    db, me = open_as(user)
    secrets = SecretBox.from_env(Settings.from_env().data_dir)
    scheduler = Scheduler(db, worker=f"cli:{os.getpid()}", secrets=secrets)
    run = scheduler.trigger(job_id, scope=me.scope, now=utcnow())
    if as_json:
        out.print_json(json.dumps(run, default=_iso))
    elif run["status"] == jobs.RunStatus.SUCCEEDED:
        out.print(run["result"]["message"], highlight=False)
    if run["status"] != jobs.RunStatus.SUCCEEDED:
        err.print(f"[red]run {run['id']} failed:[/red] {run['error']}", highlight=False)
        raise typer.Exit(1)


@app.command("history")
def scheduler_history(
    job_id: int,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """A job's runs, newest first."""
    db, me = open_as(user)
    runs = db.read(lambda s: jobs.job_history(s, job_id, scope=me.scope, limit=limit))
    if as_json:
        out.print_json(json.dumps(runs, default=_iso))
        return
    table = Table("run", "by", "started (UTC)", "seconds", "status", "summary")
    for r in runs:
        seconds = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        summary = r["error"] or (r["result"] or {}).get("message", "")
        table.add_row(
            str(r["id"]),
            r["triggered_by"],
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            "" if seconds is None else f"{seconds:.2f}",
            r["status"],
            summary,
        )
    out.print(table)


def _set_enabled(job_id: int, user: str, enabled: bool) -> None:
    db, me = open_as(user)
    job = db.write(
        lambda s: jobs.job_update(
            s, job_id, scope=me.scope, now=utcnow(), changes={"enabled": enabled}
        )
    )
    out.print(f"{_job_line(job)}: {'enabled' if enabled else 'disabled'}")


@app.command("enable")
def scheduler_enable(job_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Resume a job (a run missed meanwhile happens once, at once)."""
    _set_enabled(job_id, user, True)


@app.command("disable")
def scheduler_disable(job_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Pause a job."""
    _set_enabled(job_id, user, False)
