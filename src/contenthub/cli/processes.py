"""Running contenthub: serve, api, worker, sandbox and the schema."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from contenthub.cli.context import (
    DEFAULT_USER,
    err,
    open_db,
    out,
    resolve_principal,
)
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.logs import setup_logging
from contenthub.platforms import outbound
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts
from contenthub.storage import migrate
from contenthub.storage.db import Database
from contenthub.supervisor import (
    SUPERVISOR_PID,
    Supervisor,
    follow_parent,
    inherited_fd,
    listening_sockets,
)
from contenthub.worker import Worker, WorkerConfig

commands = typer.Typer()  # `contenthub serve`, `api`, `worker`, `sandbox`, at the root

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def configure_outbound(settings: Settings, *extra: str) -> None:
    """The process's outbound policy from the settings (a bad entry stops the start), plus
    what this command itself serves (the demo sandbox)."""
    outbound.configure(outbound.policy_from_settings([*settings.outbound_allow, *extra]))


def make_worker(settings: Settings, db: Database, slots: int) -> Worker:
    config = WorkerConfig(
        slots=slots,
        lease_seconds=settings.lease_seconds,
        fast_rescue=settings.fast_rescue,
        poll_seconds=settings.poll_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        browser=settings.browser_pool(),
    )
    return Worker(db, config, secrets=SecretBox.from_env(settings.data_dir))


def exit_if_unrecorded(worker: Worker) -> None:
    """A worker (its own process's or `serve`'s) that stopped with outcomes it could not record
    ends the command with status 1: the stop was not clean (decisions §40)."""
    if worker.completer.unrecorded:
        raise typer.Exit(1)


ProcessesOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Processes to start and supervise (restarted when they die); 1: this process.",
    ),
]


def _supervised() -> bool:
    """Started by a ``--processes`` supervisor: it upgraded the schema and holds the port."""
    return bool(os.environ.get(SUPERVISOR_PID))


def _start() -> Settings:
    """What every running command does first: follow a supervisor, log, read the settings."""
    follow_parent()
    setup_logging()
    return Settings.from_env()


def supervise(commands: list[list[str]], *, listen: Sequence[socket.socket] = ()) -> None:
    """Run ``commands`` (``contenthub``'s arguments) as supervised children until
    SIGTERM/SIGINT; exits with their end. What the children run is imported here first, once:
    they are forked from this process (contenthub.supervisor)."""
    from contenthub.logs import supervisor_sink

    _import_for(commands)

    sink = supervisor_sink()  # before the children's environment is copied: it sets their format
    raise typer.Exit(Supervisor(commands, listen=listen, sink=sink).run())


def _import_for(commands: list[list[str]]) -> None:
    """The modules ``commands`` import when they start (the worker's are imported already)."""
    names = {command[0] for command in commands}
    if names & {"serve", "api"}:
        import uvicorn  # noqa: F401

        import contenthub.api.app
    if "sandbox" in names:
        import contenthub.sandbox.server  # noqa: F401


def settle_heap() -> None:
    """For a process about to serve for days: what start-up built (modules, the app, its
    routes and models) is kept out of every later garbage collection, and the young
    generation is collected every 10,000 allocations instead of 700 (decisions §35).

    Measured under 50 clients publishing through one ``serve``, the collector's passes over
    that start-up heap were a fifth of the CPU a request cost and most of its slowest answers;
    objects still go the moment nothing refers to them (reference counting), only cycles
    wait for the collector."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _uvicorn(app: Any, host: str, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return server


def _api_sockets() -> list[socket.socket] | None:
    """The socket a supervisor passed down, or None to bind our own."""
    fd = inherited_fd()
    return None if fd is None else [socket.socket(fileno=fd)]


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
    settle_heap()

    def stop() -> None:
        worker.request_stop()
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(
            servers[0].serve(sockets=_api_sockets()),
            *(server.serve() for server in servers[1:]),
            worker.run(install_signals=False),
        )
    finally:
        db.dispose()  # a read still retrying a database that has gone gives up: we can exit
    exit_if_unrecorded(worker)


@commands.command()
def serve(
    slots: Annotated[int, typer.Option(min=1, help="Publishes run at once (per process).")] = 4,
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8000,
    processes: ProcessesOption = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Also run the platform sandbox and bind a demo account per platform."
        ),
    ] = False,
    sandbox_port: Annotated[int, typer.Option(min=1, max=65535)] = 8900,
) -> None:
    """Upgrade the database and run the API and the workers (one process for one machine)."""
    settings = _start()
    # --demo: the sandbox this process serves on loopback is the one non-public host allowed.
    configure_outbound(settings, *([f"127.0.0.1:{sandbox_port}"] if demo else []))
    supervised = _supervised()
    db = open_db(settings, upgrade=not supervised, pool_size=slots + 24, adapters_now=True)
    if supervised:
        asyncio.run(serve_all(settings, db, host=host, port=port, slots=slots))
        return
    me = resolve_principal(db, DEFAULT_USER)
    where = db.engine.url.render_as_string(hide_password=True)
    err.print(f"contenthub: API on http://{host}:{port}/api/v1 · database {where}")
    if demo:
        names = accounts.bind_demo_accounts(
            db,
            me,
            f"http://127.0.0.1:{sandbox_port}",
            SecretBox.from_env(settings.data_dir),
            now=utcnow(),
        )
        err.print(
            f"demo: sandbox on http://127.0.0.1:{sandbox_port}; accounts "
            + ", ".join(["local-site", *names])
        )
    if processes == 1 and not demo:
        asyncio.run(serve_all(settings, db, host=host, port=port, slots=slots))
        return
    db.dispose()
    # Several processes on one port, a socket each; the demo sandbox is a process of its own
    # (two uvicorn servers in one process would log every lifecycle line twice).
    listen = listening_sockets(host, port, processes)
    one = ["serve", "--slots", str(slots), "--host", host, "--port", str(port)]
    if demo:
        one += ["--demo", "--sandbox-port", str(sandbox_port)]
    commands = [one] * processes
    if demo:
        commands.append(["sandbox", "--port", str(sandbox_port)])
    supervise(commands, listen=listen)


@commands.command()
def sandbox(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8900,
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback.")] = "127.0.0.1",
) -> None:
    """Run the platform sandbox: every supported platform simulated locally, with faults."""
    from contenthub.sandbox import server
    from contenthub.sandbox.cli import sandbox as run_sandbox

    if _supervised():  # serve --demo's: its banner was printed by serve, its logs are quiet
        follow_parent()
        server.run(host=host, port=port)
        return
    run_sandbox(port=port, host=host)


@commands.command()
def api(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API.")] = 8000,
    processes: ProcessesOption = 2,
) -> None:
    """Run only the API, in several processes; publishes run in `contenthub worker`s."""
    settings = _start()
    configure_outbound(settings)  # each API process reads the same setting again
    if _supervised():
        asyncio.run(_api_only(settings, host, port))
        return
    open_db(settings, upgrade=True).dispose()
    err.print(f"contenthub: API on http://{host}:{port}/api/v1 in {processes} process(es)")
    if processes == 1:
        asyncio.run(_api_only(settings, host, port))
        return
    one = ["api", "--host", host, "--port", str(port), "--processes", "1"]
    supervise([one] * processes, listen=listening_sockets(host, port, processes))


async def _api_only(settings: Settings, host: str, port: int) -> None:
    import signal

    from contenthub.api.app import create_app

    server = _uvicorn(create_app(settings), host, port)
    settle_heap()

    def stop() -> None:
        server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    await server.serve(sockets=_api_sockets())


@commands.command()
def worker(
    slots: Annotated[int, typer.Option(min=1, help="Publishes run at once (per process).")] = 4,
    processes: ProcessesOption = 1,
) -> None:
    """Run worker processes against the same database (SIGTERM hands running publishes back)."""
    settings = _start()
    configure_outbound(settings)
    if processes > 1 and not _supervised():
        open_db(settings, upgrade=True).dispose()
        one = ["worker", "--slots", str(slots)]
        supervise([one] * processes)
        return
    db = open_db(settings, upgrade=not _supervised(), pool_size=slots + 4, adapters_now=True)
    runner = make_worker(settings, db, slots)
    settle_heap()
    asyncio.run(runner.run())
    exit_if_unrecorded(runner)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema to the newest version."""
    settings = Settings.from_env()
    db = Database.connect(settings.database_url, session_url=settings.database_session_url)
    with db.session_engine() as engine:
        migrate.upgrade(engine)
    out.print(f"database at revision {migrate.current_revision(db.engine)}")
