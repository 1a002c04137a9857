"""The maintenance duty every worker runs: rescue tasks whose lease ran out (their worker was
lost), and move scheduled tasks whose time has come to the queue.

Same shape as the scheduler's duty: ``run_once(now) -> counts``, called by the worker's
shared loop on a thread; each step is one batch in its own short transaction, safe when
several processes run it at once (``SKIP LOCKED``; on SQLite the writer lock serializes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from contenthub import storage
from contenthub.storage import Database

log = logging.getLogger("contenthub.worker")
BATCH = 200


@dataclass(frozen=True)
class MaintenanceCounts:
    rescued: int
    staged: int

    @property
    def new_work(self) -> bool:
        return bool(self.rescued or self.staged)


class Maintenance:
    def __init__(self, db: Database, *, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.db = db
        self.batch = batch

    def run_once(self, now: datetime) -> MaintenanceCounts:
        rescued = self.db.write(lambda s: storage.task_rescue_expired(s, now=now, batch=self.batch))
        staged = self.db.write(lambda s: storage.task_stage_due(s, now=now, batch=self.batch))
        if rescued:
            log.warning("rescued tasks whose worker was lost", extra={"count": rescued})
        return MaintenanceCounts(rescued=rescued, staged=staged)
