"""Scheduled jobs and their runs: named storage operations.

The claim of a due run (``job_claim_due``), exactly once across any number of processes:

1. Lock the due enabled jobs ``FOR UPDATE SKIP LOCKED`` (SQLite: the writer lock of
   ``BEGIN IMMEDIATE``), so a job another process is claiming is skipped, not waited for.
2. Move each job's ``next_run`` past ``now`` (the caller's schedule says where to).
3. Record the run as started, with the tick it serves, in the same transaction.
   ``(job_id, tick)`` is unique, so even a bug elsewhere could not run one tick twice.

A run holds a lease while it executes; a run whose process died is closed as failed by
``job_run_rescue_expired``, never left ``running``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import NotFound
from contenthub.storage.models import JobRun, ScheduledJob, User
from contenthub.storage.scope import owned

MAX_WORKER_NAME = 64
MAX_ERROR = 2000


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ClaimedRun:
    """A run recorded as started, for this process to execute."""

    run_id: int
    job_id: int
    job_type: str
    params: dict[str, Any]
    # Whose pool and accounts the job acts on; None for an admin's job (everyone's).
    scope: int | None


def job_out(job: ScheduledJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "user_id": job.user_id,
        "name": job.name,
        "job_type": job.job_type,
        "schedule_type": job.schedule_type,
        "interval_seconds": job.interval_seconds,
        "cron": job.cron,
        "timezone": job.timezone,
        "params": dict(job.params or {}),
        "enabled": job.enabled,
        "next_run": job.next_run,
        "last_run": job.last_run,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def run_out(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job_id": run.job_id,
        "tick": run.tick,
        "triggered_by": run.triggered_by,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "result": run.result,
        "error": run.error,
        "worker": run.worker,
    }


# -- jobs ------------------------------------------------------------------------------------

# The columns a caller may set on a job; everything else is the claim's or the clock's.
JOB_FIELDS = frozenset(
    {
        "name",
        "job_type",
        "schedule_type",
        "interval_seconds",
        "cron",
        "timezone",
        "params",
        "enabled",
        "next_run",
    }
)


def job_insert(session: Session, *, user_id: int, now: datetime, **fields: Any) -> dict[str, Any]:
    """A new job from checked ``fields`` (every one of ``JOB_FIELDS``)."""
    if fields.keys() != JOB_FIELDS:
        raise TypeError(f"job_insert needs exactly {sorted(JOB_FIELDS)}")
    job = ScheduledJob(user_id=user_id, created_at=now, updated_at=now, **fields)
    session.add(job)
    session.flush()
    return job_out(job)


def _owned_job(session: Session, job_id: int, scope: int | None) -> ScheduledJob:
    job: ScheduledJob = owned(session, ScheduledJob, job_id, scope=scope, what="scheduled job")
    return job


def job_get(session: Session, job_id: int, *, scope: int | None) -> dict[str, Any]:
    return job_out(_owned_job(session, job_id, scope))


def job_list(session: Session, *, scope: int | None) -> list[dict[str, Any]]:
    query = sa.select(ScheduledJob).order_by(ScheduledJob.id)
    if scope is not None:
        query = query.where(ScheduledJob.user_id == scope)
    return [job_out(j) for j in session.scalars(query)]


def job_update(
    session: Session, job_id: int, *, scope: int | None, now: datetime, **fields: Any
) -> dict[str, Any]:
    """Set checked ``fields`` (any of ``JOB_FIELDS``) on the scope's job."""
    unknown = fields.keys() - JOB_FIELDS
    if unknown:
        raise TypeError(f"not a job field: {sorted(unknown)}")
    job = _owned_job(session, job_id, scope)
    for name, value in fields.items():
        setattr(job, name, value)
    job.updated_at = now
    return job_out(job)


def job_delete(session: Session, job_id: int, *, scope: int | None) -> None:
    """The job and its history (runs cascade)."""
    session.delete(_owned_job(session, job_id, scope))


def job_next_due(session: Session) -> datetime | None:
    """The earliest next run of an enabled job: a cheap read before any lock is taken."""
    return session.scalar(
        sa.select(sa.func.min(ScheduledJob.next_run)).where(ScheduledJob.enabled.is_(True))
    )


def job_claim_due(
    session: Session,
    *,
    now: datetime,
    worker: str,
    lease_expires_at: datetime,
    next_tick: Callable[[dict[str, Any]], datetime],
    batch: int = 20,
) -> list[ClaimedRun]:
    """Take every due job no other process holds: advance it and record its run as started.

    ``next_tick(job)`` is the schedule's next tick after ``now`` for a job whose ``next_run``
    is the tick being claimed (the rule lives with the schedule, not here)."""
    rows = session.execute(
        sa.select(ScheduledJob, User.role)
        .join(User, User.id == ScheduledJob.user_id)
        .where(ScheduledJob.enabled.is_(True), ScheduledJob.next_run <= now)
        .order_by(ScheduledJob.next_run, ScheduledJob.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=ScheduledJob)
    ).all()
    claimed = []
    for job, role in rows:
        tick = job.next_run
        job.next_run = next_tick(job_out(job))
        job.last_run = now
        run = _start_run(session, job, tick, "schedule", now, worker, lease_expires_at)
        claimed.append(_claimed(run, job, role))
    return claimed


def _start_run(
    session: Session,
    job: ScheduledJob,
    tick: datetime | None,
    triggered_by: str,
    now: datetime,
    worker: str,
    lease_expires_at: datetime,
) -> JobRun:
    run = JobRun(
        job_id=job.id,
        tick=tick,
        triggered_by=triggered_by,
        status=RunStatus.RUNNING.value,
        started_at=now,
        worker=worker[:MAX_WORKER_NAME],
        lease_expires_at=lease_expires_at,
    )
    session.add(run)
    session.flush()
    return run


def _claimed(run: JobRun, job: ScheduledJob, role: str) -> ClaimedRun:
    scope = None if role == "admin" else job.user_id
    return ClaimedRun(run.id, job.id, job.job_type, dict(job.params or {}), scope)


# -- runs ------------------------------------------------------------------------------------


def job_run_start_manual(
    session: Session,
    job_id: int,
    *,
    scope: int | None,
    now: datetime,
    worker: str,
    lease_expires_at: datetime,
) -> ClaimedRun:
    """A run now, on request; the schedule is left as it was."""
    job = _owned_job(session, job_id, scope)
    role = session.scalar(sa.select(User.role).where(User.id == job.user_id)) or "user"
    job.last_run = now
    run = _start_run(session, job, None, "manual", now, worker, lease_expires_at)
    return _claimed(run, job, role)


def job_run_finish(
    session: Session,
    run_id: int,
    *,
    now: datetime,
    result: dict[str, Any] | None,
    error: str | None,
) -> dict[str, Any]:
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound("job run", run_id)
    run.status = (RunStatus.FAILED if error else RunStatus.SUCCEEDED).value
    run.finished_at = now
    run.lease_expires_at = None
    run.result = result
    run.error = error[:MAX_ERROR] if error else None
    return run_out(run)


def job_run_renew(session: Session, run_id: int, *, lease_expires_at: datetime) -> None:
    session.execute(
        sa.update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == RunStatus.RUNNING.value)
        .values(lease_expires_at=lease_expires_at)
    )


def job_run_any_expired(session: Session, *, now: datetime) -> bool:
    """Cheap read first, so the scheduler loop only writes when there is something to close."""
    found = session.scalar(
        sa.select(JobRun.id)
        .where(JobRun.status == RunStatus.RUNNING.value, JobRun.lease_expires_at < now)
        .limit(1)
    )
    return found is not None


def job_run_rescue_expired(session: Session, *, now: datetime) -> int:
    """Runs whose process died mid-run: closed as failed. Their tick is not run again (the
    next tick comes; a publishing run's entries are settled by the next run)."""
    lost = session.execute(
        sa.select(JobRun.id, JobRun.worker)
        .where(JobRun.status == RunStatus.RUNNING.value, JobRun.lease_expires_at < now)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    for run_id, worker in lost:
        session.execute(
            sa.update(JobRun)
            .where(JobRun.id == run_id, JobRun.status == RunStatus.RUNNING.value)
            .values(
                status=RunStatus.FAILED.value,
                finished_at=now,
                lease_expires_at=None,
                error=f"worker lost: {worker} stopped renewing this run",
            )
        )
    return len(lost)


def job_run_list(
    session: Session, job_id: int, *, scope: int | None, limit: int = 50, before: int | None = None
) -> list[dict[str, Any]]:
    """The scope's job's runs, newest first; ``before`` (a run id) pages backwards."""
    _owned_job(session, job_id, scope)
    query = sa.select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.id.desc())
    if before is not None:
        query = query.where(JobRun.id < before)
    return [run_out(r) for r in session.scalars(query.limit(limit))]


def job_run_prune(session: Session, *, older_than: datetime, batch: int = 1000) -> int:
    """Finished runs older than the retention, one batch."""
    ids = list(
        session.scalars(
            sa.select(JobRun.id)
            .where(JobRun.finished_at < older_than)
            .order_by(JobRun.id)
            .limit(batch)
        )
    )
    if ids:
        session.execute(sa.delete(JobRun).where(JobRun.id.in_(ids)))
    return len(ids)
