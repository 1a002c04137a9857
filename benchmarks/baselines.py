"""Baselines: how fast RQ, procrastinate and pgqueuer drain no-op jobs on this machine.

Each system is run the way it is deployed: jobs are enqueued through the library's client
API, then drained by N worker processes started from the library's own CLI.  Every run uses
queue state of its own (a unique Redis queue name, or a fresh PostgreSQL database), is
bounded by a hard timeout, and removes everything it created (Redis keys, databases,
processes, log files) even when it fails.

The worker processes import this module by the name ``baselines`` (this directory is put
on their PYTHONPATH), so the module's top level must stay cheap: RQ imports the job
function afresh in every forked work horse.  Only standard-library modules that the RQ
worker has already loaded are imported at the top; the queue libraries are imported
inside the functions that use them.

Try it alone::

    cd /work/main && .venv/bin/python benchmarks/baselines.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import procrastinate
    from pgqueuer import PgQueuer
    from pgqueuer.db import Driver as PgqDriver
    from pgqueuer.models import Job as PgqJob
    from redis import Redis

BENCH_DIR = Path(__file__).resolve().parent
PG_ADMIN_DSN = os.environ.get("BASELINES_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BASELINES_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULT_TIMEOUT_S = 300.0
STOP_GRACE_S = 10.0
POLL_S = 0.05

_PROCRASTINATE_DSN_ENV = "BASELINES_PROCRASTINATE_DSN"
_PROCRASTINATE_TASK = "baselines_noop"
_PGQUEUER_DSN_ENV = "BASELINES_PGQUEUER_DSN"
_PGQUEUER_DRIVER_ENV = "BASELINES_PGQUEUER_DRIVER"
_PGQUEUER_ENTRYPOINT = "baselines_noop"

T = TypeVar("T")


@dataclass(frozen=True)
class BaselineResult:
    system: str  # "rq", "procrastinate", "pgqueuer"
    processes: int
    jobs: int
    enqueue_per_s: float  # jobs enqueued per second (see each run_* for the API used)
    drain_per_s: float  # jobs / (first job started .. last job finished)
    note: str  # short note on how it was measured


class BaselineError(RuntimeError):
    """A baseline run failed or timed out (everything it started has been cleaned up)."""


# --------------------------------------------------------------------------- job functions


def noop() -> None:
    """The RQ job: does nothing (imported by the work horses as ``baselines.noop``)."""
    return None


def _build_procrastinate_app(dsn: str) -> procrastinate.App:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name=_PROCRASTINATE_TASK)
    async def _noop() -> None:
        return None

    return app


def __getattr__(name: str) -> Any:
    # ``procrastinate --app baselines.procrastinate_app`` loads the app lazily from here, so
    # that importing this module (as every RQ work horse does) does not import procrastinate.
    if name == "procrastinate_app":
        app = _build_procrastinate_app(os.environ[_PROCRASTINATE_DSN_ENV])
        globals()[name] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _asyncpg_params(dsn: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    params: dict[str, Any] = {
        "host": info.get("host"),
        "port": int(str(info["port"])) if info.get("port") else None,
        "user": info.get("user"),
        "password": info.get("password"),
        "database": info.get("dbname"),
    }
    return {key: value for key, value in params.items() if value is not None}


@contextlib.asynccontextmanager
async def _pgqueuer_driver(dsn: str, driver: str) -> AsyncIterator[PgqDriver]:
    """One connection wrapped in pgqueuer's asyncpg or psycopg driver."""
    if driver == "asyncpg":
        import asyncpg
        from pgqueuer.db import AsyncpgDriver

        conn = await asyncpg.connect(**_asyncpg_params(dsn))
        try:
            yield AsyncpgDriver(conn)
        finally:
            await conn.close()
    elif driver == "psycopg":
        import psycopg
        from pgqueuer.db import PsycopgDriver

        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as pconn:
            yield PsycopgDriver(pconn)
    else:
        raise ValueError(f"unknown pgqueuer driver {driver!r}")


def _default_pgqueuer_driver() -> str:
    """asyncpg (pgqueuer's primary driver) when installed, else psycopg."""
    import importlib.util

    return "asyncpg" if importlib.util.find_spec("asyncpg") is not None else "psycopg"


@contextlib.asynccontextmanager
async def pgqueuer_factory() -> AsyncIterator[PgQueuer]:
    """Factory for ``pgq run baselines:pgqueuer_factory`` (one connection, as in its README)."""
    from pgqueuer import PgQueuer

    dsn = os.environ[_PGQUEUER_DSN_ENV]
    driver_name = os.environ.get(_PGQUEUER_DRIVER_ENV) or _default_pgqueuer_driver()
    async with _pgqueuer_driver(dsn, driver_name) as driver:
        pgq = PgQueuer(driver)

        @pgq.entrypoint(_PGQUEUER_ENTRYPOINT)
        async def _noop(job: PgqJob) -> None:
            return None

        yield pgq


def pgqueuer_worker() -> None:
    """One pgqueuer worker process: ``pgq run baselines:pgqueuer_factory --mode drain``.

    This calls the function behind the ``pgq run`` console script with the CLI's defaults
    (uvloop, INFO logging, batch size 10, dequeue timeout 30 s, no restart) and
    ``mode=drain``.  The console script itself cannot be used here: with typer 0.29 its
    ``--log-level`` parser hands ``setup_fancy_logger`` a str instead of a ``LogLevel``
    and every ``pgq run`` dies with ``AttributeError: 'str' object has no attribute 'name'``.
    """
    from pgqueuer.adapters.cli import cli
    from pgqueuer.core.logconfig import LogLevel
    from pgqueuer.domain.types import QueueExecutionMode

    cli.run(
        factory_fn="baselines:pgqueuer_factory",
        dequeue_timeout=30.0,
        batch_size=10,
        restart_delay=5.0,
        restart_on_failure=False,
        log_level=LogLevel.INFO,
        mode=QueueExecutionMode.drain,
        max_concurrent_tasks=None,
        shutdown_on_listener_failure=False,
    )


# --------------------------------------------------------------------------- helpers


def _check_args(processes: int, jobs: int) -> None:
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")


def _bin(name: str) -> str:
    """A console script of the running virtualenv (falling back to PATH)."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BaselineError(f"console script {name!r} not found next to {sys.executable}")
    return found


def _worker_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    previous = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(BENCH_DIR) + (os.pathsep + previous if previous else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _remaining(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise BaselineError(f"timed out: {what}")
    return left


def _run_async(coro: Coroutine[Any, Any, T], deadline: float, what: str) -> T:
    async def bounded() -> T:
        try:
            return await asyncio.wait_for(coro, _remaining(deadline, what))
        except TimeoutError as exc:
            raise BaselineError(f"timed out: {what}") from exc

    return asyncio.run(bounded())


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace")


class _Workers:
    """Worker processes started by one run.

    Each one is started in a session (and process group) of its own, so that stopping it
    also reaches the children it forked itself (RQ's work horses) and nothing else.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.signalled: set[int] = set()

    def start(self, argv: Sequence[str], env: dict[str, str]) -> None:
        log = self.log_dir / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(argv),
                cwd=BENCH_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.logs.append(log)

    def running(self) -> int:
        return sum(proc.poll() is None for proc in self.procs)

    def wait_exit(self, deadline: float, what: str) -> None:
        while self.running():
            if time.monotonic() >= deadline:
                raise BaselineError(f"timed out waiting for {what}{self.describe()}")
            time.sleep(POLL_S)

    def check_exit_codes(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            code = proc.poll()
            if code not in (None, 0) and proc.pid not in self.signalled:
                raise BaselineError(
                    f"worker pid {proc.pid} exited with {code}; log tail:\n{_tail(log)}"
                )

    def describe(self) -> str:
        if not self.logs:
            return ""
        return f"; last worker log tail:\n{_tail(self.logs[-1])}"

    def stop(self) -> None:
        """SIGTERM the workers still running, SIGKILL their process groups after a grace."""
        for proc in self.procs:
            if proc.poll() is None:
                self.signalled.add(proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + STOP_GRACE_S
        while self.running() and time.monotonic() < end:
            time.sleep(POLL_S)
        for proc in self.procs:
            # poll() is None: the leader is not reaped yet, so its pid (= pgid) is still ours.
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=STOP_GRACE_S)


@contextlib.contextmanager
def _scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _dsn_for(dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(PG_ADMIN_DSN, dbname=dbname, connect_timeout=10)


def _create_database(dbname: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def _drop_database(dbname: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
    except Exception as exc:  # cleanup must not hide the run's own error
        print(f"baselines: could not drop database {dbname}: {exc}", file=sys.stderr)


def _query_row(dsn: str, query: str) -> tuple[Any, ...]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    if row is None:
        raise BaselineError(f"no row from {query!r}")
    return tuple(row)


def _span_rate(jobs: int, first: datetime | None, last: datetime | None, what: str) -> float:
    if first is None or last is None:
        raise BaselineError(f"{what}: no start/finish timestamps recorded")
    span = (last - first).total_seconds()
    if span <= 0:
        raise BaselineError(f"{what}: non-positive drain span {span!r}")
    return jobs / span


# --------------------------------------------------------------------------- RQ


def run_rq(processes: int, jobs: int, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> BaselineResult:
    """Enqueue ``jobs`` no-op jobs into a fresh Redis queue; drain with N ``rq worker --burst``.

    Enqueue: RQ's documented batch API, ``Queue.enqueue_many`` (one Redis pipeline), timed
    including ``Queue.prepare_data``.  Workers: the ``rq`` CLI, default worker class
    (``rq.Worker``, which forks a work horse per job), ``--burst`` so they exit once the
    queue is empty.  Drain: from the job hashes, min(started_at) .. max(ended_at).
    """
    _check_args(processes, jobs)
    from redis import Redis
    from rq import Queue
    from rq.utils import utcparse

    deadline = time.monotonic() + timeout_s
    qname = f"baselines-{uuid.uuid4().hex[:12]}"
    worker_names = [f"{qname}-w{i}" for i in range(processes)]
    job_ids = [f"{qname}-j{i}" for i in range(jobs)]
    redis = Redis.from_url(REDIS_URL, socket_timeout=30, socket_connect_timeout=10)
    try:
        with _scratch_dir("baselines-rq-") as log_dir:
            workers = _Workers(log_dir)
            try:
                queue = Queue(qname, connection=redis)
                t0 = time.perf_counter()
                queue.enqueue_many(
                    [Queue.prepare_data("baselines.noop", job_id=job_id) for job_id in job_ids]
                )
                enqueue_s = time.perf_counter() - t0

                env = _worker_env({})
                rq_bin = _bin("rq")
                wall0 = time.monotonic()
                for name in worker_names:
                    workers.start(
                        [rq_bin, "worker", "--burst", "--url", REDIS_URL, "--name", name, qname],
                        env,
                    )
                workers.wait_exit(deadline, "rq workers to finish the queue")
                wall_s = time.monotonic() - wall0
                workers.check_exit_codes()

                pipe = redis.pipeline(transaction=False)
                for job_id in job_ids:
                    pipe.hmget(f"rq:job:{job_id}", ["status", "started_at", "ended_at"])
                rows: list[list[bytes | None]] = pipe.execute()
            finally:
                workers.stop()
    finally:
        _rq_cleanup(redis, qname, worker_names)
        redis.close()

    finished = [row for row in rows if row[0] == b"finished" and row[1] and row[2]]
    if len(finished) != jobs:
        statuses = sorted({(row[0] or b"missing").decode() for row in rows})
        raise BaselineError(f"rq: {len(finished)}/{jobs} jobs finished (statuses: {statuses})")
    first = min(utcparse(row[1].decode()) for row in finished if row[1])
    last = max(utcparse(row[2].decode()) for row in finished if row[2])
    return BaselineResult(
        system="rq",
        processes=processes,
        jobs=jobs,
        enqueue_per_s=jobs / enqueue_s,
        drain_per_s=_span_rate(jobs, first, last, "rq"),
        note=(
            f"enqueue_many; {processes}x `rq worker --burst` (fork per job); drain from job "
            f"hashes started_at..ended_at; wall incl. worker start {jobs / wall_s:.0f}/s"
        ),
    )


def _rq_cleanup(redis: Redis, qname: str, worker_names: Sequence[str]) -> None:
    """Delete every key of this run: queue, registries, job/result/execution keys, workers."""
    try:
        batch: list[bytes] = []
        for key in redis.scan_iter(match=f"*{qname}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                redis.delete(*batch)
                batch.clear()
        if batch:
            redis.delete(*batch)
        redis.srem("rq:queues", f"rq:queue:{qname}")
        if worker_names:
            redis.srem("rq:workers", *[f"rq:worker:{name}" for name in worker_names])
    except Exception as exc:  # cleanup must not hide the run's own error
        print(f"baselines: rq cleanup of {qname} failed: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------- procrastinate


async def _procrastinate_prepare(dsn: str, jobs: int) -> float:
    app = _build_procrastinate_app(dsn)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        task = app.tasks[_PROCRASTINATE_TASK]
        t0 = time.perf_counter()
        await task.batch_defer_async(*({} for _ in range(jobs)))
        return time.perf_counter() - t0


def run_procrastinate(
    processes: int, jobs: int, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> BaselineResult:
    """Defer ``jobs`` no-op jobs into a fresh database; drain with N ``procrastinate worker``.

    Enqueue: procrastinate's documented batch API, ``Task.batch_defer_async`` (one INSERT).
    Workers: ``procrastinate --app baselines.procrastinate_app worker --one-shot`` (one-shot =
    ``wait=False``: exit when no job is left), default concurrency 1, psycopg connector; the
    task is an ``async def`` no-op.  Drain: from ``procrastinate_events``, first ``started``
    .. last ``succeeded``.
    """
    _check_args(processes, jobs)
    deadline = time.monotonic() + timeout_s
    dbname = f"bench_procrastinate_{uuid.uuid4().hex[:12]}"
    dsn = _dsn_for(dbname)
    created = False
    try:
        with _scratch_dir("baselines-procrastinate-") as log_dir:
            workers = _Workers(log_dir)
            try:
                _create_database(dbname)
                created = True
                enqueue_s = _run_async(
                    _procrastinate_prepare(dsn, jobs), deadline, "procrastinate schema + defer"
                )
                env = _worker_env({_PROCRASTINATE_DSN_ENV: dsn})
                cli = _bin("procrastinate")
                wall0 = time.monotonic()
                for i in range(processes):
                    workers.start(
                        [
                            cli,
                            "--app",
                            "baselines.procrastinate_app",
                            "worker",
                            "--one-shot",
                            "--name",
                            f"baselines-w{i}",
                        ],
                        env,
                    )
                workers.wait_exit(deadline, "procrastinate workers to finish the queue")
                wall_s = time.monotonic() - wall0
                workers.check_exit_codes()
                succeeded, failed, first, last = _query_row(
                    dsn,
                    "SELECT count(*) FILTER (WHERE type = 'succeeded'),"
                    " count(*) FILTER (WHERE type = 'failed'),"
                    " min(at) FILTER (WHERE type = 'started'),"
                    " max(at) FILTER (WHERE type IN ('succeeded', 'failed'))"
                    " FROM procrastinate_events",
                )
            finally:
                workers.stop()
    finally:
        if created:
            _drop_database(dbname)

    if succeeded != jobs:
        raise BaselineError(f"procrastinate: {succeeded}/{jobs} jobs succeeded, {failed} failed")
    return BaselineResult(
        system="procrastinate",
        processes=processes,
        jobs=jobs,
        enqueue_per_s=jobs / enqueue_s,
        drain_per_s=_span_rate(jobs, first, last, "procrastinate"),
        note=(
            f"batch_defer_async; {processes}x `procrastinate worker --one-shot` (concurrency 1);"
            f" drain from procrastinate_events started..succeeded;"
            f" wall incl. worker start {jobs / wall_s:.0f}/s"
        ),
    )


# --------------------------------------------------------------------------- pgqueuer


async def _pgqueuer_prepare(dsn: str, driver: str, jobs: int) -> float:
    from pgqueuer import Queries

    async with _pgqueuer_driver(dsn, driver) as pgq_driver:
        queries = Queries(pgq_driver)
        await queries.install()
        t0 = time.perf_counter()
        await queries.enqueue([_PGQUEUER_ENTRYPOINT] * jobs, [None] * jobs, [0] * jobs)
        return time.perf_counter() - t0


def run_pgqueuer(
    processes: int,
    jobs: int,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    driver: str | None = None,
) -> BaselineResult | None:
    """Enqueue ``jobs`` no-op jobs into a fresh database; drain with N ``pgq run`` processes.

    Enqueue: pgqueuer's documented batch form of ``Queries.enqueue`` (lists; one statement).
    Workers: the equivalent of ``pgq run baselines:pgqueuer_factory --mode drain`` (see
    `pgqueuer_worker`; default batch size 10, ``async def`` no-op entrypoint); once the
    queue table is empty any worker still running gets SIGTERM (SIGKILL after a grace).
    Drain: from ``pgqueuer_log``, first ``picked`` .. last ``successful``.

    ``driver`` is the database driver of the enqueuer and the workers: "asyncpg" (the one
    pgqueuer's README uses; the default when installed) or "psycopg".  With psycopg,
    pgqueuer's LISTEN loop holds the single connection for up to 1 s whenever no
    notification arrives, which stalls dequeues (about 1 s at the start of every worker).

    Returns None (reason on stderr) if pgqueuer cannot run here.
    """
    _check_args(processes, jobs)
    try:
        import pgqueuer  # noqa: F401
        import psycopg  # noqa: F401  (our own setup and checks use psycopg)
    except ImportError as exc:
        print(f"baselines: pgqueuer skipped: {exc}", file=sys.stderr)
        return None
    driver = driver or _default_pgqueuer_driver()
    if driver == "asyncpg":
        try:
            import asyncpg  # noqa: F401
        except ImportError as exc:
            print(f"baselines: pgqueuer skipped: {exc}", file=sys.stderr)
            return None
    elif driver != "psycopg":
        raise ValueError(f"unknown pgqueuer driver {driver!r}")

    deadline = time.monotonic() + timeout_s
    dbname = f"bench_pgqueuer_{uuid.uuid4().hex[:12]}"
    dsn = _dsn_for(dbname)
    created = False
    try:
        with _scratch_dir("baselines-pgqueuer-") as log_dir:
            workers = _Workers(log_dir)
            try:
                _create_database(dbname)
                created = True
                enqueue_s = _run_async(
                    _pgqueuer_prepare(dsn, driver, jobs), deadline, "pgqueuer install + enqueue"
                )
                env = _worker_env({_PGQUEUER_DSN_ENV: dsn, _PGQUEUER_DRIVER_ENV: driver})
                wall0 = time.monotonic()
                for _ in range(processes):
                    workers.start(
                        [sys.executable, "-c", "import baselines; baselines.pgqueuer_worker()"],
                        env,
                    )
                wall_s = _wait_pgqueuer_done(dsn, workers, deadline) - wall0
                workers.stop()
                workers.check_exit_codes()
                successful, failed, first, last = _query_row(
                    dsn,
                    "SELECT count(*) FILTER (WHERE status = 'successful'),"
                    " count(*) FILTER (WHERE status = 'exception'),"
                    " min(created) FILTER (WHERE status = 'picked'),"
                    " max(created) FILTER (WHERE status IN ('successful', 'exception'))"
                    " FROM pgqueuer_log",
                )
            finally:
                workers.stop()
    finally:
        if created:
            _drop_database(dbname)

    if successful != jobs:
        raise BaselineError(f"pgqueuer: {successful}/{jobs} jobs successful, {failed} failed")
    return BaselineResult(
        system="pgqueuer",
        processes=processes,
        jobs=jobs,
        enqueue_per_s=jobs / enqueue_s,
        drain_per_s=_span_rate(jobs, first, last, "pgqueuer"),
        note=(
            f"enqueue(lists); {processes}x `pgq run --mode drain` equivalent (batch 10,"
            f" {driver});"
            f" drain from pgqueuer_log picked..successful;"
            f" wall incl. worker start {jobs / wall_s:.0f}/s"
        ),
    )


def _wait_pgqueuer_done(dsn: str, workers: _Workers, deadline: float) -> float:
    """Poll until the queue table is empty (jobs are moved to the log when done)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM pgqueuer").fetchone()
            if row is not None and row[0] == 0:
                return time.monotonic()
            if not workers.running():
                workers.check_exit_codes()
                raise BaselineError(
                    f"pgqueuer workers exited with {row[0] if row else '?'} jobs left"
                    f"{workers.describe()}"
                )
            if time.monotonic() >= deadline:
                raise BaselineError(f"timed out waiting for pgqueuer workers{workers.describe()}")
            time.sleep(POLL_S)


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--systems", nargs="+", default=["rq", "procrastinate", "pgqueuer"], metavar="SYSTEM"
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument(
        "--pgqueuer-driver",
        choices=["asyncpg", "psycopg"],
        default=None,
        help="default: asyncpg when installed, else psycopg",
    )
    args = parser.parse_args(argv)

    def pgqueuer(processes: int, jobs: int, *, timeout_s: float) -> BaselineResult | None:
        return run_pgqueuer(processes, jobs, timeout_s=timeout_s, driver=args.pgqueuer_driver)

    runners: dict[str, Callable[..., BaselineResult | None]] = {
        "rq": run_rq,
        "procrastinate": run_procrastinate,
        "pgqueuer": pgqueuer,
    }
    unknown = sorted(set(args.systems) - set(runners))
    if unknown:
        parser.error(f"unknown systems: {unknown}")

    results: list[BaselineResult] = []
    failures = 0
    for system in args.systems:
        for processes in args.processes:
            print(f"running {system} x{processes} on {args.jobs} jobs ...", file=sys.stderr)
            try:
                result = runners[system](processes, args.jobs, timeout_s=args.timeout)
            except Exception as exc:
                failures += 1
                print(f"  {system} x{processes} FAILED: {exc}", file=sys.stderr)
                continue
            if result is not None:
                results.append(result)

    header = f"{'system':<14} {'procs':>5} {'jobs':>6} {'enqueue/s':>10} {'drain/s':>9}  note"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.system:<14} {r.processes:>5} {r.jobs:>6} {r.enqueue_per_s:>10.0f}"
            f" {r.drain_per_s:>9.1f}  {r.note}"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    # Run as the module the workers import (``baselines``), not as ``__main__``: one copy of
    # the code, and procrastinate does not warn about an app defined in ``__main__``.
    sys.path.insert(0, str(BENCH_DIR))
    import importlib

    sys.exit(importlib.import_module("baselines").main())
