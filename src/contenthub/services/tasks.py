"""Finding tasks and acting on whole batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub import dispatch
from contenthub.db import Database
from contenthub.dispatch.queries import TASK_COLUMNS
from contenthub.errors import InputError, NotFound
from contenthub.models import PublishTask, TaskEvent

TASKS = PublishTask.__table__
EVENTS = TaskEvent.__table__


def task_search(
    session: Session,
    *,
    scope: int | None,
    statuses: Sequence[str] = (),
    platform: str | None = None,
    account_id: int | None = None,
    article_id: int | None = None,
    batch_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` (a task id) pages backwards without offsets."""
    query = sa.select(*TASK_COLUMNS).order_by(TASKS.c.id.desc()).limit(limit)
    filters = {
        TASKS.c.user_id: scope,
        TASKS.c.platform: platform,
        TASKS.c.account_id: account_id,
        TASKS.c.article_id: article_id,
        TASKS.c.batch_id: batch_id,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    if statuses:
        query = query.where(TASKS.c.status.in_(statuses))
    if created_after is not None:
        query = query.where(TASKS.c.created_at >= created_after)
    if created_before is not None:
        query = query.where(TASKS.c.created_at < created_before)
    if before is not None:
        anchor = session.scalar(sa.select(TASKS.c.id).where(TASKS.c.public_id == before))
        if anchor is None:
            raise InputError("before", f"no task {before}")
        query = query.where(TASKS.c.id < anchor)
    return [dict(r) for r in session.execute(query).mappings()]


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
    operation = dispatch.task_cancel if action == "cancel" else dispatch.task_retry
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
    return [dict(r) for r in session.execute(query).mappings()]
