"""What happens after a failed attempt: the one place for retry and backoff rules."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from contenthub.clock import utcnow
from contenthub.errors import ErrorClass

BASE_DELAY_SECONDS = 10.0
MAX_DELAY_SECONDS = 3600.0
# rate_limited and auth_expired do not use up the budget, but never loop forever.
MAX_TOTAL_ATTEMPTS = 25


@dataclass(frozen=True)
class Decision:
    retry: bool
    due_at: datetime | None = None
    extra_attempt: bool = False  # the attempt just made does not count against the budget
    hold_account: bool = False  # mark the account needs_login; its tasks wait for a re-login


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential with full jitter: 10 s, 20 s, 40 s … capped at an hour."""
    ceiling = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def is_final(error_class: ErrorClass, *, attempt: int, max_attempts: int) -> bool:
    """Whether a failed attempt ends the task (no retry follows)."""
    return not decide(error_class, attempt=attempt, max_attempts=max_attempts, now=utcnow()).retry


def decide(
    error_class: ErrorClass,
    *,
    attempt: int,
    max_attempts: int,
    now: datetime,
    retry_after_seconds: float | None = None,
) -> Decision:
    if error_class is ErrorClass.AUTH_EXPIRED:
        if attempt >= MAX_TOTAL_ATTEMPTS:
            return Decision(retry=False)
        return Decision(retry=True, due_at=now, extra_attempt=True, hold_account=True)
    if error_class is ErrorClass.RATE_LIMITED:
        if attempt >= MAX_TOTAL_ATTEMPTS:
            return Decision(retry=False)
        wait = retry_after_seconds if retry_after_seconds is not None else backoff_seconds(attempt)
        return Decision(
            retry=True, due_at=now + timedelta(seconds=max(0.0, wait)), extra_attempt=True
        )
    if error_class is ErrorClass.WORKER_LOST and attempt < max_attempts:
        # The worker died, not the platform: no reason to wait.
        return Decision(retry=True, due_at=now)
    if error_class is ErrorClass.TRANSIENT and attempt < max_attempts:
        return Decision(retry=True, due_at=now + timedelta(seconds=backoff_seconds(attempt)))
    return Decision(retry=False)
