"""The maintenance duties every worker runs: rescue the tasks of workers found dead (``Rescuer``,
in seconds) and of leases that ran out (the backstop), and move scheduled tasks whose time
has come to the queue.

Same shape as the scheduler's duty: ``run_once(now) -> counts``, called by the worker's
shared loop on a thread; each step is one batch in its own short transaction, safe when
several processes run it at once (``SKIP LOCKED``; on SQLite the writer lock serializes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from contenthub import storage
from contenthub.storage import Database
from contenthub.worker.liveness import HOST, process_alive

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


class Rescuer:
    """Hands back at once the running tasks of workers found dead, sooner than any lease.

    PostgreSQL and MariaDB: a registered worker whose session lock has been free for
    ``grace_seconds`` in a row (seen by this rescuer) is dead; the grace lets a live worker
    whose lock connection merely dropped take its lock back first. SQLite: a worker of this
    host whose process (pid and start time) is gone is dead at once. The rescue itself looks
    at the lock again and is fenced by each task's lease token."""

    def __init__(self, db: Database, *, me: str, grace_seconds: float, batch: int = BATCH) -> None:
        self.db = db
        self.me = me
        self.grace_seconds = grace_seconds
        self.batch = batch
        self._free_since: dict[str, float] = {}

    def run_once(self, now: datetime) -> int:
        workers = self.db.read(lambda s: storage.worker_registry_read(s, exclude=self.me))
        dead = self._dead(workers, time.monotonic())
        if not dead:
            return 0
        rescued = self.db.write(
            lambda s: storage.task_rescue_of_workers(s, dead, now=now, batch=self.batch)
        )
        if rescued:
            log.warning(
                "rescued tasks of dead workers",
                extra={"count": rescued, "workers": ",".join(w.name for w in dead)},
            )
        return rescued

    def _dead(self, workers: list[storage.WorkerRow], mono: float) -> list[storage.WorkerRow]:
        dead = []
        seen = set()
        for worker in workers:
            seen.add(worker.name)
            if worker.lock_held is None:
                if worker.host == HOST and not process_alive(worker.pid, worker.process_start):
                    dead.append(worker)
            elif worker.lock_held:
                self._free_since.pop(worker.name, None)
            elif mono - self._free_since.setdefault(worker.name, mono) >= self.grace_seconds:
                dead.append(worker)
        for name in set(self._free_since) - seen:
            del self._free_since[name]
        return dead
