"""Tasks the platform holds for review (``states.TaskStatus.IN_REVIEW``): which are waiting,
and the end of a review — live (``succeeded``) or refused (``failed``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import ErrorClass
from contenthub.states import EventReason, TaskStatus
from contenthub.storage.events import TASKS, set_status

IN_REVIEW = TaskStatus.IN_REVIEW.value


@dataclass(frozen=True)
class TaskInReview:
    task_id: int
    public_id: str
    user_id: int
    account_id: int
    platform: str
    post_id: str | None
    url: str | None
    checkpoint: dict[str, Any]
    since: datetime | None  # when the platform accepted it


def task_in_review_list(
    session: Session, *, user_id: int | None, limit: int = 500
) -> list[TaskInReview]:
    """The tasks waiting on a platform's review, the longest waiting first."""
    query = (
        sa.select(
            TASKS.c.id.label("task_id"),
            TASKS.c.public_id,
            TASKS.c.user_id,
            TASKS.c.account_id,
            TASKS.c.platform,
            TASKS.c.post_id,
            TASKS.c.result_url.label("url"),
            TASKS.c.checkpoint,
            TASKS.c.finished_at.label("since"),
        )
        .where(TASKS.c.status == IN_REVIEW)
        .order_by(TASKS.c.finished_at, TASKS.c.id)
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    return [
        TaskInReview(**{**row, "checkpoint": dict(row["checkpoint"] or {})})
        for row in session.execute(query).mappings()
    ]


def task_review_live(
    session: Session, task: TaskInReview, *, url: str | None, now: datetime, note: str = ""
) -> bool:
    """The review passed: the post is public (at ``url``, which may differ from the one it
    was expected at). False when another check ended the review first."""
    url = url or task.url
    text = f"went live at {url}" if url else "went live"
    return set_status(
        session,
        task_id=task.task_id,
        user_id=task.user_id,
        current=IN_REVIEW,
        target=TaskStatus.SUCCEEDED,
        reason=EventReason.WENT_LIVE,
        now=now,
        values={"result_url": url, "reviewed_at": now, "stage": "done"},
        message=f"{text} ({note})" if note else text,
    )


def task_review_refused(
    session: Session, task: TaskInReview, *, reason: str, now: datetime
) -> bool:
    """The platform's review refused the post, for ``reason`` (its own words)."""
    message = f"the platform's review refused it: {reason or 'no reason given'}"[:2000]
    return set_status(
        session,
        task_id=task.task_id,
        user_id=task.user_id,
        current=IN_REVIEW,
        target=TaskStatus.FAILED,
        reason=EventReason.REVIEW_REFUSED,
        now=now,
        values={
            "reviewed_at": now,
            "stage": "refused",
            "error_class": ErrorClass.REJECTED.value,
            "error_message": message,
        },
        message=f"{ErrorClass.REJECTED.value}: {message}",
    )
