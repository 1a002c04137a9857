"""The ``contenthub`` command."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from contenthub import storage
from contenthub.config import Settings
from contenthub.errors import InputError, NotFound, SubmissionLimit
from contenthub.logs import setup_logging
from contenthub.platforms.registry import load_modules
from contenthub.secrets_box import SecretBox
from contenthub.services.publishing import parse_time, publish_article, read_markdown, zone_named
from contenthub.states import FINAL
from contenthub.storage import migrate
from contenthub.storage.db import Database
from contenthub.worker import Worker, WorkerConfig

app = typer.Typer(help="Publish articles to many platforms, reliably.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
task_app = typer.Typer(help="Publish tasks.", no_args_is_help=True)
account_app = typer.Typer(help="Platform accounts.", no_args_is_help=True)
platform_app = typer.Typer(help="Platform-wide settings.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)
article_app = typer.Typer(help="Articles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(task_app, name="task")
app.add_typer(account_app, name="account")
app.add_typer(platform_app, name="platform")
app.add_typer(user_app, name="user")
app.add_typer(article_app, name="article")
pool_app = typer.Typer(
    help="The publish pool: articles waiting for their time.", no_args_is_help=True
)
scheduler_app = typer.Typer(help="Recurring jobs and their history.", no_args_is_help=True)
app.add_typer(pool_app, name="publish-pool")
app.add_typer(scheduler_app, name="scheduler")

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_USER = "local"

UserOption = Annotated[
    str, typer.Option("--user", envvar="CONTENTHUB_USER", help="Act as this user.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
TimezoneOption = Annotated[
    str | None,
    typer.Option("--tz", envvar="CONTENTHUB_TIMEZONE", help="Zone of times given without one."),
]


def now() -> datetime:
    return datetime.now(UTC)


def friendly_errors(fn: F) -> F:
    """Bad input is one clear line on stderr and exit code 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as error:
            err.print(f"[red]error:[/red] {error.field}: {error.message}", highlight=False)
            raise typer.Exit(2) from None
        except (NotFound, SubmissionLimit) as error:
            err.print(f"[red]error:[/red] {error}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def open_db(settings: Settings, *, upgrade: bool = False, pool_size: int = 10) -> Database:
    db = Database.connect(settings.database_url, pool_size=pool_size)
    # An empty database is set up by whichever command touches it first; an older schema
    # is upgraded only on purpose (serve, worker, db upgrade).
    if upgrade or migrate.current_revision(db.engine) is None:
        migrate.upgrade(db.engine)
    elif not migrate.is_current(db.engine):
        err.print(
            "[red]error:[/red] the database schema is not current; run 'contenthub db upgrade'"
        )
        raise typer.Exit(2)
    load_modules(settings.extra_platform_modules)
    return db


def ensure_local_defaults(db: Database, settings: Settings) -> int:
    """The embedded default: a 'local' user with a 'local-site' account publishing to data/site.
    Returns the user's id."""

    def work(session: Any) -> int:
        user_id = storage.user_ensure(session, DEFAULT_USER, now=now(), role="admin")
        try:
            storage.account_find(session, "local-site", user_id=user_id)
        except NotFound:
            storage.account_create(
                session,
                user_id=user_id,
                platform="local",
                name="local-site",
                now=now(),
                options={"root": str((settings.data_dir / "site").resolve())},
            )
        return user_id

    return db.write(work)


def open_as(user: str) -> tuple[Database, int]:
    """The configured database, and the id of the user a command acts as."""
    db = open_db(Settings.from_env())
    return db, resolve_user(db, user)


def resolve_user(db: Database, name: str) -> int:
    """The id of a named user; the default user (and its local site) is made on first use."""
    if name == DEFAULT_USER:
        return ensure_local_defaults(db, Settings.from_env())
    return db.read(lambda s: storage.user_by_name(s, name).id)


def make_worker(settings: Settings, db: Database, slots: int) -> Worker:
    config = WorkerConfig(
        slots=slots,
        lease_seconds=settings.lease_seconds,
        poll_seconds=settings.poll_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )
    return Worker(db, config, secrets=SecretBox.from_env(settings.data_dir))


def bind_demo_accounts(db: Database, settings: Settings, sandbox_url: str) -> list[str]:
    """One account per simulated platform for the default user, pointing at the sandbox."""
    from contenthub.sandbox.demo import demo_accounts

    box = SecretBox.from_env(settings.data_dir)

    def work(session: Any) -> list[str]:
        user_id = storage.user_ensure(session, DEFAULT_USER, now=now(), role="admin")
        names = []
        for spec in demo_accounts(sandbox_url):
            try:
                account = storage.account_find(session, spec["name"], user_id=user_id)
                account.options = spec["options"]
                account.credentials = box.seal(spec["credentials"])
                storage.account_set_status(session, account.id, "active", now=now())
            except NotFound:
                storage.account_create(
                    session,
                    user_id=user_id,
                    platform=spec["platform"],
                    name=spec["name"],
                    now=now(),
                    options=spec["options"],
                    credentials=box.seal(spec["credentials"]),
                    min_interval_seconds=spec["min_interval_seconds"],
                )
            names.append(spec["name"])
        return names

    return db.write(work)


def _uvicorn(app: Any, host: str, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return server


async def serve_all(
    settings: Settings,
    db: Database,
    *,
    host: str,
    port: int,
    slots: int,
    sandbox_port: int | None = None,
) -> None:
    """API, workers (and the demo sandbox) on one event loop; SIGTERM/SIGINT stop them all,
    letting running publishes finish first."""
    import signal

    from contenthub.api.app import create_app

    worker = make_worker(settings, db, slots)
    servers = [_uvicorn(create_app(settings, db), host, port)]
    if sandbox_port is not None:
        from contenthub.sandbox.server import create_app as create_sandbox

        servers.append(_uvicorn(create_sandbox(), "127.0.0.1", sandbox_port))

    def stop() -> None:
        worker.request_stop()
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers), worker.run(install_signals=False))


# -- processes ----------------------------------------------------------------------------


@app.command()
@friendly_errors
def serve(
    slots: Annotated[int, typer.Option(min=1, help="Publishes run at once.")] = 4,
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Also run the platform sandbox and bind a demo account per platform."
        ),
    ] = False,
    sandbox_port: Annotated[int, typer.Option(min=1, max=65535)] = 8900,
) -> None:
    """Upgrade the database and run the API and the workers (one process for one machine)."""
    setup_logging()
    settings = Settings.from_env()
    db = open_db(settings, upgrade=True, pool_size=slots + 24)
    ensure_local_defaults(db, settings)
    where = db.engine.url.render_as_string(hide_password=True)
    err.print(f"contenthub: API on http://{host}:{port}/api/v1 · database {where}")
    if demo:
        names = bind_demo_accounts(db, settings, f"http://127.0.0.1:{sandbox_port}")
        err.print(
            f"demo: sandbox on http://127.0.0.1:{sandbox_port}; accounts "
            + ", ".join(["local-site", *names])
        )
    asyncio.run(
        serve_all(
            settings,
            db,
            host=host,
            port=port,
            slots=slots,
            sandbox_port=sandbox_port if demo else None,
        )
    )


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8900,
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback.")] = "127.0.0.1",
) -> None:
    """Run the platform sandbox: every supported platform simulated locally, with faults."""
    from contenthub.sandbox.cli import sandbox as run_sandbox

    run_sandbox(port=port, host=host)


@app.command()
@friendly_errors
def api(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8000,
    processes: Annotated[int, typer.Option(min=1, max=64, help="API processes.")] = 2,
) -> None:
    """Run only the API, in several processes; publishes run in `contenthub worker`s."""
    import uvicorn

    setup_logging()
    settings = Settings.from_env()
    open_db(settings, upgrade=True).dispose()
    err.print(f"contenthub: API on http://{host}:{port}/api/v1 in {processes} process(es)")
    uvicorn.run(
        "contenthub.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_config=None,
        access_log=False,
    )


@app.command()
@friendly_errors
def worker(
    slots: Annotated[int, typer.Option(min=1, help="Publishes run at once.")] = 4,
) -> None:
    """Run an extra worker process against the same database."""
    setup_logging()
    settings = Settings.from_env()
    db = open_db(settings, upgrade=True, pool_size=slots + 4)
    asyncio.run(make_worker(settings, db, slots).run())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to the newest version."""
    settings = Settings.from_env()
    db = Database.connect(settings.database_url)
    migrate.upgrade(db.engine)
    out.print(f"database at revision {migrate.current_revision(db.engine)}")


# -- publishing ---------------------------------------------------------------------------


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
    db, user_id = open_as(user)
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
                now=now(),
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
            now=now(),
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


# -- tasks --------------------------------------------------------------------------------


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in row.items()
        if k not in ("lease_token",)
    }


@task_app.command("list")
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
    db, user_id = open_as(user)
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


@task_app.command("show")
@friendly_errors
def task_show(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """One task with its timeline."""
    db, user_id = open_as(user)

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


@task_app.command("cancel")
@friendly_errors
def task_cancel(task_id: str, user: UserOption = DEFAULT_USER) -> None:
    """Cancel a task: at once if waiting, at its next step if running."""
    db, user_id = open_as(user)
    result = db.write(lambda s: storage.task_cancel(s, task_id, user_id=user_id, now=now()))
    out.print(
        "cancel requested; the publish stops at its next step"
        if result.cancel_requested
        else f"{task_id} {result.status}"
    )


@task_app.command("retry")
@friendly_errors
def task_retry(task_id: str, user: UserOption = DEFAULT_USER) -> None:
    """Queue a failed or cancelled task again with a fresh attempt budget."""
    db, user_id = open_as(user)
    result = db.write(lambda s: storage.task_retry(s, task_id, user_id=user_id, now=now()))
    out.print(f"{task_id} {result.status}")


# -- accounts and platforms ---------------------------------------------------------------


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError("option", f"{pair!r} is not KEY=VALUE")
        options[key] = value
    return options


@account_app.command("add")
@friendly_errors
def account_add(
    platform: str,
    name: str,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE")] = None,
    min_interval: Annotated[float, typer.Option(help="Seconds between two publish starts.")] = 0.0,
    daily_cap: Annotated[
        int | None, typer.Option(help="At most this many publishes a day.")
    ] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Bind a platform account."""
    from contenthub.platforms.registry import known_platforms

    settings = Settings.from_env()
    db = open_db(settings)
    if platform not in known_platforms():
        raise InputError(
            "platform", f"unknown platform {platform!r}; known: {', '.join(known_platforms())}"
        )
    user_id = resolve_user(db, user)
    options = _parse_options(option or [])
    if platform == "local" and "root" in options:
        options["root"] = str(Path(options["root"]).expanduser().resolve())
    account_id = db.write(
        lambda s: storage.account_create(
            s,
            user_id=user_id,
            platform=platform,
            name=name,
            now=now(),
            options=options,
            min_interval_seconds=min_interval,
            daily_cap=daily_cap,
        )
    )
    out.print(f"account {account_id} ({name}) added")


@account_app.command("list")
@friendly_errors
def account_list(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """Your accounts and their login health."""
    db, user_id = open_as(user)
    accounts = db.read(lambda s: storage.account_list(s, user_id=user_id))
    rows = [
        {
            "id": a.id,
            "platform": a.platform,
            "name": a.name,
            "status": a.status,
            "min_interval_seconds": a.min_interval_seconds,
            "daily_cap": a.daily_cap,
        }
        for a in accounts
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(*rows[0].keys()) if rows else Table("id", "platform", "name", "status")
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    out.print(table)


@account_app.command("activate")
@friendly_errors
def account_activate(account: str, user: UserOption = DEFAULT_USER) -> None:
    """Mark an account active again (after a re-login); its waiting tasks resume."""
    db, user_id = open_as(user)

    def work(s: Any) -> None:
        found = storage.account_find(s, account, user_id=user_id)
        storage.account_set_status(s, found.id, "active", now=now())

    db.write(work)
    out.print(f"account {account} active")


@platform_app.command("limit")
@friendly_errors
def platform_limit(
    name: str,
    max_running: Annotated[
        int | None, typer.Argument(help="Most publishes at once; omit for none.")
    ] = None,
) -> None:
    """Set how many publishes may run at once on a platform, across every worker."""
    db = open_db(Settings.from_env())
    db.write(lambda s: storage.platform_set_limit(s, name, max_running))
    out.print(f"{name}: {'no limit' if max_running is None else f'at most {max_running} at once'}")


# -- users --------------------------------------------------------------------------------


@user_app.command("create")
@friendly_errors
def user_create(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="May see and act on everything.")] = False,
    password: Annotated[
        str | None, typer.Option(envvar="CONTENTHUB_NEW_PASSWORD", help="Asked for when not given.")
    ] = None,
) -> None:
    """Create a user (passwords are stored as argon2 hashes)."""
    from contenthub.services import users

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    db = open_db(Settings.from_env())
    user_id = db.write(lambda s: users.user_create(s, name, password, admin=admin, now=now()))
    out.print(f"user {user_id} ({name}) created{' as admin' if admin else ''}")


@user_app.command("token")
@friendly_errors
def user_token(
    name: str,
    label: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
) -> None:
    """Print a new API token for a user; it is shown this once."""
    from contenthub.services import users

    db = open_db(Settings.from_env())
    user_id = resolve_user(db, name)
    _, plaintext = db.write(lambda s: users.token_create(s, user_id, label, now=now()))
    out.print(plaintext, highlight=False)


# -- articles -----------------------------------------------------------------------------


@article_app.command("add")
@friendly_errors
def article_add(
    file: Annotated[str, typer.Argument(help="A Markdown file, or - for standard input.")],
    title: Annotated[str | None, typer.Option(help="Title, if there is no '# ' line.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Repeat for many.")] = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Store an article; publish it later by its id."""
    from contenthub.services.articles import check_content
    from contenthub.services.publishing import parse_markdown

    text = sys.stdin.read() if file == "-" else None
    draft = (
        parse_markdown(text, source="stdin", title=title, tags=tag or ())
        if text is not None
        else read_markdown(Path(file), title=title, tags=tag or ())
    )
    check_content(draft.title, draft.body, draft.tags)
    db, user_id = open_as(user)
    article_id = db.write(
        lambda s: storage.article_create(
            s, user_id=user_id, title=draft.title, body=draft.body, tags=draft.tags, now=now()
        )
    )
    out.print(f"article {article_id} added: {draft.title}")


@article_app.command("list")
@friendly_errors
def article_list(
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Your newest articles."""
    from contenthub.services.articles import article_list as list_articles

    db, user_id = open_as(user)
    items, total = db.read(lambda s: list_articles(s, scope=user_id, limit=limit, offset=0))
    rows = [
        {"id": a.id, "title": a.title, "tags": a.tags, "updated_at": a.updated_at.isoformat()}
        for a in items
    ]
    if as_json:
        out.print_json(json.dumps({"items": rows, "total": total}))
        return
    table = Table("id", "title", "tags", "updated")
    for r in rows:
        table.add_row(str(r["id"]), r["title"], ", ".join(r["tags"]), r["updated_at"][:16])
    out.print(table)


@article_app.command("show")
@friendly_errors
def article_show(
    article_id: int, user: UserOption = DEFAULT_USER, as_json: JsonOption = False
) -> None:
    """One article, with its Markdown body."""
    from contenthub.services.articles import article_get

    db, user_id = open_as(user)
    a = db.read(lambda s: article_get(s, article_id, scope=user_id))
    if as_json:
        out.print_json(json.dumps({"id": a.id, "title": a.title, "body": a.body, "tags": a.tags}))
        return
    out.print(f"[bold]{a.title}[/bold]  {' '.join('#' + t for t in a.tags)}")
    out.print(a.body, markup=False, highlight=False)


# -- account health -----------------------------------------------------------------------


@account_app.command("check")
@friendly_errors
def account_check(account: str, user: UserOption = DEFAULT_USER) -> None:
    """Verify an account's login now; an expired one holds its tasks until it logs in again."""
    from contenthub.services import accounts

    settings = Settings.from_env()
    db = open_db(settings)
    user_id = resolve_user(db, user)
    found = db.read(lambda s: storage.account_find(s, account, user_id=user_id))
    box = SecretBox.from_env(settings.data_dir)
    result = asyncio.run(accounts.account_verify(db, found, box))
    out.print(
        f"{found.name}: {result.status}"
        + (f" as {result.identity}" if result.identity else "")
        + (f" ({result.message})" if result.message else "")
    )
    if result.status != "active":
        raise typer.Exit(1)


@account_app.command("login")
@friendly_errors
def account_login(
    account: str,
    cookies: Annotated[
        Path,
        typer.Option(
            help="A Playwright storage-state file, a JSON cookie list or a Netscape cookies.txt."
        ),
    ],
    user: UserOption = DEFAULT_USER,
) -> None:
    """Import a browser login (cookies) into an account; it becomes active again."""
    from contenthub.services import accounts

    settings = Settings.from_env()
    credentials = accounts.read_cookie_file(cookies)
    db = open_db(settings)
    user_id = resolve_user(db, user)
    box = SecretBox.from_env(settings.data_dir)

    def work(s: Any) -> str:
        found = storage.account_find(s, account, user_id=user_id)
        accounts.account_update(
            s, found.id, scope=user_id, now=now(), box=box, credentials=credentials, status="active"
        )
        return found.name

    name = db.write(work)
    count = len(credentials["storage_state"]["cookies"])
    out.print(f"{name}: {count} cookies stored (encrypted); account active")


@app.command()
@friendly_errors
def stats(
    since: Annotated[
        str | None, typer.Option(help="Start of the range (default: 7 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End of the range (default: now).")] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account (id or name).")] = None,
    timezone: TimezoneOption = None,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Your tasks by status now, and per platform and account over a time range."""
    from contenthub.services.stats import stats_report

    db, user_id = open_as(user)
    zone = zone_named(timezone)
    end = _cli_time(until, "until", zone) or now()
    start = _cli_time(since, "since", zone) or end - timedelta(days=7)

    def work(s: Any) -> tuple[dict[str, int], dict[str, Any]]:
        account_id = storage.account_find(s, account, user_id=user_id).id if account else None
        report = stats_report(
            s,
            scope=user_id,
            since=start,
            until=end,
            now=now(),
            platform=platform,
            account_id=account_id,
        )
        return storage.task_status_counts(s, user_id=user_id), report

    counts, report = db.read(work)
    if as_json:
        out.print_json(json.dumps({"by_status_now": counts, **report}, default=_iso))
        return
    table = Table("status", "tasks")
    for status, count in sorted(counts.items()):
        table.add_row(status, str(count))
    out.print(table)
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    out.print(
        f"ended between {report['since']:%Y-%m-%d %H:%M} and {report['until']:%Y-%m-%d %H:%M} UTC"
    )
    table = Table(
        "platform / account", "succeeded", "failed", "cancelled", "success", "p50 s", "p95 s"
    )
    groups = [("all", report["overall"])]
    groups += [(g["platform"], g) for g in report["platforms"]]
    groups += [(f"  {g['account_name']}", g) for g in report["accounts"]]
    for label, g in groups:
        rate = "" if g["success_rate"] is None else f"{g['success_rate']:.0%}"
        table.add_row(
            label,
            *(str(g["by_status"][k]) for k in ("succeeded", "failed", "cancelled")),
            rate,
            str(g["duration_p50_seconds"] or ""),
            str(g["duration_p95_seconds"] or ""),
        )
    out.print(table)
    for reason in report["overall"]["failure_reasons"]:
        out.print(f"  {reason['count']:>5} × {reason['reason']}", highlight=False)
    queue = report["queue"]
    waited = queue["oldest_wait_seconds"]
    out.print(
        f"queue: {queue['depth']} waiting" + (f", oldest for {waited:.0f} s" if waited else "")
    )


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


# -- publish pool -------------------------------------------------------------------------


def _account_ids(db: Database, refs: list[str] | None, user_id: int) -> list[int] | None:
    if not refs:
        return None

    def work(s: Any) -> list[int]:
        ids = []
        for ref in refs:
            try:
                ids.append(storage.account_find(s, ref, user_id=user_id).id)
            except NotFound:
                raise InputError("account", f"no account {ref!r} for this user") from None
        return ids

    return db.read(work)


def _pool_table(items: list[dict[str, Any]]) -> Table:
    table = Table("id", "content", "status", "priority", "scheduled at (UTC)", "retries", "note")
    for e in items:
        table.add_row(
            str(e["id"]),
            str(e["content_id"]),
            e["status"],
            str(e["priority"]),
            e["scheduled_at"].strftime("%Y-%m-%d %H:%M:%S"),
            f"{e['retry_count']}/{e['max_retries']}",
            (e["last_error"] or "")[:60],
        )
    return table


@pool_app.command("add")
@friendly_errors
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
    from contenthub.services import pool

    db, user_id = open_as(user)
    when = _cli_time(scheduled_at, "scheduled_at", zone_named(timezone))
    account_ids = _account_ids(db, account, user_id)
    entry = db.write(
        lambda s: pool.pool_add(
            s,
            user_id=user_id,
            content_id=content_id,
            now=now(),
            priority=priority,
            scheduled_at=when,
            account_ids=account_ids,
            max_retries=max_retries,
        )
    )
    if as_json:
        out.print_json(json.dumps(entry, default=_iso))
        return
    out.print(
        f"pool entry {entry['id']} added: article {content_id}, priority {entry['priority']}, "
        f"due {entry['scheduled_at']:%Y-%m-%d %H:%M:%S} UTC"
    )


@pool_app.command("list")
@friendly_errors
def pool_list(
    status: Annotated[list[str] | None, typer.Option("--status", help="Only these.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """Pool entries in release order: most urgent first, then earliest."""
    from contenthub.services import pool

    db, user_id = open_as(user)
    items, total = db.read(
        lambda s: pool.pool_list(
            s, scope=user_id, statuses=status or (), limit=limit, offset=offset
        )
    )
    if as_json:
        out.print_json(json.dumps({"items": items, "total": total}, default=_iso))
        return
    out.print(_pool_table(items))


@pool_app.command("stats")
@friendly_errors
def pool_stats(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """How many entries are pending, publishing, published, failed."""
    from contenthub.services import pool

    db, user_id = open_as(user)
    counts = db.read(lambda s: pool.pool_stats(s, scope=user_id))
    if as_json:
        out.print_json(json.dumps(counts))
        return
    table = Table("status", "entries")
    for status, count in counts.items():
        table.add_row(status, str(count))
    out.print(table)


@pool_app.command("cancel")
@friendly_errors
def pool_cancel(entry_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Take an entry out of the pool (its running publishes are asked to stop)."""
    from contenthub.services import pool

    db, user_id = open_as(user)
    db.write(lambda s: pool.pool_cancel(s, entry_id, scope=user_id, now=now()))
    out.print(f"pool entry {entry_id} cancelled")


@pool_app.command("reschedule")
@friendly_errors
def pool_reschedule(
    entry_id: int,
    scheduled_at: Annotated[str | None, typer.Option(help="New time.")] = None,
    priority: Annotated[int | None, typer.Option(help="New priority, 1 … 10.")] = None,
    timezone: TimezoneOption = None,
    user: UserOption = DEFAULT_USER,
) -> None:
    """Move a pending entry in time or in urgency."""
    from contenthub.services import pool

    db, user_id = open_as(user)
    when = _cli_time(scheduled_at, "scheduled_at", zone_named(timezone))
    entry = db.write(
        lambda s: pool.pool_reschedule(
            s, entry_id, scope=user_id, now=now(), scheduled_at=when, priority=priority
        )
    )
    out.print(
        f"pool entry {entry_id}: priority {entry['priority']}, "
        f"due {entry['scheduled_at']:%Y-%m-%d %H:%M:%S} UTC"
    )


# -- scheduler ----------------------------------------------------------------------------


def _ask(value: Any, field: str, question: str, **prompt: Any) -> Any:
    """A flag's value, or the answer to a prompt (as the seeds' CLI asks)."""
    if value is not None:
        return value
    try:
        return typer.prompt(question, **prompt)
    except click.exceptions.Abort:
        raise InputError(field, f"missing; pass --{field.replace('_', '-')}") from None


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError("param", f"{pair!r} is not KEY=VALUE")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _job_line(job: dict[str, Any]) -> str:
    every = (
        f"every {job['interval_seconds']} s"
        if job["schedule_type"] == "interval"
        else f"cron '{job['cron']}' ({job['timezone']})"
    )
    return f"job {job['id']} '{job['name']}': {job['job_type']}, {every}"


@scheduler_app.command("list")
@friendly_errors
def scheduler_list(user: UserOption = DEFAULT_USER, as_json: JsonOption = False) -> None:
    """Your scheduled jobs."""
    from contenthub.scheduler import jobs

    db, user_id = open_as(user)
    rows = db.read(lambda s: jobs.job_list(s, scope=user_id))
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


@scheduler_app.command("create")
@friendly_errors
def scheduler_create(
    name: Annotated[str | None, typer.Option(help="What the job is called.")] = None,
    job_type: Annotated[
        str | None, typer.Option("--type", help="publishing, account_check or cleanup.")
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
    from contenthub.scheduler import Schedule, jobs

    name = _ask(name, "name", "Job name")
    job_type = _ask(job_type, "type", "Job type (publishing / account_check / cleanup)")
    jobs.check_params(job_type, {})  # an unknown type is refused before more questions
    schedule_type = _ask(schedule_type, "schedule_type", "Schedule type (interval / cron)")
    if schedule_type == "interval":
        interval = _ask(interval, "interval", "Seconds between runs", type=int)
    elif schedule_type == "cron":
        cron = _ask(cron, "cron", "Cron expression (min hour day month weekday)")
    schedule = Schedule(schedule_type, interval, cron, job_tz)
    start = _cli_time(first_run, "first_run", zone_named(timezone))
    db, user_id = open_as(user)
    is_admin = db.read(lambda s: storage.user_by_name(s, user).role) == "admin"
    job = db.write(
        lambda s: jobs.job_create(
            s,
            user_id=user_id,
            is_admin=is_admin,
            name=name,
            job_type=job_type,
            schedule=schedule,
            now=now(),
            params=_parse_params(param or []),
            enabled=not disabled,
            next_run=start,
        )
    )
    if as_json:
        out.print_json(json.dumps(job, default=_iso))
        return
    out.print(f"{_job_line(job)}; first run {job['next_run']:%Y-%m-%d %H:%M:%S} UTC")


@scheduler_app.command("trigger")
@friendly_errors
def scheduler_trigger(
    job_id: int, user: UserOption = DEFAULT_USER, as_json: JsonOption = False
) -> None:
    """Run a job now, in this process, and show its result."""
    from contenthub.scheduler import Scheduler

    settings = Settings.from_env()
    db = open_db(settings)
    user_id = resolve_user(db, user)
    scheduler = Scheduler(
        db, worker=f"cli:{os.getpid()}", secrets=SecretBox.from_env(settings.data_dir)
    )
    run = scheduler.trigger(job_id, scope=user_id, now=now())
    if as_json:
        out.print_json(json.dumps(run, default=_iso))
    elif run["status"] == "succeeded":
        out.print(run["result"]["message"], highlight=False)
    if run["status"] != "succeeded":
        err.print(f"[red]run {run['id']} failed:[/red] {run['error']}", highlight=False)
        raise typer.Exit(1)


@scheduler_app.command("history")
@friendly_errors
def scheduler_history(
    job_id: int,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    user: UserOption = DEFAULT_USER,
    as_json: JsonOption = False,
) -> None:
    """A job's runs, newest first."""
    from contenthub.scheduler import jobs

    db, user_id = open_as(user)
    runs = db.read(lambda s: jobs.job_history(s, job_id, scope=user_id, limit=limit))
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
    from contenthub.scheduler import jobs

    db, user_id = open_as(user)
    job = db.write(
        lambda s: jobs.job_update(s, job_id, scope=user_id, now=now(), changes={"enabled": enabled})
    )
    out.print(f"{_job_line(job)}: {'enabled' if enabled else 'disabled'}")


@scheduler_app.command("enable")
@friendly_errors
def scheduler_enable(job_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Resume a job (a run missed meanwhile happens once, at once)."""
    _set_enabled(job_id, user, True)


@scheduler_app.command("disable")
@friendly_errors
def scheduler_disable(job_id: int, user: UserOption = DEFAULT_USER) -> None:
    """Pause a job."""
    _set_enabled(job_id, user, False)


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
