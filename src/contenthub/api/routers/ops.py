"""Health, readiness and Prometheus metrics (read from the database, so any process can serve
them for the whole system)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.concurrency import run_in_threadpool

from contenthub.browser.pool import figures_folder, read_figures
from contenthub.clock import utcnow
from contenthub.services.metrics import task_metrics
from contenthub.storage import Database, migrate

log = logging.getLogger("contenthub.api")
router = APIRouter(tags=["operations"])
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


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

    def collect(self) -> Iterator[Metric]:
        try:
            m = task_metrics(self.db, now=utcnow())
        except Exception:
            # The scrape still answers: that the database is down is what it must say.
            log.warning("metrics: the database did not answer", exc_info=True)
            yield GaugeMetricFamily(
                "contenthub_database_up", "The database answered this scrape", value=0
            )
            return
        yield GaugeMetricFamily(
            "contenthub_database_up", "The database answered this scrape", value=1
        )
        tasks = GaugeMetricFamily(
            "contenthub_tasks", "Tasks by status and platform", labels=["status", "platform"]
        )
        for status, platform, count in m.by_status_and_platform:
            tasks.add_metric([status, platform], count)
        yield tasks
        yield GaugeMetricFamily(
            "contenthub_queue_depth", "Queued tasks that are due", value=m.queue_depth
        )
        yield GaugeMetricFamily(
            "contenthub_oldest_due_task_seconds",
            "How long the oldest due task has waited",
            value=m.oldest_due_seconds,
        )
        running = GaugeMetricFamily(
            "contenthub_running_tasks", "Running tasks per worker", labels=["worker"]
        )
        for worker, count in m.running_per_worker:
            running.add_metric([worker or "unknown"], count)
        yield running
        yield _histogram(m.recent_durations)
        yield GaugeMetricFamily(
            "contenthub_retries_last_hour",
            "Attempts sent back to the queue in the last hour",
            value=m.recent_retries,
        )
        yield GaugeMetricFamily(
            "contenthub_lease_rescues_last_hour",
            "Tasks rescued from a lost worker in the last hour",
            value=m.recent_rescues,
        )
        yield GaugeMetricFamily(
            "contenthub_oldest_running_task_seconds",
            "How long the longest-running publish attempt has run",
            value=m.oldest_running_seconds,
        )
        held_accounts = GaugeMetricFamily(
            "contenthub_held_accounts",
            "Accounts not active (needs_login, disabled) that have due tasks waiting",
            labels=["status"],
        )
        held_tasks = GaugeMetricFamily(
            "contenthub_held_tasks",
            "Due tasks waiting on an account that is not active",
            labels=["status"],
        )
        for status in ("needs_login", "disabled"):
            found = [(a, t) for s, a, t in m.held if s == status] or [(0, 0)]
            held_accounts.add_metric([status], found[0][0])
            held_tasks.add_metric([status], found[0][1])
        yield held_accounts
        yield held_tasks
        workers = GaugeMetricFamily(
            "contenthub_workers", "Worker processes registered, per host", labels=["host"]
        )
        for host, count in m.workers_per_host:
            workers.add_metric([host], count)
        yield workers
        if m.workers_lock_free is not None:
            yield GaugeMetricFamily(
                "contenthub_workers_lock_free",
                "Registered workers whose liveness lock is free (dead, not yet rescued)",
                value=m.workers_lock_free,
            )


class _BrowserPoolCollector:
    """Each worker process's browser pool, from the figures it keeps under the data dir."""

    GAUGES: ClassVar[dict[str, str]] = {
        "browsers": "Chromium browsers running",
        "contexts": "Browser contexts open (one per account in use)",
        "pages": "Browser pages open",
        "waiting": "Publishes waiting for a browser page",
    }
    COUNTERS: ClassVar[dict[str, str]] = {
        "launches": "Chromium launches",
        "crashes": "Chromium browsers that crashed or failed their health check",
        "recycles": "Browser contexts closed after their idle timeout",
    }

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def collect(self) -> Iterator[Metric]:
        pools = read_figures(self.folder)
        for name, text in self.GAUGES.items():
            gauge = GaugeMetricFamily(f"contenthub_browser_{name}", text, labels=["pid"])
            for figures in pools:
                gauge.add_metric([str(figures["pid"])], figures.get(name, 0))
            yield gauge
        for name, text in self.COUNTERS.items():
            counter = CounterMetricFamily(f"contenthub_browser_{name}", text, labels=["pid"])
            for figures in pools:
                counter.add_metric([str(figures["pid"])], figures.get(name, 0))
            yield counter


class _ProcessCollector:
    """This API process's own counters: its database statements and its event hub."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        hub = self.state.event_hub
        yield CounterMetricFamily(
            "contenthub_db_statements",
            "Statements this process sent to the database",
            value=self.state.db.statements,
        )
        yield CounterMetricFamily(
            "contenthub_db_errors",
            "Statements of this process that failed: database unreachable, busy or gone",
            value=self.state.db.errors,
        )
        yield CounterMetricFamily(
            "contenthub_event_hub_reads",
            "Reads of the event log by this process's event hub",
            value=hub.reads,
        )
        yield GaugeMetricFamily(
            "contenthub_event_subscribers", "Open event streams", value=hub.subscribers
        )
        yield CounterMetricFamily(
            "contenthub_event_subscribers_dropped",
            "Event streams ended because their client read too slowly",
            value=hub.dropped,
        )


def _histogram(durations: list[tuple[str, float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "contenthub_publish_duration_seconds",
        "Publish durations of the last hour",
        labels=["platform"],
    )
    per_platform: dict[str, list[float]] = {}
    for platform, seconds in durations:
        per_platform.setdefault(platform, []).append(seconds)
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
    data_dir = request.app.state.settings.data_dir
    registry.register(_BrowserPoolCollector(figures_folder(data_dir)))  # type: ignore[arg-type]
    registry.register(_ProcessCollector(request.app.state))  # type: ignore[arg-type]
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
