"""The event stream as it was before the hub, kept only as ``benchmarks/events.py``'s
baseline: every connection polls the database every 0.5 s with a cursor of its own.

Copied from ``api/routers/events.py`` and ``services/principal_events.py`` as they were at
commit a776c2e. ``baseline_app`` is the current application with that route in place of the
hub's (and the hub not started), for ``uvicorn --factory events_baseline:baseline_app``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from contenthub import storage
from contenthub.api.app import PREFIX, app_factory
from contenthub.api.deps import CurrentUser, DbDep
from contenthub.clock import utcnow
from contenthub.services import event_hub
from contenthub.services.users import Principal
from contenthub.storage import Database

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
LATE_COMMIT_WINDOW = timedelta(seconds=10)


@dataclass
class EventCursor:
    db: Database
    scope: int | None
    low: int  # every event with an id at or below this was sent (or predates the stream)
    sent: dict[int, datetime] = field(default_factory=dict)

    @classmethod
    def open(cls, db: Database, principal: Principal, after: int | None) -> EventCursor:
        if after is None:
            after = db.read(storage.event_last_id)
        return cls(db, principal.scope, after)

    def poll(self) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda s: storage.event_list_after(s, user_id=self.scope, after_id=self.low)
        )
        fresh = [r for r in rows if r["id"] not in self.sent]
        now = utcnow()
        for row in fresh:
            self.sent[row["id"]] = row["at"]
        settled = [i for i, at in self.sent.items() if now - at > LATE_COMMIT_WINDOW]
        if settled:
            self.low = max(self.low, max(settled))
            for i in [i for i in self.sent if i <= self.low]:
                del self.sent[i]
        return [event_hub.public(r) for r in fresh]


async def events(
    request: Request,
    user: CurrentUser,
    db: DbDep,
    last_event_id: int | None = Header(default=None, alias="Last-Event-ID", ge=0),
    after: int | None = Query(default=None, ge=0),
) -> StreamingResponse:
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

    return StreamingResponse(stream(), media_type="text/event-stream")


async def _hub_not_started(self: event_hub.EventHub) -> None:
    self.ready.set()


def baseline_app() -> FastAPI:
    event_hub.EventHub.start = _hub_not_started  # type: ignore[method-assign]
    app = app_factory()
    app.add_api_route(f"{PREFIX}/events", events, methods=["GET"])
    # First, so it answers before the hub's route (kept inside its included router).
    app.router.routes.insert(0, app.router.routes.pop())
    return app
