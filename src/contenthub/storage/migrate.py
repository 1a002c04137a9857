"""Schema upgrades through Alembic, safe when several processes start at once.

Alembic is imported only to upgrade or to list revisions: every command, worker and
``/readyz`` checks that the schema is current, and Alembic with its revision map cost a
command's start-up a quarter of a second. That check reads the version table and the newest
migration's file name (``tests/db/test_migrations.py`` holds both to Alembic's own view).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
log = logging.getLogger("contenthub.migrate")
_LOCK_KEY = 728_991_337  # any constant: the advisory lock that serializes upgrades


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest migration's revision: each file is named after its revision
    (``0015_task_listing_index.py``) and follows the one before."""
    names = sorted(p.name for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return names[-1][:4] if names else None


def current_revision(engine: sa.Engine) -> str | None:
    # A read: on SQLite it must not wait for (or take) the write lock.
    with engine.execution_options(contenthub_readonly=True).connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.scalar(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))


@contextlib.contextmanager
def _upgrade_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    dialect = engine.dialect.name
    if dialect == "sqlite":
        db_file = Path(engine.url.database or "contenthub.db")
        with open(f"{db_file}.migrate.lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            with engine.connect() as conn:
                yield conn
        return
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        else:
            conn.execute(sa.text("SELECT GET_LOCK('contenthub_migrate', 600)"))
        conn.commit()
        try:
            yield conn
        finally:
            if dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            else:
                conn.execute(sa.text("SELECT RELEASE_LOCK('contenthub_migrate')"))
            conn.commit()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    if revision == "head" and is_current(engine):
        return  # every start of serve and worker: nothing to do, no Alembic to load
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with _upgrade_lock(engine) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()
        after = MigrationContext.configure(conn).get_current_revision()
    if after != before:
        log.info("database schema upgraded", extra={"from_revision": before, "to_revision": after})


def is_current(engine: sa.Engine) -> bool:
    return current_revision(engine) == head_revision()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
