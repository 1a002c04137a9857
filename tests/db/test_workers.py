"""The worker registry and its session locks, on SQLite, PostgreSQL and MariaDB: a worker's
tasks are rescued exactly when its lock is free (SQLite: its process is gone)."""

from __future__ import annotations

import os
import subprocess
import sys
from subprocess import PIPE

import pytest
import sqlalchemy as sa
from harness import wait_until

from contenthub import storage
from contenthub.storage.db import Database
from contenthub.storage.models import Worker
from contenthub.worker.liveness import HOST, process_alive, process_start
from contenthub.worker.maintenance import Rescuer
from tests.factories import T0, enqueue, make_account, make_user


def register(db: Database, name: str, key: int, pid: int, started: str | None) -> None:
    assert db.write(
        lambda s: storage.worker_register(
            s, name=name, lock_key=key, host=HOST, pid=pid, process_start=started, now=T0
        )
    )


def running_task(db: Database, worker: str) -> str:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, f"for-{worker}"))
    [claimed] = db.write(
        lambda s: storage.task_claim(s, worker=worker, slots=1, now=T0, lease_seconds=120)
    )
    assert claimed.public_id == public_id
    return public_id


def status(db: Database, public_id: str) -> str:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))["status"]


def test_a_held_lock_keeps_the_tasks_and_a_free_one_gives_them_back(db: Database) -> None:
    if db.dialect == "sqlite":
        pytest.skip("no session locks on SQLite: see the process test")
    lock = storage.WorkerLock(db.engine, 4242)
    assert lock.acquire()
    other = storage.WorkerLock(db.engine, 4242)
    assert not other.acquire()  # one holder
    register(db, "w-live", 4242, os.getpid(), None)
    public_id = running_task(db, "w-live")
    [row] = db.read(lambda s: storage.worker_registry_read(s))
    assert row.lock_held is True and lock.holds()
    assert db.write(lambda s: storage.task_rescue_of_workers(s, [row], now=T0)) == 0
    assert status(db, public_id) == "running"

    lock.release()  # as when the process dies
    # The server ends a closed session's locks once its backend sees the hang-up, a moment
    # later (a rescuer meanwhile leaves the tasks for its next round, as here).
    [row] = wait_until(
        lambda: [r for r in db.read(storage.worker_registry_read) if r.lock_held is False],
        timeout=10,
        what="the server to drop the closed session's lock",
    )
    assert db.write(lambda s: storage.task_rescue_of_workers(s, [row], now=T0)) == 1
    assert status(db, public_id) == "queued"
    task_id = db.read(lambda s: storage.task_get(s, public_id, user_id=None))["id"]
    events = db.read(lambda s: storage.task_events(s, task_id))
    assert events[-1]["reason"] == "rescued"
    assert "session lock was released" in events[-1]["message"]
    assert db.read(lambda s: storage.worker_registry_read(s)) == []  # left the registry
    other.release()


def test_a_gone_process_gives_its_tasks_back_at_once(db: Database) -> None:
    # The child waits for its stdin to close: its start is read while it surely runs.
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=PIPE)
    started = process_start(child.pid)
    assert started is not None
    child.communicate()
    assert process_alive(os.getpid(), process_start(os.getpid()))
    assert not process_alive(child.pid, started)
    # A reused pid with another start is not the registered process either.
    assert not process_alive(os.getpid(), "another-boot:1")

    if db.dialect != "sqlite":
        return  # there the lock decides (above); the process check is SQLite's
    register(db, "w-gone", 7, child.pid, started)
    register(db, "w-here", 8, os.getpid(), process_start(os.getpid()))
    gone = running_task(db, "w-gone")
    rescuer = Rescuer(db, me="w-rescuer", grace_seconds=60)
    assert rescuer.run_once(T0) == 1  # no grace on one host: the process is gone
    assert status(db, gone) == "queued"
    names = db.read(lambda s: s.scalars(sa.select(Worker.name)).all())
    assert names == ["w-here"]
