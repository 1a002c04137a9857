"""Server-Sent Events: the caller's task events, from the database, resumable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from contenthub.api.deps import CurrentUser, DbDep
from contenthub.services.principal_events import EventCursor

router = APIRouter(tags=["events"])
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    user: CurrentUser,
    db: DbDep,
    last_event_id: int | None = Header(default=None, alias="Last-Event-ID", ge=0),
    after: int | None = Query(default=None, ge=0, description="Resume after this event id."),
) -> StreamingResponse:
    """Every status, progress and stage change of your tasks, as it happens.

    Each message's ``id`` is the event id: reconnect with ``Last-Event-ID`` (or ``?after=``)
    to get what was missed. Without either, the stream starts with new events only.
    """
    start = last_event_id if last_event_id is not None else after
    cursor = await run_in_threadpool(EventCursor.open, db, user, start)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            batch = await run_in_threadpool(cursor.poll)
            for event in batch:
                yield f"id: {event['id']}\nevent: task\ndata: {json.dumps(event)}\n\n"
            if batch:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
