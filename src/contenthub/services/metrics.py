"""What /metrics reports about tasks, read in one unit of work for the whole system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contenthub import storage
from contenthub.states import EventReason
from contenthub.storage import Database, Session

RECENT = timedelta(hours=1)
# Attempts that went back to the queue after failing (not a worker lost, not a hand-back).
RETRY_REASONS = (EventReason.RETRY_SCHEDULED, EventReason.AUTH_HOLD)


@dataclass(frozen=True)
class TaskMetrics:
    by_status_and_platform: list[tuple[str, str, int]]
    queue_depth: int
    oldest_due_seconds: float
    running_per_worker: list[tuple[str | None, int]]
    recent_durations: list[tuple[str, float]]  # (platform, seconds) of the last hour
    recent_retries: int
    recent_rescues: int
    oldest_running_seconds: float
    held: list[tuple[str, int, int]]  # (account status, accounts, tasks)
    workers_per_host: list[tuple[str, int]]
    workers_lock_free: int | None  # dead, waiting for a rescuer; None on SQLite


def task_metrics(db: Database, *, now: datetime) -> TaskMetrics:
    def read(s: Session) -> TaskMetrics:
        depth, oldest = storage.task_queue_depth(s, user_id=None, now=now)
        reasons = storage.event_counts_by_reason(s, since=now - RECENT)
        oldest_running = storage.task_oldest_running_start(s)
        workers = storage.worker_registry_read(s)
        hosts: dict[str, int] = {}
        for worker in workers:
            hosts[worker.host] = hosts.get(worker.host, 0) + 1
        locks = [w.lock_held for w in workers]
        return TaskMetrics(
            by_status_and_platform=storage.task_counts_by_status_and_platform(s),
            queue_depth=depth,
            oldest_due_seconds=(now - oldest).total_seconds() if oldest else 0.0,
            running_per_worker=storage.task_running_per_worker(s),
            recent_durations=storage.task_publish_durations(s, since=now - RECENT),
            recent_retries=sum(reasons.get(r, 0) for r in RETRY_REASONS),
            recent_rescues=reasons.get(EventReason.RESCUED, 0)
            + reasons.get(EventReason.FINAL_CHECK, 0),
            oldest_running_seconds=(now - oldest_running).total_seconds()
            if oldest_running
            else 0.0,
            held=storage.task_held_by_account_status(s, now=now),
            workers_per_host=sorted(hosts.items()),
            workers_lock_free=None
            if any(held is None for held in locks)
            else sum(1 for held in locks if not held),
        )

    return db.read(read)
