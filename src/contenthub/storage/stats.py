"""Statistics: the ended tasks a report is computed from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.states import AWAITING_REVIEW, FINAL
from contenthub.storage.models import Account, PublishTask


@dataclass(frozen=True)
class TaskOutcome:
    """How one task ended, and where."""

    platform: str
    account_id: int
    account_name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    error_class: str | None
    error_message: str | None


def stats_task_outcomes(
    session: Session,
    *,
    scope: int | None,
    since: datetime,
    until: datetime,
    limit: int,
    platform: str | None = None,
    account_id: int | None = None,
) -> list[TaskOutcome]:
    """Tasks that ended in ``[since, until)`` (held for review counts as ended: the publish
    is over), at most ``limit`` of them."""
    query = (
        sa.select(
            PublishTask.platform,
            PublishTask.account_id,
            Account.name.label("account_name"),
            PublishTask.status,
            PublishTask.started_at,
            PublishTask.finished_at,
            PublishTask.error_class,
            PublishTask.error_message,
        )
        .join(Account, Account.id == PublishTask.account_id)
        .where(
            PublishTask.status.in_([s.value for s in FINAL | AWAITING_REVIEW]),
            PublishTask.finished_at >= since,
            PublishTask.finished_at < until,
        )
        .limit(limit)
    )
    for column, value in (
        (PublishTask.user_id, scope),
        (PublishTask.platform, platform),
        (PublishTask.account_id, account_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return [TaskOutcome(**row) for row in session.execute(query).mappings()]
