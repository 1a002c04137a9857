"""The publish pool: add, list, stats, cancel and reschedule entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from contenthub.api.deps import CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import DbId, Strict
from contenthub.clock import utcnow
from contenthub.services import pool
from contenthub.storage.enqueue import MAX_PRIORITY, MIN_PRIORITY

router = APIRouter(prefix="/publish-pool", tags=["publish pool"])


class PoolAddIn(Strict):
    content_id: DbId
    priority: int = Field(default=5, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    scheduled_at: AwareDatetime | None = None
    account_ids: list[DbId] | None = Field(
        default=None, max_length=pool.MAX_TARGETS, description="Default: every active account."
    )
    max_retries: int = Field(default=pool.DEFAULT_MAX_RETRIES, ge=0, le=pool.MAX_RETRIES_LIMIT)


class PoolRescheduleIn(Strict):
    scheduled_at: AwareDatetime | None = None
    priority: int | None = Field(default=None, ge=MIN_PRIORITY, le=MAX_PRIORITY)


class PoolEntryOut(BaseModel):
    id: int
    # The seeds' name for the article's id.
    content_id: int = Field(validation_alias="article_id")
    title: str | None = Field(description="The article's title.")
    account_ids: list[int]
    priority: int
    scheduled_at: datetime
    status: str
    retry_count: int
    max_retries: int
    last_error: str | None
    result: list[dict[str, Any]]
    released_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PoolPage(BaseModel):
    items: list[PoolEntryOut]
    total: int
    limit: int
    offset: int


class PoolStatsOut(BaseModel):
    total: int
    pending: int
    publishing: int
    published: int
    failed: int
    cancelled: int


@router.post("/add", status_code=201)
def add_entry(body: PoolAddIn, user: CurrentUser, db: DbDep) -> PoolEntryOut:
    """Add an article to the pool; the publishing job releases it once due."""
    entry = db.write(
        lambda s: pool.pool_add(
            s,
            owner=user,
            article_id=body.content_id,
            now=utcnow(),
            priority=body.priority,
            scheduled_at=body.scheduled_at,
            account_ids=body.account_ids,
            max_retries=body.max_retries,
        )
    )
    return PoolEntryOut(**entry)


@router.get("/list")
def list_entries(
    user: CurrentUser,
    db: DbDep,
    status: list[str] = Query(default=[]),
    content_id: int | None = Query(None, ge=1, le=2_147_483_647),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> PoolPage:
    """Entries in release order: most urgent first, then earliest."""
    items, total = db.read(
        lambda s: pool.pool_list(
            s,
            scope=user.scope,
            statuses=status,
            article_id=content_id,
            limit=limit,
            offset=offset,
        )
    )
    return PoolPage(
        items=[PoolEntryOut(**e) for e in items], total=total, limit=limit, offset=offset
    )


@router.get("/stats")
def entry_stats(user: CurrentUser, db: DbDep) -> PoolStatsOut:
    return PoolStatsOut(**db.read(lambda s: pool.pool_stats(s, scope=user.scope)))


@router.get("/{entry_id}")
def get_entry(entry_id: ResourceId, user: CurrentUser, db: DbDep) -> PoolEntryOut:
    return PoolEntryOut(**db.read(lambda s: pool.pool_get(s, entry_id, scope=user.scope)))


@router.post("/{entry_id}/cancel")
def cancel_entry(entry_id: ResourceId, user: CurrentUser, db: DbDep) -> PoolEntryOut:
    """A pending entry leaves the pool; a publishing one also cancels its open tasks."""
    entry = db.write(lambda s: pool.pool_cancel(s, entry_id, scope=user.scope, now=utcnow()))
    return PoolEntryOut(**entry)


@router.post("/{entry_id}/reschedule")
def reschedule_entry(
    entry_id: ResourceId, body: PoolRescheduleIn, user: CurrentUser, db: DbDep
) -> PoolEntryOut:
    entry = db.write(
        lambda s: pool.pool_reschedule(
            s,
            entry_id,
            scope=user.scope,
            now=utcnow(),
            scheduled_at=body.scheduled_at,
            priority=body.priority,
        )
    )
    return PoolEntryOut(**entry)
