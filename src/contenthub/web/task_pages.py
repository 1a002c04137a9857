"""The task monitor: every task, live from the events stream; a task's own page; cancel and
retry for one task or a whole batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contenthub import storage
from contenthub.clock import parse_time, utcnow, zone_named
from contenthub.errors import InputError
from contenthub.platforms.registry import known_platforms
from contenthub.services import accounts as account_service
from contenthub.services import tasks as task_service
from contenthub.states import RETRYABLE_BY_USER, TaskStatus
from contenthub.storage import TaskFilter
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
TaskId = Annotated[str, Path(min_length=1, max_length=36)]
TaskControl = Callable[..., tuple[Any, dict[str, Any]]]  # task_service.task_cancel / task_retry
PAGE_SIZE = 50


def can_cancel(task: dict[str, Any]) -> bool:
    return task["status"] in ("scheduled", "queued", "running") and not task["cancel_requested"]


def can_retry(task: dict[str, Any]) -> bool:
    return task["status"] in RETRYABLE_BY_USER


def _filters(web: Web) -> tuple[TaskFilter, dict[str, str], dict[str, str]]:
    """The listing's filters from the query string; a bad one is named, never a crash."""
    query = web.request.query_params
    given = {k: query.get(k, "")[:100] for k in ("status", "platform", "account", "batch")}
    given |= {k: query.get(k, "")[:40] for k in ("since", "until", "tz")}
    errors: dict[str, str] = {}
    statuses: list[TaskStatus] = []
    if given["status"]:
        try:
            statuses = [TaskStatus(given["status"])]
        except ValueError:
            errors["status"] = "unknown status"
    account_id = None
    if given["account"]:
        if given["account"].isdigit() and 0 < int(given["account"]) < 2**31:
            account_id = int(given["account"])
        else:
            errors["account"] = "unknown account"
    times: dict[str, datetime | None] = {"since": None, "until": None}
    for name in times:
        if given[name]:
            try:
                times[name] = parse_time(given[name], zone=zone_named(given["tz"] or None))
            except InputError as error:
                errors[name] = error.message
    where = TaskFilter(
        statuses=statuses,
        platform=given["platform"] or None,
        account_id=account_id,
        batch_id=given["batch"] or None,
        created_after=times["since"],
        created_before=times["until"],
    )
    return where, given, errors


@router.get("/")
def home() -> Response:
    return RedirectResponse("/tasks", status_code=303)


@router.get("/tasks")
def tasks_page(web: Page) -> HTMLResponse:
    where, given, errors = _filters(web)
    before = web.request.query_params.get("before", "")[:36] or None
    me = web.principal
    # The stream is opened after the last event that exists now: nothing between this
    # page's rows and the stream is missed.
    after = web.db.read(storage.event_last_id)
    rows: list[dict[str, Any]] = []
    if not errors:
        try:
            rows = task_service.task_page(web.db, me, where, before=before, limit=PAGE_SIZE + 1)
        except InputError as error:
            errors[error.field] = error.message
    accounts = web.db.read(lambda s: account_service.account_list(s, scope=me.user_id))
    filtered = any(given[k] for k in ("status", "platform", "account", "batch", "since", "until"))
    older = rows[PAGE_SIZE - 1]["public_id"] if len(rows) > PAGE_SIZE else None
    counts = [web.request.query_params.get(k, "") for k in ("changed", "skipped")]
    note = None
    if all(c.isdigit() and len(c) < 6 for c in counts):
        note = web.t("batch.done", changed=counts[0], skipped=counts[1])
    return web.render(
        "tasks.html",
        note=note,
        status=422 if errors else 200,
        tasks=rows[:PAGE_SIZE],
        older=older,
        given=given,
        errors=errors,
        filtered=filtered or before is not None,
        after=after or 0,
        platforms=known_platforms(),
        accounts=accounts,
        account_names={a.id: a.name for a in accounts},
        statuses=[s.value for s in TaskStatus],
        can_cancel=can_cancel,
        can_retry=can_retry,
    )


def _row(web: Web, task: dict[str, Any], status: int = 200, **extra: Any) -> HTMLResponse:
    me = web.principal
    accounts = web.db.read(lambda s: account_service.account_list(s, scope=me.scope))
    return web.render(
        "_task_row.html",
        status=status,
        task=task,
        account_names={a.id: a.name for a in accounts},
        can_cancel=can_cancel,
        can_retry=can_retry,
        **extra,
    )


@router.get("/tasks/{task_id}/row")
def task_row(task_id: TaskId, web: Page) -> HTMLResponse:
    """One row of the monitor, fetched when the stream says the task changed."""
    task, _ = task_service.task_detail(web.db, web.principal, task_id)
    return _row(web, task)


@router.get("/tasks/{task_id}")
def task_page(task_id: TaskId, web: Page) -> HTMLResponse:
    me = web.principal
    task, events = task_service.task_detail(web.db, me, task_id)
    accounts = web.db.read(lambda s: account_service.account_list(s, scope=me.scope))
    template = "_task_detail.html" if web.is_htmx else "task.html"
    data_dir = web.request.app.state.settings.data_dir
    shots = task_service.task_screenshots(web.db, me, task, data_dir)
    return web.render(
        template,
        # Served by the API's own owner-only route (a GET: the session cookie is enough).
        screenshots=[f"/api/v1/tasks/{task['public_id']}/screenshots/{p.name}" for p in shots],
        task=task,
        events=events,
        after=web.db.read(storage.event_last_id) or 0,
        account_names={a.id: a.name for a in accounts},
        can_cancel=can_cancel,
        can_retry=can_retry,
    )


def _after_control(web: Web, task: dict[str, Any], error: str | None = None) -> Response:
    if web.is_htmx:
        return _row(web, task, error=error)
    return RedirectResponse(f"/tasks/{task['public_id']}", status_code=303)


def _control(web: Web, task_id: str, action: TaskControl) -> Response:
    """Cancel or retry one task; a refusal (already finished, not failed) shows on its row."""
    try:
        _, task = action(web.db, web.principal, task_id, now=utcnow())
    except InputError as error:
        task, _ = task_service.task_detail(web.db, web.principal, task_id)
        return _after_control(web, task, error.message)
    return _after_control(web, task)


@router.post("/tasks/{task_id}/cancel")
def task_cancel(task_id: TaskId, web: Page) -> Response:
    return _control(web, task_id, task_service.task_cancel)


@router.post("/tasks/{task_id}/retry")
def task_retry(task_id: TaskId, web: Page) -> Response:
    return _control(web, task_id, task_service.task_retry)


@router.post("/batches/{batch_id}/{action}")
def batch_control(batch_id: TaskId, action: str, web: Page) -> Response:
    if action not in ("cancel", "retry"):
        return web.render("error.html", status=404, title=web.t("not_found"), message=None)
    changed, skipped = task_service.batch_apply(
        web.db,
        web.principal,
        batch_id,
        action="cancel" if action == "cancel" else "retry",
        now=utcnow(),
    )
    done = f"changed={len(changed)}&skipped={len(skipped)}"
    return RedirectResponse(f"/tasks?batch={quote(batch_id)}&{done}", status_code=303)
