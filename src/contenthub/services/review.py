"""Posts the platforms hold for review: look again, and record when each went live or that the
review refused it. The one place a review ends (the ``review_check`` job calls it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.errors import PublishError
from contenthub.platforms.base import PublishResult, ReviewState
from contenthub.platforms.content import AccountAccess
from contenthub.platforms.registry import publisher_for
from contenthub.secrets_box import SecretBox
from contenthub.services.accounts import session_saver
from contenthub.storage import TaskInReview
from contenthub.storage.db import Database


@dataclass(frozen=True)
class ReviewCheck:
    """What one look at a task in review found: ``live``, ``refused``, still ``in_review``,
    or ``unknown`` (the platform could not be asked: ``message`` says why)."""

    task_id: str
    platform: str
    state: str
    url: str | None
    message: str = ""

    def as_line(self) -> dict[str, str | None]:
        line = {"task_id": self.task_id, "platform": self.platform, "url": self.url}
        return {**line, "message": self.message} if self.message else line


async def review_check_task(db: Database, task: TaskInReview, box: SecretBox) -> ReviewCheck:
    """Ask the task's platform where its post stands, and record an ended review."""
    account = await asyncio.to_thread(
        db.read, lambda s: storage.account_find(s, task.account_id, user_id=None)
    )
    access = AccountAccess(
        account.name,
        dict(account.options),
        box.open(account.credentials),
        session_saver(db, account.id, box),
    )
    publisher = publisher_for(task.platform)
    try:
        review = await publisher.review_state(access, PublishResult(task.url, task.post_id))
    except PublishError as error:
        return ReviewCheck(task.public_id, task.platform, "unknown", task.url, error.message)
    ended = await asyncio.to_thread(db.write, lambda s: _record(s, task, review))
    if review.state != "in_review" and not ended:  # another check ended it first
        return ReviewCheck(task.public_id, task.platform, "unknown", task.url, "already ended")
    return ReviewCheck(
        task.public_id, task.platform, review.state, review.url or task.url, review.reason
    )


def _record(session: storage.Session, task: TaskInReview, review: ReviewState) -> bool:
    now = utcnow()
    if review.state == "live":
        return storage.task_review_live(session, task, url=review.url, now=now)
    if review.state == "refused":
        return storage.task_review_refused(session, task, reason=review.reason, now=now)
    return False
