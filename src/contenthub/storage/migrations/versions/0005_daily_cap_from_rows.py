"""daily cap from rows: index tasks by (account_id, started_at), drop the accounts' counter

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00

The claim now counts an account's tasks started in the last 24 hours instead of keeping a
counter on the account, so the counter's two columns go. Plain ALTERs on every database, not
a batch rebuild: on SQLite a rebuild drops ``accounts``, and its foreign keys would cascade
to every task.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import contenthub.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_publish_tasks_account_started",
        "publish_tasks",
        ["account_id", "started_at"],
        unique=False,
    )
    op.drop_column("accounts", "day_started_count")
    op.drop_column("accounts", "day_window_started_at")


def downgrade() -> None:
    # The counter starts empty: the window opens again at the next start.
    op.add_column(
        "accounts",
        sa.Column(
            "day_window_started_at",
            contenthub.storage.models.UTCDateTime(),
            nullable=False,
            server_default=sa.text("'1970-01-01 00:00:00'"),
        ),
    )
    op.add_column(
        "accounts",
        sa.Column("day_started_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.drop_index("ix_publish_tasks_account_started", table_name="publish_tasks")
