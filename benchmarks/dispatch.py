"""Dispatcher benchmark: ours on SQLite, PostgreSQL and MariaDB, and the alternatives, in one run.

    .venv/bin/python benchmarks/dispatch.py               # everything (about 15 minutes)
    .venv/bin/python benchmarks/dispatch.py --quick       # fewer tasks, no 1,000,000 backlog
    .venv/bin/python benchmarks/dispatch.py --sections claim --backends postgresql
                                                          # only the claim time against the backlog

Every limit and the fairness rule are on: 50 users (at most 10 running each), 10 accounts
each (one publish at a time per account, a pacing check, a daily cap), a platform limit, and
round-robin across users. Traffic stays on 127.0.0.1; every process started here is ended here.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenthub import storage  # noqa: E402
from contenthub.storage import NewTask, migrate  # noqa: E402
from contenthub.storage.db import Database  # noqa: E402
from contenthub.storage.models import PublishTask, TaskEvent  # noqa: E402

CONTENTHUB = str(Path(sys.executable).parent / "contenthub")
SERVERS = {
    "sqlite": None,
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}
USERS, ACCOUNTS_PER_USER, PLATFORM = 50, 10, "bench-noop"
WORKER_SLOTS = 32
TIMEOUT = 300.0
SECTIONS = ("enqueue", "drain", "pickup", "claim", "unservable")
EPOCH_NAIVE = datetime(1970, 1, 1)


def now() -> datetime:
    return datetime.now(UTC)


# -- databases ----------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    backend: str
    url: str
    drop: Callable[[], None]


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def create_database(backend: str, workdir: Path) -> BenchDatabase:
    label = f"bench_{uuid.uuid4().hex[:8]}"
    admin = SERVERS[backend]
    if admin is None:
        url = f"sqlite:///{workdir / f'{label}.db'}"

        def drop() -> None:
            for suffix in ("", "-wal", "-shm", "-writer"):
                Path(f"{workdir / label}.db{suffix}").unlink(missing_ok=True)
    else:
        _admin(admin, f"CREATE DATABASE {label}")
        url = sa.make_url(admin).set(database=label).render_as_string(hide_password=False)

        def drop() -> None:
            if backend == "postgresql":
                _admin(
                    admin,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{label}' AND pid <> pg_backend_pid()",
                )
            _admin(admin, f"DROP DATABASE IF EXISTS {label}")

    db = Database.connect(url)
    migrate.upgrade(db.engine)
    db.dispose()
    return BenchDatabase(backend, url, drop)


def seed_users_and_accounts(db: Database) -> list[tuple[int, int]]:
    """50 users × 10 accounts with every limit set; returns (user, account) pairs."""
    t0 = now()

    def work(s: Any) -> list[tuple[int, int]]:
        storage.platform_set_limit(s, PLATFORM, 200)
        pairs = []
        for u in range(USERS):
            user = storage.user_ensure(s, f"user{u}", now=t0, max_running=10)
            for a in range(ACCOUNTS_PER_USER):
                account = storage.account_create(
                    s,
                    user_id=user,
                    platform=PLATFORM,
                    name=f"acct{a}",
                    now=t0,
                    min_interval_seconds=0.001,
                    daily_cap=1_000_000,
                )
                pairs.append((user, account))
        return pairs

    return db.write(work)


def clear_tasks(db: Database) -> None:
    def work(s: Any) -> None:
        s.execute(sa.delete(TaskEvent))
        s.execute(sa.delete(PublishTask))

    db.write(work)


# -- ours ---------------------------------------------------------------------------------


def measure_enqueue(db: Database, pairs: list[tuple[int, int]], count: int) -> float:
    """One task per transaction, as an API request creates them."""
    started = time.perf_counter()
    for i in range(count):
        user, account = pairs[i % len(pairs)]
        task = NewTask(user_id=user, account_id=account, title=f"T{i}", body="b")
        db.write(lambda s, t=task: storage.task_enqueue(s, [t], now=now()))
    return count / (time.perf_counter() - started)


def enqueue_backlog(db: Database, pairs: list[tuple[int, int]], count: int) -> None:
    batch = []
    for i in range(count):
        user, account = pairs[i % len(pairs)]
        batch.append(NewTask(user_id=user, account_id=account, title=f"T{i}", body="b"))
    for start in range(0, count, 500):
        chunk = batch[start : start + 500]
        db.write(lambda s, c=chunk: storage.task_enqueue(s, c, now=now()))


def worker_env(url: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "CONTENTHUB_PLATFORM_MODULES": "bench_noop",
        # The benchmarks' own platform module first, then whatever sources the caller runs.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }


def start_workers(url: str, workdir: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` worker processes as an operator runs them on one machine: one ``contenthub
    worker``, with ``--processes`` when more than one (its supervisor forks them)."""
    many = ["--processes", str(count)] if count > 1 else []
    return [
        subprocess.Popen(
            [CONTENTHUB, "worker", "--slots", str(WORKER_SLOTS), *many],
            env=worker_env(url, workdir),
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "worker.log", "ab"),
        )
    ]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def succeeded(db: Database) -> int:
    return db.read(
        lambda s: s.scalar(sa.select(sa.func.count()).where(PublishTask.status == "succeeded"))
    )


def measure_drain(
    bench: BenchDatabase, db: Database, pairs, count: int, procs: int, workdir: Path
) -> float:
    clear_tasks(db)
    enqueue_backlog(db, pairs, count)
    workers = start_workers(bench.url, workdir, procs)
    try:
        wait_for(lambda: succeeded(db) == count, f"{count} tasks with {procs} workers")
    finally:
        stop(workers)
    first, last = db.read(
        lambda s: s.execute(
            sa.select(sa.func.min(PublishTask.started_at), sa.func.max(PublishTask.finished_at))
        ).one()
    )
    attempts = db.read(lambda s: s.scalar(sa.select(sa.func.max(PublishTask.attempt))))
    assert attempts == 1, "a task ran twice"
    # started_at is the last start of each task; the first claim is the earliest of them.
    return count / (last - first).total_seconds()


def measure_pickup(
    bench: BenchDatabase, db: Database, pairs, samples: int, workdir: Path
) -> tuple[float, float]:
    """An idle worker; enqueue one task; time until it starts. p50 and p99 in ms."""
    clear_tasks(db)
    workers = start_workers(bench.url, workdir, 1)
    latencies = []
    try:
        enqueue_backlog(db, pairs, 1)  # warm-up: the worker is up and idle after this
        wait_for(lambda: succeeded(db) == 1, "the warm-up task")
        for i in range(samples):
            user, account = pairs[i % len(pairs)]
            task = NewTask(user_id=user, account_id=account, title="p", body="b")
            [public_id] = db.write(lambda s, t=task: storage.task_enqueue(s, [t], now=now()))
            wait_for(lambda n=i + 2: succeeded(db) == n, "a pickup")
            row = db.read(lambda s, p=public_id: storage.task_get(s, p, user_id=None))
            latencies.append((row["started_at"] - row["created_at"]).total_seconds() * 1000)
            # Let the worker go idle again, at a random point of its poll cycle: pickup is
            # measured from idle, sampled across the cycle rather than locked to one phase.
            time.sleep(random.uniform(0.02, 0.6))
    finally:
        stop(workers)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


# -- claim time against the backlog ------------------------------------------------------


def bulk_backlog(db: Database, count: int) -> None:
    """Insert ``count`` queued tasks spread over every account, in the database itself."""
    accounts = db.read(lambda s: s.execute(sa.text("SELECT min(id), count(*) FROM accounts")).one())
    first_account, n_accounts = accounts
    t = now().replace(tzinfo=None) - timedelta(minutes=1)
    common = (
        "INSERT INTO publish_tasks (public_id, user_id, account_id, platform, title, body, tags,"
        " status, progress, priority, due_at, attempt, max_attempts, cancel_requested,"
        " checkpoint, created_at, queued_at) "
    )
    select = (
        " SELECT {uuid}, a.user_id, a.id, a.platform, 'T', 'b', '[]', 'queued', 0,"
        " 1 + ({n} % 10), :t, 0, 3, {false}, '{{}}', :t, :t"
        " FROM {source} JOIN accounts a ON a.id = :first + ({n} % :accounts)"
    )
    params = {"t": t, "first": first_account, "accounts": n_accounts}
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            sql = select.format(
                uuid="gen_random_uuid()::text",
                n="g",
                false="false",
                source="generate_series(1, :count) g",
            )
        elif db.dialect == "mysql":
            sql = select.format(uuid="uuid()", n="seq", false="0", source=f"seq_1_to_{count}")
        else:
            conn.exec_driver_sql("PRAGMA busy_timeout=30000")
            sql = select.format(
                uuid="lower(hex(randomblob(16)))",
                n="g.value",
                false="0",
                source="(WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1"
                " FROM s WHERE value < :count) SELECT value FROM s) g",
            )
        conn.execute(sa.text(common + sql), {**params, "count": count})
        mark_ready_after_bulk_insert(conn)
        if db.dialect == "postgresql":
            conn.exec_driver_sql("ANALYZE publish_tasks")
        elif db.dialect == "mysql":
            conn.exec_driver_sql("ANALYZE TABLE publish_tasks")
        else:
            conn.exec_driver_sql("ANALYZE")


def mark_ready_after_bulk_insert(conn: sa.Connection) -> None:
    """What enqueue does for each task it queues (storage/ready.py), for rows inserted here."""
    conn.execute(
        sa.text(
            "UPDATE accounts SET ready_at = :epoch WHERE ready_at IS NULL AND EXISTS (SELECT 1"
            " FROM publish_tasks t WHERE t.account_id = accounts.id AND t.status = 'queued')"
        ),
        {"epoch": EPOCH_NAIVE},
    )
    conn.execute(
        sa.text(
            "UPDATE users SET turn_at = last_served_at WHERE turn_at IS NULL AND EXISTS"
            " (SELECT 1 FROM accounts a WHERE a.user_id = users.id AND a.ready_at IS NOT NULL)"
        )
    )


# -- users who cannot be served -----------------------------------------------------------

UNSERVABLE_KINDS = ("idle", "paced", "capped", "held")


def add_unservable_users(db: Database, first: int, count: int) -> None:
    """``count`` more users, 2 accounts each, none of which can start anything now, in equal
    shares: idle (nothing queued), paced (a task queued, the account paced for an hour),
    capped (a task queued, its daily cap of 1 used an hour ago), held (a task queued, the
    account needs a login). Their turn is older than the busy users' (never served). Inserted
    in bulk, in the ready state the claim leaves them in after looking at each once (it is
    measured separately, as "stale users probed").
    Numbered from ``first``; one statement per table."""
    t = now().replace(tzinfo=None)
    params = {
        "t": t,
        "later": t + timedelta(hours=1),
        "ago": t - timedelta(hours=1),
        "first": first,
        "count": count,
        "epoch": EPOCH_NAIVE,
    }
    if db.dialect == "postgresql":
        numbers = "generate_series(:first, :first + :count - 1) AS g(n)"
        pair = "CROSS JOIN (VALUES (0), (1)) AS k(i)"
    elif db.dialect == "mysql":
        numbers = f"(SELECT seq AS n FROM seq_{first}_to_{first + count - 1}) AS g"
        pair = "CROSS JOIN (SELECT 0 AS i UNION ALL SELECT 1) AS k"
    else:
        numbers = (
            "(WITH RECURSIVE s(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM s"
            " WHERE n < :first + :count - 1) SELECT n FROM s) AS g"
        )
        pair = "CROSS JOIN (SELECT 0 AS i UNION ALL SELECT 1) AS k"
    kind = "(g.n % 4)"  # 0 idle, 1 paced, 2 capped, 3 held
    statements = [
        "INSERT INTO users (name, role, max_running, last_served_at, turn_at, created_at)"
        f" SELECT CONCAT('other', g.n), 'user', 10, :epoch,"
        f" CASE {kind} WHEN 1 THEN :later WHEN 2 THEN :later END, :t FROM {numbers}",
        "INSERT INTO accounts (user_id, platform, name, options, status, min_interval_seconds,"
        " daily_cap, next_start_at, ready_at, created_at, updated_at)"
        f" SELECT u.id, '{PLATFORM}', CONCAT('acct', k.i), '{{}}',"
        f" CASE {kind} WHEN 3 THEN 'needs_login' ELSE 'active' END, 3600,"
        f" CASE {kind} WHEN 2 THEN 1 END, CASE {kind} WHEN 1 THEN :later ELSE :epoch END,"
        f" CASE {kind} WHEN 1 THEN :later WHEN 2 THEN :later END, :t, :t"
        f" FROM {numbers} JOIN users u ON u.name = CONCAT('other', g.n) {pair}",
    ]
    task = (
        "INSERT INTO publish_tasks (public_id, user_id, account_id, platform, title, body, tags,"
        " status, progress, priority, due_at, attempt, max_attempts, cancel_requested,"
        " checkpoint, created_at, queued_at, started_at, finished_at)"
        " SELECT {uuid}, a.user_id, a.id, a.platform, 'T', 'b', '[]', '{status}', 0, 5, :ago,"
        " {attempt}, 3, {false}, '{{}}', :ago, :ago, {started}, {started}"
        " FROM users u JOIN accounts a ON a.user_id = u.id"
        " WHERE u.name LIKE 'other%' AND u.id >= (SELECT min(id) FROM users"
        " WHERE name = CONCAT('other', :first)) AND {where}"
    )
    uuid_sql = {
        "postgresql": "gen_random_uuid()::text",
        "mysql": "uuid()",
        "sqlite": "lower(hex(randomblob(16)))",
    }[db.dialect]
    false = "false" if db.dialect == "postgresql" else "0"
    statements += [
        task.format(
            uuid=uuid_sql,
            status="queued",
            attempt=0,
            false=false,
            started="NULL",
            where="(a.status = 'needs_login' OR a.ready_at IS NOT NULL)",
        ),
        task.format(
            uuid=uuid_sql,
            status="succeeded",
            attempt=1,
            false=false,
            started=":ago",
            where="a.daily_cap = 1",
        ),
    ]
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA busy_timeout=30000")
        for statement in statements:
            sql = statement if db.dialect != "sqlite" else statement.replace("CONCAT", "concat")
            conn.execute(sa.text(sql), params)
        if db.dialect == "postgresql":
            conn.exec_driver_sql("ANALYZE")
        elif db.dialect == "mysql":
            conn.exec_driver_sql("ANALYZE TABLE users, accounts, publish_tasks")
        else:
            conn.exec_driver_sql("ANALYZE")


def measure_unservable(db: Database, rows: list[Row], backend: str, sizes: list[int]) -> None:
    """Claim of 10 (50 users with work) as users who cannot be served are added."""
    clear_tasks(db)
    bulk_backlog(db, 5_000)
    with db.engine.begin() as conn:  # the busy users were served a minute ago
        conn.execute(
            sa.text("UPDATE users SET last_served_at = :t, turn_at = :t WHERE turn_at IS NOT NULL"),
            {"t": now().replace(tzinfo=None) - timedelta(minutes=1)},
        )
    added = 0
    for size in sizes:
        if size > added:
            started = time.perf_counter()
            add_unservable_users(db, added, size - added)
            setup = time.perf_counter() - started
            added = size
        else:
            setup = 0.0
        ms = measure_claim_ms(db)
        rows.append(Row(f"claim 10, {size:,} other users who cannot be served", backend, ms, "ms"))
        print(
            f"  {backend}: claim with {size:,} unservable users: {ms:.2f} ms (setup {setup:.1f} s)",
            file=sys.stderr,
        )


def measure_claim_ms(db: Database, rounds: int = 30, slots: int = 10) -> float:
    """Median time of one claim of ``slots`` tasks, rolled back so the backlog stays."""
    times = []
    for _ in range(rounds):
        with db._sessions() as session, session.begin():
            started = time.perf_counter()
            claimed = storage.task_claim(
                session, worker="bench", slots=slots, now=now(), lease_seconds=60
            )
            times.append((time.perf_counter() - started) * 1000)
            assert len(claimed) == slots
            session.rollback()
    return statistics.median(times)


def claim_query_plan(db: Database) -> str:
    """The plan of the per-account 'best task' probe, the statement that meets the backlog."""
    probe = (
        "SELECT id FROM publish_tasks WHERE account_id = 1 AND status = 'queued' "
        "AND due_at <= CURRENT_TIMESTAMP ORDER BY priority, due_at, id LIMIT 1"
    )
    prefix = {"postgresql": "EXPLAIN ", "mysql": "EXPLAIN ", "sqlite": "EXPLAIN QUERY PLAN "}
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix[db.dialect] + probe).all()
    return "\n".join(" | ".join(str(c) for c in row) for row in rows)


# -- the run ------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    backend: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None

    def ratio(self) -> str:
        if not self.baseline_value:
            return ""
        return f"{self.value / self.baseline_value:.1f}×"


def run_ours(
    backend: str, args: argparse.Namespace, workdir: Path, rows: list[Row], plans: dict[str, str]
) -> None:
    bench = create_database(backend, workdir)
    db = Database.connect(bench.url)
    try:
        pairs = seed_users_and_accounts(db)
        if "enqueue" in args.sections:
            rate = measure_enqueue(db, pairs, args.enqueue)
            rows.append(Row("enqueue, 1 task per transaction", backend, rate, "tasks/s"))
        for procs in (1, 2, 4) if "drain" in args.sections else ():
            rate = measure_drain(bench, db, pairs, args.tasks, procs, workdir)
            rows.append(
                Row(
                    f"drain {args.tasks} no-op, {procs} worker process(es)",
                    backend,
                    rate,
                    "tasks/s",
                )
            )
            print(f"  {backend}: drain with {procs}: {rate:,.0f}/s", file=sys.stderr)
        if "pickup" in args.sections:
            p50, p99 = measure_pickup(bench, db, pairs, args.pickups, workdir)
            rows.append(Row("pickup latency p50 (idle → start)", backend, p50, "ms"))
            rows.append(Row("pickup latency p99 (idle → start)", backend, p99, "ms"))
        if "unservable" in args.sections and backend != "sqlite":
            measure_unservable(db, rows, backend, args.unservable)
        if "claim" not in args.sections:
            return
        clear_tasks(db)
        queued = 0
        for target in args.backlogs:
            bulk_backlog(db, target - queued)
            queued = target
            ms = measure_claim_ms(db)
            rows.append(Row(f"claim 10 with {target:,} queued", backend, ms, "ms"))
            print(f"  {backend}: claim with {target:,} queued: {ms:.2f} ms", file=sys.stderr)
        plans[backend] = claim_query_plan(db)
    finally:
        db.dispose()
        bench.drop()


def run_baselines(args: argparse.Namespace, rows: list[Row]) -> None:
    import baselines

    ours = {(r.backend, r.what): r for r in rows}
    for procs in (1, 2, 4):
        results = []
        for run in (baselines.run_rq, baselines.run_procrastinate, baselines.run_pgqueuer):
            try:
                results.append(run(procs, args.baseline_jobs))
            except ModuleNotFoundError as missing:  # e.g. no redis client: that row is left out
                print(f"  skipped {run.__name__}: {missing}", file=sys.stderr)
        mine = ours.get(("postgresql", f"drain {args.tasks} no-op, {procs} worker process(es)"))
        for result in results:
            if result is None:
                continue
            rows.append(
                Row(
                    f"drain {result.jobs} no-op, {procs} worker process(es)",
                    f"{result.system} (baseline)",
                    result.drain_per_s,
                    "jobs/s",
                )
            )
            if mine:
                ratio = mine.value / result.drain_per_s
                mine.baseline += f"{result.system} {result.drain_per_s:,.0f} ({ratio:.1f}×); "


def print_table(rows: list[Row], plans: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("measure", "system", "value", "unit", "ours ÷ theirs (PostgreSQL row)")
    for r in rows:
        value = f"{r.value:,.2f}" if r.unit == "ms" else f"{r.value:,.0f}"
        table.add_row(r.what, r.backend, value, r.unit, r.baseline.rstrip("; "))
    console = Console(width=160)
    console.print(table)
    for backend, plan in plans.items():
        console.print(f"\n[bold]{backend}[/bold]: plan of the per-account best-task probe\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--enqueue", type=int, default=2000)
    parser.add_argument("--pickups", type=int, default=100)
    parser.add_argument("--baseline-jobs", type=int, default=2000)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"which of ours to measure, comma-separated: {','.join(SECTIONS)} (the baselines"
        " run only with drain)",
    )
    args = parser.parse_args()
    args.sections = set(args.sections.split(","))
    if unknown := args.sections - set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    args.backlogs = [1_000, 100_000, 1_000_000]
    args.unservable = [0, 1_000, 10_000, 100_000]
    if args.quick:
        args.tasks, args.enqueue, args.pickups, args.baseline_jobs = 1000, 300, 20, 300
        args.backlogs = [1_000, 20_000]
        args.unservable = [0, 1_000, 10_000]
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"contenthub-bench-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)
    rows: list[Row] = []
    plans: dict[str, str] = {}
    for backend in args.backends.split(","):
        print(f"measuring contenthub on {backend} …", file=sys.stderr)
        run_ours(backend, args, workdir, rows, plans)
    if not args.skip_baselines and "drain" in args.sections:
        print("measuring the alternatives …", file=sys.stderr)
        run_baselines(args, rows)
    print_table(rows, plans)


if __name__ == "__main__":
    main()
