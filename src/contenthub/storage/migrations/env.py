"""Alembic environment: run by ``contenthub db upgrade`` with a connection handed in."""

from __future__ import annotations

from alembic import context

from contenthub.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through contenthub.storage.migrate
    raise RuntimeError("run migrations through 'contenthub db upgrade'")

sqlite = connection.dialect.name == "sqlite"
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=sqlite,
    compare_type=True,
)
if sqlite:
    # Batch mode changes a SQLite table by copying it and dropping the old one; with foreign
    # keys on, that drop cascades (ON DELETE CASCADE) and empties every child table: an
    # upgrade that alters `accounts` would delete every task. SQLite ignores this pragma
    # inside a transaction, so it goes first, on the driver's connection (SQLAlchemy would
    # open one: storage/db.py begins every transaction itself); it is switched back on below.
    if connection.in_transaction():
        connection.commit()
    connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
try:
    with context.begin_transaction():
        context.run_migrations()
finally:
    if sqlite:
        if connection.in_transaction():
            connection.commit()
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
