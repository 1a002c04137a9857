"""task events carry a typed reason

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 23:05:00

Metrics counted lease rescues by matching "worker lost" in event messages. Each event now
says why it was written in a ``reason`` code (``contenthub.states.EventReason``); existing
events get theirs from their statuses and, where only the text told, from the message.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EVENTS = sa.table(
    "task_events",
    sa.column("kind", sa.String),
    sa.column("reason", sa.String),
    sa.column("from_status", sa.String),
    sa.column("to_status", sa.String),
    sa.column("message", sa.String),
)
e = EVENTS.c

# First match wins, using the words the writers of each reason used. Every allowed
# transition and every kind of event is covered, so no row is left without a reason.
BACKFILL: list[tuple[str, sa.ColumnElement[bool]]] = [
    ("progress", e.kind == "progress"),
    ("cancel_requested", e.kind == "cancel"),
    ("scheduled", sa.and_(e.from_status.is_(None), e.to_status == "scheduled")),
    ("enqueued", sa.and_(e.from_status.is_(None), e.to_status == "queued")),
    ("due", sa.and_(e.from_status == "scheduled", e.to_status == "queued")),
    ("claimed", sa.and_(e.from_status == "queued", e.to_status == "running")),
    ("published", e.to_status == "succeeded"),
    ("cancelled", e.to_status == "cancelled"),
    ("rescheduled", sa.and_(e.from_status == "cancelled", e.to_status == "scheduled")),
    ("retried", e.from_status.in_(["failed", "cancelled"])),
    ("rescued", sa.and_(e.to_status == "queued", e.message.like("worker lost%"))),
    (
        "auth_hold",
        sa.or_(
            e.message.like("%waiting for the account to log in again"),
            e.message.like("%; held until account % logs in again: %"),  # as written since 0007
        ),
    ),
    ("retry_scheduled", sa.and_(e.to_status == "queued", e.message.like("%; retry at %"))),
    ("released", e.to_status == "queued"),
    ("lost_for_good", e.message.like("worker lost%")),
    ("failed", e.to_status == "failed"),
]


def upgrade() -> None:
    with op.batch_alter_table("task_events") as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=24), nullable=True))
    for reason, when in BACKFILL:
        op.execute(EVENTS.update().where(e.reason.is_(None), when).values(reason=reason))
    with op.batch_alter_table("task_events") as batch_op:
        batch_op.alter_column("reason", existing_type=sa.String(length=24), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("task_events") as batch_op:
        batch_op.drop_column("reason")
