"""Shared fixtures: one fresh database per backend per test run, cleaned after every test.

PostgreSQL and MariaDB come from the machine's servers (CONTENTHUB_TEST_PG / _MYSQL to point
elsewhere). With CI=true a server that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from contenthub.storage import migrate
from contenthub.storage.db import Database

REPO = Path(__file__).resolve().parent.parent
SUPPORT = Path(__file__).resolve().parent / "support"
sys.path.insert(0, str(SUPPORT))

PG_ADMIN = os.environ.get("CONTENTHUB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN = os.environ.get("CONTENTHUB_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")
BACKENDS = ["sqlite", "postgresql", "mysql"]
TABLES = [
    "pool_entry_tasks",
    "pool_entries",
    "job_runs",
    "scheduled_jobs",
    "task_events",
    "publish_tasks",
    "articles",
    "accounts",
    "platforms",
    "api_tokens",
    "idempotent_requests",
    "web_sessions",
    "users",
    "workers",
]
RUN = uuid.uuid4().hex[:8]


def _unavailable(backend: str, error: Exception) -> None:
    message = f"{backend} server unavailable: {str(error).splitlines()[0]}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class ServerDatabase:
    """A database of our own on a shared server, created for this run and dropped after."""

    def __init__(self, backend: str, name: str) -> None:
        self.backend = backend
        self.admin_url = make_url(PG_ADMIN if backend == "postgresql" else MYSQL_ADMIN)
        self.url = self.admin_url.set(database=name)
        self.name = name

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(statement))
        finally:
            engine.dispose()

    def create(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name}")
        self._admin(f"CREATE DATABASE {self.name}")

    def drop(self) -> None:
        if self.backend == "postgresql":
            self._admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
            )
        self._admin(f"DROP DATABASE IF EXISTS {self.name}")


def fresh_database_url(
    backend: str, tmp_dir: Path, label: str
) -> tuple[str, ServerDatabase | None]:
    """A new, migrated database; the caller drops the server one when done."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / f'{label}.db'}"
        server = None
    else:
        server = ServerDatabase(backend, f"ch_{label}_{RUN}")
        try:
            server.create()
        except Exception as error:
            _unavailable(backend, error)
        url = server.url.render_as_string(hide_password=False)
    engine = sa.create_engine(url) if backend != "sqlite" else Database.connect(url).engine
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url, server


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    backend = request.param
    url, server = fresh_database_url(backend, tmp_path_factory.mktemp(backend), "suite")
    yield url
    if server:
        server.drop()


def _clean(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        elif db.dialect == "mysql":
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
            for table in TABLES:
                conn.execute(sa.text(f"TRUNCATE TABLE {table}"))
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
        else:
            for table in TABLES:
                conn.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A clean database of the parametrized backend; emptied again after the test."""
    database = Database.connect(database_url, retry_seconds=20)
    _clean(database)
    yield database
    _clean(database)
    database.dispose()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; whatever is still alive at the end is killed by its PID."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
