"""Publishing statistics for the dashboard's charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from contenthub.api.deps import CurrentUser, DbDep
from contenthub.clock import utcnow
from contenthub.services.stats import stats_report

router = APIRouter(prefix="/stats", tags=["statistics"])


@router.get("")
def statistics(
    user: CurrentUser,
    db: DbDep,
    since: AwareDatetime | None = Query(None, description="Default: 7 days before until."),
    until: AwareDatetime | None = Query(None, description="Default: now."),
    platform: str | None = Query(None, max_length=32),
    account_id: int | None = Query(None, ge=1, le=2_147_483_647),
) -> dict[str, Any]:
    """Tasks that ended in the range, per platform and per account: counts by final status,
    success rate, publish duration p50/p95, failure reasons ranked; the queue right now."""
    return db.read(
        lambda s: stats_report(
            s,
            scope=user.scope,
            since=since,
            until=until,
            now=utcnow(),
            platform=platform,
            account_id=account_id,
        )
    )
