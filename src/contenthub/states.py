"""The task lifecycle: the one place that says which status may follow which, and why."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    # The platform accepted the post but holds it for review: not live yet, not failed. The
    # task keeps the post id and the URL the post will have; the ``review_check`` job looks
    # again and ends it succeeded (went live) or failed (review refused it, with the reason).
    IN_REVIEW = "in_review"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = TaskStatus

ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED}),
    # running -> queued: a retry after backoff, a rescue, or a hand-back at shutdown.
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.QUEUED, S.IN_REVIEW}),
    # Only the platform's review ends it: live, or refused.
    S.IN_REVIEW: frozenset({S.SUCCEEDED, S.FAILED}),
    S.SUCCEEDED: frozenset(),
    # A user's retry puts a finished task back in the queue.
    S.FAILED: frozenset({S.QUEUED}),
    # ... and a retried cancelled task whose time is still ahead goes back to waiting for it.
    S.CANCELLED: frozenset({S.QUEUED, S.SCHEDULED}),
}

FINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})
# Still to run or running: what holds an account (and what deleting it would throw away).
ACTIVE = frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING})
# The publish attempt is over and the platform holds the post: counted by statistics beside the
# final statuses, never holding the account, never retried; "live" for double-publish checks.
AWAITING_REVIEW = frozenset({S.IN_REVIEW})
CANCELLABLE_AT_ONCE = frozenset({S.SCHEDULED, S.QUEUED})
RETRYABLE_BY_USER = frozenset({S.FAILED, S.CANCELLED})


class EventReason(StrEnum):
    """Why a task event was written: metrics and timelines count by it, never by message text."""

    ENQUEUED = "enqueued"  # created, due now
    SCHEDULED = "scheduled"  # created, due later
    DUE = "due"  # a scheduled task's time came
    CLAIMED = "claimed"  # a worker took it
    PROGRESS = "progress"  # a step of the publish
    PUBLISHED = "published"
    IN_REVIEW = "in_review"  # the platform accepted it and holds it for review
    WENT_LIVE = "went_live"  # a review check found it public
    REVIEW_REFUSED = "review_refused"  # a review check found the platform refused it
    RETRY_SCHEDULED = "retry_scheduled"  # an attempt failed; another comes after a backoff
    AUTH_HOLD = "auth_hold"  # the login expired; waiting for the account to log in again
    FAILED = "failed"  # an attempt failed and no retry is left (or it cannot succeed)
    RESCUED = "rescued"  # its worker was lost (lease expired); back to the queue
    LOST_FOR_GOOD = "lost_for_good"  # its worker was lost and no attempt is left
    # Its worker was lost on the last attempt after a publish may have been submitted: queued
    # once more, only to ask the platform whether the post is live (see FINAL_CHECK_MARK).
    FINAL_CHECK = "final_check"
    RELEASED = "released"  # handed back by a stopping worker
    CANCEL_REQUESTED = "cancel_requested"  # running: stops at its next step
    CANCELLED = "cancelled"
    RETRIED = "retried"  # the user queued a finished task again
    RESCHEDULED = "rescheduled"  # the user retried a cancelled task whose time is still ahead


# Before a task ends failed while a publish may have been submitted (the adapter's
# ``publish_submitted`` checkpoint), the platform is asked whether the post is live; found, the
# task ends succeeded. A worker does it for a failed attempt (attempts used up, a timeout, any
# error that is not retried). A worker lost on its last attempt cannot: the rescuer requeues
# such a task with this mark in its checkpoint (how many final checks were queued) and one more
# attempt, and the worker that claims it runs only the check, ending it succeeded or failed. A
# final check whose own worker is lost is queued again, up to MAX_FINAL_CHECKS times. A user's
# retry clears the mark.
FINAL_CHECK_MARK = "final_check"
MAX_FINAL_CHECKS = 3


class TransitionError(ValueError):
    pass


def check_transition(current: str, target: str) -> None:
    if TaskStatus(target) not in ALLOWED[TaskStatus(current)]:
        raise TransitionError(f"a {current} task cannot become {target}")
