"""The schema built by every migration equals the models, on each database."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

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


def test_the_quick_schema_check_agrees_with_alembic(db: Database) -> None:
    """Start-up checks the schema without Alembic: by the version table, and by the newest
    migration's file name, which must be its revision (a misnamed file or a branch fails
    here, not in production)."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.head_revision() == scripts.get_current_head()
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_"), script.path
    with db.engine.connect() as conn:
        assert migrate.current_revision(db.engine) == (
            MigrationContext.configure(conn).get_current_revision()
        )
    assert migrate.is_current(db.engine)


def test_a_database_never_upgraded_has_no_revision(tmp_path: Path) -> None:
    empty = Database.connect(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert migrate.current_revision(empty.engine) is None
        assert not migrate.is_current(empty.engine)
    finally:
        empty.dispose()
