"""Rescue in seconds: a dead worker is found from the database (its session lock is free, or
on SQLite its process is gone), not from its lease. Real worker processes, real signals.

Every test sets a lease far longer than its wait deadline where the lease must not be what
rescued the task, so the lease cannot pass for the liveness check."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import freeze, start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.storage.db import Database
from contenthub.storage.models import Worker
from contenthub.storage.workers import PG_LOCK_NAMESPACE, mysql_lock_name
from tests.factories import enqueue, make_account, make_user

pytestmark = pytest.mark.chaos
LONG_LEASE = "120"  # far beyond every wait below


def task(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def events(db: Database, public_id: str) -> list[dict]:
    return db.read(lambda s: storage.task_events(s, task(db, public_id)["id"]))


def rescues(db: Database, public_id: str) -> list[str]:
    return [e["message"] for e in events(db, public_id) if e["reason"] == "rescued"]


def noop_task(db: Database, tmp_path: Path, sleep_ms: int) -> tuple[str, Path]:
    journal = tmp_path / "journal.txt"
    user = make_user(db, "ann")
    account = make_account(
        db, user, "slow", options={"sleep_ms": sleep_ms, "journal": str(journal)}
    )
    return enqueue(db, user, account)[0], journal


def posts(journal: Path) -> list[tuple[str, int]]:
    """(task, pid of the worker that posted it) per completed publish."""
    lines = journal.read_text().splitlines() if journal.exists() else []
    return [(line.split()[0], int(line.split()[1])) for line in lines]


def running_on(db: Database, public_id: str, attempt: int = 1) -> dict | None:
    t = task(db, public_id)
    return t if t["status"] == "running" and t["attempt"] == attempt else None


def lock_holder(db: Database, worker: str) -> int | None:
    """The server connection holding ``worker``'s liveness lock, if any."""
    key = db.read(lambda s: s.scalar(sa.select(Worker.lock_key).where(Worker.name == worker)))
    if key is None:
        return None
    if db.dialect == "postgresql":
        query = (
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = :ns AND objid::bigint = :key AND objsubid = 2"
        )
        return db.read(lambda s: s.scalar(sa.text(query), {"ns": PG_LOCK_NAMESPACE, "key": key}))
    name = mysql_lock_name(db.engine.url.database or "", key)
    return db.read(lambda s: s.scalar(sa.text("SELECT IS_USED_LOCK(:name)"), {"name": name}))


def registered(db: Database) -> int:
    return db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(Worker)))


def kill_connection(db: Database, connection: int) -> None:
    if db.dialect == "postgresql":
        db.write(
            lambda s: s.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": connection})
        )
    else:
        db.write(lambda s: s.execute(sa.text(f"KILL CONNECTION {int(connection)}")))


def test_sigkill_mid_publish_is_rescued_long_before_the_lease(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    env = worker_env(database_url, tmp_path, CONTENTHUB_LEASE_SECONDS=LONG_LEASE)
    workers = [start_worker(processes, env, slots=1, log=tmp_path / f"w{i}.log") for i in (1, 2)]
    wait_until(lambda: registered(db) == 2, timeout=30, what="both workers to register")
    root = tmp_path / "site"
    user = make_user(db, "ann")
    account = make_account(
        db, user, "site", platform="local", options={"root": str(root), "write_delay_seconds": 3}
    )
    public_id = enqueue(db, user, account)[0]
    # The draft is written and checkpointed; the publish is still under way.
    wait_until(
        lambda: task(db, public_id)["checkpoint"].get("draft_path"),
        timeout=30,
        what="the first attempt to write the draft",
    )
    owner = task(db, public_id)["lease_owner"]
    pid = db.read(lambda s: s.scalar(sa.select(Worker.pid).where(Worker.name == owner)))
    [doomed] = [w for w in workers if w.pid == pid]
    [rescuer] = [w for w in workers if w.pid != pid]
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    # Requeued by the other worker within seconds: the 120-second lease has no part in it.
    final = wait_until(
        lambda: (t := task(db, public_id))["status"] == "succeeded" and t,
        timeout=30,
        what="the task to be rescued and finish (far sooner than its 120 s lease)",
    )
    assert final["attempt"] == 2
    [why] = rescues(db, public_id)
    assert "expired" not in why  # not the lease
    assert ("process" if db.dialect == "sqlite" else "session lock") in why
    published = [json.loads(line) for line in (root / "published.jsonl").read_text().splitlines()]
    assert [entry["post_id"] for entry in published] == [public_id]  # one post
    assert len(list((root / "posts").glob("*.html"))) == 1
    # The dead worker left the registry; the living one is still in it.
    names = db.read(lambda s: s.scalars(sa.select(Worker.name)).all())
    assert len(names) == 1 and rescuer.poll() is None


def test_a_live_worker_whose_lock_connection_dies_is_never_double_run(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    if db.dialect == "sqlite":
        pytest.skip("SQLite has no lock connection: the process itself is looked for")
    env = worker_env(database_url, tmp_path, CONTENTHUB_LEASE_SECONDS=LONG_LEASE)
    workers = [start_worker(processes, env, slots=1, log=tmp_path / f"w{i}.log") for i in (1, 2)]
    wait_until(lambda: registered(db) == 2, timeout=30, what="both workers to register")
    public_id, journal = noop_task(db, tmp_path, sleep_ms=12_000)
    claimed = wait_until(lambda: running_on(db, public_id), timeout=30, what="the first claim")
    owner = claimed["lease_owner"]
    pid = db.read(lambda s: s.scalar(sa.select(Worker.pid).where(Worker.name == owner)))
    [first] = [w for w in workers if w.pid == pid]
    [second] = [w for w in workers if w.pid != pid]

    # A blip: the connection dies, the worker takes its lock back before any rescuer acts.
    old = lock_holder(db, owner)
    assert old is not None
    kill_connection(db, old)
    wait_until(
        lambda: lock_holder(db, owner) not in (None, old),
        timeout=10,
        what="the worker to take its lock back on a new connection",
    )
    still = task(db, public_id)
    assert still["lease_token"] == claimed["lease_token"] and not rescues(db, public_id)

    # The race: the lock is free long enough for a rescuer (the worker is hung meanwhile),
    # the task goes to the other worker, then the first wakes up and must let it go.
    first.send_signal(signal.SIGSTOP)
    kill_connection(db, lock_holder(db, owner))
    wait_until(
        lambda: running_on(db, public_id, attempt=2),
        timeout=30,
        what="the other worker to rescue and claim the task (lease: 120 s)",
    )
    first.send_signal(signal.SIGCONT)
    wait_until(
        lambda: lock_holder(db, owner) is not None,
        timeout=10,
        what="the first worker to hold its lock again",
    )
    wait_until(
        lambda: task(db, public_id)["status"] == "succeeded",
        timeout=60,
        what="the task to finish on the other worker",
    )
    assert posts(journal) == [(public_id, second.pid)], "the first worker published too"
    [why] = rescues(db, public_id)
    assert "session lock" in why
    assert first.poll() is None  # alive, registered again, and idle


def test_a_hung_worker_holds_its_lock_and_is_left_to_the_lease(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    public_id, journal = noop_task(db, tmp_path, sleep_ms=3_000)
    env = worker_env(database_url, tmp_path, CONTENTHUB_LEASE_SECONDS="4")
    hung = start_worker(processes, env, slots=1, log=tmp_path / "hung.log")
    wait_until(lambda: running_on(db, public_id), timeout=30, what="the first claim")
    # Its connections (and lock) stay open; on SQLite, stopped between writes, for one
    # stopped mid-write would hold SQLite's only writer lock for ever.
    freeze(hung, db.engine.url.database if db.dialect == "sqlite" else None)
    other = start_worker(processes, env, slots=1, log=tmp_path / "other.log")
    wait_until(
        lambda: task(db, public_id)["status"] == "succeeded",
        timeout=60,
        what="the lease to run out and the other worker to publish",
    )
    [why] = rescues(db, public_id)
    assert "lease of" in why and "expired" in why, f"not rescued by the lease: {why}"
    assert posts(journal) == [(public_id, other.pid)]
