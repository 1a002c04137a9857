"""Three real ``contenthub worker`` processes share one job due every second: each tick runs
exactly once (none twice, none skipped), whichever process takes it. A tick is only ever
passed over when a run was claimed more than a second late: the ticks it missed collapse into
it (``Schedule.next_after``), which a loaded machine sees."""

from __future__ import annotations

import itertools
import math
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import start_worker, wait_until, worker_env

from contenthub.scheduler import Schedule, jobs
from contenthub.services.users import Principal
from contenthub.storage.db import Database
from contenthub.storage.models import JobRun
from tests.factories import make_user

pytestmark = pytest.mark.chaos
TICKS = 6


def finished_runs(db: Database, job_id: int) -> list[JobRun]:
    return db.read(
        lambda s: list(
            s.scalars(
                sa.select(JobRun)
                .where(JobRun.job_id == job_id, JobRun.finished_at.is_not(None))
                .order_by(JobRun.tick)
            )
        )
    )


def test_three_workers_run_each_tick_exactly_once(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    user = make_user(db, "ops")
    env = worker_env(database_url, tmp_path)
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    for log in logs:
        start_worker(processes, env, slots=1, log=log)
    wait_until(
        lambda: all(log.exists() and b"worker started" in log.read_bytes() for log in logs),
        timeout=60,
        what="three workers to start",
    )
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    job = db.write(
        lambda s: jobs.job_create(
            s,
            owner=Principal(user, "ops", is_admin=False),
            name="every second",
            job_type="account_check",
            schedule=Schedule("interval", 1),
            now=first,
            next_run=first,
        )
    )
    wait_until(
        lambda: len(finished_runs(db, job["id"])) >= TICKS,
        timeout=30,
        what=f"{TICKS} runs of the every-second job",
    )
    db.write(
        lambda s: jobs.job_update(s, job["id"], scope=None, now=first, changes={"enabled": False})
    )
    for proc in processes:
        proc.send_signal(signal.SIGTERM)
    for proc in processes:
        assert proc.wait(timeout=30) == 0

    runs = finished_runs(db, job["id"])
    ticks = [r.tick for r in runs]
    assert len(ticks) == len(set(ticks)), "a tick ran twice"
    assert ticks[0] == first
    for run, following in itertools.pairwise(runs):
        # The first tick on the grid after the run's claim: the next one unless it was late.
        claimed = math.floor((run.started_at - first).total_seconds())  # whole seconds in
        assert following.tick == first + timedelta(seconds=claimed + 1), "a tick was skipped"
    assert all(r.status == "succeeded" for r in runs)
    # Which process wins a tick is left to chance (often one wins several in a row on a loaded
    # machine), so the spread is not asserted: all three polled every tick, and none ran twice.
