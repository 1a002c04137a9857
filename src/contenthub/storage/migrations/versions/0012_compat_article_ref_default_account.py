"""the old API's compatibility: an article's external reference, an account as the default

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:30:00.000000

The old endpoints (``POST /api/publish_zhihu``) name an article by the caller's own id; it is
kept as ``articles.external_ref``, one per user, so a second publish of it reuses the stored
article. ``accounts.is_default`` marks the account the old endpoints publish to on its
platform (at most one per user and platform, kept so by the one writer). Both are additions
with defaults: safe to apply with workers running.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch_op:
        batch_op.add_column(sa.Column("external_ref", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            op.f("uq_articles_user_id_external_ref"), ["user_id", "external_ref"]
        )
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("is_default")
    with op.batch_alter_table("articles") as batch_op:
        batch_op.drop_constraint(op.f("uq_articles_user_id_external_ref"), type_="unique")
        batch_op.drop_column("external_ref")
