"""Scheduled jobs: the rules (types, parameters, who may create what, when a job runs next)
over the storage operations of ``contenthub.storage.jobs``.

A due run is taken by exactly one process (see ``storage.jobs.job_claim_due``); this module
only says where each job's schedule goes next.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from contenthub import storage
from contenthub.errors import InputError
from contenthub.scheduler.schedule import Schedule
from contenthub.services.users import Principal
from contenthub.storage import ClaimedRun, Session
from contenthub.storage import RunStatus as RunStatus  # the words of a run, for callers

JOB_TYPES = ("publishing", "account_check", "review_check", "cleanup")
ADMIN_ONLY_TYPES = ("cleanup",)
# Per type: parameter -> (type, lowest, highest, default).
PARAMS: dict[str, dict[str, tuple[type, float, float, float | None]]] = {
    "publishing": {"max_items": (int, 1, 10_000, None), "wait_seconds": (float, 0, 600, 30)},
    "account_check": {},
    "review_check": {},
    "cleanup": {
        "event_days": (int, 1, 3650, 30),
        "task_days": (int, 1, 3650, 90),
        "run_days": (int, 1, 3650, 90),
    },
}
MAX_NAME = 200
RUN_LEASE = timedelta(seconds=60)


def check_job_type(job_type: str) -> str:
    if job_type not in JOB_TYPES:
        raise InputError(
            "job_type", f"unknown job type {job_type!r}; known: {', '.join(JOB_TYPES)}"
        )
    return job_type


def check_params(job_type: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Known parameters of the type, in range; defaults filled in."""
    spec = PARAMS[check_job_type(job_type)]
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


def schedule_of(job: dict[str, Any]) -> Schedule:
    return Schedule(job["schedule_type"], job["interval_seconds"], job["cron"], job["timezone"])


def _schedule_fields(schedule: Schedule) -> dict[str, Any]:
    """The job's schedule columns; only the ones its kind uses are kept."""
    schedule.validate()
    interval = schedule.kind == "interval"
    return {
        "schedule_type": schedule.kind,
        "interval_seconds": schedule.interval_seconds if interval else None,
        "cron": schedule.cron.strip() if not interval and schedule.cron else None,
        "timezone": schedule.timezone,
    }


def _check_name(name: str) -> str:
    if not name or not name.strip() or len(name) > MAX_NAME:
        raise InputError("name", f"must be 1–{MAX_NAME} characters")
    return name.strip()


def job_create(
    session: Session,
    *,
    owner: Principal,
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
    if job_type in ADMIN_ONLY_TYPES and not owner.is_admin:
        raise InputError("job_type", f"{job_type} jobs act on every user's data: admins only")
    fields = _schedule_fields(schedule)
    if next_run is not None and next_run.tzinfo is None:
        raise InputError("next_run", "must carry a time zone")
    return storage.job_insert(
        session,
        user_id=owner.user_id,
        now=now,
        name=name,
        job_type=job_type,
        params=checked,
        enabled=enabled,
        next_run=next_run or schedule.next_after(now),
        **fields,
    )


def job_get(session: Session, job_id: int, *, scope: int | None) -> dict[str, Any]:
    return storage.job_get(session, job_id, scope=scope)


def job_list(session: Session, *, scope: int | None) -> list[dict[str, Any]]:
    return storage.job_list(session, scope=scope)


def job_update(
    session: Session,
    job_id: int,
    *,
    scope: int | None,
    now: datetime,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Change name, params, enabled or the schedule; a new schedule restarts from ``now``."""
    job = storage.job_get(session, job_id, scope=scope)
    fields: dict[str, Any] = {}
    if "name" in changes:
        fields["name"] = _check_name(changes["name"])
    if "params" in changes:
        fields["params"] = check_params(job["job_type"], changes["params"])
    if {"schedule_type", "interval_seconds", "cron", "timezone"} & changes.keys():
        kind = changes.get("schedule_type", job["schedule_type"])
        same_kind = kind == job["schedule_type"]
        schedule = Schedule(
            kind,
            changes.get("interval_seconds", job["interval_seconds"] if same_kind else None),
            changes.get("cron", job["cron"] if same_kind else None),
            changes.get("timezone", job["timezone"]),
        )
        fields.update(_schedule_fields(schedule), next_run=schedule.next_after(now))
    if "enabled" in changes:
        fields["enabled"] = bool(changes["enabled"])
    return storage.job_update(session, job_id, scope=scope, now=now, **fields)


def job_delete(session: Session, job_id: int, *, scope: int | None) -> None:
    storage.job_delete(session, job_id, scope=scope)


def job_history(
    session: Session, job_id: int, *, scope: int | None, limit: int = 50, before: int | None = None
) -> list[dict[str, Any]]:
    """Newest runs first; ``before`` (a run id) pages backwards."""
    return storage.job_run_list(session, job_id, scope=scope, limit=limit, before=before)


def job_claim_due(session: Session, *, now: datetime, worker: str) -> list[ClaimedRun]:
    """Take every due job no other process holds; each moves to its next tick after ``now``
    on its own grid (ticks missed meanwhile collapse into this run)."""
    return storage.job_claim_due(
        session,
        now=now,
        worker=worker,
        lease_expires_at=now + RUN_LEASE,
        next_tick=lambda job: schedule_of(job).next_after(now, anchor=job["next_run"]),
    )


def job_start_manual(
    session: Session, job_id: int, *, scope: int | None, now: datetime, worker: str
) -> ClaimedRun:
    """A run now, on request; the schedule is left as it was."""
    return storage.job_run_start_manual(
        session, job_id, scope=scope, now=now, worker=worker, lease_expires_at=now + RUN_LEASE
    )


def job_run_renew(session: Session, run_id: int, *, now: datetime) -> None:
    storage.job_run_renew(session, run_id, lease_expires_at=now + RUN_LEASE)
