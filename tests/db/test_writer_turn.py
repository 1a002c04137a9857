"""SQLite's writers take turns through a lock file beside the database (decisions §33): a
process that dies holding the turn leaves it to the next, one stopped holding it delays the
others only until SQLite's own timeout, as before."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from contenthub.storage.db import Database
from contenthub.storage.writer_turn import WriterTurn

# A writer in a process of its own: it inserts a row, says so, and holds its transaction
# (the turn and SQLite's lock) until it is told to go on or is killed.
HOLDER = """
import sys
import sqlalchemy as sa
from contenthub.storage.db import Database

db = Database.connect(sys.argv[1])

def hold(session):
    session.execute(sa.text("INSERT INTO notes (who) VALUES ('holder')"))
    print("holding", flush=True)
    sys.stdin.readline()

db.write(hold)
"""


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    path = tmp_path / "contenthub.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (who TEXT)")
    connection.close()
    return path


@pytest.fixture
def holder(database_file: Path) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"sqlite:///{database_file}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _turn_is_taken(database_file: Path) -> bool:
    with open(f"{database_file}-writer") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return False


def _write_note(db: Database, who: str) -> None:
    db.write(lambda s: s.execute(sa.text("INSERT INTO notes (who) VALUES (:who)"), {"who": who}))


def _notes(db: Database) -> list[str]:
    return db.read(lambda s: list(s.scalars(sa.text("SELECT who FROM notes ORDER BY who"))))


def test_a_writer_killed_mid_transaction_leaves_the_turn_to_the_next(
    database_file: Path, holder: subprocess.Popen[str]
) -> None:
    assert _turn_is_taken(database_file)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert not _turn_is_taken(database_file)
    db = Database.connect(f"sqlite:///{database_file}")
    try:
        _write_note(db, "next")
        # The killed writer's row went with its transaction; the next one's is there.
        assert _notes(db) == ["next"]
    finally:
        db.dispose()


def test_writers_of_two_processes_both_commit_in_turn(
    database_file: Path, holder: subprocess.Popen[str]
) -> None:
    db = Database.connect(f"sqlite:///{database_file}")
    wrote = threading.Thread(target=_write_note, args=(db, "second"))
    try:
        wrote.start()
        assert holder.stdin is not None
        holder.stdin.write("go on\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        wrote.join(timeout=30)
        assert not wrote.is_alive()
        assert _notes(db) == ["holder", "second"]
    finally:
        db.dispose()


def test_a_stopped_holder_delays_the_next_writer_only_to_sqlites_own_timeout(
    database_file: Path, holder: subprocess.Popen[str], caplog: pytest.LogCaptureFixture
) -> None:
    os.kill(holder.pid, signal.SIGSTOP)
    turn = WriterTurn(database_file, wait_seconds=0.2)
    entered = threading.Event()

    def enter() -> None:
        with turn:
            entered.set()

    try:
        # The turn is given up on after its wait: what decides next is SQLite's lock, which
        # the stopped holder still has (a second writer is refused, never let in beside it).
        waiting = threading.Thread(target=enter)
        waiting.start()
        waiting.join(timeout=30)
        assert entered.is_set()
        assert "held the database's writer turn" in caplog.text  # the operator is told
        second = sqlite3.connect(database_file, timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            second.execute("BEGIN IMMEDIATE")
        second.close()
    finally:
        turn.close()


def test_a_turn_that_cannot_be_taken_leaves_writes_to_sqlite_alone(
    database_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Path(f"{database_file}-writer").mkdir()  # where the lock file would go, not a file
    db = Database.connect(f"sqlite:///{database_file}")
    try:
        _write_note(db, "anyway")
        assert _notes(db) == ["anyway"]
        assert "writers not queued across processes" in caplog.text
    finally:
        db.dispose()
