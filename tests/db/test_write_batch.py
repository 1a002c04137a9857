"""On SQLite one thread of the process writes, several units of work to a transaction
(decisions §35): each caller still gets its own result or its own error, a unit that fails is
undone alone, and a transient error runs the whole batch again."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from contenthub.storage.db import SAVEPOINT_BATCHES_AFTER_A_FAILURE, Database, announce_new_work


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "contenthub.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (who TEXT UNIQUE)")
    connection.close()
    database = Database.connect(f"sqlite:///{path}", retry_seconds=5)
    yield database
    database.dispose()


def note(who: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.execute(sa.text("INSERT INTO notes (who) VALUES (:who)"), {"who": who})
        return who

    return work


def notes(db: Database) -> list[str]:
    return db.read(lambda s: list(s.scalars(sa.text("SELECT who FROM notes ORDER BY who"))))


def transactions(db: Database) -> list[str]:
    """Every write transaction begun on ``db`` from now on, and every savepoint taken."""
    begun: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement == "BEGIN IMMEDIATE" or statement.startswith("SAVEPOINT"):
            begun.append(statement.split()[0])

    return begun


def queue_behind_a_held_write(
    db: Database, works: list[Callable[[Session], Any]]
) -> list[Future[Any]]:
    """Submit ``works`` from threads of their own while the writing thread is held in another
    unit of work, so all of them wait in the queue together; then let it go."""
    held, release = threading.Event(), threading.Event()

    def hold(_session: Session) -> bool:
        held.set()
        return release.wait(10)

    pool = ThreadPoolExecutor(len(works) + 1)
    holding = pool.submit(db.write, hold)
    assert held.wait(10)
    assert db._batcher is not None
    deadline = time.monotonic() + 10
    futures = []
    for work in works:  # one at a time, so they queue in this order
        futures.append(pool.submit(db.write, work))
        while db._batcher.queued() < len(futures):
            assert time.monotonic() < deadline, "the units of work never queued"
            time.sleep(0.001)
    release.set()
    assert holding.result(10) is True
    pool.shutdown(wait=True)
    return futures


def test_a_unit_of_work_that_fails_in_a_batch_is_undone_alone(db: Database) -> None:
    def fails(session: Session) -> None:
        note("bob")(session)
        raise ValueError("bob's request was refused")

    begun = transactions(db)
    futures = queue_behind_a_held_write(db, [note("ann"), fails, note("cid"), note("ann")])

    assert futures[0].result() == "ann"
    with pytest.raises(ValueError, match="bob's request was refused"):
        futures[1].result()
    assert futures[2].result() == "cid"
    with pytest.raises(sa.exc.IntegrityError):  # the second "ann" meets the first's row
        futures[3].result()
    assert notes(db) == ["ann", "cid"]
    # A first try without savepoints, rolled back when bob's failed; then the four units in one
    # transaction, each in a savepoint. (The held unit of work ran no statement, so it began
    # no transaction.)
    assert begun == ["BEGIN", "BEGIN", *["SAVEPOINT"] * 4]


def test_a_batch_whose_units_all_succeed_runs_them_without_savepoints(db: Database) -> None:
    begun = transactions(db)
    futures = queue_behind_a_held_write(db, [note("jan"), note("kim"), note("lee")])
    assert [f.result() for f in futures] == ["jan", "kim", "lee"]
    assert begun == ["BEGIN"]


def test_after_a_failure_the_next_batches_take_savepoints_from_the_start(db: Database) -> None:
    def fails(session: Session) -> None:
        raise ValueError("refused")

    queue_behind_a_held_write(db, [note("a0"), fails])
    begun = transactions(db)
    for i in range(1, SAVEPOINT_BATCHES_AFTER_A_FAILURE + 2):
        futures = queue_behind_a_held_write(db, [note(f"a{i}"), note(f"b{i}")])
        assert [f.result() for f in futures] == [f"a{i}", f"b{i}"]
    # Each batch after the failure ran once, in savepoints, until the count ran out.
    with_savepoints = ["BEGIN", "SAVEPOINT", "SAVEPOINT"] * SAVEPOINT_BATCHES_AFTER_A_FAILURE
    assert begun == [*with_savepoints, "BEGIN"]


def test_a_transient_error_runs_the_whole_batch_again_and_writes_once(db: Database) -> None:
    tries = []

    def busy_once(session: Session) -> str:
        tries.append(1)
        note("dan")(session)
        if len(tries) == 1:
            raise sa.exc.OperationalError(
                "INSERT", {}, sqlite3.OperationalError("database is locked")
            )
        return "dan"

    futures = queue_behind_a_held_write(db, [note("eve"), busy_once, note("fay")])

    assert [f.result() for f in futures] == ["eve", "dan", "fay"]
    assert len(tries) == 2
    assert notes(db) == ["dan", "eve", "fay"]


def test_only_committed_units_of_work_wake_the_workers(db: Database) -> None:
    woken: list[int] = []
    db.on_new_work(lambda: woken.append(1))

    def announces_then_fails(session: Session) -> None:
        announce_new_work(session)
        raise ValueError("refused")

    futures = queue_behind_a_held_write(db, [note("gil"), announces_then_fails])
    assert futures[0].result() == "gil"
    with pytest.raises(ValueError):
        futures[1].result()
    assert woken == []

    db.write(lambda s: announce_new_work(s))
    assert woken == [1]


def test_a_write_inside_a_write_fails_at_once(db: Database) -> None:
    with pytest.raises(RuntimeError, match="inside a database write"):
        db.write(lambda s: db.write(note("hal")))
    assert notes(db) == []
    assert db.write(note("ida")) == "ida"  # the writing thread goes on


def test_an_event_loop_goes_on_while_its_write_waits(db: Database) -> None:
    held, release = threading.Event(), threading.Event()

    def held_write(session: Session) -> str:
        held.set()
        assert release.wait(10)
        return note("jon")(session)

    def refused(_session: Session) -> None:
        raise ValueError("refused")

    async def main() -> None:
        writing = asyncio.create_task(db.write_async(held_write))
        assert await asyncio.to_thread(held.wait, 10)
        # The loop still runs other work while the write is held in the writing thread.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "other work"), 10) == "other work"
        assert not writing.done()
        release.set()
        assert await writing == "jon"
        with pytest.raises(ValueError, match="refused"):
            await db.write_async(refused)

    asyncio.run(main())
    assert notes(db) == ["jon"]
