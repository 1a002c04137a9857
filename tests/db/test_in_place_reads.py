"""Reads in the API's own thread on the embedded SQLite (decisions §32): a locked database
holds up the request that reads it, never the server's event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from contenthub.api.deps import read_near
from contenthub.clock import utcnow
from contenthub.services import users
from contenthub.storage import migrate
from contenthub.storage.db import Database


def _count_users(db: Database) -> int:
    return db.read(lambda s: s.scalar(sa.text("SELECT count(*) FROM users")))


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
        ticks = 0
        released = threading.Timer(0.6, holder.close)

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        released.start()
        try:
            users = await read_near(db, _count_users)
        finally:
            ticker.cancel()
            released.join()
        return users, ticks

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
