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


def task_metrics(db: Database, *, now: datetime) -> TaskMetrics:
    def read(s: Session) -> TaskMetrics:
        depth, oldest = storage.task_queue_depth(s, user_id=None, now=now)
        reasons = storage.event_counts_by_reason(s, since=now - RECENT)
        return TaskMetrics(
            by_status_and_platform=storage.task_counts_by_status_and_platform(s),
            queue_depth=depth,
            oldest_due_seconds=(now - oldest).total_seconds() if oldest else 0.0,
            running_per_worker=storage.task_running_per_worker(s),
            recent_durations=storage.task_publish_durations(s, since=now - RECENT),
            recent_retries=sum(reasons.get(r, 0) for r in RETRY_REASONS),
            recent_rescues=reasons.get(EventReason.RESCUED, 0)
            + reasons.get(EventReason.FINAL_CHECK, 0),
        )

    return db.read(read)
