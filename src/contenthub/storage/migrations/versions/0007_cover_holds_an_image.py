"""an article's cover may be the image itself (a data: URI), not only its address

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LONG_TEXT = (
    sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql")
)


def _sqlite() -> bool:
    # SQLite does not enforce a VARCHAR's length, and its batch copy of publish_tasks would
    # fail on the generated column: nothing to change there.
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        return
    for table in ("articles", "publish_tasks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "cover",
                existing_type=sa.String(length=1000),
                type_=LONG_TEXT,
                existing_nullable=True,
            )


def downgrade() -> None:
    if _sqlite():
        return
    for table in ("articles", "publish_tasks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "cover",
                existing_type=LONG_TEXT,
                type_=sa.String(length=1000),
                existing_nullable=True,
            )
