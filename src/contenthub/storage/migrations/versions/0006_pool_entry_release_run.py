"""pool entries remember the run that released them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_run_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_pool_entries_release_run_id"), ["release_run_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_pool_entries_release_run_id_job_runs"),
            "job_runs",
            ["release_run_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("pool_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_pool_entries_release_run_id_job_runs"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_pool_entries_release_run_id"))
        batch_op.drop_column("release_run_id")
