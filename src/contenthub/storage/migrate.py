"""Schema upgrades through Alembic, safe when several processes start at once."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("contenthub.migrate")
_LOCK_KEY = 728_991_337  # any constant: the advisory lock that serializes upgrades


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    # A read: on SQLite it must not wait for (or take) the write lock.
    with engine.execution_options(contenthub_readonly=True).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


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
    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
