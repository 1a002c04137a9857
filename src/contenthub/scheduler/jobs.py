"""Scheduled jobs and their runs: named storage operations.

A due run is taken by exactly one process: the job row is locked ``FOR UPDATE SKIP LOCKED``
(SQLite: the writer lock of ``BEGIN IMMEDIATE``), its ``next_run`` moves past ``now`` and the
run is recorded in the same transaction, with the tick it serves. ``(job_id, tick)`` is unique,
so even a bug elsewhere could not run one tick twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.scheduler.schedule import Schedule
from contenthub.storage.models import JobRun, ScheduledJob, User
from contenthub.storage.scope import owned

JOB_TYPES = ("publishing", "account_check", "cleanup")
ADMIN_ONLY_TYPES = ("cleanup",)
# Per type: parameter -> (type, lowest, highest, default).
PARAMS: dict[str, dict[str, tuple[type, float, float, float | None]]] = {
    "publishing": {"max_items": (int, 1, 10_000, None), "wait_seconds": (float, 0, 600, 30)},
    "account_check": {},
    "cleanup": {
        "event_days": (int, 1, 3650, 30),
        "task_days": (int, 1, 3650, 90),
        "run_days": (int, 1, 3650, 90),
    },
}
MAX_NAME = 200


RUN_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class ClaimedRun:
    """A run recorded as started, for this process to execute."""

    run_id: int
    job_id: int
    job_type: str
    params: dict[str, Any]
    # Whose pool and accounts the job acts on; None for an admin's job (everyone's).
    scope: int | None


def check_params(job_type: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Known parameters of the type, in range; defaults filled in."""
    if job_type not in JOB_TYPES:
        raise InputError(
            "job_type", f"unknown job type {job_type!r}; known: {', '.join(JOB_TYPES)}"
        )
    spec = PARAMS[job_type]
    given = dict(params or {})
    for key in given:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise InputError(
                f"params.{key}", f"not a parameter of {job_type} jobs (known: {known})"
            )
    checked: dict[str, Any] = {}
    for key, (kind, low, high, default) in spec.items():
        value = given.get(key, default)
        if value is None:
            continue
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_ok or (kind is int and not float(value).is_integer()):
            raise InputError(f"params.{key}", f"must be a {'whole ' if kind is int else ''}number")
        if not low <= value <= high:
            raise InputError(f"params.{key}", f"must be from {low:g} to {high:g}, got {value}")
        checked[key] = kind(value)
    return checked


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


def _schedule_of(job: ScheduledJob) -> Schedule:
    return Schedule(job.schedule_type, job.interval_seconds, job.cron, job.timezone)


def _check_name(name: str) -> str:
    if not name or not name.strip() or len(name) > MAX_NAME:
        raise InputError("name", f"must be 1–{MAX_NAME} characters")
    return name.strip()


def job_create(
    session: Session,
    *,
    user_id: int,
    is_admin: bool,
    name: str,
    job_type: str,
    schedule: Schedule,
    now: datetime,
    params: dict[str, Any] | None = None,
    enabled: bool = True,
    next_run: datetime | None = None,
) -> dict[str, Any]:
    """Validate everything first; the first run is ``next_run`` or the schedule's next tick."""
    name = _check_name(name)
    checked = check_params(job_type, params)
    if job_type in ADMIN_ONLY_TYPES and not is_admin:
        raise InputError("job_type", f"{job_type} jobs act on every user's data: admins only")
    schedule.validate()
    if next_run is not None and next_run.tzinfo is None:
        raise InputError("next_run", "must carry a time zone")
    job = ScheduledJob(
        user_id=user_id,
        name=name,
        job_type=job_type,
        schedule_type=schedule.kind,
        interval_seconds=schedule.interval_seconds if schedule.kind == "interval" else None,
        cron=schedule.cron.strip() if schedule.kind == "cron" and schedule.cron else None,
        timezone=schedule.timezone,
        params=checked,
        enabled=enabled,
        next_run=next_run or schedule.next_after(now),
        created_at=now,
        updated_at=now,
    )
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
    session: Session,
    job_id: int,
    *,
    scope: int | None,
    now: datetime,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Change name, params, enabled or the schedule; a new schedule restarts from ``now``."""
    job = _owned_job(session, job_id, scope)
    if "name" in changes:
        job.name = _check_name(changes["name"])
    if "params" in changes:
        job.params = check_params(job.job_type, changes["params"])
    schedule_keys = {"schedule_type", "interval_seconds", "cron", "timezone"}
    if schedule_keys & changes.keys():
        kind = changes.get("schedule_type", job.schedule_type)
        schedule = Schedule(
            kind,
            changes.get("interval_seconds", job.interval_seconds if kind == "interval" else None),
            changes.get("cron", job.cron if kind == "cron" else None),
            changes.get("timezone", job.timezone),
        )
        schedule.validate()
        job.schedule_type = schedule.kind
        job.interval_seconds = schedule.interval_seconds if kind == "interval" else None
        job.cron = schedule.cron if kind == "cron" else None
        job.timezone = schedule.timezone
        job.next_run = schedule.next_after(now)
    if "enabled" in changes:
        job.enabled = bool(changes["enabled"])
    job.updated_at = now
    return job_out(job)


def job_delete(session: Session, job_id: int, *, scope: int | None) -> None:
    session.delete(_owned_job(session, job_id, scope))


def job_next_due(session: Session) -> datetime | None:
    """The earliest next run of an enabled job: a cheap read before any lock is taken."""
    return session.scalar(
        sa.select(sa.func.min(ScheduledJob.next_run)).where(ScheduledJob.enabled.is_(True))
    )


def job_claim_due(
    session: Session, *, now: datetime, worker: str, batch: int = 20
) -> list[ClaimedRun]:
    """Take every due job no other process holds: advance it and record its run as started."""
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
        job.next_run = _schedule_of(job).next_after(now, anchor=tick)
        job.last_run = now
        run = JobRun(
            job_id=job.id,
            tick=tick,
            triggered_by="schedule",
            status="running",
            started_at=now,
            worker=worker[:64],
            lease_expires_at=now + RUN_LEASE,
        )
        session.add(run)
        session.flush()
        claimed.append(_claimed(run, job, role))
    return claimed


def _claimed(run: JobRun, job: ScheduledJob, role: str) -> ClaimedRun:
    scope = None if role == "admin" else job.user_id
    return ClaimedRun(run.id, job.id, job.job_type, dict(job.params or {}), scope)


def job_start_manual(
    session: Session, job_id: int, *, scope: int | None, now: datetime, worker: str
) -> ClaimedRun:
    """A run now, on request; the schedule is left as it was."""
    job = _owned_job(session, job_id, scope)
    role = session.scalar(sa.select(User.role).where(User.id == job.user_id)) or "user"
    job.last_run = now
    run = JobRun(
        job_id=job.id,
        triggered_by="manual",
        status="running",
        started_at=now,
        worker=worker[:64],
        lease_expires_at=now + RUN_LEASE,
    )
    session.add(run)
    session.flush()
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
    run.status = "failed" if error else "succeeded"
    run.finished_at = now
    run.lease_expires_at = None
    run.result = result
    run.error = error[:2000] if error else None
    return run_out(run)


def job_run_renew(session: Session, run_id: int, *, now: datetime) -> None:
    session.execute(
        sa.update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == "running")
        .values(lease_expires_at=now + RUN_LEASE)
    )


def job_run_lost(session: Session, *, now: datetime) -> bool:
    """Cheap read first, so the scheduler loop only writes when there is something to close."""
    return (
        session.scalar(
            sa.select(JobRun.id)
            .where(JobRun.status == "running", JobRun.lease_expires_at < now)
            .limit(1)
        )
        is not None
    )


def job_run_rescue_expired(session: Session, *, now: datetime) -> int:
    """Runs whose process died mid-run: closed as failed. Their tick is not run again (the
    next tick comes; a publishing run's entries are settled by the next run)."""
    lost = session.execute(
        sa.select(JobRun.id, JobRun.worker)
        .where(JobRun.status == "running", JobRun.lease_expires_at < now)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    for run_id, worker in lost:
        session.execute(
            sa.update(JobRun)
            .where(JobRun.id == run_id, JobRun.status == "running")
            .values(
                status="failed",
                finished_at=now,
                lease_expires_at=None,
                error=f"worker lost: {worker} stopped renewing this run",
            )
        )
    return len(lost)


def job_history(
    session: Session, job_id: int, *, scope: int | None, limit: int = 50, before: int | None = None
) -> list[dict[str, Any]]:
    """Newest runs first; ``before`` (a run id) pages backwards."""
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
