"""article attachments (images stored with their article) and a task's outcome

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-30 05:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from contenthub.storage.models import Blob, UTCDateTime

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", Blob, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_attachments_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_attachments")),
        sa.UniqueConstraint(
            "article_id", "name", name=op.f("uq_article_attachments_article_id_name")
        ),
    )
    # A plain ADD COLUMN on every database (a batch rebuild would copy every task on SQLite).
    op.add_column("publish_tasks", sa.Column("outcome", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("publish_tasks", "outcome")
    op.drop_table("article_attachments")
