"""A real ``contenthub worker`` publishing to the sandbox: the dispatcher's reaction to each
platform answer, and a post that went live while its answer was lost, rescued exactly once."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from harness import start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.sandbox.server import SandboxServer
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from tests.factories import enqueue, make_account, make_user
from tests.platforms.conftest import new_account, posts_of

pytestmark = pytest.mark.chaos
SECRET_KEY = Fernet.generate_key()


def task(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def bind(db: Database, user: int, sandbox_account: dict, **kwargs) -> int:
    """The sandbox account as a contenthub account, its credentials sealed as in production."""
    sealed = SecretBox(SECRET_KEY).seal(sandbox_account["credentials"])
    return make_account(
        db,
        user,
        sandbox_account["name"],
        platform=sandbox_account["platform"],
        options=sandbox_account["options"],
        credentials=sealed,
        **kwargs,
    )


def env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return worker_env(database_url, tmp_path, CONTENTHUB_SECRET_KEY=SECRET_KEY.decode(), **extra)


def test_publishes_and_waits_out_a_rate_limit(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    user = make_user(db, "ann")
    fine = new_account(sandbox, "zhihu")
    throttled = new_account(sandbox, "zhihu")
    sandbox.client.add_fault("zhihu", "rate_limited", account=throttled["name"], retry_after=120)
    [ok_id] = enqueue(db, user, bind(db, user, fine))
    [held_id] = enqueue(db, user, bind(db, user, throttled))
    start_worker(processes, env(database_url, tmp_path), slots=2, log=tmp_path / "w.log")

    done = wait_until(
        lambda: (t := task(db, ok_id))["status"] == "succeeded" and t, timeout=30, what="publish"
    )
    [post] = posts_of(sandbox, "zhihu", fine)
    assert done["result_url"] == post["url"]

    held = wait_until(
        lambda: (t := task(db, held_id))["status"] == "queued" and t["attempt"] == 1 and t,
        timeout=30,
        what="the rate-limited task to wait",
    )
    due = held["due_at"] if held["due_at"].tzinfo else held["due_at"].replace(tzinfo=UTC)
    assert due > datetime.now(UTC) + timedelta(seconds=90)  # the platform's hint, not backoff
    assert held["max_attempts"] == 4  # a rate limit does not use up the retry budget
    assert posts_of(sandbox, "zhihu", throttled) == []


def test_expired_login_marks_the_account_and_holds_its_tasks(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    user = make_user(db, "ann")
    expired = new_account(sandbox, "wordpress")
    sandbox.client.add_fault("wordpress", "login_expired", account=expired["name"])
    account = bind(db, user, expired)
    ids = enqueue(db, user, account, 2)
    start_worker(processes, env(database_url, tmp_path), slots=2, log=tmp_path / "w.log")

    def held() -> bool:
        status = db.read(lambda s: storage.account_find(s, account, user_id=None).status)
        return status == "needs_login" and all(task(db, i)["status"] == "queued" for i in ids)

    wait_until(held, timeout=30, what="the account to be marked needs_login")
    assert sum(task(db, i)["attempt"] for i in ids) == 1  # the other task never ran
    assert posts_of(sandbox, "wordpress", expired) == []


def test_a_crash_after_commit_is_rescued_into_exactly_one_post(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    user = make_user(db, "ann")
    target = new_account(sandbox, "devto")
    sandbox.client.add_fault("devto", "crash_after_commit", account=target["name"], times=1)
    [public_id] = enqueue(db, user, bind(db, user, target))
    worker_settings = env(database_url, tmp_path, CONTENTHUB_LEASE_SECONDS="2")
    doomed = start_worker(processes, worker_settings, slots=1, log=tmp_path / "doomed.log")

    # The platform committed the post; its answer hangs; then the worker dies. (Wait for the
    # post to be *published*: the draft exists, and publish_submitted is checkpointed, before
    # the publish request arrives; a kill then left the fault for the rescuer to hang on.)
    wait_until(
        lambda: [p for p in posts_of(sandbox, "devto", target) if p["status"] == "published"],
        timeout=30,
        what="the post to go live with its answer lost",
    )
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    start_worker(processes, worker_settings, slots=1, log=tmp_path / "rescuer.log")
    final = wait_until(
        lambda: (t := task(db, public_id))["status"] == "succeeded" and t,
        timeout=60,
        what="the rescued task to finish",
    )
    [post] = posts_of(sandbox, "devto", target)
    assert post["status"] == "published"
    assert final["attempt"] == 2 and final["result_url"] == post["url"]
