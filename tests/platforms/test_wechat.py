"""WeChat's own rules: the access-token cache and its refresh, and every final status of a
freepublish job."""

from __future__ import annotations

import logging
import re

import pytest

from contenthub.errors import Rejected
from contenthub.platforms.wechat import REFRESH_EARLY_SECONDS, AccessTokens
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of, publish


def cover_task(sandbox: SandboxServer, account: dict, shade: int = 5):
    cover = sandbox.client.put_web_file(f"wechat-{shade}.png", png(shade=shade), "image/png")
    return content(account, cover=cover)


def token_fetches(sandbox: SandboxServer, account: dict) -> int:
    return [op[1:] for op in sandbox.client.operations("wechat")].count([account["name"], "login"])


def test_the_cache_refreshes_five_minutes_early_and_drops_only_a_stale_token() -> None:
    now = [1000.0]
    cache = AccessTokens(clock=lambda: now[0])
    cache.put("account", "t1", expires_in=7200)
    now[0] += 7200 - REFRESH_EARLY_SECONDS - 1
    assert cache.get("account") == "t1"
    now[0] += 2
    assert cache.get("account") is None  # still valid at WeChat, but due for a refresh

    cache.put("account", "t2", expires_in=7200)
    cache.drop("account", "t1")  # a publish that saw t1 refused does not drop its successor
    assert cache.get("account") == "t2"
    cache.drop("account", "t2")
    assert cache.get("account") is None


def test_publishes_of_one_account_share_its_token(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "wechat")
    publish(cover_task(sandbox, account, 6), "wechat", RecordingContext())
    publish(cover_task(sandbox, account, 7), "wechat", RecordingContext())
    assert token_fetches(sandbox, account) == 1
    assert len(posts_of(sandbox, "wechat", account)) == 2


def test_a_token_that_expires_mid_run_is_fetched_again(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "wechat")
    sandbox.client.add_fault(
        "wechat", "login_expired", account=account["name"], on="draft", times=1
    )

    result = publish(cover_task(sandbox, account), "wechat", RecordingContext())

    assert token_fetches(sandbox, account) == 2
    [post] = posts_of(sandbox, "wechat", account)
    assert post["status"] == "published" and post["url"] == result.url


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (2, "originality check failed"),
        (3, "publishing failed"),
        (4, "review rejected it"),
        (5, "user deleted it"),
        (6, "system banned it"),
    ],
)
def test_each_failed_publish_status_is_a_rejection_with_its_reason(
    sandbox: SandboxServer, status: int, reason: str
) -> None:
    account = new_account(sandbox, "wechat")
    sandbox.client.add_fault(
        "wechat", "reject", account=account["name"], on="review", status=status
    )
    ctx = RecordingContext()

    with pytest.raises(Rejected) as raised:
        publish(cover_task(sandbox, account), "wechat", ctx)

    assert reason in raised.value.message and f"publish_status {status}" in raised.value.message
    assert ctx.checkpoints["publish_id"] and "url" not in ctx.checkpoints
    assert all(p["status"] != "published" for p in posts_of(sandbox, "wechat", account))


def test_a_publish_still_running_is_polled_to_success(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "wechat")
    ctx = RecordingContext()
    result = publish(cover_task(sandbox, account), "wechat", ctx)
    polls = [op for op in sandbox.client.operations("wechat") if op[1] == account["name"]]
    assert [op[2] for op in polls].count("publish_status") == 2  # "publishing", then success
    assert result.url == ctx.checkpoints["url"] and result.post_id == ctx.checkpoints["post_id"]


def test_an_article_without_any_image_is_refused_before_anything_is_written(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "wechat")
    with pytest.raises(Rejected, match="cover"):
        publish(content(account), "wechat", RecordingContext())
    assert posts_of(sandbox, "wechat", account) == []


def test_the_access_token_never_reaches_the_logs(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    account = new_account(sandbox, "wechat")
    with caplog.at_level(logging.DEBUG):
        publish(cover_task(sandbox, account, 8), "wechat", RecordingContext())
    assert "access_token=***" in caplog.text  # the request lines are logged, redacted
    assert re.search(r"access_token=(?!\*\*\*)", caplog.text) is None
    assert account["credentials"]["secret"] not in caplog.text
