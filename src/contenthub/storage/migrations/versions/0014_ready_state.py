"""ready state: users.turn_at and accounts.ready_at, so the claim skips who cannot be served

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 06:00:00

Plain ALTERs on every database (a batch rebuild of ``accounts`` on SQLite would cascade to
every task). Backfill: every account with a queued task is "look again" (the epoch), and so
is its user, at its place in the turn order; the first claims set the exact times. Running
tasks mark their accounts when they end.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from contenthub.storage.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("turn_at", UTCDateTime(), nullable=True))
    op.add_column("accounts", sa.Column("ready_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE accounts SET ready_at = '1970-01-01 00:00:00' WHERE EXISTS (SELECT 1 FROM"
        " publish_tasks t WHERE t.account_id = accounts.id AND t.status IN ('queued', 'running'))"
    )
    op.execute(
        "UPDATE users SET turn_at = last_served_at WHERE EXISTS (SELECT 1 FROM accounts a"
        " WHERE a.user_id = users.id AND a.ready_at IS NOT NULL)"
    )
    op.drop_index("ix_users_last_served_at_id", table_name="users")
    op.create_index("ix_users_turn_at_id", "users", ["turn_at", "id"])
    op.create_index("ix_accounts_user_id_ready_at", "accounts", ["user_id", "ready_at"])


def downgrade() -> None:
    op.drop_index("ix_accounts_user_id_ready_at", table_name="accounts")
    op.drop_index("ix_users_turn_at_id", table_name="users")
    op.create_index("ix_users_last_served_at_id", "users", ["last_served_at", "id"])
    op.drop_column("accounts", "ready_at")
    op.drop_column("users", "turn_at")
