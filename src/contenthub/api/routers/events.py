"""Server-Sent Events: the caller's task events, live and resumable, from the process's hub."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from contenthub.api.deps import CurrentUser
from contenthub.services.event_hub import EventHub

router = APIRouter(tags=["events"])
KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    user: CurrentUser,
    last_event_id: int | None = Header(default=None, alias="Last-Event-ID", ge=0),
    after: int | None = Query(default=None, ge=0, description="Resume after this event id."),
) -> StreamingResponse:
    """Every status, progress and stage change of your tasks, as it happens.

    Each message's ``id`` is the event id: reconnect with ``Last-Event-ID`` (or ``?after=``)
    to get what was missed. Without either, the stream starts with new events only. An event
    whose transaction committed late comes after higher ids, without an ``id`` line (the
    resume point stays the highest id delivered in order). A client too slow to keep up has
    its stream ended, and reconnects to catch up from ``Last-Event-ID``.
    """
    hub: EventHub = request.app.state.event_hub
    start = last_event_id if last_event_id is not None else after
    subscription = await hub.subscribe(user.scope, start)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for message in subscription.messages(KEEPALIVE_SECONDS):
            yield message

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # Also when the client went away mid-stream (Starlette cancels the stream then).
        background=BackgroundTask(subscription.close),
    )
