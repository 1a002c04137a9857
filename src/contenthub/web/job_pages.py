"""Scheduled jobs: the list with each job's next run, create with interval or cron and a
preview of the next five runs, enable/disable, run now, and each job's run history."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contenthub.api.deps import ResourceId
from contenthub.clock import utcnow
from contenthub.errors import InputError
from contenthub.scheduler import Schedule, Scheduler, jobs
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
HISTORY = 50


def _schedule(web: Web) -> Schedule:
    kind = web.value("schedule_type", "interval")
    interval = None
    if kind == "interval":
        raw = web.value("interval_seconds").strip()
        if not raw.isdigit() or len(raw) > 9:
            raise InputError("interval_seconds", "a whole number of seconds is required")
        interval = int(raw)
    cron = web.value("cron").strip()[:200] if kind == "cron" else None
    return Schedule(kind, interval, cron, web.value("timezone", "UTC").strip()[:64] or "UTC")


def _params(web: Web) -> dict[str, Any]:
    raw = web.value("params").strip() or "{}"
    try:
        params = json.loads(raw)
    except json.JSONDecodeError:
        raise InputError("params", 'is not JSON; e.g. {"max_items": 10}') from None
    if not isinstance(params, dict):
        raise InputError("params", 'must be a JSON object, e.g. {"max_items": 10}')
    return params


def _jobs_page(web: Web, *, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    me = web.principal
    listed = web.db.read(lambda s: jobs.job_list(s, scope=me.scope))
    return web.render(
        "jobs.html",
        status=status,
        jobs=listed,
        job_types=jobs.JOB_TYPES,
        errors=errors or {},
        ran=web.request.query_params.get("ran"),
    )


@router.get("/jobs")
def jobs_page(web: Page) -> Response:
    return _jobs_page(web)


@router.post("/jobs/preview")
def jobs_preview(web: Page) -> HTMLResponse:
    """The next five runs of the schedule being typed (htmx swaps them in)."""
    try:
        ticks = _schedule(web).upcoming(utcnow())
    except InputError as error:
        return web.render("_job_preview.html", ticks=[], error=error)
    return web.render("_job_preview.html", ticks=ticks, error=None)


@router.post("/jobs")
def job_create(web: Page) -> Response:
    try:
        schedule = _schedule(web)
        params = _params(web)
        web.db.write(
            lambda s: jobs.job_create(
                s,
                owner=web.principal,
                name=web.value("name")[: jobs.MAX_NAME + 1],
                job_type=web.value("job_type"),
                schedule=schedule,
                now=utcnow(),
                params=params,
                enabled=web.value("enabled") == "on",
            )
        )
    except InputError as error:
        return _jobs_page(web, status=422, errors={error.field: error.message})
    return RedirectResponse("/jobs", status_code=303)


@router.post("/jobs/{job_id}/enabled")
def job_enable(job_id: ResourceId, web: Page) -> Response:
    enabled = web.value("enabled") == "true"
    web.db.write(
        lambda s: jobs.job_update(
            s, job_id, scope=web.principal.scope, now=utcnow(), changes={"enabled": enabled}
        )
    )
    return RedirectResponse("/jobs", status_code=303)


@router.post("/jobs/{job_id}/run")
def job_run(job_id: ResourceId, web: Page) -> Response:
    """Run now, in this process, as the API's trigger does; then its history."""
    scheduler = Scheduler(web.db, worker=f"web:{os.getpid()}", secrets=web.request.app.state.box)
    scheduler.trigger(job_id, scope=web.principal.scope, now=utcnow())
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(job_id: ResourceId, web: Page) -> HTMLResponse:
    scope = web.principal.scope
    job = web.db.read(lambda s: jobs.job_get(s, job_id, scope=scope))
    runs = web.db.read(
        lambda s: jobs.job_history(s, job_id, scope=scope, limit=HISTORY, before=None)
    )
    upcoming = jobs.schedule_of(job).upcoming(utcnow()) if job["enabled"] else []
    return web.render("job.html", job=job, runs=runs, upcoming=upcoming)
