"""Engines and the one unit-of-work helper every database touch goes through.

A unit of work is a short session: open, run, commit, close. Transient errors (a lost
connection, a deadlock, a lock timeout, ``database is locked``) are retried here, with
backoff, and nowhere else. No session is ever held across a publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import sqlalchemy as sa
from pydantic_core import from_json
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_when_event_set,
    wait_random_exponential,
)

from contenthub.storage.write_batch import Pending, WriteBatcher
from contenthub.storage.writer_turn import WriterTurn

log = logging.getLogger(__name__)
T = TypeVar("T")
_NEW_WORK = "contenthub_new_work"
SQLITE_BUSY_MS = 30_000
# Writes from an event loop in threads of the pool at once, on a network database.
ASYNC_WRITERS = 12
# PostgreSQL connections of an event loop's own, for its reads (Database.on_loop).
LOOP_READ_CONNECTIONS = 20
# After a batch in which a unit of work failed, this many batches run with a savepoint per
# unit from the start (Database._batch_outcomes).
SAVEPOINT_BATCHES_AFTER_A_FAILURE = 8


def statements_of(session: Session) -> str:
    """``postgresql`` (PostgreSQL's own statements: the claim, the enqueue, the completion) or
    ``portable``, as the gateway chose: the engine option ``contenthub_statements="portable"``
    forces the portable ones (the conformance suite runs both)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return "portable"
    return str(bind.get_execution_options().get("contenthub_statements", "postgresql"))


def announce_new_work(session: Session) -> None:
    """Once this session's transaction commits, wake this process's idle workers (the
    listeners of :meth:`Database.on_new_work`): an API and workers sharing one process (``serve``)
    start a task at once instead of at the workers' next poll."""
    session.info[_NEW_WORK] = True


# MySQL/MariaDB: server gone (2006), lost connection (2013), can't connect (2002, 2003),
# lock wait timeout (1205), deadlock (1213), connection killed (1927), shutdown (1053).
_MYSQL_TRANSIENT = {1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013, 2014, 2055}
# Errors about the statement itself, never the connection: the same statement fails again.
# MySQL/MariaDB: packet too large (1153, 1301), data too long (1406), out of range (1264),
# incorrect value (1366, 1292), null in a NOT NULL column (1048).
_MYSQL_PERMANENT = {1048, 1153, 1264, 1292, 1301, 1366, 1406}
# PostgreSQL SQLSTATE classes: data exception (22), integrity (23), program limit (54).
_PG_PERMANENT_PREFIXES = ("22", "23", "54")
# PostgreSQL SQLSTATEs: serialization failure, deadlock, admin/crash shutdown, cannot connect
# now, connection exceptions (class 08), lock not available.
_PG_TRANSIENT_PREFIXES = ("40001", "40P01", "57P01", "57P02", "57P03", "08", "55P03")


def is_transient(error: BaseException) -> bool:
    """True when trying the same unit of work again may succeed."""
    orig = getattr(error, "orig", None) or error
    if isinstance(orig, StatementTooLarge):
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    args = getattr(orig, "args", ())
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_PERMANENT_PREFIXES):
        return False
    if args and isinstance(args[0], int) and args[0] in _MYSQL_PERMANENT:
        return False
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_TRANSIENT_PREFIXES):
        return True
    if args and isinstance(args[0], int) and args[0] in _MYSQL_TRANSIENT:
        return True
    text = str(orig).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        # Lost sockets surface as Operational/Interface errors without a code on some drivers.
        return any(
            s in text
            for s in (
                "server closed the connection",
                "connection refused",
                "connection reset",
                "connection is closed",
                "terminating connection",
                "lost connection",
                "gone away",
                "consuming input failed",
                "the connection is lost",
            )
        )
    return False


# A unit of work lasts milliseconds. A session idle inside a transaction this long belongs to
# a process that froze mid-transaction (SIGSTOP, a debugger): the server ends it, so the row
# locks it holds cannot keep the rescuers (SKIP LOCKED) from its tasks forever.
IDLE_IN_TRANSACTION = 20


class StatementTooLarge(Exception):
    """A statement larger than the MySQL/MariaDB server takes (``max_allowed_packet``).

    Sent anyway, the server would drop the connection, which reads exactly like a database
    gone away and would be retried as one; so it is refused here, before it is sent."""


def refusal(error: BaseException) -> str | None:
    """Why the database refused a statement, in one line without the statement or its values;
    None when ``error`` is not the database's."""
    if isinstance(error, StatementTooLarge):
        return str(error)
    if not isinstance(error, exc.StatementError):
        return None
    orig = error.orig if error.orig is not None else error
    lines = str(orig).strip().splitlines()
    return (lines[0] if lines else type(orig).__name__)[:300]


def _mysql_setup(engine: sa.Engine) -> None:
    """Learn each connection's ``max_allowed_packet`` and refuse statements above it."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT @@max_allowed_packet")
        record.info["max_packet"] = int(cursor.fetchone()[0])
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _fits(
        conn: sa.Connection, cursor: Any, statement: str, parameters: Any, _c: Any, many: bool
    ) -> None:
        limit = conn.connection.info.get("max_packet")
        if limit is None or many:  # executemany: the driver splits it into statements itself
            return
        rough = len(statement) + sum(
            len(p) for p in _flat(parameters) if isinstance(p, str | bytes)
        )
        # Most statements are far below the limit; only a large one pays for exact escaping.
        if rough * 2 < limit:
            return
        size = len(cursor.mogrify(statement, parameters).encode("utf-8"))
        if size > limit:
            raise StatementTooLarge(
                f"the statement is {size} bytes, above the database server's "
                f"max_allowed_packet ({limit} bytes)"
            )


def _flat(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, list | tuple):
        return list(parameters)
    return []


def _sqlite_setup(engine: sa.Engine, busy_ms: int) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE so writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        readonly = conn.get_execution_options().get("contenthub_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


_NOT_A_FILE = (None, "", ":memory:")


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in _NOT_A_FILE:
        return None
    return Path(parsed.database)


def create_engine(
    url: str, *, pool_size: int = 10, pooler: bool = False, busy_ms: int = SQLITE_BUSY_MS
) -> sa.Engine:
    """No pre-ping: it costs a round trip on every unit of work. A connection that died in
    the pool fails its first statement, which invalidates the pool and is retried (above).

    ``hide_parameters``: an error's text (and so every log line and traceback that shows it)
    carries the statement but never its values: article bodies, credentials, tokens.

    ``json_deserializer``: pydantic's parser (Rust), three times the standard library's; a
    listing parses a JSON column per row.

    ``pooler``: the URL is a transaction-mode pooler (pgbouncer): no server-side prepared
    statements (a later transaction may run on another server connection) and no startup
    options (pgbouncer refuses them; set the timeout on the role instead, §26).

    ``busy_ms``: how long a SQLite statement waits for a lock before it fails."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": busy_ms / 1000, "check_same_thread": False},
            pool_size=pool_size,
            hide_parameters=True,
            json_deserializer=from_json,
        )
        _sqlite_setup(engine, busy_ms)
        return engine
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend in ("mysql", "mariadb"):
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername=f"{backend}+pymysql")
        engine = sa.create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            # Locking reads must not keep gap locks on rows they skipped.
            isolation_level="READ COMMITTED",
            connect_args={
                "connect_timeout": 10,
                "read_timeout": 60,
                "write_timeout": 60,
                "init_command": f"SET SESSION idle_transaction_timeout = {IDLE_IN_TRANSACTION}",
                # The driver's own cap (16 MiB by default) must not be below the server's.
                "max_allowed_packet": 1024 * 1024 * 1024,
            },
            hide_parameters=True,
            json_deserializer=from_json,
        )
        _mysql_setup(engine)
        return engine
    return sa.create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, **_postgresql_options(pooler)
    )


def _postgresql_options(pooler: bool) -> dict[str, Any]:
    """A PostgreSQL engine's options, the threads' engine's and an event loop's alike."""
    connect_args: dict[str, Any] = {"connect_timeout": 10}
    if pooler:
        connect_args["prepare_threshold"] = None
    else:
        connect_args["options"] = (
            f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION * 1000}"
        )
    return {
        "pool_recycle": 1800,
        "connect_args": connect_args,
        "hide_parameters": True,
        "json_deserializer": from_json,
    }


@dataclass
class Database:
    """An engine plus the unit-of-work helper; built by the process using it, never at import."""

    engine: sa.Engine
    retry_seconds: float = 60.0
    # Statements this process sent (every unit of work's), for /metrics and the benchmarks.
    statements: int = 0
    # Statements that failed because the database was unreachable, busy or dropped the
    # connection (retried or not), for /metrics; refusals of a statement itself not counted.
    errors: int = 0

    # Where session state lives (LISTEN, the workers' liveness locks, the upgrade lock):
    # the database itself when the engine's URL is a transaction-mode pooler (§26).
    session_url: sa.URL | None = None

    def __post_init__(self) -> None:
        if self.session_url is None:
            self.session_url = self.engine.url
        self._work_listeners: list[Callable[[], None]] = []
        # Set by stop_retrying (and dispose): a unit of work retrying an unreachable database
        # gives up at once (a process stopping waits for its threads: an API whose database
        # had gone took the whole retry_seconds to exit).
        self._no_more_retries = threading.Event()
        self._in_place: Database | None = None
        self._savepoint_batches = 0  # the writing thread's alone
        # SQLite has one writer: this process's and the others' writers take turns at it
        # rather than each retrying in SQLite's busy handler (writer_turn.py).
        self._writer: contextlib.AbstractContextManager[Any] = (
            WriterTurn(sqlite_file(self.engine.url), SQLITE_BUSY_MS / 1000)
            if self.engine.dialect.name == "sqlite"
            else contextlib.nullcontext()
        )
        # And within the process, one thread writes, several units of work a transaction.
        self._batcher = (
            WriteBatcher(self._write_batch) if self.engine.dialect.name == "sqlite" else None
        )
        self._async_writers: weakref.WeakKeyDictionary[Any, anyio.CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )
        self._loop_reads: weakref.WeakKeyDictionary[Any, LoopReads] = weakref.WeakKeyDictionary()
        event.listen(self.engine, "before_cursor_execute", self._count_statement)
        event.listen(self.engine, "handle_error", self._count_error)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        reads = self.engine.execution_options(contenthub_readonly=True)
        if self.engine.dialect.name == "postgresql":
            # Under READ COMMITTED every statement reads its own snapshot, in a transaction
            # or not: a read's BEGIN and COMMIT would be two round trips buying nothing.
            reads = reads.execution_options(isolation_level="AUTOCOMMIT")
        self._read_sessions = sessionmaker(reads, expire_on_commit=False)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        retry_seconds: float = 60.0,
        session_url: str | None = None,
    ) -> Database:
        """``session_url``: given when ``url`` is a transaction-mode pooler (pgbouncer)."""
        engine = create_engine(url, pool_size=pool_size, pooler=session_url is not None)
        direct = make_url(session_url) if session_url else None
        if direct is not None and direct.drivername == "postgresql":
            direct = direct.set(drivername="postgresql+psycopg")
        return cls(engine, retry_seconds=retry_seconds, session_url=direct)

    @contextlib.contextmanager
    def session_engine(self) -> Iterator[sa.Engine]:
        """An engine on the session URL, for work that holds session state (schema upgrades
        under their advisory lock); the usual engine when there is no pooler."""
        if self.session_url is None or self.session_url == self.engine.url:
            yield self.engine
            return
        engine = create_engine(self.session_url.render_as_string(hide_password=False))
        try:
            yield engine
        finally:
            engine.dispose()

    @property
    def dialect(self) -> str:
        name = self.engine.dialect.name
        return "mysql" if name == "mariadb" else name

    def _count_statement(self, *_: Any) -> None:
        self.statements += 1  # not atomic across threads: a rare lost count is harmless

    def _count_error(self, context: Any) -> None:
        if context.is_disconnect or is_transient(context.original_exception):
            self.errors += 1

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction, committed, retrying transient errors.

        On SQLite the transaction may be shared with other units of work queued meanwhile
        (each in a savepoint of its own: one that fails is undone alone; write_batch.py)."""
        if self._batcher is not None:
            return self._batcher.submit(work)
        return self._run(self._sessions, work, self._writer)

    async def write_async(self, work: Callable[[Session], T]) -> T:
        """:meth:`write` from an event loop, which goes on meanwhile: on SQLite the loop
        waits for the writing thread itself; elsewhere a thread of the pool runs it, at most
        ``ASYNC_WRITERS`` at once, the others waiting their turn in order.

        Measured (PostgreSQL, 50 clients publishing through one ``serve``): with every
        request's transaction in a thread of its own, their round trips handed the
        interpreter lock around 40 threads and the slowest answers took 0.8 s; twelve at a
        time, 0.44 s, at the same rate (decisions §35)."""
        if self._batcher is not None:
            return await self._batcher.submit_async(work)
        loop = asyncio.get_running_loop()
        limiter = self._async_writers.get(loop)
        if limiter is None:
            limiter = self._async_writers[loop] = anyio.CapacityLimiter(ASYNC_WRITERS)
        return await anyio.to_thread.run_sync(self.write, work, limiter=limiter)

    def _write_batch(self, batch: list[Pending[Any]]) -> None:
        """Units of work queued together, in one transaction; each caller gets its own
        result or error once it is committed. A transient error retries the whole batch."""
        try:
            if len(batch) == 1:
                outcomes = [(True, self._run(self._sessions, batch[0].work, self._writer))]
            else:
                outcomes = self._batch_outcomes(batch)
        except BaseException as error:
            for pending in batch:
                pending.fail(error)
            return
        for pending, (succeeded, value) in zip(batch, outcomes, strict=True):
            if succeeded:
                pending.succeed(value)
            else:
                pending.fail(value)

    def _batch_outcomes(self, batch: list[Pending[Any]]) -> list[tuple[bool, Any]]:
        """A unit of work that fails must be undone alone, which a savepoint around each one
        gives, at two statements a unit (a tenth of a publish's CPU). Units rarely fail, so a
        batch first runs without them; when one fails, that transaction is rolled back and
        the batch runs again with a savepoint per unit, as do the next few batches (a caller
        whose requests keep failing cannot make every batch run twice)."""
        if self._savepoint_batches == 0:
            try:
                return self._run(self._sessions, lambda s: _all_succeeding(s, batch), self._writer)
            except _UnitFailed:
                self._savepoint_batches = SAVEPOINT_BATCHES_AFTER_A_FAILURE
        else:
            self._savepoint_batches -= 1
        return self._run(self._sessions, lambda s: _each_in_savepoint(s, batch), self._writer)

    def read(self, work: Callable[[Session], T]) -> T:
        return self._run(self._read_sessions, work, contextlib.nullcontext())

    def _run(
        self,
        factory: sessionmaker[Session],
        work: Callable[[Session], T],
        turn: contextlib.AbstractContextManager[Any],
    ) -> T:
        for attempt in Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.05, max=2.0),
            stop=stop_after_delay(self.retry_seconds) | stop_when_event_set(self._no_more_retries),
            sleep=self._no_more_retries.wait,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "database busy or unreachable, retrying",
                extra={
                    "attempt": state.attempt_number,
                    "error": str(state.outcome.exception())[:200],
                },
            ),
        ):
            # The turn is held for one attempt, never while waiting to retry.
            with attempt, turn, factory() as session:
                with session.begin():
                    result = work(session)
                if session.info.get(_NEW_WORK):
                    self._announce_new_work()
                return result
        raise AssertionError("unreachable")

    def in_place(self) -> Database | None:
        """For an event loop's own thread, on an embedded (file) SQLite only: the same
        database through one connection of its own that never waits (50 ms at most) for a
        lock and never retries; None elsewhere.

        Under load, a read handed to the thread pool cost several times the read itself: the
        SQLite driver lets go of the GIL for every row it steps, and with dozens of request
        threads each row became a hand-over between threads (decisions §32). Under WAL a read
        never waits for a writer, so reading where the request is costs the loop only the
        read. A network database stays on the thread pool: a round trip must not hold the
        loop. What fails here as busy is read again the usual way
        (:func:`contenthub.api.deps.read_near`)."""
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in _NOT_A_FILE:
            return None
        if self._in_place is None:
            engine = create_engine(str(self.engine.url), pool_size=1, busy_ms=50)
            # Its statements and failures count as this database's (/metrics).
            event.listen(engine, "before_cursor_execute", self._count_statement)
            event.listen(engine, "handle_error", self._count_error)
            self._in_place = _InPlaceReads(engine, retry_seconds=0)
        return self._in_place

    def on_loop(self) -> LoopReads | None:
        """For a running event loop, on PostgreSQL only: reads on the loop's own thread,
        through connections of its own that wait for the database without a thread; None
        elsewhere (an embedded SQLite reads :meth:`in_place`; MariaDB's driver has no asyncio
        side).

        Measured (PostgreSQL, 50 clients listing through one ``serve``): a read handed to the
        thread pool cost the process as much CPU in the hand-overs of the interpreter lock as
        in the read itself; the hand-over alone, with nothing read, halved the listing's rate
        (decisions §42). What fails here as transient is read again the usual way
        (:func:`contenthub.api.deps.read_near`)."""
        if self.engine.dialect.name != "postgresql":
            return None
        loop = asyncio.get_running_loop()
        reads = self._loop_reads.get(loop)
        if reads is None:
            reads = self._loop_reads[loop] = LoopReads(self)
        return reads

    def near_loop(self) -> NearReads | None:
        """What reads from an event loop without the thread pool: :meth:`in_place` on an
        embedded SQLite, :meth:`on_loop` on PostgreSQL; None elsewhere."""
        return self.in_place() or self.on_loop()

    async def close_loop_reads(self) -> None:
        """Close the running loop's read connections (:meth:`on_loop`), before it ends."""
        reads = self._loop_reads.pop(asyncio.get_running_loop(), None)
        if reads is not None:
            await reads.close()

    def on_new_work(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (on the committing thread) after every transaction of this
        process that made work ready (:func:`announce_new_work`); returns its removal."""
        self._work_listeners.append(listener)
        return lambda: self._work_listeners.remove(listener)

    def _announce_new_work(self) -> None:
        for listener in list(self._work_listeners):
            try:
                listener()
            except Exception:  # a listener's failure is not the committed work's
                log.exception("a new-work listener failed")

    def stop_retrying(self) -> None:
        """From now on a unit of work tries once: those retrying now stop and raise. For a
        process that stops and will not wait for a database that has gone."""
        self._no_more_retries.set()

    @property
    def retrying_stopped(self) -> bool:
        return self._no_more_retries.is_set()

    def dispose(self) -> None:
        """Close the connections; units of work still retrying stop and raise."""
        self.stop_retrying()
        if self._in_place is not None:
            self._in_place.dispose()
        if self._batcher is not None:
            self._batcher.close()
        if isinstance(self._writer, WriterTurn):
            self._writer.close()
        self.engine.dispose()


class _ReadsOnly(Database):
    """A database for reads where a write would go around the rules every write follows
    (SQLite's writer turn, a transaction): it refuses them."""

    def write(self, work: Callable[[Session], T]) -> T:
        raise TypeError(f"{type(self).__name__} only reads: write through the Database")

    async def write_async(self, work: Callable[[Session], T]) -> T:
        return self.write(work)


class NearReads(Protocol):
    """Reads near an event loop (:meth:`Database.near_loop`)."""

    async def read_once(self, read: Callable[[Database], T]) -> T:
        """``read(db)``, once: no retry (the caller reads again on the thread pool)."""
        ...


class _InPlaceReads(_ReadsOnly):
    """:meth:`Database.in_place`'s database: each thread reads through a connection of its
    own, kept between reads. A pooled connection's checkout and return (a rollback to reset
    it) cost as much as a listing's statement; a connection that holds no transaction
    between reads keeps nothing from the writers under WAL."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._held = threading.local()
        self._connections: list[sa.Connection] = []

    async def read_once(self, read: Callable[[Database], T]) -> T:
        return read(self)  # a read here never waits long for a lock (busy_ms=50)

    def read(self, work: Callable[[Session], T]) -> T:
        connection = self._connection()
        with connection.begin(), Session(bind=connection, expire_on_commit=False) as session:
            return work(session)

    def _connection(self) -> sa.Connection:
        connection: sa.Connection | None = getattr(self._held, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            if connection is not None:
                connection.close()
            connection = self.engine.execution_options(contenthub_readonly=True).connect()
            self._held.connection = connection
            self._connections.append(connection)
        return connection

    def dispose(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        super().dispose()


# The connection a LoopReads run holds, set in that run's own greenlet (each has its own).
_LOOP_CONNECTION: contextvars.ContextVar[sa.Connection] = contextvars.ContextVar("loop_connection")


class LoopReads:
    """:meth:`Database.on_loop`'s reads: an asyncio engine of the loop's own (SQLAlchemy's,
    over psycopg's asyncio connections), in autocommit as every PostgreSQL read is (§32).
    A read function written for a :class:`Database` runs unchanged: SQLAlchemy runs it in a
    greenlet that gives the loop back at every round trip."""

    def __init__(self, db: Database) -> None:
        self._engine = create_async_engine(
            db.engine.url,
            pool_size=LOOP_READ_CONNECTIONS,
            # Requests beyond the pool wait for a connection: one opened and closed per read
            # cost more than the wait (measured).
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            **_postgresql_options(pooler=db.session_url != db.engine.url),
        )
        # Its statements and failures count as this database's (/metrics).
        event.listen(self._engine.sync_engine, "before_cursor_execute", db._count_statement)
        event.listen(self._engine.sync_engine, "handle_error", db._count_error)
        self._reads = _HeldConnectionReads(self._engine.sync_engine, retry_seconds=0)

    async def read_once(self, read: Callable[[Database], T]) -> T:
        async with self._engine.connect() as connection:
            return await connection.run_sync(self._reads.run, read)

    async def close(self) -> None:
        await self._engine.dispose()


class _HeldConnectionReads(_ReadsOnly):
    """A database whose reads go through the connection its caller holds."""

    def run(self, connection: sa.Connection, read: Callable[[Database], T]) -> T:
        token = _LOOP_CONNECTION.set(connection)
        try:
            return read(self)
        finally:
            _LOOP_CONNECTION.reset(token)

    def read(self, work: Callable[[Session], T]) -> T:
        with Session(bind=_LOOP_CONNECTION.get(), expire_on_commit=False) as session:
            return work(session)


class _UnitFailed(Exception):
    """A unit of work of a batch run without savepoints failed: run the batch with them."""


def _all_succeeding(session: Session, batch: list[Pending[Any]]) -> list[tuple[bool, Any]]:
    """Each unit of work's result, all in the session's transaction; the first failure that
    is not transient rolls it back (raised as :class:`_UnitFailed`)."""
    outcomes: list[tuple[bool, Any]] = []
    for pending in batch:
        try:
            outcomes.append((True, pending.work(session)))
        except Exception as error:
            if is_transient(error):
                raise
            raise _UnitFailed from error
    return outcomes


def _each_in_savepoint(session: Session, batch: list[Pending[Any]]) -> list[tuple[bool, Any]]:
    """Each unit of work's result, or its error with its writes undone (a transient error
    is the whole transaction's: raised, so the batch is retried)."""
    outcomes: list[tuple[bool, Any]] = []
    for pending in batch:
        announced = session.info.get(_NEW_WORK, False)
        try:
            with session.begin_nested():
                outcomes.append((True, pending.work(session)))
        except Exception as error:
            if is_transient(error):
                raise
            session.info[_NEW_WORK] = announced
            outcomes.append((False, error))
    return outcomes
