"""The scheduler duty every ``serve`` and ``worker`` process runs: ``run_once(now) -> runs``.

Safe with any number of processes: a due run is claimed in one transaction that also moves
the job's ``next_run`` past ``now`` (see ``storage.jobs.job_claim_due``), so each tick runs
once, and ticks missed while nothing ran collapse into one run at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.scheduler import jobs
from contenthub.scheduler.executors import EXECUTORS, RunContext
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database

log = logging.getLogger("contenthub.scheduler")


class Scheduler:
    def __init__(
        self,
        db: Database,
        *,
        worker: str,
        secrets: SecretBox | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.worker = worker
        self.stopping = threading.Event()
        self.context = RunContext(db, clock, secrets, self.stopping)

    @property
    def db(self) -> Database:
        return self.context.db

    def run_once(self, now: datetime) -> int:
        """Claim every due run this process can take and execute it; returns how many ran."""
        if self.db.read(lambda s: storage.job_run_any_expired(s, now=now)):
            closed = self.db.write(lambda s: storage.job_run_rescue_expired(s, now=now))
            log.warning("closed scheduled runs whose process was lost", extra={"count": closed})
        next_due = self.db.read(storage.job_next_due)
        if next_due is None or next_due > now:
            return 0
        claimed = self.db.write(lambda s: jobs.job_claim_due(s, now=now, worker=self.worker))
        for run in claimed:
            self.execute(run, now)
        return len(claimed)

    def start_manual(self, job_id: int, *, scope: int | None, now: datetime) -> jobs.ClaimedRun:
        """Record a run of the job now, outside its schedule, for this process to execute."""
        return self.db.write(
            lambda s: jobs.job_start_manual(s, job_id, scope=scope, now=now, worker=self.worker)
        )

    def trigger(self, job_id: int, *, scope: int | None, now: datetime) -> dict[str, Any]:
        """Run a job now, outside its schedule, in this process; returns the finished run."""
        return self.execute(self.start_manual(job_id, scope=scope, now=now), now)

    @contextlib.contextmanager
    def _leased(self, run_id: int) -> Iterator[None]:
        """Renew the run's lease on a thread while it executes."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(jobs.RUN_LEASE.total_seconds() / 3):
                try:
                    self.db.write(lambda s: jobs.job_run_renew(s, run_id, now=self.context.clock()))
                except Exception:
                    log.warning("could not renew a scheduled run's lease", exc_info=True)

        renewer = threading.Thread(target=renew, name=f"run-{run_id}-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()

    def execute(self, run: jobs.ClaimedRun, now: datetime) -> dict[str, Any]:
        """Run the job's executor and record the result; a crash is recorded, never raised."""
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            with self._leased(run.run_id):
                result = EXECUTORS[run.job_type](self.context, run, now)
        except Exception as crash:
            error_id = uuid.uuid4().hex[:12]
            log.exception(
                "scheduled job failed", extra={"job_id": run.job_id, "error_id": error_id}
            )
            error = f"internal error {error_id}: {type(crash).__name__}: {crash}"
        finished = self.db.write(
            lambda s: storage.job_run_finish(
                s, run.run_id, now=self.context.clock(), result=result, error=error
            )
        )
        log.info(
            "scheduled job ran",
            extra={"job_id": run.job_id, "run_id": run.run_id, "status": finished["status"]},
        )
        return finished
