"""The statements of the maintenance duties: rescue the tasks of dead workers and of expired
leases, stage due scheduled tasks, and the retention prunes.

Each handles one batch and returns how many rows it changed; each is safe when several
processes run it at the same time (``SKIP LOCKED``; on SQLite the writer lock serializes
them). The duty that calls the first two, ``run_once(now) -> counts``, is
``contenthub.worker.maintenance.Maintenance``; the prunes are the scheduler's cleanup job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import ErrorClass
from contenthub.platforms.content import may_have_published
from contenthub.retry import Decision, decide
from contenthub.states import FINAL, FINAL_CHECK_MARK, MAX_FINAL_CHECKS, EventReason, TaskStatus
from contenthub.storage.events import EVENTS, TASKS, notify_new_work, set_status
from contenthub.storage.lease import LEASE_CLEARED
from contenthub.storage.workers import WORKERS, WorkerRow, worker_locks_held

BATCH = 200


def task_rescue_expired(session: Session, *, now: datetime, batch: int = BATCH) -> int:
    """Running tasks whose lease ran out: back to the queue, or failed when attempts are used up.

    The backstop: a worker that is alive but hung (its lock still held) is found here."""
    rows = session.execute(
        _RESCUE_COLUMNS.where(
            TASKS.c.status == TaskStatus.RUNNING.value, TASKS.c.lease_expires_at < now
        )
        .order_by(TASKS.c.lease_expires_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    rescued = sum(_rescue(session, row, now, f"lease of {row.lease_owner} expired") for row in rows)
    if rescued:
        notify_new_work(session)
    return rescued


def task_rescue_of_workers(
    session: Session, workers: Sequence[WorkerRow], *, now: datetime, batch: int = BATCH
) -> int:
    """The running tasks of workers found dead: back to the queue at once (or failed when
    their attempts are used up), fenced by each task's lease token as any rescue is.

    On PostgreSQL and MariaDB each worker's lock is looked at again inside this transaction,
    so a worker that took its lock back since the caller looked keeps its tasks. A worker
    whose running tasks are all handed back leaves the registry."""
    keys = [w.lock_key for w in workers]
    held = worker_locks_held(session, keys) or set()
    dead = {w.name: w for w in workers if w.lock_key not in held}
    if not dead:
        return 0
    rows = session.execute(
        _RESCUE_COLUMNS.where(
            TASKS.c.status == TaskStatus.RUNNING.value, TASKS.c.lease_owner.in_(dead)
        )
        .order_by(TASKS.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    rescued = sum(_rescue(session, row, now, _how_seen(dead[row.lease_owner])) for row in rows)
    still_running = set(
        session.scalars(
            sa.select(TASKS.c.lease_owner)
            .where(TASKS.c.status == TaskStatus.RUNNING.value, TASKS.c.lease_owner.in_(dead))
            .distinct()
        )
    )
    gone = [name for name in dead if name not in still_running]
    if gone:
        session.execute(sa.delete(WORKERS).where(WORKERS.c.name.in_(gone)))
    if rescued:
        notify_new_work(session)
    return rescued


def _how_seen(worker: WorkerRow) -> str:
    if worker.lock_held is None:
        return f"{worker.name} is gone (process {worker.pid} on {worker.host} ended)"
    return f"{worker.name} is gone (its database session lock was released)"


_RESCUE_COLUMNS = sa.select(
    TASKS.c.id,
    TASKS.c.user_id,
    TASKS.c.attempt,
    TASKS.c.max_attempts,
    TASKS.c.lease_owner,
    TASKS.c.lease_token,
    TASKS.c.checkpoint,
)


def _rescue(session: Session, row: Any, now: datetime, why: str) -> bool:
    """One task of a lost worker, fenced by the lease token the rescuer read."""
    decision = decide(
        ErrorClass.WORKER_LOST, attempt=row.attempt, max_attempts=row.max_attempts, now=now
    )
    target, reason, values, outcome = _rescue_outcome(decision, row, now)
    return set_status(
        session,
        task_id=row.id,
        user_id=row.user_id,
        current=TaskStatus.RUNNING,
        target=target,
        reason=reason,
        now=now,
        where=[TASKS.c.lease_token == row.lease_token],
        attempt=row.attempt,
        values={**LEASE_CLEARED, **values},
        message=f"worker lost: {why} during attempt {row.attempt}; {outcome}",
    )


def _rescue_outcome(
    decision: Decision, row: sa.Row[Any], now: datetime
) -> tuple[TaskStatus, EventReason, dict[str, Any], str]:
    """Where a rescued task goes: back to the queue; on its last attempt, when a publish may
    have been submitted, back to the queue once more for a final check only (a worker asks the
    platform); otherwise failed."""
    if decision.retry:
        values = {"due_at": decision.due_at, "queued_at": now, "stage": "waiting"}
        return TaskStatus.QUEUED, EventReason.RESCUED, values, "requeued"
    checkpoint = dict(row.checkpoint or {})
    checks = int(checkpoint.get(FINAL_CHECK_MARK) or 0)
    if may_have_published(checkpoint) and checks < MAX_FINAL_CHECKS:
        values = {
            "due_at": now,
            "queued_at": now,
            "stage": FINAL_CHECK_MARK,
            "max_attempts": row.attempt + 1,
            "checkpoint": {**checkpoint, FINAL_CHECK_MARK: checks + 1},
        }
        return (
            TaskStatus.QUEUED,
            EventReason.FINAL_CHECK,
            values,
            "a publish may have been submitted: queued to ask the platform before failing",
        )
    message = "worker lost"
    if may_have_published(checkpoint):  # every final check's own worker was lost too
        message += f" — the platform may have published it; not checked ({checks} tries)"
    values = {
        "finished_at": now,
        "error_class": ErrorClass.WORKER_LOST.value,
        "error_message": message,
    }
    return TaskStatus.FAILED, EventReason.LOST_FOR_GOOD, values, f"no attempts left; {message}"


def task_stage_due(session: Session, *, now: datetime, batch: int = BATCH) -> int:
    """Scheduled tasks whose time has come move to the queue."""
    rows = session.execute(
        sa.select(TASKS.c.id, TASKS.c.user_id)
        .where(TASKS.c.status == TaskStatus.SCHEDULED.value, TASKS.c.due_at <= now)
        .order_by(TASKS.c.due_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    staged = sum(
        set_status(
            session,
            task_id=row.id,
            user_id=row.user_id,
            current=TaskStatus.SCHEDULED,
            target=TaskStatus.QUEUED,
            reason=EventReason.DUE,
            now=now,
            values={"queued_at": now},
            message="due: queued",
        )
        for row in rows
    )
    if staged:
        notify_new_work(session)
    return staged


def event_prune(session: Session, *, older_than: datetime, batch: int = 1000) -> int:
    """Retention: one batch of events older than ``older_than``, oldest first."""
    ids = list(
        session.scalars(
            sa.select(EVENTS.c.id)
            .where(EVENTS.c.at < older_than)
            .order_by(EVENTS.c.id)
            .limit(batch)
        )
    )
    if ids:
        session.execute(sa.delete(EVENTS).where(EVENTS.c.id.in_(ids)))
    return len(ids)


def task_prune_finished(session: Session, *, older_than: datetime, batch: int = 1000) -> int:
    """Retention: one batch of tasks that ended before ``older_than`` (their events go too)."""
    final = [s.value for s in FINAL]
    ids = list(
        session.scalars(
            sa.select(TASKS.c.id)
            .where(TASKS.c.status.in_(final), TASKS.c.finished_at < older_than)
            .order_by(TASKS.c.id)
            .limit(batch)
        )
    )
    if ids:
        session.execute(sa.delete(TASKS).where(TASKS.c.id.in_(ids)))
    return len(ids)
