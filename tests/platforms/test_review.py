"""A post the platform holds for review: a real ``contenthub worker`` publishes to the sandbox,
the task waits ``in_review`` (not failed, not retried), and the ``review_check`` job — run by the
real CLI — records the post going live, or the review refusing it with the platform's reason."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from harness import CONTENTHUB, start_worker, wait_until

from contenthub import storage
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer
from contenthub.services.stats import stats_report
from contenthub.storage import NewTask, task_enqueue
from contenthub.storage.db import Database
from tests.factories import make_user
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of
from tests.platforms.test_dispatch_with_sandbox import bind, env, task

pytestmark = pytest.mark.chaos
BODY = (
    "# Review\n\nAn article long enough for Juejin's brief, which wants fifty characters at "
    "the very least, and a tag.\n"
)


def publish_to(db: Database, user: int, account_id: int, title: str) -> str:
    new = NewTask(user, account_id, title=title, body=BODY, tags=["Python"])
    [public_id] = db.write(lambda s: task_enqueue(s, [new], now=datetime.now(UTC)))
    return public_id


def cli(environment: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [CONTENTHUB, *args, "--user", "ann", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def reasons(db: Database, public_id: str) -> list[str]:
    found = task(db, public_id)
    return [e["reason"] for e in db.read(lambda s: storage.task_events(s, found["id"]))]


def test_review_holds_then_goes_live_or_is_refused(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    user = make_user(db, "ann")
    approved, refused = new_account(sandbox, "juejin"), new_account(sandbox, "juejin")
    for account in (approved, refused):
        sandbox.client.hold_for_review("juejin", account["name"])
    to_approve = publish_to(db, user, bind(db, user, approved), "Approved by review")
    to_refuse = publish_to(db, user, bind(db, user, refused), "Refused by review")
    environment = env(database_url, tmp_path)
    start_worker(processes, environment, slots=2, log=tmp_path / "w.log")

    waiting = {
        public_id: wait_until(
            lambda p=public_id: (t := task(db, p))["status"] == "in_review" and t,
            timeout=30,
            what="the platform to accept the post and hold it for review",
        )
        for public_id in (to_approve, to_refuse)
    }
    for public_id, account in ((to_approve, approved), (to_refuse, refused)):
        held, [post] = waiting[public_id], posts_of(sandbox, "juejin", account)
        # One attempt, no retry loop; the post id and the URL it will have are recorded.
        assert held["attempt"] == 1 and held["error_class"] is None
        assert held["post_id"] == post["extra"]["post_id"] and held["result_url"] == post["url"]
        assert httpx.get(held["result_url"]).status_code == 404  # not public yet
        assert reasons(db, public_id)[-1] == "in_review"
    seen = subprocess.run(
        [CONTENTHUB, "task", "show", to_approve, "--user", "ann"],
        env={**environment, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    print(seen.stdout)  # what a person sees, kept in the test's output
    assert "in_review" in seen.stdout and "holds it for review" in seen.stdout
    shown = cli(environment, "task", "show", to_approve)
    assert (
        shown["status"] == "in_review" and shown["result_url"] == waiting[to_approve]["result_url"]
    )
    now = datetime.now(UTC)
    report = db.read(lambda s: stats_report(s, scope=user, since=None, until=None, now=now))
    assert report["overall"]["by_status"]["in_review"] == 2
    assert report["overall"]["success_rate"] is None  # neither a success nor a failure yet

    job = cli(
        environment,
        "scheduler", "create", "--name", "review", "--type", "review_check",
        "--schedule-type", "interval", "--interval", "3600",
    )  # fmt: skip
    nothing_yet = cli(environment, "scheduler", "trigger", str(job["id"]))
    assert len(nothing_yet["result"]["data"]["in_review"]) == 2
    assert task(db, to_approve)["status"] == "in_review"

    sandbox.client.decide_review(
        "juejin", posts_of(sandbox, "juejin", approved)[0]["id"], approve=True
    )
    sandbox.client.decide_review(
        "juejin", posts_of(sandbox, "juejin", refused)[0]["id"], approve=False, reason="标题党"
    )
    run = cli(environment, "scheduler", "trigger", str(job["id"]))
    assert [line["task_id"] for line in run["result"]["data"]["live"]] == [to_approve]
    assert [line["task_id"] for line in run["result"]["data"]["refused"]] == [to_refuse]

    live = task(db, to_approve)
    assert live["status"] == "succeeded" and live["reviewed_at"] is not None
    assert httpx.get(live["result_url"]).status_code == 200
    assert reasons(db, to_approve)[-1] == "went_live"
    gone = task(db, to_refuse)
    assert gone["status"] == "failed" and gone["reviewed_at"] is not None
    assert gone["error_class"] == "rejected" and "标题党" in gone["error_message"]
    assert reasons(db, to_refuse)[-1] == "review_refused"


@pytest.mark.parametrize("platform", ["bilibili", "metaweblog"])
def test_a_held_post_waits_in_review_then_goes_live(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer,
    platform: str,
) -> None:  # fmt: skip
    """Bilibili reviews every article; WordPress keeps a contributor's post "pending" (the
    MetaWeblog twin plays WordPress). Either way: in review, then live once approved."""
    user = make_user(db, "ann")
    account = new_account(sandbox, platform)
    sandbox.client.hold_for_review(platform, account["name"])
    public_id = publish_to(db, user, bind(db, user, account), "Held for an editor")
    environment = env(database_url, tmp_path)
    start_worker(processes, environment, slots=1, log=tmp_path / "w.log")

    held = wait_until(
        lambda: (t := task(db, public_id))["status"] == "in_review" and t,
        timeout=30,
        what=f"{platform} to accept the post and hold it for review",
    )
    [post] = posts_of(sandbox, platform, account)
    assert held["attempt"] == 1 and held["error_class"] is None
    assert held["result_url"] == post["url"] and httpx.get(post["url"]).status_code == 404

    sandbox.client.decide_review(platform, post["id"], approve=True)
    job = cli(
        environment,
        "scheduler", "create", "--name", "review", "--type", "review_check",
        "--schedule-type", "interval", "--interval", "3600",
    )  # fmt: skip
    run = cli(environment, "scheduler", "trigger", str(job["id"]))
    assert [line["task_id"] for line in run["result"]["data"]["live"]] == [public_id]
    assert task(db, public_id)["status"] == "succeeded"
    assert httpx.get(post["url"]).status_code == 200


# The platform's reason for a refusal, where its API gives one (WordPress only moves the post).
REFUSAL_SHOWN = {"zhihu": "涉嫌营销", "juejin": "涉嫌营销", "bilibili": "涉嫌营销"}


@pytest.mark.parametrize("platform", ["zhihu", "juejin", "bilibili", "metaweblog"])
def test_the_adapter_reports_a_held_post_and_its_review_outcome(
    sandbox: SandboxServer, platform: str
) -> None:
    """The platform's own answer, adapter against sandbox: held, then refused with a reason."""
    account = new_account(sandbox, platform)
    sandbox.client.hold_for_review(platform, account["name"])
    publisher = publisher_for(platform)
    result = asyncio.run(publisher.publish(RecordingContext(), content(account)))
    [post] = posts_of(sandbox, platform, account)
    assert result.in_review and result.url == post["url"]
    access = content(account).account
    assert asyncio.run(publisher.review_state(access, result)).state == "in_review"
    sandbox.client.decide_review(platform, post["id"], approve=False, reason="涉嫌营销")
    refused = asyncio.run(publisher.review_state(access, result))
    assert refused.state == "refused"
    assert refused.reason == REFUSAL_SHOWN.get(platform, "the blog set the post to 'draft'")
