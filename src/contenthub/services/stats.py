"""Publishing statistics per platform and per account over a time range (dashboard charts)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from contenthub import storage
from contenthub.errors import InputError
from contenthub.states import AWAITING_REVIEW, FINAL, TaskStatus
from contenthub.storage import Session, TaskOutcome

# The statuses a publish ends in, in lifecycle order: the report's columns. ``in_review`` is
# its own column (the platform holds the post): neither a success nor a failure yet, so the
# success rate leaves it out.
ENDED = tuple(status for status in TaskStatus if status in FINAL | AWAITING_REVIEW)
MAX_ROWS = 200_000  # a bound on what one report reads
DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=366)
TOP_REASONS = 10


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return round(sorted_values[min(rank, len(sorted_values)) - 1], 3)


def _summary(rows: list[TaskOutcome]) -> dict[str, Any]:
    by_status = Counter(r.status for r in rows)
    durations = sorted(
        (r.finished_at - r.started_at).total_seconds()
        for r in rows
        if r.status == TaskStatus.SUCCEEDED and r.started_at and r.finished_at
    )
    succeeded, failed = by_status[TaskStatus.SUCCEEDED], by_status[TaskStatus.FAILED]
    reasons = Counter(
        f"{r.error_class or 'error'}: {r.error_message or ''}".strip()
        for r in rows
        if r.status == TaskStatus.FAILED
    )
    return {
        "by_status": {status.value: by_status[status] for status in ENDED},
        "success_rate": round(succeeded / (succeeded + failed), 4) if succeeded + failed else None,
        "duration_p50_seconds": _percentile(durations, 0.5),
        "duration_p95_seconds": _percentile(durations, 0.95),
        "failure_reasons": [
            {"reason": reason, "count": count} for reason, count in reasons.most_common(TOP_REASONS)
        ],
    }


def _by_day(rows: list[TaskOutcome]) -> list[dict[str, Any]]:
    """Outcomes per UTC day the tasks ended on, oldest day first (the chart over time)."""
    days: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if row.finished_at is not None:
            days[row.finished_at.date().isoformat()][row.status] += 1
    return [
        {"day": day, **{status.value: counts[status] for status in ENDED}}
        for day, counts in sorted(days.items())
    ]


def _queue(session: Session, scope: int | None, now: datetime) -> dict[str, Any]:
    depth, oldest = storage.task_queue_depth(session, user_id=scope, now=now)
    return {
        "depth": depth,
        "oldest_due_at": oldest,
        "oldest_wait_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
    }


def status_counts(session: Session, *, scope: int | None) -> dict[str, int]:
    """Tasks per status right now."""
    return storage.task_status_counts(session, user_id=scope)


def stats_report(
    session: Session,
    *,
    scope: int | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    platform: str | None = None,
    account_id: int | None = None,
) -> dict[str, Any]:
    """Tasks that ended in ``[since, until)``, overall, per platform and per account; the
    queue as it is ``now``. The range is by default the :data:`DEFAULT_RANGE` up to now."""
    until = until or now
    since = since or until - DEFAULT_RANGE
    if since >= until:
        raise InputError("since", "must be before until")
    if until - since > MAX_RANGE:
        raise InputError("since", f"the range may span at most {MAX_RANGE.days} days")
    rows = storage.stats_task_outcomes(
        session,
        scope=scope,
        since=since,
        until=until,
        limit=MAX_ROWS,
        platform=platform,
        account_id=account_id,
    )
    platforms: dict[str, list[TaskOutcome]] = defaultdict(list)
    accounts: dict[int, list[TaskOutcome]] = defaultdict(list)
    for row in rows:
        platforms[row.platform].append(row)
        accounts[row.account_id].append(row)
    return {
        "since": since,
        "until": until,
        "overall": {"tasks": len(rows), **_summary(rows)},
        "days": _by_day(rows),
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
