from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.api.deps import CurrentUser, DbDep, SettingsDep
from contenthub.api.routers.tasks import task_out
from contenthub.api.schemas import BatchIn, ErrorBody, PublishIn, PublishOut
from contenthub.clock import utcnow
from contenthub.errors import InputError
from contenthub.services.publishing import Target, publish_targets
from contenthub.storage.models import IdempotentRequest

router = APIRouter(prefix="/publish", tags=["publish"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many new tasks; see Retry-After."}
}
KeyHeader = Header(default=None, alias="Idempotency-Key", max_length=200)


def _publish(
    db,
    user,
    targets: list[Target],
    priority: int,
    scheduled_at,
    settings,
    key: str | None,
    request: dict[str, Any],
) -> JSONResponse:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()

    def replay(s: Session) -> JSONResponse | None:
        stored = s.execute(
            sa.select(IdempotentRequest).where(
                IdempotentRequest.user_id == user.user_id, IdempotentRequest.key == key
            )
        ).scalar()
        if stored is None:
            return None
        if stored.request_digest != digest:
            raise InputError("Idempotency-Key", "this key was used with a different request")
        return JSONResponse(
            stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )

    def work(s: Session) -> JSONResponse:
        if key is not None and (earlier := replay(s)) is not None:
            return earlier
        ids = publish_targets(
            s,
            user_id=user.user_id,
            targets=targets,
            priority=priority,
            scheduled_at=scheduled_at,
            now=utcnow(),
            per_minute=settings.submissions_per_minute,
        )
        rows = [storage.task_get(s, i, user_id=user.user_id) for i in ids]
        body = PublishOut(batch_id=rows[0]["batch_id"], tasks=[task_out(r) for r in rows])
        content = json.loads(body.model_dump_json())
        if key is not None:
            s.add(
                IdempotentRequest(
                    user_id=user.user_id,
                    key=key,
                    request_digest=digest,
                    status_code=201,
                    response=content,
                    created_at=utcnow(),
                )
            )
        return JSONResponse(content, status_code=201)

    try:
        return db.write(work)
    except sa.exc.IntegrityError:
        # The same key raced in from another request and won: give its answer.
        answer = db.read(replay) if key is not None else None
        if answer is None:
            raise
        return answer


@router.post("", status_code=201, response_model=PublishOut, responses=RESPONSES)
def publish(
    body: PublishIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    idempotency_key: str | None = KeyHeader,
) -> JSONResponse:
    """One article to one or many accounts, now or at ``scheduled_at``."""
    return _publish(
        db,
        user,
        [Target(body.article_id, body.account_ids)],
        body.priority,
        body.scheduled_at,
        settings,
        idempotency_key,
        body.model_dump(),
    )


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
    return _publish(
        db,
        user,
        targets,
        body.priority,
        body.scheduled_at,
        settings,
        idempotency_key,
        body.model_dump(),
    )
