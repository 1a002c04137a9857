"""A real worker process publishing to the local site: cancel, retry and held accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.storage.db import Database
from tests.factories import T0, enqueue, make_account, make_user

pytestmark = pytest.mark.chaos


def task(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def finished(db: Database, public_id: str) -> dict | None:
    row = task(db, public_id)
    return row if row["status"] in ("succeeded", "failed", "cancelled") else None


def test_cancel_while_running_stops_at_the_next_step(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    user = make_user(db, "ann")
    account = make_account(
        db, user, "site", platform="local", options={"root": str(root), "write_delay_seconds": 3}
    )
    [public_id] = enqueue(db, user, account)
    start_worker(processes, worker_env(database_url, tmp_path), slots=2, log=tmp_path / "w.log")
    wait_until(
        lambda: task(db, public_id)["checkpoint"].get("draft_path"), timeout=30, what="the draft"
    )
    result = db.write(lambda s: storage.task_cancel(s, public_id, user_id=user, now=T0))
    assert result.cancel_requested
    final = wait_until(lambda: finished(db, public_id), timeout=30, what="the cancel")
    assert final["status"] == "cancelled"
    # Nothing went live; the draft is left and recorded.
    assert list((root / "posts").iterdir()) == []
    assert Path(final["checkpoint"]["draft_path"]).exists()


def test_expired_login_holds_tasks_until_the_account_is_active_again(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "zhihu-ish", options={"fail": "auth_expired"})
    ids = enqueue(db, user, account, 3)
    start_worker(processes, worker_env(database_url, tmp_path), slots=2, log=tmp_path / "w.log")

    def held() -> bool:
        status = db.read(lambda s: storage.account_find(s, account, user_id=None).status)
        rows = [task(db, i) for i in ids]
        return status == "needs_login" and all(r["status"] == "queued" for r in rows)

    wait_until(held, timeout=30, what="the account to be marked needs_login")
    attempts = sum(task(db, i)["attempt"] for i in ids)
    assert attempts == 1  # one publish found the expired login; the others waited

    # The user logs in again (here: the account no longer fails) and re-activates it.
    def relogin(s) -> None:
        storage.account_update(s, account, now=T0, options={})
        storage.account_set_status(s, account, "active", now=T0)

    db.write(relogin)
    for public_id in ids:
        final = wait_until(lambda p=public_id: finished(db, p), timeout=30, what="the publishes")
        assert final["status"] == "succeeded"


def test_transient_failures_are_retried_with_backoff_then_fail(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "flaky", options={"fail": "transient"})
    [public_id] = enqueue(db, user, account, max_attempts=1)
    [rejected] = enqueue(db, user, make_account(db, user, "strict", options={"fail": "rejected"}))
    start_worker(processes, worker_env(database_url, tmp_path), slots=2, log=tmp_path / "w.log")
    final = wait_until(lambda: finished(db, public_id), timeout=30, what="the flaky task")
    assert final["status"] == "failed" and final["error_class"] == "transient"
    final = wait_until(lambda: finished(db, rejected), timeout=30, what="the rejected task")
    assert final["error_class"] == "rejected"
    assert final["error_message"] == "content violates the rules"
    assert final["attempt"] == 1
