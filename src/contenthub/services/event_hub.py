"""The live event stream: one reader of the event log per process, fanned out to every
subscriber of that process.

**One reader.** The hub reads new ``task_events`` rows once, for everyone: on PostgreSQL when a
``NOTIFY`` says events were committed (every insert of events sends one, at commit), elsewhere
every ``poll_seconds``. A thousand open streams cost the database what one does. Every process
has its own hub reading the shared database, so any number of API processes serve the same
stream.

**In id order, without losing late commits.** Ids are taken at insert but transactions commit
in any order, so a reader that sees id 12 may not yet see id 11. An id missing below the
highest read is a *gap*: the events above it are held back until it fills or ``HOLD_SECONDS``
pass (a rolled-back insert leaves a gap that never fills). A gap passed over is still watched
for ``LATE_WINDOW_SECONDS``; if its event commits then, it is delivered *late*: out of order,
and without an SSE ``id:`` line, so the client's ``Last-Event-ID`` stays the highest id
delivered in order and a resume neither repeats nor skips what came in order.

**Subscribers.** Each has a bounded queue. The hub never waits for one: a subscriber whose
queue is full is dropped; its stream sends what it had queued and ends, and the client
reconnects with ``Last-Event-ID`` (EventSource does so by itself after the ``retry`` delay) to
read the rest from the database. Memory per subscriber is bounded by its queue.

**Resuming.** A subscriber registers first, then reads from the database what came after its
``Last-Event-ID`` up to what the hub had delivered at registration; everything later reaches
it through its queue. Nothing is missed in between, and nothing is sent twice.

**Outages.** A failed read is logged and tried again with backoff; the hub keeps its place and
catches up once the database answers. The PostgreSQL listener reconnects by itself and the
hub reads whatever was committed while it was away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

from anyio import to_thread

from contenthub import storage
from contenthub.storage import Database
from contenthub.storage.events import EVENTS_CHANNEL, notifications

log = logging.getLogger("contenthub.events")

HOLD_SECONDS = 1.0  # how long a missing id holds back the ids above it
LATE_WINDOW_SECONDS = 10.0  # how long a passed-over id is still watched for a late commit
MAX_JUMP = 1000  # at most this many missing ids are watched below one new id
PAGE = 1000
SAFETY_POLL_SECONDS = 5.0  # PostgreSQL: read even without a notification, this often
COALESCE_SECONDS = 0.05  # PostgreSQL: at most one read this often, however many notifications


@dataclass(frozen=True)
class LiveEvent:
    id: int
    user_id: int
    data: str  # the message's JSON, serialized once for every subscriber
    late: bool  # delivered after a higher id: its transaction committed late


def public(row: dict[str, Any]) -> dict[str, Any]:
    """What a client sees of an event (the stream's ``data``)."""
    return {
        "id": row["id"],
        "task_id": row["public_id"],
        "at": row["at"].isoformat(),
        "kind": row["kind"],
        "reason": row["reason"],
        "from_status": row["from_status"],
        "to_status": row["to_status"],
        "stage": row["stage"],
        "progress": row["progress"],
        "attempt": row["attempt"],
        "message": row["message"],
    }


def sse(event_id: int | None, data: str) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: task\ndata: {data}\n\n"


class Subscription:
    """One stream's place in the hub: its queue, and what it must not send twice."""

    def __init__(self, hub: EventHub, scope: int | None, after: int | None, size: int) -> None:
        self.hub = hub
        self.scope = scope  # the user whose events it sees; None: an administrator, all
        self.after = after
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(size)
        self.dropped = False
        self.closed = False
        # Registration: what the hub had delivered in order, and the ids it still watches
        # below that (the backfill may read them, and the hub deliver them late).
        self.backfill_up_to = hub.high
        self.watched_at_start = set(hub.watched)
        self.sent_late_candidates: set[int] = set()
        self.highest_sent = after or 0

    def offer(self, event: LiveEvent) -> bool:
        """Queue ``event``; False when the queue is full (the hub then drops us)."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            return False
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.unsubscribe(self)

    def _message(self, event_id: int, data: str, late: bool) -> str:
        if late or event_id <= self.highest_sent:
            return sse(None, data)  # out of order: Last-Event-ID stays where it is
        self.highest_sent = event_id
        return sse(event_id, data)

    async def messages(self, keepalive_seconds: float) -> AsyncIterator[str]:
        """The SSE messages of this stream: the backfill, then the live events (whatever has
        queued up, as one chunk); ends when dropped (after what was queued) or closed."""
        try:
            async for row in self._backfill():
                yield self._message(row["id"], json.dumps(public(row)), late=False)
            while not self.closed:
                if self.dropped and self.queue.empty():
                    return
                try:
                    async with asyncio.timeout(keepalive_seconds):
                        first = await self.queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                events = [first]
                while not self.queue.empty():
                    events.append(self.queue.get_nowait())
                chunk = "".join(self._live(event) for event in events)
                if chunk:
                    yield chunk
        finally:
            self.close()

    def _live(self, event: LiveEvent) -> str:
        if event.id in self.sent_late_candidates:
            self.sent_late_candidates.discard(event.id)
            return ""  # the backfill sent it
        if self.after is not None and event.id <= self.after and not event.late:
            return ""  # the client had it (from another process's hub)
        return self._message(event.id, event.data, event.late)

    async def _backfill(self) -> AsyncIterator[dict[str, Any]]:
        if self.after is None:
            return
        cursor = self.after
        while cursor < self.backfill_up_to:
            rows = await self.hub.read_user_events(self.scope, cursor, self.backfill_up_to)
            for row in rows:
                if row["id"] in self.watched_at_start:
                    self.sent_late_candidates.add(row["id"])
                yield row
            if len(rows) < PAGE:
                return
            cursor = rows[-1]["id"]


class EventHub:
    """The process's one reader of the event log; see the module's docstring."""

    def __init__(self, db: Database, *, poll_seconds: float, queue_size: int) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.queue_size = queue_size
        self.page = min(PAGE, queue_size)  # one read never overfills an empty queue
        self.high = 0  # every id up to this one was delivered in order, or passed over
        self.max_read = 0  # the highest id read
        self.pending: dict[int, dict[str, Any]] = {}  # read, held back behind a gap
        self.gaps: dict[int, float] = {}  # missing id → when first missed (holding back)
        self.watched: dict[int, float] = {}  # passed-over id → when first missed
        self.by_user: dict[int, set[Subscription]] = {}
        self.everyone: set[Subscription] = set()  # administrators' streams
        self.reads = 0
        self.dropped = 0
        self.ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._listening = False
        self._tasks: list[asyncio.Task[None]] = []

    # lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._read_loop(), name="event-hub-reader"))
        if self.db.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen(), name="event-hub-listener"))

    async def stop(self) -> None:
        for subscription in [*self.everyone, *chain.from_iterable(self.by_user.values())]:
            subscription.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # subscribers --------------------------------------------------------------------------

    async def subscribe(self, scope: int | None, after: int | None) -> Subscription:
        """Register a stream of ``scope``'s events (None: everyone's), resuming after the
        event id ``after`` (None: new events only)."""
        await self.ready.wait()
        subscription = Subscription(self, scope, after, self.queue_size)
        if scope is None:
            self.everyone.add(subscription)
        else:
            self.by_user.setdefault(scope, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription.scope is None:
            self.everyone.discard(subscription)
            return
        mine = self.by_user.get(subscription.scope)
        if mine is not None:
            mine.discard(subscription)
            if not mine:
                del self.by_user[subscription.scope]

    @property
    def subscribers(self) -> int:
        return len(self.everyone) + sum(len(s) for s in self.by_user.values())

    async def read_user_events(
        self, scope: int | None, after: int, up_to: int
    ) -> list[dict[str, Any]]:
        """A page of ``scope``'s events in (after, up_to], for a resuming stream."""
        return await to_thread.run_sync(
            lambda: self.db.read(
                lambda s: storage.event_list_after(
                    s, user_id=scope, after_id=after, up_to=up_to, limit=PAGE
                )
            )
        )

    def _deliver(self, row: dict[str, Any], *, late: bool) -> None:
        event = LiveEvent(row["id"], row["user_id"], json.dumps(public(row)), late)
        full = [
            s
            for s in chain(self.by_user.get(event.user_id, ()), self.everyone)
            if not s.offer(event)
        ]
        for subscription in full:
            self.dropped += 1
            self.unsubscribe(subscription)
            log.info(
                "event stream dropped: its client reads too slowly; it resumes from Last-Event-ID",
                extra={"user_id": subscription.scope},
            )

    # reading ------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        failures = 0
        while True:
            try:
                if not self.ready.is_set():
                    last = await to_thread.run_sync(lambda: self.db.read(storage.event_last_id))
                    self.high = self.max_read = last
                    self.ready.set()
                while await self._read_once():
                    # A full page: let the streams take it in before the next one.
                    await asyncio.sleep(COALESCE_SECONDS)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                log.warning(
                    "event hub could not read the event log; trying again",
                    extra={"error": str(error)[:200]},
                )
                await asyncio.sleep(min(0.5 * 2**failures, 5.0))
                continue
            await self._wait_for_news()

    async def _wait_for_news(self) -> None:
        timeout = SAFETY_POLL_SECONDS if self._listening else self.poll_seconds
        if self.gaps:  # re-decide when the oldest gap's hold ends
            oldest = min(self.gaps.values())
            timeout = min(timeout, max(0.0, oldest + HOLD_SECONDS - time.monotonic()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            self._wake.clear()
            return
        if self._listening:
            await asyncio.sleep(COALESCE_SECONDS)  # let a burst of notifications gather
        self._wake.clear()

    async def _read_once(self) -> bool:
        """Read what is new and what we wait for; deliver. True when a page came back full."""
        after, waiting = self.max_read, [*self.gaps, *self.watched]
        started = time.monotonic()
        rows = await to_thread.run_sync(
            lambda: self.db.read(
                lambda s: storage.event_list_after(
                    s, user_id=None, after_id=after, also_ids=waiting, limit=self.page
                )
            )
        )
        self.reads += 1
        self._absorb(rows, started)
        return len(rows) == self.page

    def _absorb(self, rows: Iterable[dict[str, Any]], now: float) -> None:
        for row in rows:
            event_id = row["id"]
            if event_id > self.max_read:
                first_missing = max(self.max_read + 1, event_id - MAX_JUMP)
                for missing in range(first_missing, event_id):
                    self.gaps[missing] = now
                self.max_read = event_id
                self.pending[event_id] = row
            elif self.gaps.pop(event_id, None) is not None:
                self.pending[event_id] = row
            elif self.watched.pop(event_id, None) is not None:
                self._deliver(row, late=True)
        self._advance(now)
        for event_id in [
            i for i, missed in self.watched.items() if now - missed > LATE_WINDOW_SECONDS
        ]:
            del self.watched[event_id]

    def _advance(self, now: float) -> None:
        """Deliver held events in id order, passing over gaps whose hold has ended."""
        while self.high < self.max_read:
            next_id = self.high + 1
            if next_id not in self.pending and next_id not in self.gaps:
                # Below a jump larger than MAX_JUMP: nothing there is watched.
                next_id = min(chain(self.pending, self.gaps))
            if next_id in self.gaps:
                if now - self.gaps[next_id] < HOLD_SECONDS:
                    return
                self.watched[next_id] = self.gaps.pop(next_id)
            else:
                self._deliver(self.pending.pop(next_id), late=False)
            self.high = next_id

    async def _listen(self) -> None:
        while True:
            try:
                async for _ in notifications(self.db.session_url, EVENTS_CHANNEL):
                    self._listening = True
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "event hub's notification listener lost; reconnecting",
                    extra={"error": str(error)[:200]},
                )
            self._listening = False
            self._wake.set()  # poll meanwhile
            await asyncio.sleep(1.0)
