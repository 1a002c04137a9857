"""Publishing statistics per platform and per account over a time range (dashboard charts)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError
from contenthub.storage.models import Account, PublishTask

FINAL = ("succeeded", "failed", "cancelled")
MAX_ROWS = 200_000  # a bound on what one report reads
MAX_RANGE = timedelta(days=366)
TOP_REASONS = 10


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return round(sorted_values[min(rank, len(sorted_values)) - 1], 3)


def _summary(rows: list[sa.Row[Any]]) -> dict[str, Any]:
    by_status = Counter(r.status for r in rows)
    durations = sorted(
        (r.finished_at - r.started_at).total_seconds()
        for r in rows
        if r.status == "succeeded" and r.started_at and r.finished_at
    )
    ended = by_status["succeeded"] + by_status["failed"]
    reasons = Counter(
        f"{r.error_class or 'error'}: {r.error_message or ''}".strip()
        for r in rows
        if r.status == "failed"
    )
    return {
        "by_status": {status: by_status[status] for status in FINAL},
        "success_rate": round(by_status["succeeded"] / ended, 4) if ended else None,
        "duration_p50_seconds": _percentile(durations, 0.5),
        "duration_p95_seconds": _percentile(durations, 0.95),
        "failure_reasons": [
            {"reason": reason, "count": count} for reason, count in reasons.most_common(TOP_REASONS)
        ],
    }


def _queue(session: Session, scope: int | None, now: datetime) -> dict[str, Any]:
    query = sa.select(sa.func.count(), sa.func.min(PublishTask.due_at)).where(
        PublishTask.status == "queued", PublishTask.due_at <= now
    )
    if scope is not None:
        query = query.where(PublishTask.user_id == scope)
    depth, oldest = session.execute(query).one()
    return {
        "depth": depth,
        "oldest_due_at": oldest,
        "oldest_wait_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
    }


def stats_report(
    session: Session,
    *,
    scope: int | None,
    since: datetime,
    until: datetime,
    now: datetime,
    platform: str | None = None,
    account_id: int | None = None,
) -> dict[str, Any]:
    """Tasks that ended in ``[since, until)``, overall, per platform and per account; the
    queue as it is ``now``."""
    if since >= until:
        raise InputError("since", "must be before until")
    if until - since > MAX_RANGE:
        raise InputError("since", f"the range may span at most {MAX_RANGE.days} days")
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
            PublishTask.status.in_(FINAL),
            PublishTask.finished_at >= since,
            PublishTask.finished_at < until,
        )
        .limit(MAX_ROWS)
    )
    for column, value in (
        (PublishTask.user_id, scope),
        (PublishTask.platform, platform),
        (PublishTask.account_id, account_id),
    ):
        if value is not None:
            query = query.where(column == value)
    rows = session.execute(query).all()
    platforms: dict[str, list[sa.Row[Any]]] = defaultdict(list)
    accounts: dict[int, list[sa.Row[Any]]] = defaultdict(list)
    for row in rows:
        platforms[row.platform].append(row)
        accounts[row.account_id].append(row)
    return {
        "since": since,
        "until": until,
        "overall": {"tasks": len(rows), **_summary(rows)},
        "platforms": [
            {"platform": name, "tasks": len(group), **_summary(group)}
            for name, group in sorted(platforms.items())
        ],
        "accounts": [
            {
                "account_id": account,
                "account_name": group[0].account_name,
                "platform": group[0].platform,
                "tasks": len(group),
                **_summary(group),
            }
            for account, group in sorted(accounts.items())
        ],
        "queue": _queue(session, scope, now),
    }
