from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from contenthub.api.deps import CurrentUser, DbDep, SettingsDep
from contenthub.api.routers.tasks import task_out
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


def _answer(rows: list[dict[str, Any]], notice: str | None, notes: list[str]) -> dict[str, Any]:
    body = PublishOut(
        batch_id=rows[0]["batch_id"],
        tasks=[task_out(r) for r in rows],
        notice=notice,
        notes=notes,
    )
    content: dict[str, Any] = json.loads(body.model_dump_json())
    return content


def _publish(
    db: Database,
    user: Principal,
    settings: Settings,
    targets: list[Target],
    body: PublishIn | BatchIn,
    key: str | None,
) -> JSONResponse:
    done = publishing.publish(
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
    answer = done.answer or _answer(done.tasks, done.notice, done.notes)
    return JSONResponse(answer, status_code=201)


@router.post("", status_code=201, response_model=PublishOut, responses=RESPONSES)
def publish(
    body: PublishIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> JSONResponse:
    """One article to one or many accounts, now or at ``scheduled_at``."""
    targets = [Target(body.article_id, body.account_ids)]
    return _publish(db, user, settings, targets, body, idempotency_key)


@router.post("/batch", status_code=201, response_model=PublishOut, responses=RESPONSES)
def publish_batch(
    body: BatchIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> JSONResponse:
    """Many articles, each to its own accounts, as one batch."""
    targets = [Target(item.article_id, item.account_ids) for item in body.items]
    return _publish(db, user, settings, targets, body, idempotency_key)


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
