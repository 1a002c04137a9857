"""Alembic environment: run by ``contenthub db upgrade`` with a connection handed in."""

from __future__ import annotations

from alembic import context

from contenthub.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through contenthub.storage.migrate
    raise RuntimeError("run migrations through 'contenthub db upgrade'")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
