"""task listing index: a user's tasks newest first without sorting them all

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 15:20:00

A listing is a user's tasks by id, newest first, 50 at a time. The only index by user was
(user_id, created_at), so every listing read and sorted all of the user's tasks (a user with
100,000 tasks: 100,000 rows per page). With (user_id, id) a page reads its 50 rows.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_publish_tasks_user_id_id", "publish_tasks", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_publish_tasks_user_id_id", table_name="publish_tasks")
