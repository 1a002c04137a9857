"""What each job type does in one run. Every database touch is its own unit of work.

* ``publishing`` — the seeds' PublishingExecutor: settle earlier releases, release every due
  pending pool entry (most urgent first, then earliest), wait a bounded time for their
  publishes, and report in the seeds' result shape.
* ``account_check`` — verify each active account's login; expired ones become ``needs_login``.
* ``review_check`` — look again at every post a platform holds for review: record when it
  went live, or that the review refused it (with the platform's reason).
* ``cleanup`` — retention of old events, finished tasks and job runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contenthub import storage
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts, pool, review
from contenthub.services.pool import EntryOutcome
from contenthub.storage import ClaimedRun
from contenthub.storage.db import Database

log = logging.getLogger("contenthub.scheduler")
SETTLE_POLL_SECONDS = 0.5


@dataclass
class RunContext:
    """What an executor needs besides its job: the database, the clock, secrets, a stop flag."""

    db: Database
    clock: Callable[[], datetime]
    secrets: SecretBox | None = None
    stopping: threading.Event = field(default_factory=threading.Event)


# -- publishing ----------------------------------------------------------------------------
#
# A run reports the entries it released and the earlier releases it settled. An entry
# released by another run that is still running is left to that run (see
# ``storage.pool``), so two overlapping runs never take each other's credit.


def _isolated(
    ctx: RunContext, entry_id: int, step: Callable[[Any], EntryOutcome | None]
) -> EntryOutcome | None:
    """One entry's unit of work; its failure becomes its own ``error`` line, never the run's."""
    try:
        return ctx.db.write(step)
    except Exception as error:
        log.warning("pool entry failed", extra={"pool_id": entry_id, "error": str(error)[:200]})
        message = f"{type(error).__name__}: {error}"[:2000]
        try:
            recorded = ctx.db.write(
                lambda s: pool.pool_record_error(s, entry_id, error=message, now=ctx.clock())
            )
        except Exception:
            log.exception("could not record a pool entry's failure", extra={"pool_id": entry_id})
            recorded = None
        # article_id 0: the entry could not even be read back.
        return recorded or EntryOutcome(entry_id, 0, "error", error=message)


def _settle_all(ctx: RunContext, ids: list[int]) -> dict[int, EntryOutcome]:
    settled = {}
    for entry_id in ids:
        outcome = _isolated(
            ctx, entry_id, lambda s, e=entry_id: pool.pool_settle(s, e, now=ctx.clock())
        )
        if outcome is not None:
            settled[entry_id] = outcome
    return settled


def settle_earlier(ctx: RunContext, run: ClaimedRun) -> dict[int, EntryOutcome]:
    """Step 1: settle the releases of runs that have ended."""
    earlier = ctx.db.read(lambda s: pool.pool_settleable_ids(s, scope=run.scope))
    return _settle_all(ctx, earlier)


@dataclass(frozen=True)
class Releases:
    released: dict[int, EntryOutcome]
    skipped: int  # due entries left for a later run by ``max_items``


def release_due(
    ctx: RunContext, run: ClaimedRun, now: datetime, *, settled: dict[int, EntryOutcome]
) -> Releases:
    """Step 2: release every due entry, most urgent first, up to ``max_items``.

    An entry settled as failed in this run waits for the next run to retry, as in the seeds:
    the job's interval is the retry interval."""
    due = [
        entry_id
        for entry_id in ctx.db.read(lambda s: pool.pool_due_ids(s, scope=run.scope, now=now))
        if entry_id not in settled
    ]
    max_items = run.params.get("max_items")
    batch = due if max_items is None else due[:max_items]
    released: dict[int, EntryOutcome] = {}
    for entry_id in batch:
        outcome = _isolated(
            ctx,
            entry_id,
            lambda s, e=entry_id: pool.pool_release(s, e, run_id=run.run_id, now=now),
        )
        if outcome is not None:  # None: a concurrent run took it first
            released[entry_id] = outcome
    return Releases(released, skipped=len(due) - len(batch))


def wait_for_releases(
    ctx: RunContext, released: dict[int, EntryOutcome], wait_seconds: float
) -> dict[int, EntryOutcome]:
    """Step 3: poll the released entries until all have settled or the wait is over (at
    least one poll, however short the wait)."""
    deadline = time.monotonic() + wait_seconds
    outcomes = dict(released)
    open_ids = [i for i, o in released.items() if o.status == "publishing"]
    while open_ids:
        settled = _settle_all(ctx, open_ids)
        outcomes.update(settled)
        open_ids = [i for i in open_ids if i not in settled]
        remaining = deadline - time.monotonic()
        if not open_ids or remaining <= 0 or ctx.stopping.wait(min(SETTLE_POLL_SECONDS, remaining)):
            break
    return outcomes


def run_publishing(ctx: RunContext, run: ClaimedRun, now: datetime) -> dict[str, Any]:
    started = time.monotonic()
    outcomes = settle_earlier(ctx, run)
    releases = release_due(ctx, run, now, settled=outcomes)
    wait_seconds = float(run.params.get("wait_seconds", 30))
    outcomes.update(wait_for_releases(ctx, releases.released, wait_seconds))
    return publishing_result(
        list(outcomes.values()),
        skipped=releases.skipped,
        duration=time.monotonic() - started,
        job_id=run.job_id,
    )


def publishing_result(
    outcomes: list[EntryOutcome], *, skipped: int, duration: float, job_id: int
) -> dict[str, Any]:
    """The seeds' run result: success, message, data, duration, metadata.

    ``total_count`` is always ``success_count + failed_count + skipped_count``: the entries this
    run decided. Entries still publishing at the deadline are counted apart
    (``publishing_count``, listed in ``results``) and decided by the run that settles them, so
    no entry is counted twice across runs."""
    succeeded = sum(1 for o in outcomes if o.status == "published")
    failed = sum(1 for o in outcomes if o.status in ("failed", "error"))
    publishing = sum(1 for o in outcomes if o.status == "publishing")
    total = succeeded + failed + skipped
    handled = total + publishing
    return {
        "success": True,
        "message": f"Publishing completed: {succeeded} succeeded, {failed} failed",
        "data": {
            "total_count": total,
            "success_count": succeeded,
            "failed_count": failed,
            "skipped_count": skipped,
            "publishing_count": publishing,
            "results": [o.as_result() for o in sorted(outcomes, key=lambda o: o.pool_id)],
        },
        "duration": round(duration, 3),
        "metadata": {
            "task_id": job_id,
            "average_time_per_item": round(duration / handled, 3) if handled else 0.0,
        },
    }


# -- account check -------------------------------------------------------------------------


def run_account_check(ctx: RunContext, run: ClaimedRun, now: datetime) -> dict[str, Any]:
    if ctx.secrets is None:
        raise RuntimeError("account checks need the secret box to open credentials")
    box = ctx.secrets
    found = ctx.db.read(lambda s: storage.account_list(s, user_id=run.scope))
    active = [a for a in found if a.status == "active"]
    report: dict[str, list[dict[str, Any]]] = {"active": [], "needs_login": [], "unknown": []}
    for account in active:
        try:
            check = asyncio.run(accounts.account_verify(ctx.db, account, box))
        except Exception as error:  # one account's trouble is its own line, not the run's
            check = accounts.LoginCheck("unknown", None, f"{type(error).__name__}: {error}")
        line = {"account_id": account.id, "name": account.name, "platform": account.platform}
        if check.status != "active":
            line["message"] = check.message
        report[check.status].append(line)
    return {
        "success": True,
        "message": f"Checked {len(active)} accounts: {len(report['needs_login'])} need a login",
        "data": {"checked_count": len(active), **report},
    }


# -- review check --------------------------------------------------------------------------


def run_review_check(ctx: RunContext, run: ClaimedRun, now: datetime) -> dict[str, Any]:
    if ctx.secrets is None:
        raise RuntimeError("review checks need the secret box to open credentials")
    box = ctx.secrets
    waiting = ctx.db.read(lambda s: storage.task_in_review_list(s, user_id=run.scope))
    report: dict[str, list[dict[str, Any]]] = {
        "live": [],
        "refused": [],
        "in_review": [],
        "unknown": [],
    }
    for task in waiting:
        if ctx.stopping.is_set():
            break
        try:
            check = asyncio.run(review.review_check_task(ctx.db, task, box))
        except Exception as error:  # one task's trouble is its own line, not the run's
            message = f"{type(error).__name__}: {error}"[:500]
            check = review.ReviewCheck(task.public_id, task.platform, "unknown", task.url, message)
        report[check.state].append(check.as_line())
    counts = {state: len(lines) for state, lines in report.items()}
    return {
        "success": True,
        "message": (
            f"Checked {len(waiting)} posts in review: {counts['live']} went live, "
            f"{counts['refused']} refused, {counts['in_review']} still in review"
        ),
        "data": {"checked_count": len(waiting), **report},
    }


# -- cleanup -------------------------------------------------------------------------------


def _prune(ctx: RunContext, prune: Callable[..., int], older_than: datetime) -> int:
    """Batch after batch, each its own short transaction, until nothing is left."""
    total = 0
    while not ctx.stopping.is_set():
        removed = ctx.db.write(lambda s: prune(s, older_than=older_than))
        total += removed
        if removed == 0:
            break
    return total


def run_cleanup(ctx: RunContext, run: ClaimedRun, now: datetime) -> dict[str, Any]:
    days = {key: int(run.params[key]) for key in ("event_days", "task_days", "run_days")}
    tasks = _prune(ctx, storage.task_prune_finished, now - timedelta(days=days["task_days"]))
    events = _prune(ctx, storage.event_prune, now - timedelta(days=days["event_days"]))
    runs = _prune(ctx, storage.job_run_prune, now - timedelta(days=days["run_days"]))
    return {
        "success": True,
        "message": f"Cleanup removed {tasks} tasks, {events} events, {runs} job runs",
        "data": {"tasks_removed": tasks, "events_removed": events, "runs_removed": runs, **days},
    }


EXECUTORS: dict[str, Callable[[RunContext, ClaimedRun, datetime], dict[str, Any]]] = {
    "publishing": run_publishing,
    "account_check": run_account_check,
    "review_check": run_review_check,
    "cleanup": run_cleanup,
}
