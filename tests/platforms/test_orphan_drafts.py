"""No orphan drafts: a draft whose creation answer was lost (the platform committed it, then the
answer never came; or the worker died before checkpointing it) is found again and reused, and
doubles are deleted or listed on the task. The sandbox counts each account's drafts."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from harness import CONTENTHUB, start_worker, wait_until

from contenthub.api.routers.tasks import task_out
from contenthub.errors import Transient
from contenthub.platforms.base import DRAFT_REQUESTED_AT, LEFTOVERS, task_marker
from contenthub.sandbox.server import SandboxServer
from contenthub.storage.db import Database
from tests.factories import make_user
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of, publish
from tests.platforms.test_reconcile import SANDBOXED, TITLE, bind, enqueue_one, env, task

pytestmark = pytest.mark.chaos


def published(sandbox: SandboxServer, platform: str, account: dict) -> list[dict]:
    return [p for p in posts_of(sandbox, platform, account) if p["status"] == "published"]


def article(sandbox: SandboxServer, platform: str, account: dict):
    cover = None
    if platform == "wechat":
        cover = sandbox.client.put_web_file("orphan-cover.png", png(4, 4), "image/png")
    return content(account, cover=cover)


@pytest.mark.parametrize("platform", SANDBOXED)
def test_a_draft_whose_answer_was_lost_is_found_and_reused(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    account["options"] = {**account["options"], "timeout_seconds": 1}
    sandbox.client.add_fault(
        platform, "crash_after_commit", account=account["name"], on="draft", times=1
    )
    task_content, ctx = article(sandbox, platform, account), RecordingContext()

    with pytest.raises(Transient):  # the draft is created; its answer never comes
        publish(task_content, platform, ctx)
    assert sandbox.client.draft_count(platform, account["name"]) == 1
    assert DRAFT_REQUESTED_AT in ctx.checkpoints and "draft_id" not in ctx.checkpoints

    result = publish(task_content, platform, ctx)  # the retry, from the checkpoints
    assert sandbox.client.draft_count(platform, account["name"]) == 0
    assert len(published(sandbox, platform, account)) == 1
    assert result.post_id and not ctx.checkpoints.get(LEFTOVERS)


@pytest.mark.parametrize("platform, cleaned", [("wordpress", True), ("devto", False)])
def test_doubles_are_deleted_or_listed_as_leftovers(
    sandbox: SandboxServer, platform: str, cleaned: bool
) -> None:
    """Two lost creations: the older draft becomes the post; WordPress deletes the other,
    dev.to (whose API cannot delete) leaves it listed on the task."""
    account = new_account(sandbox, platform)
    account["options"] = {**account["options"], "timeout_seconds": 1}
    sandbox.client.add_fault(
        platform, "crash_after_commit", account=account["name"], on="draft", times=1
    )
    task_content, ctx = article(sandbox, platform, account), RecordingContext()
    with pytest.raises(Transient):
        publish(task_content, platform, ctx)
    create_marked_draft(account, platform, task_content.title, task_marker(task_content.public_id))
    assert sandbox.client.draft_count(platform, account["name"]) == 2

    publish(task_content, platform, ctx)
    assert len(published(sandbox, platform, account)) == 1
    left = sandbox.client.draft_count(platform, account["name"])
    if cleaned:
        assert left == 0 and not ctx.checkpoints.get(LEFTOVERS)
    else:
        [leftover] = ctx.checkpoints[LEFTOVERS]
        assert left == 1 and "dev.to draft" in leftover


def create_marked_draft(account: dict, platform: str, title: str, marker: str) -> None:
    """A second draft as the lost request made it (a second lost creation)."""
    base = account["options"]["base_url"]
    if platform == "devto":
        answer = httpx.post(
            f"{base}/api/articles",
            headers={"api-key": account["credentials"]["api_key"]},
            json={"article": {"title": title, "body_markdown": f"x\n\n{marker}\n"}},
        )
    else:
        creds = account["credentials"]
        answer = httpx.post(
            f"{base}/wp-json/wp/v2/posts",
            auth=(creds["username"], creds["app_password"]),
            json={"title": title, "content": f"<p>x</p>\n{marker}", "status": "draft"},
        )
    answer.raise_for_status()


def test_sigkill_between_draft_and_checkpoint_leaves_no_orphan(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    """Every platform commits the draft and never answers; the worker is SIGKILLed before it
    could checkpoint the draft. The rescued attempts find their drafts: no orphan, one post."""
    user = make_user(db, "ann")
    cover = sandbox.client.put_web_file("orphan-cover.png", png(4, 4), "image/png")
    made = []
    for platform in SANDBOXED:
        described = new_account(sandbox, platform)
        sandbox.client.add_fault(
            platform, "crash_after_commit", account=described["name"], on="draft", times=1
        )
        account = bind(db, user, described)
        public_id = enqueue_one(
            db, user, account, cover=cover if platform == "wechat" else None, max_attempts=3
        )
        made.append((platform, described, public_id))
    # One more dev.to task, which will also find a double of its draft it cannot delete.
    doubled = new_account(sandbox, "devto")
    sandbox.client.add_fault(
        "devto", "crash_after_commit", account=doubled["name"], on="draft", times=1
    )
    doubled_id = enqueue_one(db, user, bind(db, user, doubled), max_attempts=3)
    settings = env(database_url, tmp_path)
    doomed = start_worker(processes, settings, slots=8, log=tmp_path / "doomed.log")
    wait_until(
        lambda: all(sandbox.client.draft_count(p, a["name"]) == 1 for p, a, _ in made),
        timeout=60,
        what="every draft to be created with its answer lost",
    )
    wait_until(
        lambda: sandbox.client.draft_count("devto", doubled["name"]) == 1,
        timeout=60,
        what="the other dev.to draft",
    )
    for _, _, public_id in made:
        assert "draft_id" not in task(db, public_id)["checkpoint"]
    create_marked_draft(doubled, "devto", TITLE, task_marker(doubled_id))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    start_worker(processes, settings, slots=8, log=tmp_path / "rescuer.log")
    wait_until(
        lambda: all(task(db, i)["status"] == "succeeded" for _, _, i in made),
        timeout=90,
        what="every rescued task to succeed",
    )
    for platform, described, public_id in made:
        assert sandbox.client.draft_count(platform, described["name"]) == 0, platform
        assert len(published(sandbox, platform, described)) == 1, platform
        final = task(db, public_id)
        assert final["attempt"] == 2 and not final["leftovers"]

    # The double dev.to cannot delete is the user's to see, in the API's task and task show.
    final = wait_until(
        lambda: (t := task(db, doubled_id))["status"] == "succeeded" and t,
        timeout=30,
        what="the doubled dev.to task",
    )
    [leftover] = final["leftovers"]
    assert sandbox.client.draft_count("devto", doubled["name"]) == 1
    assert task_out(final).leftovers == [leftover]
    shown = subprocess.run(
        [CONTENTHUB, "task", "show", doubled_id, "--user", "ann"],
        env={**settings, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "leftovers" in shown.stdout and leftover in shown.stdout
