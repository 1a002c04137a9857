from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from contenthub.api.deps import (
    MAX_ID,
    CurrentUser,
    DbDep,
    query_model,
    query_model_openapi,
    read_near,
)
from contenthub.api.schemas import BulkOut, EventOut, TaskDetail, TaskOut, TaskPage
from contenthub.clock import utcnow
from contenthub.services import tasks as task_service
from contenthub.services.tasks import TaskFilter
from contenthub.states import TaskStatus
from contenthub.storage import Database

router = APIRouter(prefix="/tasks", tags=["tasks"])


def task_out(row: dict[str, Any]) -> TaskOut:
    return TaskOut.model_validate(task_fields(row))


def task_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A task row as :class:`TaskOut` reads it: its public id is its ``id`` (the other
    columns it does not show are ignored)."""
    return {**row, "id": row["public_id"]}


def json_answer(body: BaseModel, status_code: int = 200) -> Response:
    """``body`` serialized once, by pydantic's own encoder (a model returned as such would be
    validated again against the route's response model, then encoded by ``json.dumps``)."""
    return Response(body.model_dump_json(), status_code, media_type="application/json")


def event_out(row: dict[str, Any], public_id: str) -> EventOut:
    return EventOut(
        task_id=public_id, **{k: row[k] for k in EventOut.model_fields if k != "task_id"}
    )


class TaskQuery(BaseModel):
    """A listing's filters, validated as one model in one call (nine parameters validated one
    by one cost FastAPI more than the listing's statement; :func:`query_model`)."""

    status: list[TaskStatus] = []
    platform: str | None = Field(None, max_length=32)
    account_id: int | None = Field(None, ge=1, le=MAX_ID)
    article_id: int | None = Field(None, ge=1, le=MAX_ID)
    batch_id: str | None = Field(None, max_length=36)
    created_after: datetime | None = None
    created_before: datetime | None = None
    before: str | None = Field(None, max_length=36, description="A task id: older tasks only.")
    limit: int = Field(50, ge=1, le=200)


@router.get("", response_model=TaskPage, openapi_extra=query_model_openapi(TaskQuery))
async def list_tasks(
    user: CurrentUser, db: DbDep, query: Annotated[TaskQuery, query_model(TaskQuery)]
) -> Response:
    where = TaskFilter(
        statuses=query.status,
        platform=query.platform,
        account_id=query.account_id,
        article_id=query.article_id,
        batch_id=query.batch_id,
        created_after=query.created_after,
        created_before=query.created_before,
    )
    limit = query.limit
    tasks = await read_near(
        db,
        lambda here: task_service.task_page_json(
            here, user, LISTED_FIELDS, where, before=query.before, limit=limit + 1
        ),
    )
    page = tasks[:limit]
    next_before = page[-1][0] if len(tasks) > limit else None
    return Response(listing_json(page, limit, next_before), media_type="application/json")


# A listing's task is a task's page without what only the page shows (its ``held``, which
# the listing leaves null, is still a field).
LISTED_FIELDS = tuple(TaskOut.model_fields)


def listing_json(tasks: list[tuple[str, str]], limit: int, next_before: str | None) -> bytes:
    """A :class:`TaskPage` as JSON around the tasks' objects as the database wrote them
    (``storage.task_list_json``, which writes exactly what :class:`TaskOut` would:
    ``test_the_listing_shows_each_task_as_its_page_does`` compares a listing with each task's
    own page)."""
    items = ",".join(text for _, text in tasks)
    tail = to_json({"limit": limit, "next_before": next_before}).decode()
    return f'{{"items":[{items}],{tail[1:]}'.encode()


@router.get("/{task_id}")
async def get_task(task_id: str, request: Request, user: CurrentUser, db: DbDep) -> TaskDetail:
    data_dir = request.app.state.settings.data_dir

    def read(here: Database) -> tuple[dict[str, Any], list[dict[str, Any]], list[Path]]:
        task, events = task_service.task_detail(here, user, task_id)
        return task, events, task_service.task_screenshots(here, user, task, data_dir)

    task, events, shots = await read_near(db, read)
    return TaskDetail(
        **task_out(task).model_dump(),
        events=[event_out(e, task_id) for e in events],
        screenshots=[f"/api/v1/tasks/{task['public_id']}/screenshots/{p.name}" for p in shots],
    )


@router.get(
    "/{task_id}/screenshots/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}},
)
def get_screenshot(task_id: str, name: str, request: Request, user: CurrentUser, db: DbDep):
    """A screenshot a failed browser step kept; only the task's owner (or an admin) sees it."""
    data_dir = request.app.state.settings.data_dir
    path = task_service.task_screenshot(db, user, task_id, name, data_dir)
    return FileResponse(path, media_type="image/png")


@router.post("/{task_id}/cancel")
def cancel_task(task_id: str, user: CurrentUser, db: DbDep) -> TaskOut:
    _, task = task_service.task_cancel(db, user, task_id, now=utcnow())
    return task_out(task)


@router.post("/{task_id}/retry")
def retry_task(task_id: str, user: CurrentUser, db: DbDep) -> TaskOut:
    """A cancelled scheduled task whose time is still ahead goes back to ``scheduled``."""
    _, task = task_service.task_retry(db, user, task_id, now=utcnow())
    return task_out(task)


@router.post("/batches/{batch_id}/cancel")
def cancel_batch(batch_id: str, user: CurrentUser, db: DbDep) -> BulkOut:
    changed, skipped = task_service.batch_apply(db, user, batch_id, action="cancel", now=utcnow())
    return BulkOut(batch_id=batch_id, changed=changed, skipped=skipped)


@router.post("/batches/{batch_id}/retry")
def retry_batch(batch_id: str, user: CurrentUser, db: DbDep) -> BulkOut:
    changed, skipped = task_service.batch_apply(db, user, batch_id, action="retry", now=utcnow())
    return BulkOut(batch_id=batch_id, changed=changed, skipped=skipped)
