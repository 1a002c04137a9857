"""Each adapter against the sandbox: the success path, faults mapped to error classes, resuming
from checkpoints after a lost answer, and cancellation between steps."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from contenthub.errors import AuthExpired, PublishCancelled, RateLimited, Rejected, Transient
from contenthub.platforms.content import AccountAccess
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of, publish

PLATFORMS = [
    *("zhihu", "wordpress", "devto", "juejin", "wechat", "csdn"),
    *("metaweblog", "ghost", "yuque", "segmentfault", "jianshu", "bilibili"),
]
# dev.to and Yuque have no upload API: images stay where they are
UPLOADS_IMAGES = {p for p in PLATFORMS if publisher_for(p).requires.hosts_images}
# The official account API has no tags; Jianshu files articles in notebooks, Yuque in books.
TAKES_TAGS = {p for p in PLATFORMS if publisher_for(p).requires.takes_tags}
# WeChat's 45011 carries no hint: its limits are per minute; Bilibili's -799 gives none either.
RETRY_AFTER = {"wechat": 60, "bilibili": 60}
STAGES = ["login", "draft", "publish", "verify"]


def public_id(post: dict) -> str:
    """The platform's id of the published post; Juejin and WeChat give drafts other ids."""
    return post["extra"].get("post_id") or post["id"]


def task_for(sandbox: SandboxServer, platform: str, account: dict, **overrides):
    """A plain task; WeChat's gets a cover, which it cannot publish without."""
    if platform == "wechat" and "cover" not in overrides:
        overrides["cover"] = sandbox.client.put_web_file("wechat-cover.png", png(4, 4), "image/png")
    return content(account, **overrides)


def image_task(sandbox: SandboxServer, platform: str, account: dict, shade: int = 1):
    first = sandbox.client.put_web_file(f"{platform}-{shade}-a.png", png(shade=shade), "image/png")
    second = sandbox.client.put_web_file(
        f"{platform}-{shade}-b.png", png(3, 3, shade=shade), "image/png"
    )
    body = (
        f"# 标题 Title 🚀\n\n![one]({first})\n\nText with ![again]({first}) and "
        f'<img src="{second}" alt="two">.\n\n```python\nprint("![not an image](x.png)")\n```\n\n'
        "A paragraph long enough to be a summary of more than fifty characters, 中文也有。\n"
    )
    return content(account, body=body, cover=second, tags=["Python", "python", "#Web"]), [
        first,
        second,
    ]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_publish_with_images_and_tags(sandbox: SandboxServer, platform: str) -> None:
    account = new_account(sandbox, platform)
    task, sources = image_task(sandbox, platform, account)
    ctx = RecordingContext()

    result = publish(task, platform, ctx)

    [post] = posts_of(sandbox, platform, account)
    assert post["status"] == "published"
    assert public_id(post) == result.post_id
    assert [s for s in STAGES if s in ctx.stages] == STAGES
    if platform in TAKES_TAGS:
        assert "python" in [t.lower() for t in post["tags"]]
        assert len([t for t in post["tags"] if t.lower() == "python"]) == 1  # de-duplicated
    page = httpx.get(result.url or "", timeout=10)
    assert page.status_code == 200 and task.title in page.text
    if platform in UPLOADS_IMAGES:
        for source in sources:
            assert source not in post["body"]
        assert set(ctx.checkpoints["images"].values()) <= set(_urls_in(post["body"]))
        assert set(ctx.checkpoints["images"]) == set(sources)  # each once, though used twice
        if publisher_for(platform).requires.takes_cover:
            assert post["cover"] and post["cover"] != sources[1]  # the cover is uploaded too
    assert "![not an image](x.png)" in post["body"] or "not an image" in post["body"]
    verification = asyncio.run(publisher_for(platform).verify(task.account, result))
    assert verification.public and verification.url == result.url


@pytest.mark.parametrize("platform", sorted(UPLOADS_IMAGES))
def test_a_rerun_uploads_no_image_twice_and_posts_once(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    task, _ = image_task(sandbox, platform, account, shade=2)
    first = RecordingContext()
    publish(task, platform, first)
    uploads = len([op for op in sandbox.client.operations(platform) if op[2] == "image"])

    again = RecordingContext(first.checkpoints)
    result = publish(task, platform, again)

    after = len([op for op in sandbox.client.operations(platform) if op[2] == "image"])
    assert after == uploads
    assert [public_id(p) for p in posts_of(sandbox, platform, account)] == [result.post_id]


def _urls_in(body: str) -> list[str]:
    return re.findall(r"""(?:\]\(|src=")([^)"\s]+)""", body)


FAULTS = [
    ("login_expired", {}, AuthExpired),
    ("rate_limited", {"retry_after": 7}, RateLimited),
    ("server_error", {"status": 502}, Transient),
    ("reject", {"message": "含有违规内容"}, Rejected),
]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(("kind", "settings", "error"), FAULTS, ids=[f[0] for f in FAULTS])
def test_each_fault_maps_to_its_error_class(
    sandbox: SandboxServer, platform: str, kind: str, settings: dict, error: type
) -> None:
    account = new_account(sandbox, platform)
    sandbox.client.add_fault(platform, kind, account=account["name"], **settings)

    with pytest.raises(error) as raised:
        publish(task_for(sandbox, platform, account), platform, RecordingContext())

    if kind == "rate_limited":
        assert raised.value.retry_after_seconds == RETRY_AFTER.get(platform, 7)
    if kind == "reject":
        assert "含有违规内容" in raised.value.message
    assert all(p["status"] != "published" for p in posts_of(sandbox, platform, account))
    assert account["credentials"] and not any(
        str(secret) in raised.value.message for secret in _secrets(account["credentials"])
    )


def _secrets(credentials: dict) -> list[str]:
    values: list[str] = []
    for value in credentials.values():
        values += _secrets(value) if isinstance(value, dict) else [str(value)]
    return values


@pytest.mark.parametrize("platform", PLATFORMS)
def test_check_login_names_the_account_and_refuses_bad_credentials(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    publisher = publisher_for(platform)
    good = AccountAccess(account["name"], account["options"], account["credentials"])
    identity = asyncio.run(publisher.check_login(good))
    assert identity.user_id and identity.name == account["name"]

    other = new_account(sandbox, platform)["credentials"]  # a real account's, scrambled
    scrambled = {
        k: ({n: f"x{v}" for n, v in val.items()} if isinstance(val, dict) else f"x{val}")
        for k, val in other.items()
    }
    with pytest.raises(AuthExpired):
        asyncio.run(publisher.check_login(AccountAccess("bad", account["options"], scrambled)))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_lost_publish_answer_is_resumed_without_a_second_post(
    sandbox: SandboxServer, platform: str
) -> None:
    account = new_account(sandbox, platform)
    options = {**account["options"], "timeout_seconds": 0.5}
    task = task_for(sandbox, platform, {**account, "options": options})
    sandbox.client.add_fault(
        platform, "crash_after_commit", account=account["name"], times=1, hang_seconds=3
    )
    ctx = RecordingContext()
    with pytest.raises(Transient):
        publish(task, platform, ctx)
    [committed] = posts_of(sandbox, platform, account)
    assert committed["status"] == "published"  # it went live; the answer never came
    assert ctx.checkpoints["publish_submitted"]

    result = publish(task, platform, RecordingContext(ctx.checkpoints))

    assert [p["id"] for p in posts_of(sandbox, platform, account)] == [committed["id"]]
    assert result.post_id == public_id(committed)
    publishes = [op for op in sandbox.client.operations(platform) if op[1] == account["name"]]
    assert [op[2] for op in publishes].count("publish") == 1  # the rerun asked, did not resubmit


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("stage", ["images", "draft", "publish"])
def test_cancel_between_steps_leaves_at_most_a_recorded_draft(
    sandbox: SandboxServer, platform: str, stage: str
) -> None:
    account = new_account(sandbox, platform)
    ctx = RecordingContext(cancel_at=stage)
    with pytest.raises(PublishCancelled):
        publish(task_for(sandbox, platform, account), platform, ctx)
    posts = posts_of(sandbox, platform, account)
    assert all(p["status"] == "draft" for p in posts)
    assert [p["id"] for p in posts] == ([ctx.checkpoints["draft_id"]] if posts else [])


def test_devto_own_limit_of_nine_creations_per_thirty_seconds(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "devto")

    async def ten() -> list[BaseException | None]:
        publisher = publisher_for("devto")
        outcomes: list[BaseException | None] = []
        for _ in range(10):
            try:
                await publisher.publish(RecordingContext(), content(account))
                outcomes.append(None)
            except RateLimited as error:
                outcomes.append(error)
        return outcomes

    outcomes = asyncio.run(ten())
    assert outcomes[:9] == [None] * 9
    assert isinstance(outcomes[9], RateLimited) and outcomes[9].retry_after_seconds == 30


def test_zhihu_refuses_a_request_without_its_headers(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "zhihu")
    url = f"{account['options']['base_url']}/www.zhihu.com/api/v4/me"
    cookies = account["credentials"]["cookies"]
    bare = httpx.get(url, cookies=cookies, timeout=10)
    assert bare.status_code == 403 and bare.json()["error"]["code"] == 10003
    draft_url = f"{account['options']['base_url']}/zhuanlan.zhihu.com/api/articles/drafts"
    no_xsrf = httpx.post(
        draft_url, cookies=cookies, headers={"x-requested-with": "fetch"}, json={}, timeout=10
    )
    assert no_xsrf.status_code == 403


def test_every_demo_account_logs_in_to_the_sandbox(sandbox: SandboxServer) -> None:
    from contenthub.browser.pool import close_shared
    from contenthub.sandbox.demo import demo_accounts

    accounts = demo_accounts(sandbox.url)
    assert {a["platform"] for a in accounts} == {*PLATFORMS, "toutiao"}

    async def check_all() -> list[str]:
        try:
            return [
                (
                    await publisher_for(a["platform"]).check_login(
                        AccountAccess(a["name"], a["options"], a["credentials"])
                    )
                ).user_id
                for a in accounts
            ]
        finally:
            await close_shared()  # Toutiao's check ran in a browser

    assert all(asyncio.run(check_all()))
