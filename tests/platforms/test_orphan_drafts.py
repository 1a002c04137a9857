"""No orphan drafts: a draft whose creation answer was lost (the platform committed it, then the
answer never came) is found again and reused, and doubles are deleted or listed on the task.
The sandbox counts each account's drafts. (A SIGKILL between draft and checkpoint, through a
real worker on every database: ``test_reconcile.py``.)"""

from __future__ import annotations

import pytest

from contenthub.errors import Transient
from contenthub.platforms.base import task_marker
from contenthub.platforms.content import DRAFT_REQUESTED_AT, LEFTOVERS
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of, publish
from tests.platforms.test_reconcile import WITH_DRAFTS, create_marked_draft

pytestmark = pytest.mark.chaos
# The cookie platforms of issue 17, beside the ones the worker reconcile test covers.
COOKIE_TWINS = ["segmentfault", "jianshu", "bilibili"]


def published(sandbox: SandboxServer, platform: str, account: dict) -> list[dict]:
    return [p for p in posts_of(sandbox, platform, account) if p["status"] == "published"]


def article(sandbox: SandboxServer, platform: str, account: dict):
    cover = None
    if platform == "wechat":
        cover = sandbox.client.put_web_file("orphan-cover.png", png(4, 4), "image/png")
    return content(account, cover=cover)


@pytest.mark.parametrize("platform", [*WITH_DRAFTS, *COOKIE_TWINS])
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
