"""The schema built by every migration equals the models, on each database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from contenthub.storage import migrate
from contenthub.storage.db import Database
from contenthub.storage.models import Base


def test_migrations_reach_the_models(db: Database) -> None:
    assert migrate.is_current(db.engine)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == migrate.head_revision()
