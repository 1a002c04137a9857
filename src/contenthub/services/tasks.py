"""Acting on whole batches of tasks, and reading the event log as a stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.errors import InputError, NotFound
from contenthub.storage.db import Database
from contenthub.storage.models import PublishTask, TaskEvent

TASKS = PublishTask.__table__
EVENTS = TaskEvent.__table__


def batch_apply(
    db: Database, batch_id: str, *, scope: int | None, action: str
) -> tuple[list[str], list[str]]:
    """Cancel or retry every task of a batch that allows it; the rest are reported skipped."""
    ids = db.read(
        lambda s: list(
            s.scalars(
                sa.select(TASKS.c.public_id)
                .where(
                    TASKS.c.batch_id == batch_id,
                    *([TASKS.c.user_id == scope] if scope is not None else []),
                )
                .order_by(TASKS.c.id)
            )
        )
    )
    if not ids:
        raise NotFound("batch", batch_id)
    operation = storage.task_cancel if action == "cancel" else storage.task_retry
    changed, skipped = [], []
    for public_id in ids:
        try:
            db.write(lambda s, p=public_id: operation(s, p, user_id=scope, now=datetime.now(UTC)))
            changed.append(public_id)
        except InputError:
            skipped.append(public_id)
    return changed, skipped


def events_after(
    session: Session, *, scope: int | None, after_id: int, limit: int = 2000
) -> list[dict[str, Any]]:
    """The caller's task events with ids above ``after_id``, oldest first."""
    query = (
        sa.select(EVENTS, TASKS.c.public_id)
        .join(TASKS, TASKS.c.id == EVENTS.c.task_id)
        .where(EVENTS.c.id > after_id)
        .order_by(EVENTS.c.id)
        .limit(limit)
    )
    if scope is not None:
        query = query.where(EVENTS.c.user_id == scope)
    return [dict(r) for r in session.execute(query).mappings().all()]
