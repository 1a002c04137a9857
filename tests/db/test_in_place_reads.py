"""Reads in the API's own thread on the embedded SQLite (decisions §32): a locked database
holds up the request that reads it, never the server's event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from contenthub.api.deps import read_near
from contenthub.clock import utcnow
from contenthub.services import users
from contenthub.storage import migrate
from contenthub.storage.db import Database

T = TypeVar("T")


def _count_users(db: Database) -> int:
    return db.read(lambda s: s.scalar(sa.text("SELECT count(*) FROM users")))


async def _ticks_while(pending: Awaitable[T]) -> tuple[T, int]:
    """``pending``'s result, and how many times the loop woke every 10 ms meanwhile."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        return await pending, ticks
    finally:
        ticker.cancel()


def test_a_read_of_a_locked_sqlite_waits_off_the_event_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'contenthub.db'}"
    db = Database.connect(url)
    migrate.upgrade(db.engine)
    db.dispose()
    # Another program holds the whole file: an exclusive lock taken before we open it.
    holder = sqlite3.connect(
        tmp_path / "contenthub.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE held (x)")
    holder.execute("COMMIT")
    db = Database.connect(url)
    assert db.in_place() is not None

    async def read_while_locked() -> tuple[int, int]:
        released = threading.Timer(0.6, holder.close)
        released.start()
        try:
            return await _ticks_while(read_near(db, _count_users))
        finally:
            released.join()

    try:
        started = time.monotonic()
        users, ticks = asyncio.run(read_while_locked())
        waited = time.monotonic() - started
    finally:
        db.dispose()
    assert users == 0
    assert waited >= 0.6  # it waited for the lock to go, on the thread pool…
    assert ticks >= 20  # …while the loop went on (a loop held for 0.6 s would count ~0)


def test_elsewhere_reads_stay_on_the_thread_pool(tmp_path: Path) -> None:
    assert Database.connect("sqlite://").in_place() is None
    db = Database.connect(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert db.in_place() is db.in_place() is not None
    finally:
        db.dispose()


def test_an_in_place_read_sees_every_write_committed_before_it(tmp_path: Path) -> None:
    """The in-place connection is kept between reads: it must hold no snapshot between them,
    and a read that failed must leave it usable."""
    db = Database.connect(f"sqlite:///{tmp_path / 'contenthub.db'}")
    try:
        migrate.upgrade(db.engine)
        here = db.in_place()
        assert here is not None
        counts = []
        for name in ("ann", "bob"):
            db.write(
                lambda s, name=name: users.user_create(
                    s, name, "a-pass-word", admin=False, now=utcnow()
                )
            )
            counts.append(_count_users(here))
        with pytest.raises(sa.exc.OperationalError, match="no_such_table"):
            here.read(lambda s: s.execute(sa.text("SELECT * FROM no_such_table")))
        db.write(lambda s: users.user_create(s, "cid", "a-pass-word", admin=False, now=utcnow()))
        counts.append(_count_users(here))
        # A thread of its own reads through a connection of its own.
        elsewhere: list[int] = []
        reader = threading.Thread(target=lambda: elsewhere.append(_count_users(here)))
        reader.start()
        reader.join()
    finally:
        db.dispose()
    assert counts == [1, 2, 3]
    assert elsewhere == [3]


# -- PostgreSQL: reads on the event loop's own connections (decisions §42) ------------------


def _on_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("reads on the loop are PostgreSQL's; SQLite reads in place")


def _loop_backends(db: Database) -> set[int]:
    """The server processes of the loop's read connections that are open now."""
    with db.engine.connect() as conn:
        return set(
            conn.scalars(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND query LIKE '%loop read%'"
                )
            )
        )


def _slow_count(db: Database) -> tuple[int, int]:
    """A read that waits 0.5 s in the server; the thread it ran on."""
    count = db.read(
        lambda s: s.scalar(sa.text("SELECT count(*) /* loop read */ FROM users, pg_sleep(0.5)"))
    )
    return count, threading.get_ident()


def test_a_postgresql_read_waits_on_the_loop_without_holding_it(db: Database) -> None:
    _on_postgresql(db)
    db.write(lambda s: users.user_create(s, "ann", "a-pass-word", admin=False, now=utcnow()))

    async def read_while_ticking() -> tuple[tuple[int, int], int, int, set[int]]:
        answer, ticks = await _ticks_while(read_near(db, _slow_count))
        held = _loop_backends(db)
        await db.close_loop_reads()
        return answer, ticks, threading.get_ident(), held

    (users_seen, read_on), ticks, loop_thread, held = asyncio.run(read_while_ticking())
    assert users_seen == 1
    assert read_on == loop_thread  # no thread of the pool…
    assert ticks >= 20  # …and the loop went on while the server slept (held: ~0)
    assert len(held) == 1  # the read's connection, kept for the next read…
    assert _loop_backends(db) == set()  # …until the loop's reads are closed


def test_a_loop_read_whose_connection_died_is_read_again_on_the_pool(db: Database) -> None:
    _on_postgresql(db)

    async def reads() -> list[tuple[int, bool]]:
        seen = []
        loop_thread = threading.get_ident()
        for _ in range(3):
            count, thread = await read_near(db, _slow_count)
            seen.append((count, thread == loop_thread))
            # The server ends the loop's connection between reads, as a restart or an
            # administrator would; the next read finds out on its first statement.
            with db.engine.connect() as conn:
                for pid in _loop_backends(db):
                    conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await db.close_loop_reads()
        return seen

    seen = asyncio.run(reads())
    # Every read answered; after a kill the read went to the pool once, the loop's pool let
    # the dead connection go, and the next one read on the loop again through a new one.
    assert seen == [(0, True), (0, False), (0, True)]


def test_a_loop_read_cancelled_mid_statement_leaves_no_broken_connection(
    db: Database,
) -> None:
    """A request cancelled while the server runs its read (the server stopping): the next
    reads must not get that connection back with its statement still running."""
    _on_postgresql(db)

    async def cancel_then_read() -> list[int]:
        slow = asyncio.create_task(read_near(db, _slow_count))
        while not _loop_backends(db):  # the statement has reached the server
            await asyncio.sleep(0.01)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        answers = [await read_near(db, _count_users) for _ in range(3)]
        await db.close_loop_reads()
        return answers

    assert asyncio.run(cancel_then_read()) == [0, 0, 0]


def test_a_read_near_the_loop_cannot_write(db: Database) -> None:
    """Neither the in-place SQLite reader (a write there would skip the writers' turn) nor
    the loop's PostgreSQL reader (its connection autocommits) writes."""
    if db.dialect == "mysql":
        pytest.skip("MariaDB reads on the pool, through the Database itself")

    def sneaky(here: Database) -> None:
        here.write(lambda s: users.user_create(s, "eve", "a-pass-word", admin=False, now=utcnow()))

    async def attempt() -> None:
        try:
            with pytest.raises(TypeError, match="only reads"):
                await read_near(db, sneaky)
        finally:
            await db.close_loop_reads()

    asyncio.run(attempt())
    assert _count_users(db) == 0


def test_elsewhere_there_are_no_loop_reads(db: Database) -> None:
    if db.dialect == "postgresql":
        pytest.skip("PostgreSQL reads on the loop")

    async def on_loop() -> object:
        return db.on_loop()

    assert asyncio.run(on_loop()) is None
