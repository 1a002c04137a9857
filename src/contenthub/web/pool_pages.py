"""The publish pool: its counts, its entries in release order, add an article, change an
entry's priority or time, cancel it. The same ``services.pool`` use cases as the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from contenthub.api.deps import ResourceId
from contenthub.clock import parse_time, utcnow, zone_named
from contenthub.errors import InputError
from contenthub.services import articles as article_service
from contenthub.services import pool
from contenthub.storage.enqueue import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
PAGE_SIZE = 100


def _time(web: Web, name: str) -> datetime | None:
    raw = web.value(name).strip()[:40]
    if not raw:
        return None
    try:
        return parse_time(raw, zone=zone_named(web.value("tz").strip()[:64] or None))
    except InputError as error:
        raise InputError(name, error.message) from None


def _priority(web: Web, name: str = "priority") -> int | None:
    raw = web.value(name).strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit() or len(raw) > 6:
        raise InputError(name, "a whole number")
    return int(raw)


def _pool_page(
    web: Web,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    failures: dict[int, str] | None = None,
) -> Response:
    scope = web.principal.scope
    entries, total = web.db.read(
        lambda s: pool.pool_list(
            s, scope=scope, statuses=[], article_id=None, limit=PAGE_SIZE, offset=0
        )
    )
    counts = web.db.read(lambda s: pool.pool_stats(s, scope=scope))
    articles, _ = web.db.read(
        lambda s: article_service.article_list(s, scope=web.principal.user_id, limit=200, offset=0)
    )
    return web.render(
        "pool.html",
        status=status,
        entries=entries,
        total=total,
        counts=counts,
        articles=articles,
        errors=errors or {},
        failures=failures or {},
        min_priority=MIN_PRIORITY,
        max_priority=MAX_PRIORITY,
    )


@router.get("/pool")
def pool_page(web: Page) -> Response:
    return _pool_page(web)


@router.post("/pool")
def pool_add(web: Page) -> Response:
    raw = web.value("article")
    try:
        if not raw.isdigit() or not 0 < int(raw) < 2**31:
            raise InputError("article", "choose an article")
        priority = _priority(web)
        scheduled_at = _time(web, "scheduled_at")
        web.db.write(
            lambda s: pool.pool_add(
                s,
                owner=web.principal,
                article_id=int(raw),
                now=utcnow(),
                priority=DEFAULT_PRIORITY if priority is None else priority,
                scheduled_at=scheduled_at,
            )
        )
    except InputError as error:
        field = "article" if error.field in ("content_id", "article_id") else error.field
        return _pool_page(web, status=422, errors={field: error.message})
    return RedirectResponse("/pool", status_code=303)


@router.post("/pool/{entry_id}/reschedule")
def pool_reschedule(entry_id: ResourceId, web: Page) -> Response:
    try:
        priority = _priority(web)
        scheduled_at = _time(web, "scheduled_at")
        web.db.write(
            lambda s: pool.pool_reschedule(
                s,
                entry_id,
                scope=web.principal.scope,
                now=utcnow(),
                scheduled_at=scheduled_at,
                priority=priority,
            )
        )
    except InputError as error:
        return _pool_page(web, status=422, failures={entry_id: error.message})
    return RedirectResponse("/pool", status_code=303)


@router.post("/pool/{entry_id}/cancel")
def pool_cancel(entry_id: ResourceId, web: Page) -> Response:
    try:
        web.db.write(
            lambda s: pool.pool_cancel(s, entry_id, scope=web.principal.scope, now=utcnow())
        )
    except InputError as error:
        return _pool_page(web, status=422, failures={entry_id: error.message})
    return RedirectResponse("/pool", status_code=303)
