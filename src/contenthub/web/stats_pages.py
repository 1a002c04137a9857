"""Statistics: outcomes over time and per platform (drawn by the vendored Frappe Charts),
success rate, publish duration p50/p95, failure reasons ranked. The numbers are the API's
(``services.stats.stats_report``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from contenthub.clock import utcnow
from contenthub.services.stats import ENDED, stats_report
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
RANGES = (1, 7, 30, 90)


@router.get("/stats")
def stats_page(web: Page) -> HTMLResponse:
    raw = web.request.query_params.get("days", "7")
    days = int(raw) if raw in {str(d) for d in RANGES} else 7
    now = utcnow()
    report = web.db.read(
        lambda s: stats_report(
            s, scope=web.principal.scope, since=now - timedelta(days=days), until=now, now=now
        )
    )
    chart = {
        "days": report["days"],
        "platforms": report["platforms"],
        "labels": {s: web.t(f"status.{s}") for s in ENDED},
    }
    return web.render("stats.html", report=report, days=days, ranges=RANGES, chart=chart)
