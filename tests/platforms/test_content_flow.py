"""Each adapter against its sandbox twin: a publish that updates (``TaskContent.update_of``)
edits the one post in place, and an image stored with the article (``img/local.png``) is
uploaded like a remote one — never left as a path the platform cannot show."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
import pytest

from contenthub.errors import Rejected
from contenthub.platforms.content import PriorPost, TaskContent
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of, publish
from tests.platforms.test_adapters import public_id, task_for

EDITABLE = ["zhihu", "wordpress", "devto", "juejin", "csdn", "metaweblog", "ghost", "yuque"]
UPLOADING = [
    *("zhihu", "wordpress", "juejin", "wechat", "csdn"),
    *("metaweblog", "ghost", "segmentfault", "jianshu", "bilibili"),
]
ADDED = "A paragraph added after the first publish."


def edited(task: TaskContent, first: RecordingContext, post_id: str, url: str | None):
    """The same article edited, published again as an update of the first post."""
    prior = PriorPost(post_id, url, dict(first.checkpoints))
    return dataclasses.replace(
        task,
        public_id=str(uuid.uuid4()),
        title=task.title + " v2",
        body=f"{task.body}\n{ADDED}\n",
        update_of=prior,
    )


@pytest.mark.parametrize("platform", EDITABLE)
def test_a_republish_updates_the_one_post(sandbox: SandboxServer, platform: str) -> None:
    account = new_account(sandbox, platform)
    task = task_for(sandbox, platform, account)
    first_ctx = RecordingContext()
    first = publish(task, platform, first_ctx)

    again = publish(
        edited(task, first_ctx, str(first.post_id), first.url), platform, RecordingContext()
    )

    assert again.updated and again.post_id == first.post_id and again.url == first.url
    [post] = [p for p in posts_of(sandbox, platform, account) if p["status"] == "published"]
    assert public_id(post) == first.post_id
    assert post["title"] == task.title + " v2" and ADDED in post["body"]
    page = httpx.get(again.url or "", timeout=10)
    assert page.status_code == 200 and "v2" in page.text
    assert publisher_for(platform).requires.edits_posts


def test_wechat_replaces_the_post_it_cannot_edit(sandbox: SandboxServer) -> None:
    """WeChat's API cannot edit a published article: the update is published, then the
    earlier article deleted (``freepublish/delete``): one post, the new one."""
    account = new_account(sandbox, "wechat")
    task = task_for(sandbox, "wechat", account)
    first_ctx = RecordingContext()
    first = publish(task, "wechat", first_ctx)

    again = publish(
        edited(task, first_ctx, str(first.post_id), first.url), "wechat", RecordingContext()
    )

    assert again.updated and again.post_id != first.post_id
    [post] = [p for p in posts_of(sandbox, "wechat", account) if p["status"] == "published"]
    assert public_id(post) == again.post_id and ADDED in post["body"]
    assert httpx.get(first.url or "", timeout=10).status_code == 404
    assert httpx.get(again.url or "", timeout=10).status_code == 200


def test_toutiao_cannot_edit_and_says_so() -> None:
    """Its publishes of an article an account already has are refused at the enqueue
    (tests/db/test_content_flow.py) unless a second post is asked for. So are those of the
    platforms no reference client edits a post on (SegmentFault, Jianshu, Bilibili)."""
    for platform in ("toutiao", "segmentfault", "jianshu", "bilibili"):
        assert not publisher_for(platform).requires.edits_posts, platform


def local_image_task(account: dict, platform: str) -> tuple[TaskContent, bytes]:
    image = png(5, 4, shade=7)
    body = (
        "# A local image\n\nAn image beside the Markdown file, and words enough for a summary "
        "of more than fifty characters.\n\n![beside](img/local.png)\n\nThe end.\n"
    )
    task = content(
        account,
        body=body,
        cover="./img/local.png" if platform != "wordpress" else None,
        attachments={"img/local.png": ("image/png", image)},
    )
    return task, image


@pytest.mark.parametrize("platform", UPLOADING)
def test_an_attached_image_is_uploaded_like_a_remote_one(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    task, image = local_image_task(account, platform)
    ctx = RecordingContext()

    result = publish(task, platform, ctx)

    [post] = [p for p in posts_of(sandbox, platform, account) if p["status"] == "published"]
    assert "img/local.png" not in post["body"]
    [hosted] = {v for k, v in ctx.checkpoints["images"].items() if k == "img/local.png"}
    assert hosted in post["body"]
    assert httpx.get(hosted, timeout=10).content == image  # the platform serves our bytes
    assert result.url


@pytest.mark.parametrize("platform", UPLOADING)
def test_an_image_missing_from_the_article_fails_naming_it(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    task, _ = local_image_task(account, platform)
    with pytest.raises(Rejected, match=r"img/local\.png"):
        publish(dataclasses.replace(task, attachments={}), platform, RecordingContext())
    assert [p for p in posts_of(sandbox, platform, account) if p["status"] == "published"] == []


def test_the_local_site_copies_images_lists_posts_and_updates_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTENTHUB_LOCAL_ROOTS", str(tmp_path))
    root = tmp_path / "site"
    account = {"name": "site", "options": {"root": str(root)}, "credentials": {}}
    task, image = local_image_task(account, "local")
    first_ctx = RecordingContext()
    first = publish(task, "local", first_ctx)

    page = (root / "posts" / f"{first.post_id}.html").read_text("utf-8")
    [copy] = (root / "posts" / f"{first.post_id}.files").iterdir()
    assert copy.read_bytes() == image and f"{copy.parent.name}/{copy.name}" in page
    assert "img/local.png" not in page and "../style.css" in page

    again = publish(
        edited(task, first_ctx, str(first.post_id), first.url), "local", RecordingContext()
    )

    assert again.updated and again.post_id == first.post_id
    assert [p.name for p in (root / "posts").glob("*.html")] == [f"{first.post_id}.html"]
    assert ADDED in (root / "posts" / f"{first.post_id}.html").read_text("utf-8")
    index = (root / "index.html").read_text("utf-8")
    assert index.count("<li>") == 1 and "v2" in index and "#Python" in index
    feed = (root / "feed.xml").read_text("utf-8")
    assert feed.count("<entry>") == 1 and "v2" in feed
    assert (root / "style.css").is_file()
