"""Reading tasks and their timelines, always scoped to the owner unless ``user_id`` is None."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.dispatch.events import EVENTS, TASKS
from contenthub.errors import NotFound

TASK_COLUMNS = [c for c in TASKS.c if c.name not in ("body", "running_account_id")]


def task_get(session: Session, public_id: str, *, user_id: int | None) -> dict[str, Any]:
    query = sa.select(*TASK_COLUMNS).where(TASKS.c.public_id == public_id)
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    row = session.execute(query).mappings().first()
    if row is None:
        raise NotFound("task", public_id)
    return dict(row)


def task_list(
    session: Session,
    *,
    user_id: int | None,
    statuses: Sequence[str] = (),
    batch_id: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    query = sa.select(*TASK_COLUMNS).order_by(TASKS.c.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    if statuses:
        query = query.where(TASKS.c.status.in_(statuses))
    if batch_id:
        query = query.where(TASKS.c.batch_id == batch_id)
    return [dict(r) for r in session.execute(query).mappings()]


def task_events(session: Session, task_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(EVENTS).where(EVENTS.c.task_id == task_id).order_by(EVENTS.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def task_status_counts(session: Session, *, user_id: int | None) -> dict[str, int]:
    query = sa.select(TASKS.c.status, sa.func.count()).group_by(TASKS.c.status)
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    return {status: count for status, count in session.execute(query).all()}
