"""Scheduled jobs: CRUD, run now, and the history of runs."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from contenthub.api.deps import BoxDep, CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import Strict
from contenthub.clock import utcnow
from contenthub.scheduler import Schedule, Scheduler, jobs

router = APIRouter(prefix="/scheduled-jobs", tags=["scheduled jobs"])


class JobIn(Strict):
    name: str = Field(min_length=1, max_length=jobs.MAX_NAME)
    job_type: str = Field(description="publishing, account_check, review_check or cleanup")
    schedule_type: Literal["interval", "cron"]
    interval_seconds: int | None = None
    cron: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    next_run: AwareDatetime | None = Field(default=None, description="Default: the next tick.")


class JobUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=jobs.MAX_NAME)
    schedule_type: Literal["interval", "cron"] | None = None
    interval_seconds: int | None = None
    cron: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    params: dict[str, Any] | None = None
    enabled: bool | None = None


class JobOut(BaseModel):
    id: int
    name: str
    job_type: str
    schedule_type: str
    interval_seconds: int | None
    cron: str | None
    timezone: str
    params: dict[str, Any]
    enabled: bool
    next_run: datetime
    last_run: datetime | None
    created_at: datetime
    updated_at: datetime


class RunOut(BaseModel):
    id: int
    job_id: int
    tick: datetime | None
    triggered_by: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None


def _run_out(run: dict[str, Any]) -> RunOut:
    return RunOut(**{k: run[k] for k in RunOut.model_fields})


@router.post("", status_code=201)
def create_job(body: JobIn, user: CurrentUser, db: DbDep) -> JobOut:
    schedule = Schedule(body.schedule_type, body.interval_seconds, body.cron, body.timezone)
    job = db.write(
        lambda s: jobs.job_create(
            s,
            owner=user,
            name=body.name,
            job_type=body.job_type,
            schedule=schedule,
            now=utcnow(),
            params=body.params,
            enabled=body.enabled,
            next_run=body.next_run,
        )
    )
    return JobOut(**job)


@router.get("")
def list_jobs(user: CurrentUser, db: DbDep) -> list[JobOut]:
    return [JobOut(**j) for j in db.read(lambda s: jobs.job_list(s, scope=user.scope))]


@router.get("/{job_id}")
def get_job(job_id: ResourceId, user: CurrentUser, db: DbDep) -> JobOut:
    return JobOut(**db.read(lambda s: jobs.job_get(s, job_id, scope=user.scope)))


@router.patch("/{job_id}")
def update_job(job_id: ResourceId, body: JobUpdate, user: CurrentUser, db: DbDep) -> JobOut:
    changes = body.model_dump(exclude_unset=True)
    job = db.write(
        lambda s: jobs.job_update(s, job_id, scope=user.scope, now=utcnow(), changes=changes)
    )
    return JobOut(**job)


@router.delete("/{job_id}", status_code=204)
def delete_job(job_id: ResourceId, user: CurrentUser, db: DbDep) -> Response:
    db.write(lambda s: jobs.job_delete(s, job_id, scope=user.scope))
    return Response(status_code=204)


@router.post("/{job_id}/trigger")
def trigger_job(job_id: ResourceId, user: CurrentUser, db: DbDep, box: BoxDep) -> RunOut:
    """Run the job now, in this process; answers with the finished run."""
    scheduler = Scheduler(db, worker=f"api:{os.getpid()}", secrets=box)
    return _run_out(scheduler.trigger(job_id, scope=user.scope, now=utcnow()))


@router.get("/{job_id}/history")
def job_history(
    job_id: ResourceId,
    user: CurrentUser,
    db: DbDep,
    limit: int = Query(50, ge=1, le=200),
    before: int | None = Query(None, ge=1, le=2_147_483_647, description="A run id."),
) -> list[RunOut]:
    """Runs, newest first."""
    runs = db.read(
        lambda s: jobs.job_history(s, job_id, scope=user.scope, limit=limit, before=before)
    )
    return [_run_out(r) for r in runs]
