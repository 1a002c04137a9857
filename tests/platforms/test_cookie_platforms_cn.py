"""SegmentFault, Jianshu and Bilibili beyond the shared cases: the final lookup a worker makes
before it gives a task up, and the checks of each platform's protocol their twins make."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from contenthub.errors import AuthExpired, PublishCancelled, Rejected, Transient
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import PLATFORMS as TWINS
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of, publish
from tests.platforms.test_adapters import public_id

COOKIE_PLATFORMS = ["segmentfault", "jianshu", "bilibili"]


@pytest.mark.parametrize("platform", COOKIE_PLATFORMS)
def test_the_final_lookup_finds_a_post_whose_answer_was_lost(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    task = content({**account, "options": {**account["options"], "timeout_seconds": 0.5}})
    publisher = publisher_for(platform)
    drafted = RecordingContext(cancel_at="publish")  # a draft, never submitted
    with pytest.raises(PublishCancelled):
        publish(task, platform, drafted)
    assert asyncio.run(publisher.find_published(drafted, task)) is None

    sandbox.client.add_fault(
        platform, "crash_after_commit", account=account["name"], times=1, hang_seconds=3
    )
    lost = RecordingContext(drafted.checkpoints)
    with pytest.raises(Transient):
        publish(task, platform, lost)

    found = asyncio.run(publisher.find_published(RecordingContext(lost.checkpoints), task))
    [post] = posts_of(sandbox, platform, account)
    assert found is not None and found.post_id == public_id(post)
    assert httpx.get(found.url or "", timeout=10).status_code == 200


def test_segmentfault_gateway_wants_the_editor_token(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "segmentfault")
    base = account["options"]["base_url"]
    cookies = account["credentials"]["cookies"]
    headers = {"origin": "https://segmentfault.com"}
    bare = httpx.get(f"{base}/segmentfault.com/gateway/drafts", cookies=cookies, headers=headers)
    assert bare.status_code == 401 and bare.text == "Unauthorized"
    page = httpx.get(f"{base}/segmentfault.com/write", cookies=cookies, timeout=10).text
    token = page.split('"Token":"')[1].split('"')[0]
    listed = httpx.get(
        f"{base}/segmentfault.com/gateway/drafts",
        cookies=cookies,
        headers={**headers, "token": token},
        timeout=10,
    )
    assert listed.status_code == 200 and listed.json()["rows"] == []


def test_bilibili_write_with_a_stale_csrf_cookie_is_a_lost_login(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "bilibili")
    cookies = {**account["credentials"]["cookies"], "bili_jct": "stale"}
    task = content({**account, "credentials": {"cookies": cookies}})
    with pytest.raises(AuthExpired, match="log in to Bilibili again"):
        publish(task, "bilibili", RecordingContext())
    assert posts_of(sandbox, "bilibili", account) == []


def test_jianshu_names_a_notebook_it_cannot_find(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "jianshu")
    options = {**account["options"], "notebook": "随笔"}
    with pytest.raises(Rejected, match="随笔"):
        publish(content({**account, "options": options}), "jianshu", RecordingContext())
    assert posts_of(sandbox, "jianshu", account) == []


@pytest.mark.parametrize(
    "platform", sorted(p for p, twin in TWINS.items() if hasattr(twin, "LOGIN"))
)
def test_each_login_page_is_where_its_twin_serves_it(platform: str) -> None:
    """What ``account login`` opens and waits for is what the twin's login page serves and
    sets (the browser flow itself: ``tests/acceptance/test_login.py``)."""
    page, spec = type(publisher_for(platform)).login_page, TWINS[platform].LOGIN
    assert page is not None
    assert (page.host, page.path, page.session_cookie) == (
        spec.host,
        spec.path,
        spec.session_cookie,
    )
