from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response

from contenthub.api.deps import CurrentUser, DbDep, SettingsDep
from contenthub.api.routers.tasks import json_answer, task_fields
from contenthub.api.schemas import (
    AccountPreview,
    BatchIn,
    ErrorBody,
    PreviewIn,
    PreviewOut,
    PublishIn,
    PublishOut,
)
from contenthub.clock import utcnow
from contenthub.config import Settings
from contenthub.services import publishing
from contenthub.services.publishing import Once, Target
from contenthub.services.users import Principal
from contenthub.storage import Database

router = APIRouter(prefix="/publish", tags=["publish"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The article's publish to an account is still under way (`field` "
        "names it); send `republish: true` for a second post. An account that already has "
        "the article gets its post updated (the task's `updates`, then `outcome: updated`).",
    },
    429: {"model": ErrorBody, "description": "Too many new tasks; see Retry-After."},
}
KeyHeader = Header(default=None, alias="Idempotency-Key", max_length=200)


def _publish_out(rows: list[dict[str, Any]], notice: str | None, notes: list[str]) -> PublishOut:
    return PublishOut.model_validate(
        {
            "batch_id": rows[0]["batch_id"],
            "tasks": [task_fields(r) for r in rows],
            "notice": notice,
            "notes": notes,
        }
    )


def _answer(rows: list[dict[str, Any]], notice: str | None, notes: list[str]) -> dict[str, Any]:
    """The answer as kept under an Idempotency-Key."""
    content: dict[str, Any] = json.loads(_publish_out(rows, notice, notes).model_dump_json())
    return content


async def _publish(
    db: Database,
    user: Principal,
    settings: Settings,
    targets: list[Target],
    body: PublishIn | BatchIn,
    key: str | None,
) -> Response:
    # On the loop: the write goes to SQLite's writing thread (or the pool) and the loop waits
    # for it without a thread of the pool in between (Database.write_async).
    done = await publishing.publish_async(
        db,
        user,
        targets,
        priority=body.priority,
        scheduled_at=body.scheduled_at,
        per_minute=settings.submissions_per_minute,
        now=utcnow(),
        once=None if key is None else Once(key, body.model_dump(), _answer),
        republish=body.republish,
    )
    if done.replayed:
        assert done.answer is not None
        headers = {"Idempotent-Replayed": "true"}
        return JSONResponse(done.answer, status_code=done.status_code, headers=headers)
    if done.answer is not None:
        return JSONResponse(done.answer, status_code=201)
    return json_answer(_publish_out(done.tasks, done.notice, done.notes), 201)


@router.post("", status_code=201, response_model=PublishOut, responses=RESPONSES)
async def publish(
    body: PublishIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> Response:
    """One article to one or many accounts, now or at ``scheduled_at``."""
    targets = [Target(body.article_id, body.account_ids)]
    return await _publish(db, user, settings, targets, body, idempotency_key)


@router.post("/batch", status_code=201, response_model=PublishOut, responses=RESPONSES)
async def publish_batch(
    body: BatchIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> Response:
    """Many articles, each to its own accounts, as one batch."""
    targets = [Target(item.article_id, item.account_ids) for item in body.items]
    return await _publish(db, user, settings, targets, body, idempotency_key)


@router.post("/preview")
def publish_preview(body: PreviewIn, user: CurrentUser, db: DbDep) -> PreviewOut:
    """What a publish of the article to each account would meet, queueing nothing: the
    platform rules it breaks (a publish would be a 422) and the defaults its adapter applies."""
    found = publishing.preview(db, user, body.article_id, body.account_ids)
    return PreviewOut(
        accounts=[
            AccountPreview(
                account_id=a.account_id,
                account=a.account,
                platform=a.platform,
                ok=not a.problems,
                problems=a.problems,
                notes=a.notes,
            )
            for a in found
        ]
    )
