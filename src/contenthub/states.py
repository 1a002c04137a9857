"""The task lifecycle: the one place that says which status may follow which."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = TaskStatus

ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED}),
    # running -> queued: a retry after backoff, a rescue, or a hand-back at shutdown.
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.SUCCEEDED: frozenset(),
    # A user's retry puts a finished task back in the queue.
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELLED: frozenset({S.QUEUED}),
}

FINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})
# Still to run or running: what holds an account (and what deleting it would throw away).
ACTIVE = frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING})
CANCELLABLE_AT_ONCE = frozenset({S.SCHEDULED, S.QUEUED})
RETRYABLE_BY_USER = frozenset({S.FAILED, S.CANCELLED})


class TransitionError(ValueError):
    pass


def check_transition(current: str, target: str) -> None:
    if TaskStatus(target) not in ALLOWED[TaskStatus(current)]:
        raise TransitionError(f"a {current} task cannot become {target}")
