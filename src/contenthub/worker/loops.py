"""The loops side duties run in: a jittered interval that logs a failed step and goes on,
and the PostgreSQL listener that wakes the claim loop at once when work arrives."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from contenthub.storage import Database
from contenthub.storage.events import NOTIFY_CHANNEL, notifications

log = logging.getLogger("contenthub.worker")


async def every(seconds: float, step: Callable[[], Awaitable[object]]) -> None:
    """Run ``step`` about every ``seconds`` (±10 %, so processes drift apart) until cancelled."""
    while True:
        await asyncio.sleep(seconds * random.uniform(0.9, 1.1))
        try:
            await step()
        except Exception:
            log.exception("side loop step failed; continuing")


async def listen_for_work(db: Database, wake: Callable[[], None]) -> None:
    """PostgreSQL LISTEN on one dedicated connection: wake at once on new work."""
    while True:
        try:
            async for _ in notifications(db.session_url, NOTIFY_CHANNEL):
                wake()  # once listening (anything sent before), then per notification
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "notification listener lost; reconnecting", extra={"error": str(error)[:200]}
            )
            await asyncio.sleep(1.0)
