"""The one completion path: every outcome is written here, in batches, one transaction per
batch; a batch the database refuses is kept and written again (writing an outcome twice is
harmless: the second finds the lease gone)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from contenthub import storage
from contenthub.worker.database import DatabaseThreads
from contenthub.worker.runner import Ending, Outcome

log = logging.getLogger("contenthub.worker")


class Completer:
    def __init__(
        self,
        database: DatabaseThreads,
        *,
        clock: Callable[[], datetime],
        worker: str,
        on_recorded: Callable[[list[Outcome]], None],
    ) -> None:
        self._database = database
        self._clock = clock
        self._worker = worker
        self._on_recorded = on_recorded
        self._pending: list[Outcome] = []
        self._ready = asyncio.Event()

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            await self.flush()

    @property
    def unrecorded(self) -> int:
        """Outcomes a flush gave up on (the database was no longer retried)."""
        return len(self._pending) if self._database.db.retrying_stopped else 0

    async def flush(self, *, final: bool = False) -> None:
        """Write every pending outcome; on failure keep them and try again, unless the
        database is no longer retried (a stopping worker gave up on it)."""
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._database.write(lambda s, b=batch: self._write(s, b))
            except asyncio.CancelledError:
                # The write may never have started: keep the batch for the final flush.
                self._pending = batch + self._pending
                raise
            except Exception:
                self._pending = batch + self._pending
                if self._database.db.retrying_stopped:
                    log.error(
                        "outcomes not recorded: the database is given up on",
                        extra={"count": len(self._pending)},
                    )
                    return
                log.exception("could not record outcomes; retrying", extra={"count": len(batch)})
                await asyncio.sleep(0.5 if final else 1.0)
                continue
            self._on_recorded(batch)

    def _write(self, session: storage.Session, batch: list[Outcome]) -> None:
        now, me = self._clock(), self._worker
        published = [
            storage.Published(
                o.lease,
                o.result.url,
                o.result.post_id,
                note=o.message,
                in_review=o.result.in_review,
                updated=o.result.updated,
            )
            for o in batch
            if o.ending is Ending.SUCCEEDED and o.result is not None
        ]
        storage.task_complete(session, published, now=now, worker=me)
        for o in batch:
            if o.ending is Ending.FAILED:
                assert o.error_class is not None
                storage.task_fail(
                    session,
                    o.lease,
                    error_class=o.error_class,
                    message=o.message,
                    now=now,
                    worker=me,
                    retry_after_seconds=o.retry_after,
                )
            elif o.ending is Ending.CANCELLED:
                storage.task_finish_cancelled(session, o.lease, now=now, worker=me)
            elif o.ending is Ending.RELEASED:
                storage.task_release(session, o.lease, now=now, worker=me, reason=o.message)
