"""Keeping the tasks this worker holds: the heartbeat renews their leases (and finds those
that were lost), the cancel poll finds those the user asked to stop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contenthub import storage
from contenthub.worker.database import DatabaseThreads
from contenthub.worker.slots import Slots


class LeaseKeeper:
    def __init__(
        self,
        database: DatabaseThreads,
        slots: Slots,
        *,
        clock: Callable[[], datetime],
        lease_seconds: float,
    ) -> None:
        self._database = database
        self._slots = slots
        self._clock = clock
        self._lease_seconds = lease_seconds

    async def heartbeat(self) -> None:
        leases = self._slots.leases()
        if leases:
            result = await self._database.write(
                lambda s: storage.task_heartbeat(
                    s, leases, now=self._clock(), lease_seconds=self._lease_seconds
                )
            )
            self._slots.apply(result)

    async def poll_cancel(self) -> None:
        leases = self._slots.leases()
        if leases:
            result = await self._database.read(lambda s: storage.task_poll_cancel(s, leases))
            self._slots.apply(result)
