"""tasks held for review: when the platform's review ended

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 05:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from contenthub.storage.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE on all three databases (no
    # batch copy: SQLite keeps the table, its computed column and partial indexes as they are).
    op.add_column("publish_tasks", sa.Column("reviewed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("publish_tasks", "reviewed_at")
