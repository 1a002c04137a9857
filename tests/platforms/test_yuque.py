"""Yuque's own rules: the knowledge base is found when not named, a document goes into the
table of contents once however often the publish is resumed, and a private document counts as
published when its owner can read it (the public cannot)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from contenthub.errors import Rejected, Transient
from contenthub.platforms.registry import publisher_for
from contenthub.platforms.yuque import doc_slug
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of, publish


def _toc(account: dict) -> list[int]:
    name, base_url = account["name"], account["options"]["base_url"]
    answer = httpx.get(
        f"{base_url}/api/v2/repos/{name}/notes/toc",
        headers={"X-Auth-Token": account["credentials"]["token"]},
        timeout=10,
    )
    return [node["doc_id"] for node in answer.json()["data"]]


def test_a_document_lands_in_the_users_first_knowledge_base_and_its_toc_once(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "yuque")
    task = content(account)
    first = RecordingContext()
    result = publish(task, "yuque", first)

    assert result.url and result.url.endswith(
        f"/{account['name']}/notes/{doc_slug(task.public_id)}"
    )
    assert _toc(account) == [int(result.post_id or 0)]
    assert "Sandbox test" in httpx.get(result.url, timeout=10).text

    # Every answer lost after the document was created: the rerun finds it by its slug.
    lost = {k: v for k, v in first.checkpoints.items() if k in ("namespace", "publish_submitted")}
    again = publish(task, "yuque", RecordingContext(lost))
    assert again.post_id == result.post_id
    assert len(posts_of(sandbox, "yuque", account)) == 1
    assert _toc(account) == [int(result.post_id or 0)]


def test_a_document_left_out_of_the_toc_is_not_yet_published(sandbox: SandboxServer) -> None:
    """The document was created but the table of contents refused it: not published (the
    lookup says so), and the resumed publish appends it."""
    account = new_account(sandbox, "yuque")
    task = content(account)
    sandbox.client.add_fault("yuque", "server_error", account=account["name"], on="toc", times=1)
    ctx = RecordingContext()
    with pytest.raises(Transient):
        publish(task, "yuque", ctx)
    assert ctx.checkpoints.get("doc_id") and not ctx.checkpoints.get("in_toc")
    assert _toc(account) == []

    yuque = publisher_for("yuque")
    assert asyncio.run(yuque.find_published(ctx, task)) is None
    without_checkpoints = RecordingContext({"namespace": ctx.checkpoints["namespace"]})
    assert asyncio.run(yuque.find_published(without_checkpoints, task)) is None

    result = publish(task, "yuque", RecordingContext(ctx.checkpoints))
    assert _toc(account) == [int(result.post_id or 0)]
    found = asyncio.run(yuque.find_published(without_checkpoints, task))
    assert found is not None and found.post_id == result.post_id


def test_a_private_document_is_published_though_the_public_cannot_see_it(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "yuque")
    private = {**account["options"], "public": False}
    result = publish(content(account, options=private), "yuque", RecordingContext())

    assert httpx.get(result.url or "", timeout=10).status_code == 404
    [post] = posts_of(sandbox, "yuque", account)
    assert post["status"] == "published"


def test_a_knowledge_base_the_token_cannot_reach_is_refused_by_name(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "yuque")
    elsewhere = {**account["options"], "namespace": "someone-else/notes"}
    task = content(account, options=elsewhere)

    with pytest.raises(Rejected, match="HTTP 404"):
        publish(task, "yuque", RecordingContext())
    assert posts_of(sandbox, "yuque", account) == []
    lookup = asyncio.run(publisher_for("yuque").find_published(RecordingContext(), task))
    assert lookup is None
