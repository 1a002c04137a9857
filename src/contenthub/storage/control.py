"""What a user does to tasks: cancel and retry. Scoped to the owner unless ``user_id`` is None."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.states import (
    CANCELLABLE_AT_ONCE,
    FINAL_CHECK_MARK,
    RETRYABLE_BY_USER,
    EventReason,
    TaskStatus,
)
from contenthub.storage.enqueue import DEFAULT_MAX_ATTEMPTS
from contenthub.storage.events import TASKS, Event, append_events, notify_new_work, set_status


@dataclass(frozen=True)
class ControlResult:
    public_id: str
    status: TaskStatus
    cancel_requested: bool = False
    due_at: datetime | None = None  # when a retried task goes out, if it waits for its time


def _locked_task(session: Session, public_id: str, user_id: int | None) -> sa.Row[tuple]:
    query = (
        sa.select(
            TASKS.c.id,
            TASKS.c.user_id,
            TASKS.c.status,
            TASKS.c.attempt,
            TASKS.c.cancel_requested,
            TASKS.c.due_at,
            TASKS.c.queued_at,
            TASKS.c.checkpoint,
        )
        .where(TASKS.c.public_id == public_id)
        .with_for_update()
    )
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("task", public_id)
    return row


def task_cancel(
    session: Session, public_id: str, *, user_id: int | None, now: datetime
) -> ControlResult:
    """Scheduled and queued tasks are cancelled at once; a running one is asked to stop."""
    row = _locked_task(session, public_id, user_id)
    status = TaskStatus(row.status)
    if status in CANCELLABLE_AT_ONCE:
        set_status(
            session,
            task_id=row.id,
            user_id=row.user_id,
            current=status,
            target=TaskStatus.CANCELLED,
            reason=EventReason.CANCELLED,
            now=now,
            values={"finished_at": now, "stage": "cancelled"},
            message="cancelled by the user",
        )
        return ControlResult(public_id, TaskStatus.CANCELLED)
    if status is TaskStatus.RUNNING:
        if not row.cancel_requested:
            session.execute(
                sa.update(TASKS).where(TASKS.c.id == row.id).values(cancel_requested=True)
            )
            append_events(
                session,
                [
                    Event(
                        task_id=row.id,
                        user_id=row.user_id,
                        kind="cancel",
                        reason=EventReason.CANCEL_REQUESTED,
                        message="cancel requested; the publish stops at its next step",
                    )
                ],
                now,
            )
        return ControlResult(public_id, TaskStatus.RUNNING, cancel_requested=True)
    raise InputError("status", f"task {public_id} is already {status.value}")


def task_retry(
    session: Session, public_id: str, *, user_id: int | None, now: datetime
) -> ControlResult:
    """Failed or cancelled → queued now, with a fresh attempt budget.

    A scheduled task that was cancelled before its time (it never reached the queue, so
    ``queued_at`` is empty) keeps that time while it is still ahead: it goes back to
    ``scheduled``, not out at once.
    """
    row = _locked_task(session, public_id, user_id)
    status = TaskStatus(row.status)
    if status not in RETRYABLE_BY_USER:
        raise InputError(
            "status", f"only failed or cancelled tasks can be retried; this one is {status.value}"
        )
    if status is TaskStatus.CANCELLED and row.queued_at is None and row.due_at > now:
        _restart(session, row, TaskStatus.SCHEDULED, EventReason.RESCHEDULED, now, values={})
        return ControlResult(public_id, TaskStatus.SCHEDULED, due_at=row.due_at)
    _restart(
        session,
        row,
        TaskStatus.QUEUED,
        EventReason.RETRIED,
        now,
        values={"due_at": now, "queued_at": now},
    )
    notify_new_work(session)
    return ControlResult(public_id, TaskStatus.QUEUED, due_at=now)


def _restart(
    session: Session,
    row: sa.Row[tuple],
    target: TaskStatus,
    reason: EventReason,
    now: datetime,
    values: dict[str, object],
) -> None:
    """A finished task starts over with a fresh attempt budget."""
    message = "retried by the user"
    checkpoint = dict(row.checkpoint or {})
    if checkpoint.pop(FINAL_CHECK_MARK, None) is not None:
        # A real attempt again: it resumes from the checkpoints, asking the platform first.
        values = {**values, "checkpoint": checkpoint}
    if target is TaskStatus.SCHEDULED:
        message += f"; still scheduled for {row.due_at.isoformat()}"
    set_status(
        session,
        task_id=row.id,
        user_id=row.user_id,
        current=row.status,
        target=target,
        reason=reason,
        now=now,
        values={
            **values,
            "finished_at": None,
            "progress": 0,
            "stage": None,
            "cancel_requested": False,
            # The fencing token, not the attempt number, guards writes: the budget can restart.
            "max_attempts": row.attempt + DEFAULT_MAX_ATTEMPTS,
            "error_class": None,
            "error_message": None,
        },
        message=message,
    )
