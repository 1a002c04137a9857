"""Status changes and their events, written together in one transaction.

Every write of ``publish_tasks.status`` goes through :func:`set_status` (one row) or
:func:`set_status_many` (a claim's rows); both check the lifecycle and append the events.
Every event carries a typed ``reason`` (:class:`~contenthub.states.EventReason`): what
happened, for metrics and timelines; ``message`` is only the human text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.states import EventReason, TaskStatus, check_transition
from contenthub.storage.db import announce_new_work
from contenthub.storage.models import PublishTask, TaskEvent
from contenthub.storage.ready import mark_tasks_accounts_ready

TASKS = PublishTask.__table__
EVENTS = TaskEvent.__table__
NOTIFY_CHANNEL = "contenthub_tasks"  # new work for idle workers
EVENTS_CHANNEL = "contenthub_events"  # new events for the API processes' event hubs


@dataclass(frozen=True)
class Event:
    task_id: int
    user_id: int
    kind: str
    reason: EventReason
    from_status: str | None = None
    to_status: str | None = None
    stage: str | None = None
    progress: int | None = None
    attempt: int | None = None
    message: str | None = None
    worker: str | None = None


_INSERT_EVENTS = sa.insert(EVENTS)  # built once: most transactions append events


def append_events(
    session: Session, events: Sequence[Event], now: datetime, *, new_work: bool = False
) -> None:
    """``new_work``: the same transaction made work ready (:func:`notify_new_work`), told
    in the same round trip as the events."""
    if not events:
        if new_work:
            notify_new_work(session)
        return
    session.connection().execute(
        _INSERT_EVENTS,
        [
            {
                "task_id": e.task_id,
                "user_id": e.user_id,
                "at": now,
                "kind": e.kind,
                "reason": e.reason.value,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "stage": e.stage,
                "progress": e.progress,
                "attempt": e.attempt,
                "message": e.message[:2000] if e.message else None,
                "worker": e.worker,
            }
            for e in events
        ],
    )
    if new_work:
        announce_new_work(session)
    if session.get_bind().dialect.name == "postgresql":
        # Sent at commit, once per transaction whatever the count (PostgreSQL folds equal
        # notifications); the API processes' event hubs read the new events then.
        if new_work:
            session.execute(_NOTIFY_EVENTS_AND_WORK)
        else:
            session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": EVENTS_CHANNEL})


def set_status(
    session: Session,
    *,
    task_id: int,
    user_id: int,
    current: str,
    target: TaskStatus,
    reason: EventReason,
    now: datetime,
    where: Iterable[sa.ColumnElement[bool]] = (),
    values: dict[str, Any] | None = None,
    message: str | None = None,
    stage: str | None = None,
    attempt: int | None = None,
    worker: str | None = None,
) -> bool:
    """Move one task from ``current`` to ``target`` if it is still ``current``.

    Returns False (and writes nothing) when another actor changed the task first, or when
    an extra ``where`` (a lease fence) no longer holds.
    """
    check_transition(current, target)
    updated = session.execute(
        sa.update(TASKS)
        .where(TASKS.c.id == task_id, TASKS.c.status == current, *where)
        .values(status=target.value, **(values or {}))
    ).rowcount
    if updated != 1:
        return False
    append_events(
        session,
        [
            Event(
                task_id=task_id,
                user_id=user_id,
                kind="status",
                reason=reason,
                from_status=current,
                to_status=target.value,
                stage=stage if stage is not None else (values or {}).get("stage"),
                progress=(values or {}).get("progress"),
                attempt=attempt,
                message=message,
                worker=worker,
            )
        ],
        now,
    )
    if _may_free_a_start(current, target):
        # Last: the user's row is then held (it is what the claim locks) for the fewest
        # statements before commit.
        mark_tasks_accounts_ready(session, [user_id], [task_id], now)
    return True


def _may_free_a_start(current: str, target: TaskStatus) -> bool:
    """A task queued, or a running one ended (its account and its user's slot are free)."""
    return target is TaskStatus.QUEUED or current == TaskStatus.RUNNING.value


@dataclass(frozen=True)
class RowChange:
    """One row of :func:`set_status_many`: its own values, and its event's message."""

    task_id: int
    user_id: int
    values: dict[str, Any]
    message: str | None = None


def set_status_many(
    session: Session,
    changes: Sequence[RowChange],
    *,
    current: str,
    target: TaskStatus,
    reason: EventReason,
    now: datetime,
    shared: dict[str, Any],
    worker: str | None = None,
) -> None:
    """Move rows the caller holds locked (and has checked) in one executemany round trip.

    Every change must carry the same value keys.
    """
    if not changes:
        return
    check_transition(current, target)
    keys = sorted(changes[0].values)
    session.execute(
        sa.update(TASKS)
        .where(TASKS.c.id == sa.bindparam("row_id"), TASKS.c.status == current)
        .values(status=target.value, **shared, **{k: sa.bindparam(f"row_{k}") for k in keys}),
        [{"row_id": c.task_id, **{f"row_{k}": c.values[k] for k in keys}} for c in changes],
    )
    append_events(
        session,
        [
            Event(
                task_id=c.task_id,
                user_id=c.user_id,
                kind="status",
                reason=reason,
                from_status=current,
                to_status=target.value,
                stage=shared.get("stage"),
                progress=shared.get("progress"),
                message=c.message,
                worker=worker,
            )
            for c in changes
        ],
        now,
    )
    if _may_free_a_start(current, target):  # last, as in set_status
        mark_tasks_accounts_ready(
            session, {c.user_id for c in changes}, [c.task_id for c in changes], now
        )


def event_list_after(
    session: Session,
    *,
    user_id: int | None,
    after_id: int,
    limit: int = 2000,
    up_to: int | None = None,
    also_ids: Collection[int] = (),
) -> list[dict[str, Any]]:
    """Events with ids above ``after_id`` (and at most ``up_to``), plus those among
    ``also_ids`` (ids a reader is still waiting for), the owner's unless ``user_id`` is None,
    oldest first, each with its task's public id."""
    newer = EVENTS.c.id > after_id
    if up_to is not None:
        newer = sa.and_(newer, EVENTS.c.id <= up_to)
    query = (
        sa.select(EVENTS, TASKS.c.public_id)
        .join(TASKS, TASKS.c.id == EVENTS.c.task_id)
        .where(sa.or_(newer, EVENTS.c.id.in_(sorted(also_ids))) if also_ids else newer)
        .order_by(EVENTS.c.id)
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(EVENTS.c.user_id == user_id)
    return [dict(r) for r in session.execute(query).mappings().all()]


def event_last_id(session: Session) -> int:
    return session.scalar(sa.select(sa.func.max(EVENTS.c.id))) or 0


def event_counts_by_reason(session: Session, *, since: datetime) -> dict[EventReason, int]:
    """How many events of each reason were written after ``since``."""
    rows = session.execute(
        sa.select(EVENTS.c.reason, sa.func.count())
        .where(EVENTS.c.at > since)
        .group_by(EVENTS.c.reason)
    )
    return {EventReason(reason): count for reason, count in rows}


_NOTIFY_EVENTS_AND_WORK = sa.text(
    f"SELECT pg_notify('{EVENTS_CHANNEL}', ''), pg_notify('{NOTIFY_CHANNEL}', '')"
)


def notify_new_work(session: Session) -> None:
    """Wake idle workers when this transaction commits: this process's own at once (an API
    and workers in one ``serve``), PostgreSQL's everywhere by NOTIFY; other databases' workers
    in other processes poll."""
    announce_new_work(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


async def notifications(database_url: sa.URL, channel: str) -> AsyncIterator[None]:
    """PostgreSQL ``LISTEN`` on a connection of its own: yields once listening (anything sent
    before was missed, so read what is there) and once per notification; raises when the
    connection is lost."""
    import psycopg

    conninfo = database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {channel}")
        yield
        async for _ in conn.notifies():
            yield
