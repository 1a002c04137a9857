"""The publish pool and the publishing executor, on every database, with the clock in hand.

Workers are played by the test through the dispatcher (claim, complete, fail), so every
outcome is decided here and no sleep stands in for a publish.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contenthub import storage
from contenthub.errors import ErrorClass, InputError, NotFound
from contenthub.scheduler import Schedule, Scheduler, executors
from contenthub.scheduler import jobs as scheduled
from contenthub.services import pool
from contenthub.services.users import Principal
from contenthub.storage import Lease
from contenthub.storage.db import Database
from contenthub.storage.models import PoolEntry, ScheduledJob
from tests.factories import T0, make_account, make_user


def principal(user_id: int) -> Principal:
    return Principal(user_id, f"user{user_id}", is_admin=False)


COVER = "https://example.com/cover.png"


@pytest.fixture
def owner(db: Database) -> dict[str, int]:
    user_id = make_user(db, "alice")
    account_id = make_account(db, user_id, "a1")
    articles = [
        db.write(
            lambda s, i=i: storage.article_create(
                s, user_id=user_id, title=f"Article {i}", body="Body", tags=[], now=T0
            )
        )
        for i in range(4)
    ]
    return {
        "user": user_id,
        "account": account_id,
        **{f"article{i}": a for i, a in enumerate(articles)},
    }


def add(db: Database, owner: dict[str, int], article: str, **kwargs: Any) -> dict[str, Any]:
    return db.write(
        lambda s: pool.pool_add(
            s, owner=principal(owner["user"]), article_id=owner[article], now=T0, **kwargs
        )
    )


def publishing_job(db: Database, owner: dict[str, int], next_run=None, **params: Any) -> int:
    job = db.write(
        lambda s: scheduled.job_create(
            s,
            owner=principal(owner["user"]),
            name="publish",
            job_type="publishing",
            schedule=Schedule("interval", 300),
            params={"wait_seconds": 0, **params},
            now=T0,
            next_run=next_run,
        )
    )
    return job["id"]


def run_publishing(db: Database, job_id: int, now=T0) -> dict[str, Any]:
    scheduler = Scheduler(db, worker="test", clock=lambda: now)
    run = scheduler.trigger(job_id, scope=None, now=now)
    assert run["status"] == "succeeded", run["error"]
    return run["result"]


def finish_all(db: Database, now, *, fail: bool = False) -> int:
    """Play a worker: claim every queued task and complete (or reject) it."""
    claimed = db.write(
        lambda s: storage.task_claim(s, worker="w", slots=50, now=now, lease_seconds=60)
    )
    for task in claimed:
        lease = Lease(task.id, task.lease_token, task.user_id)
        if fail:
            db.write(
                lambda s, held=lease: storage.task_fail(
                    s, held, error_class=ErrorClass.REJECTED, message="refused", now=now, worker="w"
                )
            )
        else:
            done = storage.Published(lease, url=f"https://x/{task.public_id}", post_id="p1")
            db.write(lambda s, d=done: storage.task_complete(s, [d], now=now, worker="w"))
    return len(claimed)


def entry_status(db: Database, entry_id: int) -> PoolEntry:
    return db.read(lambda s: s.get(PoolEntry, entry_id))


def test_release_order_is_priority_then_time_and_only_when_due(db, owner) -> None:
    late_urgent = add(db, owner, "article0", priority=1, scheduled_at=T0 + timedelta(minutes=2))
    early_normal = add(db, owner, "article1", priority=5, scheduled_at=T0 - timedelta(minutes=5))
    early_urgent = add(db, owner, "article2", priority=1, scheduled_at=T0 - timedelta(minutes=1))
    future = add(db, owner, "article3", priority=1, scheduled_at=T0 + timedelta(hours=1))
    now = T0 + timedelta(minutes=3)
    due = db.read(lambda s: pool.pool_due_ids(s, scope=owner["user"], now=now))
    assert due == [early_urgent["id"], late_urgent["id"], early_normal["id"]]

    job = publishing_job(db, owner, max_items=2)
    result = run_publishing(db, job, now)
    released = [r["pool_id"] for r in result["data"]["results"]]
    assert sorted(released) == sorted([early_urgent["id"], late_urgent["id"]])
    assert result["data"]["skipped_count"] == 1
    assert entry_status(db, future["id"]).status == "pending"
    assert entry_status(db, early_normal["id"]).status == "pending"


def test_run_result_has_the_seeds_shape_and_settles_on_the_next_run(db, owner) -> None:
    good = add(db, owner, "article0")
    job = publishing_job(db, owner)
    first = run_publishing(db, job)
    assert first["message"] == "Publishing completed: 0 succeeded, 0 failed"
    assert entry_status(db, good["id"]).status == "publishing"
    # Still publishing at the deadline: counted apart, decided by the run that settles it.
    counts = ("total_count", "success_count", "failed_count", "skipped_count", "publishing_count")
    assert [first["data"][k] for k in counts] == [0, 0, 0, 0, 1]
    assert [r["status"] for r in first["data"]["results"]] == ["publishing"]
    assert finish_all(db, T0) == 1

    second = run_publishing(db, job, T0 + timedelta(seconds=5))
    assert set(second) == {"success", "message", "data", "duration", "metadata"}
    assert second["success"] is True
    assert second["message"] == "Publishing completed: 1 succeeded, 0 failed"
    data = second["data"]
    assert {
        k: data[k] for k in ("total_count", "success_count", "failed_count", "skipped_count")
    } == {
        "total_count": 1,
        "success_count": 1,
        "failed_count": 0,
        "skipped_count": 0,
    }
    assert data["publishing_count"] == 0
    [item] = data["results"]
    assert item["pool_id"] == good["id"] and item["content_id"] == owner["article0"]
    assert item["status"] == "published" and item["post_id"] == "p1"
    assert item["url"].startswith("https://x/") and item["log_id"]
    assert set(second["metadata"]) == {"task_id", "average_time_per_item"}
    assert second["metadata"]["task_id"] == job
    assert entry_status(db, good["id"]).status == "published"


def test_total_is_succeeded_failed_and_skipped_and_wechat_items_keep_their_media_id(
    db, owner
) -> None:
    """One run with every kind of line: a WeChat publish (its draft's media_id, checkpointed
    by the adapter as ``draft_id``, in the line as the seeds had it), a failure, one left by
    ``max_items`` and one still publishing at the deadline."""
    wechat = make_account(db, owner["user"], "mp", platform="wechat")
    fifth = db.write(
        lambda s: storage.article_create(
            s, user_id=owner["user"], title="Article 4", body="Body", tags=[], now=T0
        )
    )
    for article in (owner["article0"], owner["article2"], owner["article3"], fifth):
        # WeChat takes no article without a cover (checked before anything is queued).
        db.write(lambda s, a=article: storage.article_update(s, a, now=T0, cover=COVER))
    published = add(db, owner, "article0", account_ids=[wechat], priority=1)
    failing = add(db, owner, "article1", account_ids=[owner["account"]], priority=2)
    job = publishing_job(db, owner, max_items=2)
    run_publishing(db, job)
    claimed = db.write(
        lambda s: storage.task_claim(s, worker="w", slots=5, now=T0, lease_seconds=60)
    )
    for task in claimed:
        lease = Lease(task.id, task.lease_token, task.user_id)
        if task.account_id == wechat:
            mark = {"draft_id": "draft-MEDIA-1", "publish_id": "p-9"}
            assert db.write(lambda s, h=lease, m=mark: storage.task_checkpoint(s, h, checkpoint=m))
            done = storage.Published(lease, url="https://mp/s/1", post_id="art-1")
            db.write(lambda s, d=done: storage.task_complete(s, [d], now=T0, worker="w"))
        else:
            db.write(
                lambda s, held=lease: storage.task_fail(
                    s, held, error_class=ErrorClass.REJECTED, message="no", now=T0, worker="w"
                )
            )
    for priority, article in enumerate(("article2", "article3", "article4"), start=3):
        add(db, {**owner, "article4": fifth}, article, account_ids=[wechat], priority=priority)

    later = run_publishing(db, job, T0 + timedelta(seconds=5))
    data = later["data"]
    lines = {r["content_id"]: r for r in data["results"]}
    assert lines[owner["article0"]]["status"] == "published"
    assert lines[owner["article0"]]["media_id"] == "draft-MEDIA-1"
    assert [t["media_id"] for t in lines[owner["article0"]]["tasks"]] == ["draft-MEDIA-1"]
    assert lines[owner["article1"]]["status"] == "failed"
    assert "media_id" not in lines[owner["article1"]]
    # Two released and still publishing (wait_seconds 0); the fifth left by max_items.
    assert lines[owner["article2"]]["status"] == lines[owner["article3"]]["status"]
    assert lines[owner["article2"]]["status"] == "publishing" and fifth not in lines
    assert (data["success_count"], data["failed_count"], data["skipped_count"]) == (1, 1, 1)
    assert data["publishing_count"] == 2
    assert data["total_count"] == data["success_count"] + data["failed_count"] + 1
    stored = entry_status(db, published["id"]).result
    assert stored[0]["media_id"] == "draft-MEDIA-1" and "draft_id" not in stored[0]
    assert entry_status(db, failing["id"]).status == "pending"


def test_failed_publish_returns_to_pending_until_retries_are_used_up(db, owner) -> None:
    entry = add(db, owner, "article0", max_retries=2)
    job = publishing_job(db, owner)
    now = T0
    for attempt in range(3):
        run_publishing(db, job, now)
        assert finish_all(db, now, fail=True) == 1
        now += timedelta(minutes=1)
        result = run_publishing(db, job, now)
        item = next(r for r in result["data"]["results"] if r["pool_id"] == entry["id"])
        assert item["status"] == "failed" and "refused" in item["error"]
        row = entry_status(db, entry["id"])
        if attempt < 2:
            assert item["will_retry"] is True
            assert row.retry_count == attempt + 1
            # Back in the pool: the next run retries it.
            assert row.status == "pending"
        else:
            assert item["will_retry"] is False
            assert row.status == "failed" and row.retry_count == 2
        finish_all(db, now)  # nothing should be left to claim on the last round
    assert entry_status(db, entry["id"]).status == "failed"


def test_retry_publishes_only_to_accounts_that_failed(db, owner) -> None:
    second_account = make_account(db, owner["user"], "a2", options={})
    entry = add(db, owner, "article0", account_ids=[owner["account"], second_account])
    job = publishing_job(db, owner)
    run_publishing(db, job)
    claimed = db.write(
        lambda s: storage.task_claim(s, worker="w", slots=5, now=T0, lease_seconds=60)
    )
    for task in claimed:
        lease = Lease(task.id, task.lease_token, task.user_id)
        if task.account_id == owner["account"]:
            done = storage.Published(lease, url="https://x/ok", post_id="ok")
            db.write(lambda s, d=done: storage.task_complete(s, [d], now=T0, worker="w"))
        else:
            db.write(
                lambda s, held=lease: storage.task_fail(
                    s, held, error_class=ErrorClass.REJECTED, message="no", now=T0, worker="w"
                )
            )
    run_publishing(db, job, T0 + timedelta(seconds=1))  # settles: back to pending
    assert entry_status(db, entry["id"]).status == "pending"
    run_publishing(db, job, T0 + timedelta(seconds=2))  # the retry
    row = entry_status(db, entry["id"])
    assert row.status == "publishing" and row.retry_count == 1
    queued = db.read(
        lambda s: storage.task_list(s, user_id=None, where=storage.TaskFilter(statuses=["queued"]))
    )
    assert [t["account_id"] for t in queued] == [second_account]


def test_one_broken_entry_does_not_stop_the_others(db, owner) -> None:
    broken = add(db, owner, "article0", max_retries=0)
    healthy = add(db, owner, "article1")
    # The broken entry's only account disappears after it was added.
    db.write(
        lambda s: s.execute(
            sa.update(PoolEntry).where(PoolEntry.id == broken["id"]).values(account_ids=[999999])
        )
    )
    result = run_publishing(db, publishing_job(db, owner))
    by_id = {r["pool_id"]: r for r in result["data"]["results"]}
    assert by_id[broken["id"]]["status"] == "error"
    assert "999999" in by_id[broken["id"]]["error"]
    assert by_id[healthy["id"]]["status"] == "publishing"
    assert result["data"]["failed_count"] == 1
    assert entry_status(db, broken["id"]).status == "failed"


def test_waits_a_bounded_time_for_the_publishes(db, owner) -> None:
    add(db, owner, "article0")
    job = publishing_job(db, owner, wait_seconds=0.2)
    result = run_publishing(db, job)  # nobody publishes: the wait ends at its bound
    assert result["data"]["results"][0]["status"] == "publishing"
    assert result["duration"] >= 0.2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": 0}, "priority"),
        ({"priority": 11}, "priority"),
        ({"max_retries": -1}, "max_retries"),
        ({"account_ids": [424242]}, "account_ids"),
    ],
)
def test_bad_pool_input_names_the_field_and_writes_nothing(db, owner, kwargs, field) -> None:
    with pytest.raises(InputError) as error:
        add(db, owner, "article0", **kwargs)
    assert error.value.field == field
    assert db.read(lambda s: pool.pool_stats(s, scope=None))["total"] == 0


def test_unknown_content_and_other_users_entries(db, owner) -> None:
    with pytest.raises(InputError) as error:
        db.write(
            lambda s: pool.pool_add(s, owner=principal(owner["user"]), article_id=987654, now=T0)
        )
    assert error.value.field == "content_id"
    entry = add(db, owner, "article0")
    stranger = make_user(db, "mallory")
    with pytest.raises(NotFound):
        db.write(lambda s: pool.pool_cancel(s, entry["id"], scope=stranger, now=T0))


def test_cancel_reschedule_list_and_stats(db, owner) -> None:
    first = add(db, owner, "article0", priority=3)
    second = add(db, owner, "article1")
    moved = db.write(
        lambda s: pool.pool_reschedule(
            s,
            second["id"],
            scope=owner["user"],
            now=T0,
            priority=1,
            scheduled_at=T0 + timedelta(days=1),
        )
    )
    assert moved["priority"] == 1
    db.write(lambda s: pool.pool_cancel(s, first["id"], scope=owner["user"], now=T0))
    with pytest.raises(InputError):
        db.write(lambda s: pool.pool_cancel(s, first["id"], scope=owner["user"], now=T0))
    items, total = db.read(lambda s: pool.pool_list(s, scope=owner["user"], statuses=["pending"]))
    assert total == 1 and items[0]["id"] == second["id"]
    stats = db.read(lambda s: pool.pool_stats(s, scope=owner["user"]))
    assert stats["total"] == 2 and stats["pending"] == 1 and stats["cancelled"] == 1


def test_cancelling_a_publishing_entry_cancels_its_tasks(db, owner) -> None:
    entry = add(db, owner, "article0")
    run_publishing(db, publishing_job(db, owner))
    db.write(lambda s: pool.pool_cancel(s, entry["id"], scope=owner["user"], now=T0))
    assert db.read(lambda s: storage.task_status_counts(s, user_id=None)) == {"cancelled": 1}
    assert db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(ScheduledJob))) == 1


def test_overlapping_runs_each_report_the_entries_they_released(db, owner) -> None:
    """A manual run releases an entry; its publish ends; a scheduled run starts before the
    manual run polls again. The entry is the manual run's to report, not the scheduled one's."""
    entry = add(db, owner, "article0")
    manual_job = publishing_job(db, owner)
    scheduled_job = publishing_job(db, owner, next_run=T0 + timedelta(seconds=1))
    by_hand = Scheduler(db, worker="manual", clock=lambda: T0)
    manual = by_hand.start_manual(manual_job, scope=None, now=T0)
    settled = executors.settle_earlier(by_hand.context, manual)
    releases = executors.release_due(by_hand.context, manual, T0, settled=settled)
    assert list(releases.released) == [entry["id"]]
    assert finish_all(db, T0) == 1

    later = T0 + timedelta(seconds=1)
    assert Scheduler(db, worker="cron", clock=lambda: later).run_once(later) == 1
    [cron_run] = db.read(lambda s: scheduled.job_history(s, scheduled_job, scope=None))
    assert cron_run["result"]["message"] == "Publishing completed: 0 succeeded, 0 failed"
    assert cron_run["result"]["data"]["results"] == []
    assert entry_status(db, entry["id"]).status == "publishing"  # left to the manual run

    outcomes = executors.wait_for_releases(by_hand.context, releases.released, wait_seconds=0)
    result = executors.publishing_result(
        list(outcomes.values()), skipped=0, duration=0.0, job_id=manual_job
    )
    assert result["message"] == "Publishing completed: 1 succeeded, 0 failed"
    assert [r["pool_id"] for r in result["data"]["results"]] == [entry["id"]]
    assert entry_status(db, entry["id"]).status == "published"


def test_a_lost_runs_releases_are_settled_by_the_next_run(db, owner) -> None:
    entry = add(db, owner, "article0")
    job = publishing_job(db, owner)
    doomed = Scheduler(db, worker="doomed", clock=lambda: T0)
    run = doomed.start_manual(job, scope=None, now=T0)
    executors.release_due(doomed.context, run, T0, settled={})
    assert finish_all(db, T0) == 1
    # The process dies: nobody settles the entry while its run's lease is held...
    assert run_publishing(db, job, T0 + timedelta(seconds=1))["data"]["results"] == []
    # ... and once the lease has run out, the run is closed and the next run settles it.
    after = T0 + scheduled.RUN_LEASE + timedelta(seconds=1)
    Scheduler(db, worker="next", clock=lambda: after).run_once(after)
    result = run_publishing(db, job, after)
    assert result["message"] == "Publishing completed: 1 succeeded, 0 failed"
    assert entry_status(db, entry["id"]).status == "published"
