"""The claim loop: claim as many tasks as there are free slots, start each, and sleep until
woken (a slot freed, new work announced, an outcome recorded) or the poll interval passes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from contenthub import storage
from contenthub.worker.config import WorkerConfig
from contenthub.worker.database import DatabaseThreads
from contenthub.worker.slots import Slots

log = logging.getLogger("contenthub.worker")


class Claimer:
    def __init__(
        self,
        config: WorkerConfig,
        database: DatabaseThreads,
        slots: Slots,
        *,
        clock: Callable[[], datetime],
        wake: asyncio.Event,
        stopping: asyncio.Event,
        may_claim: Callable[[], bool],
    ) -> None:
        self._config = config
        self._database = database
        self._slots = slots
        self._clock = clock
        self._wake = wake
        self._stopping = stopping
        # False while this worker's liveness lock is lost: a rescuer may take its work.
        self._may_claim = may_claim

    async def run(self) -> None:
        """Until asked to stop; the tasks already started go on."""
        while not self._stopping.is_set():
            # Cleared before the claim, so a wake-up arriving during it is not lost: work
            # committed after the claim's snapshot is then claimed at once, not at the poll.
            self._wake.clear()
            free = self._slots.free() if self._may_claim() else 0
            claimed = await self._claim(free) if free > 0 else []
            for task in claimed:
                self._slots.start(task)
            if claimed and len(claimed) == free:
                continue  # there may be more: claim again as soon as a slot frees
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)

    async def _claim(self, slots: int) -> list[storage.ClaimedTask]:
        try:
            return await self._database.write(
                lambda s: storage.task_claim(
                    s,
                    worker=self._config.name,
                    slots=slots,
                    now=self._clock(),
                    lease_seconds=self._config.lease_seconds,
                )
            )
        except Exception:
            log.exception("claim failed; will try again", extra={"worker": self._config.name})
            return []
