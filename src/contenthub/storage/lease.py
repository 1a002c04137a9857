"""What a worker writes while it holds a task: heartbeat, progress, checkpoints, the outcome.

Every write is fenced by the task id *and* the claim's lease token: a worker whose lease ran
out and whose task was rescued can no longer touch it, so a late result never overwrites the
new attempt's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import ErrorClass
from contenthub.retry import decide
from contenthub.states import EventReason, TaskStatus, check_transition
from contenthub.storage.accounts import account_set_status
from contenthub.storage.db import statements_of
from contenthub.storage.events import (
    TASKS,
    Event,
    RowChange,
    append_events,
    set_status,
    set_status_many,
)
from contenthub.storage.models import Account

RUNNING = TaskStatus.RUNNING.value


@dataclass(frozen=True)
class Lease:
    task_id: int
    token: str
    user_id: int


@dataclass(frozen=True)
class HeartbeatResult:
    lost: set[int]  # task ids this worker no longer owns
    cancel_requested: set[int]


def _fence(lease: Lease) -> list[sa.ColumnElement[bool]]:
    return [TASKS.c.lease_token == lease.token]


def task_heartbeat(
    session: Session, leases: Sequence[Lease], *, now: datetime, lease_seconds: float
) -> HeartbeatResult:
    """Extend the leases this worker still holds; say which were lost or asked to cancel."""
    if not leases:
        return HeartbeatResult(set(), set())
    ids = [lease.task_id for lease in leases]
    tokens = {lease.token for lease in leases}
    session.execute(
        sa.update(TASKS)
        .where(TASKS.c.id.in_(ids), TASKS.c.status == RUNNING, TASKS.c.lease_token.in_(tokens))
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
    )
    return task_poll_cancel(session, leases)


def task_poll_cancel(session: Session, leases: Sequence[Lease]) -> HeartbeatResult:
    if not leases:
        return HeartbeatResult(set(), set())
    rows = session.execute(
        sa.select(TASKS.c.id, TASKS.c.lease_token, TASKS.c.cancel_requested).where(
            TASKS.c.id.in_([lease.task_id for lease in leases]), TASKS.c.status == RUNNING
        )
    ).all()
    current = {r.id: (r.lease_token, r.cancel_requested) for r in rows}
    lost, cancel = set(), set()
    for lease in leases:
        token, cancel_requested = current.get(lease.task_id, (None, False))
        if token != lease.token:
            lost.add(lease.task_id)
        elif cancel_requested:
            cancel.add(lease.task_id)
    return HeartbeatResult(lost, cancel)


def task_progress(
    session: Session, lease: Lease, *, progress: int, stage: str, now: datetime, worker: str
) -> bool:
    progress = max(0, min(100, int(progress)))
    updated = session.execute(
        sa.update(TASKS)
        .where(TASKS.c.id == lease.task_id, TASKS.c.status == RUNNING, *_fence(lease))
        .values(progress=progress, stage=stage[:32])
    ).rowcount
    if updated == 1:
        append_events(
            session,
            [
                Event(
                    task_id=lease.task_id,
                    user_id=lease.user_id,
                    kind="progress",
                    reason=EventReason.PROGRESS,
                    stage=stage[:32],
                    progress=progress,
                    worker=worker,
                )
            ],
            now,
        )
    return updated == 1


def task_checkpoint(session: Session, lease: Lease, *, checkpoint: dict[str, Any]) -> bool:
    """Store the whole checkpoint (the adapter's record of side effects done so far)."""
    return (
        session.execute(
            sa.update(TASKS)
            .where(TASKS.c.id == lease.task_id, TASKS.c.status == RUNNING, *_fence(lease))
            .values(checkpoint=checkpoint)
        ).rowcount
        == 1
    )


LEASE_CLEARED = {"lease_owner": None, "lease_token": None, "lease_expires_at": None}


def _end_lease(
    session: Session,
    lease: Lease,
    *,
    target: TaskStatus,
    reason: EventReason,
    values: dict[str, Any],
    message: str,
    now: datetime,
    worker: str,
    attempt: int | None = None,
) -> bool:
    """Move the held task out of RUNNING, fenced by the lease, clearing the lease columns."""
    return set_status(
        session,
        task_id=lease.task_id,
        user_id=lease.user_id,
        current=RUNNING,
        target=target,
        reason=reason,
        now=now,
        where=_fence(lease),
        values={**LEASE_CLEARED, **values},
        message=message,
        attempt=attempt,
        worker=worker,
    )


@dataclass(frozen=True)
class Published:
    lease: Lease
    url: str | None
    post_id: str | None
    note: str = ""  # e.g. how a final check found the post
    # The platform accepted the post and holds it for review: ``url`` is where it will be.
    in_review: bool = False
    updated: bool = False  # the account's existing post was edited, not a new one made


def task_complete(
    session: Session, results: Sequence[Published], *, now: datetime, worker: str
) -> set[int]:
    """Record successful publishes in a few statements, whatever their number: live ones end
    ``succeeded``, those the platform holds for review wait ``in_review``.

    Returns the ids recorded; a result whose lease was lost meanwhile is dropped.
    """
    if not results:
        return set()
    if statements_of(session) == "postgresql":
        return _complete_postgresql(session, results, now=now, worker=worker)
    by_id = {r.lease.task_id: r for r in results}
    held = session.execute(
        sa.select(TASKS.c.id, TASKS.c.lease_token)
        .where(TASKS.c.id.in_(by_id), TASKS.c.status == RUNNING)
        .with_for_update()
    ).all()
    valid = [by_id[row.id] for row in held if row.lease_token == by_id[row.id].lease.token]
    for in_review, (target, reason, stage) in _ENDINGS.items():
        set_status_many(
            session,
            [
                RowChange(
                    task_id=r.lease.task_id,
                    user_id=r.lease.user_id,
                    values={
                        "result_url": r.url,
                        "post_id": r.post_id,
                        "outcome": "updated" if r.updated else "published",
                    },
                    message=_published_message(r),
                )
                for r in valid
                if r.in_review is in_review
            ],
            current=RUNNING,
            target=target,
            reason=reason,
            now=now,
            shared={**LEASE_CLEARED, "progress": 100, "stage": stage, "finished_at": now},
            worker=worker,
        )
    return {r.lease.task_id for r in valid}


_ENDINGS = {  # in review or not: where a publish ends, why, and its last stage
    False: (TaskStatus.SUCCEEDED, EventReason.PUBLISHED, "done"),
    True: (TaskStatus.IN_REVIEW, EventReason.IN_REVIEW, "review"),
}


def _complete_postgresql(
    session: Session, results: Sequence[Published], *, now: datetime, worker: str
) -> set[int]:
    from contenthub.storage.postgresql_writes import Completion, complete_postgresql

    completions = []
    for r in results:
        target, reason, stage = _ENDINGS[r.in_review]
        check_transition(RUNNING, target)
        completions.append(
            Completion(
                task_id=r.lease.task_id,
                user_id=r.lease.user_id,
                token=r.lease.token,
                target=target.value,
                reason=reason.value,
                stage=stage,
                url=r.url,
                post_id=r.post_id,
                outcome="updated" if r.updated else "published",
                message=_published_message(r)[:2000],  # as append_events keeps it
            )
        )
    return complete_postgresql(session.connection(), completions, now=now, worker=worker)


def _published_message(result: Published) -> str:
    verb = "updated" if result.updated else "published"
    if result.in_review:
        where = f"; it will be at {result.url}" if result.url else ""
        text = f"accepted by the platform and held for review (post {result.post_id}){where}"
    else:
        text = f"{verb} at {result.url}" if result.url else verb
    return f"{text} ({result.note})" if result.note else text


def task_fail(
    session: Session,
    lease: Lease,
    *,
    error_class: ErrorClass,
    message: str,
    now: datetime,
    worker: str,
    retry_after_seconds: float | None = None,
) -> str | None:
    """Record a failed attempt; the retry policy says requeue or fail. Returns the new status."""
    row = session.execute(
        sa.select(TASKS.c.attempt, TASKS.c.max_attempts, TASKS.c.account_id).where(
            TASKS.c.id == lease.task_id, TASKS.c.status == RUNNING, *_fence(lease)
        )
    ).first()
    if row is None:
        return None
    decision = decide(
        error_class,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        now=now,
        retry_after_seconds=retry_after_seconds,
    )
    values: dict[str, Any] = {"error_class": error_class.value, "error_message": message[:2000]}
    if decision.retry:
        assert decision.due_at is not None
        values.update(due_at=decision.due_at, queued_at=now, stage="waiting")
        if decision.extra_attempt:
            values["max_attempts"] = row.max_attempts + 1
        if decision.hold_account:
            name = session.scalar(sa.select(Account.name).where(Account.id == row.account_id))
            note = (
                f"{error_class.value}: {message}; held until account {name} logs in again: "
                f"contenthub account login {name}"
            )
            reason = EventReason.AUTH_HOLD
        else:
            note = f"{error_class.value}: {message}; retry at {decision.due_at.isoformat()}"
            reason = EventReason.RETRY_SCHEDULED
        target = TaskStatus.QUEUED
    else:
        values.update(finished_at=now)
        note = f"{error_class.value}: {message}"
        target, reason = TaskStatus.FAILED, EventReason.FAILED
    changed = _end_lease(
        session,
        lease,
        target=target,
        reason=reason,
        values=values,
        message=note,
        now=now,
        worker=worker,
        attempt=row.attempt,
    )
    if decision.hold_account:
        # After the task, whose end takes the user's row first: the claim's lock order.
        account_set_status(session, row.account_id, "needs_login", now=now, message=message[:500])
    return target.value if changed else None


def task_finish_cancelled(session: Session, lease: Lease, *, now: datetime, worker: str) -> bool:
    return _end_lease(
        session,
        lease,
        target=TaskStatus.CANCELLED,
        reason=EventReason.CANCELLED,
        values={"finished_at": now, "stage": "cancelled"},
        message="cancelled by the user while running",
        now=now,
        worker=worker,
    )


def task_release(
    session: Session, lease: Lease, *, now: datetime, worker: str, reason: str
) -> bool:
    """Hand a task back to the queue (a worker stopping); the attempt is not held against it.

    ``reason`` is the event's text; its code is always :attr:`EventReason.RELEASED`.
    """
    return _end_lease(
        session,
        lease,
        target=TaskStatus.QUEUED,
        reason=EventReason.RELEASED,
        values={
            "due_at": now,
            "queued_at": now,
            "stage": "waiting",
            "max_attempts": TASKS.c.max_attempts + 1,
        },
        message=reason,
        now=now,
        worker=worker,
    )
