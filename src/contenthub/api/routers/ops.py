"""Health, readiness and Prometheus metrics (read from the database, so any process can serve
them for the whole system)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from starlette.concurrency import run_in_threadpool

from contenthub.storage import migrate
from contenthub.storage.db import Database
from contenthub.storage.models import PublishTask, TaskEvent

router = APIRouter(tags=["operations"])
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
RECENT = timedelta(hours=1)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is current."""
    db: Database = request.app.state.db
    try:
        current = await run_in_threadpool(migrate.is_current, db.engine)
    except Exception:
        return JSONResponse({"status": "database unreachable"}, status_code=503)
    if not current:
        return JSONResponse({"status": "database schema is not current"}, status_code=503)
    return JSONResponse({"status": "ready"})


class _TaskCollector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self):  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        t = PublishTask

        def read(s):  # type: ignore[no-untyped-def]
            by_status = s.execute(
                sa.select(t.status, t.platform, sa.func.count()).group_by(t.status, t.platform)
            ).all()
            depth = s.execute(
                sa.select(sa.func.count(), sa.func.min(t.due_at)).where(
                    t.status == "queued", t.due_at <= now
                )
            ).one()
            per_worker = s.execute(
                sa.select(t.lease_owner, sa.func.count())
                .where(t.status == "running")
                .group_by(t.lease_owner)
            ).all()
            durations = s.execute(
                sa.select(t.platform, t.started_at, t.finished_at)
                .where(t.status == "succeeded", t.finished_at > now - RECENT)
                .limit(20_000)
            ).all()
            changes = s.execute(
                sa.select(TaskEvent.message, TaskEvent.from_status, TaskEvent.to_status).where(
                    TaskEvent.at > now - RECENT,
                    TaskEvent.from_status == "running",
                    TaskEvent.to_status == "queued",
                )
            ).all()
            return by_status, depth, per_worker, durations, changes

        by_status, depth, per_worker, durations, changes = self.db.read(read)
        tasks = GaugeMetricFamily(
            "contenthub_tasks", "Tasks by status and platform", labels=["status", "platform"]
        )
        for status, platform, count in by_status:
            tasks.add_metric([status, platform], count)
        yield tasks
        yield GaugeMetricFamily(
            "contenthub_queue_depth", "Queued tasks that are due", value=depth[0]
        )
        oldest = (now - depth[1]).total_seconds() if depth[1] else 0.0
        yield GaugeMetricFamily(
            "contenthub_oldest_due_task_seconds",
            "How long the oldest due task has waited",
            value=oldest,
        )
        running = GaugeMetricFamily(
            "contenthub_running_tasks", "Running tasks per worker", labels=["worker"]
        )
        for worker, count in per_worker:
            running.add_metric([worker or "unknown"], count)
        yield running
        yield _histogram(durations)
        rescues = sum(1 for m, _, _ in changes if m and m.startswith("worker lost"))
        yield GaugeMetricFamily(
            "contenthub_retries_last_hour",
            "Attempts sent back to the queue in the last hour",
            value=len(changes) - rescues,
        )
        yield GaugeMetricFamily(
            "contenthub_lease_rescues_last_hour",
            "Tasks rescued from a lost worker in the last hour",
            value=rescues,
        )


def _histogram(rows) -> HistogramMetricFamily:  # type: ignore[no-untyped-def]
    family = HistogramMetricFamily(
        "contenthub_publish_duration_seconds",
        "Publish durations of the last hour",
        labels=["platform"],
    )
    per_platform: dict[str, list[float]] = {}
    for platform, started, finished in rows:
        if started and finished:
            per_platform.setdefault(platform, []).append((finished - started).total_seconds())
    for platform, values in per_platform.items():
        buckets = [(str(b), sum(1 for v in values if v <= b)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", len(values)))
        family.add_metric([platform], buckets, sum(values))
    return family


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
)
async def metrics(request: Request) -> Response:
    registry = CollectorRegistry()
    registry.register(_TaskCollector(request.app.state.db))  # type: ignore[arg-type]
    registry.register(request.app.state.api_metrics)
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
