"""The worker registry and the session locks that prove a worker lives.

A worker takes a session-level lock on a connection of its own (``WorkerLock``) and then
registers (``worker_register``); the database server releases the lock the moment that
connection dies, which it does when the process dies, whatever killed it. A rescuer reads
which registered workers' locks are free (``worker_registry_read``) and hands their running
tasks back (``storage.task_rescue_of_workers``). SQLite has no server to hold such a lock:
there the registry records the process (host, pid, start time) and the rescuer looks for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from contenthub.storage.models import Worker

log = logging.getLogger(__name__)
WORKERS = Worker.__table__
# First key of PostgreSQL's two-key advisory locks: ours, apart from anyone else's.
PG_LOCK_NAMESPACE = 0x43485700
LOCK_KEY_MAX = 2**31 - 1


@dataclass(frozen=True)
class WorkerRow:
    name: str
    lock_key: int
    host: str
    pid: int
    process_start: str | None
    # Whether its session lock is held now; None where there are no such locks (SQLite).
    lock_held: bool | None


def mysql_lock_name(database: str, key: int) -> str:
    """``GET_LOCK`` names are server-wide (64 characters at most): the database's name is in it."""
    return f"contenthub:{database[:30]}:worker:{key}"


class WorkerLock:
    """A worker's session lock, on a connection no one else uses.

    ``acquire`` (re)connects and tries the lock without waiting; ``holds`` asks the connection
    whether it still lives (a lock lives exactly as long as its session). Blocking calls: the
    worker runs them on a thread of their own. Short network timeouts, so a lost connection
    is noticed in seconds, not minutes."""

    def __init__(self, engine: sa.Engine, key: int, *, url: sa.URL | None = None) -> None:
        """``url``: where to hold the lock when ``engine`` goes through a pooler."""
        self.key = key
        self.dialect = engine.dialect.name
        self._database = engine.url.database or ""
        connect_args: dict[str, Any] = {}
        if self.dialect == "postgresql":
            connect_args = {
                "connect_timeout": 3,
                "application_name": f"contenthub-worker-lock-{key}",
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 2,
            }
        elif self.dialect in ("mysql", "mariadb"):
            connect_args = {"connect_timeout": 3, "read_timeout": 5, "write_timeout": 5}
        self._engine = sa.create_engine(
            url or engine.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args=connect_args,
        )
        self._conn: sa.Connection | None = None

    @property
    def name(self) -> str:
        return mysql_lock_name(self._database, self.key)

    def acquire(self) -> bool:
        """Take the lock on a fresh connection; False when someone else holds it or the
        database cannot be reached."""
        self._drop()
        try:
            conn = self._engine.connect()
            if self.dialect == "postgresql":
                got = conn.scalar(
                    sa.text("SELECT pg_try_advisory_lock(:ns, :key)"),
                    {"ns": PG_LOCK_NAMESPACE, "key": self.key},
                )
            else:
                got = conn.scalar(sa.text("SELECT GET_LOCK(:name, 0)"), {"name": self.name}) == 1
        except exc.DBAPIError as error:
            log.debug("worker lock: cannot connect", extra={"error": str(error)[:200]})
            return False
        if not got:
            log.debug("worker lock: held by another session", extra={"key": self.key})
            conn.close()
            return False
        self._conn = conn
        return True

    def holds(self) -> bool:
        """True while the lock's connection lives (the server keeps the lock for it)."""
        if self._conn is None:
            return False
        try:
            self._conn.exec_driver_sql("SELECT 1").scalar()
        except exc.DBAPIError:
            self._drop()
            return False
        return True

    def release(self) -> None:
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        """Closing the connection releases the lock (when the server still has it)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except exc.DBAPIError:
                conn.invalidate()


def worker_register(
    session: Session,
    *,
    name: str,
    lock_key: int,
    host: str,
    pid: int,
    process_start: str | None,
    now: datetime,
) -> bool:
    """Record this worker (again, after a rescuer removed it); the lock must be held first,
    so a rescuer never sees a registered worker whose lock was not yet taken. False when a
    dead worker's row not yet removed still has this key."""
    rows = session.execute(
        sa.select(WORKERS.c.name).where(
            sa.or_(WORKERS.c.name == name, WORKERS.c.lock_key == lock_key)
        )
    ).all()
    if any(row.name != name for row in rows):
        return False
    if not rows:
        session.execute(
            sa.insert(WORKERS).values(
                name=name,
                lock_key=lock_key,
                host=host[:255],
                pid=pid,
                process_start=process_start,
                started_at=now,
            )
        )
    return True


def worker_unregister(session: Session, name: str) -> None:
    session.execute(sa.delete(WORKERS).where(WORKERS.c.name == name))


def worker_registry_read(session: Session, *, exclude: str | None = None) -> list[WorkerRow]:
    """The registered workers (but ``exclude``), each with whether its lock is held now."""
    query = sa.select(
        WORKERS.c.name, WORKERS.c.lock_key, WORKERS.c.host, WORKERS.c.pid, WORKERS.c.process_start
    ).order_by(WORKERS.c.id)
    if exclude is not None:
        query = query.where(WORKERS.c.name != exclude)
    rows = session.execute(query).all()
    held = _locks_held(session, [row.lock_key for row in rows])
    return [
        WorkerRow(*row, lock_held=None if held is None else row.lock_key in held) for row in rows
    ]


def worker_locks_held(session: Session, keys: list[int]) -> set[int] | None:
    """Which of these workers' locks are held now; None on SQLite."""
    return _locks_held(session, keys)


def _locks_held(session: Session, keys: list[int]) -> set[int] | None:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return None
    if not keys:
        return set()
    if dialect == "postgresql":
        # Advisory locks are per database; pg_locks lists every database's, hence the filter.
        held = session.scalars(
            sa.text(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objsubid = 2 AND classid::bigint = :ns AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": PG_LOCK_NAMESPACE},
        ).all()
        return set(held) & set(keys)
    database = session.get_bind().url.database or ""
    names = {f"n{i}": mysql_lock_name(database, key) for i, key in enumerate(keys)}
    columns = ", ".join(f"IS_FREE_LOCK(:{param})" for param in names)
    free = session.execute(sa.text(f"SELECT {columns}"), names).one()
    return {key for key, is_free in zip(keys, free, strict=True) if is_free == 0}
