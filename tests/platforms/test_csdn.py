"""CSDN's own rules, as its editor speaks them today: every bizapi call carries a valid
API-gateway signature (the key pairs are configuration), images go through the upload ticket
and Huawei OBS, and a risk check that wants a WeChat scan makes the account need a login."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from contenthub.errors import AuthExpired, Rejected
from contenthub.platforms.csdn import (
    APP_KEY,
    APP_SECRET,
    IMAGE_SIGNING,
    CsdnPublisher,
    gateway_signature,
)
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, png, posts_of

PATH = "/blog-console-api/v3/mdeditor/saveArticle"


def test_a_request_with_a_wrong_signature_is_refused(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "csdn")
    url = f"{account['options']['base_url']}/bizapi.csdn.net{PATH}"
    signed = {"x-ca-key": APP_KEY, "x-ca-nonce": str(uuid.uuid4())}
    headers = {
        **signed,
        "x-ca-signature-headers": "x-ca-key,x-ca-nonce",
        "Accept": "*/*",
        "Origin": "https://editor.csdn.net",
    }
    article = {
        "title": "Five or more",
        "markdowncontent": "body",
        "status": 2,
        "pubStatus": "draft",
        "is_new": 1,
    }

    def save(secret: str) -> httpx.Response:
        signature = gateway_signature(
            secret, "POST", "application/json", signed, PATH, accept="*/*"
        )
        return httpx.post(
            url,
            json=article,
            headers={**headers, "x-ca-signature": signature},
            cookies=account["credentials"]["cookies"],
            timeout=10,
        )

    refused = save("not-the-editor-secret")
    assert refused.status_code == 400 and refused.headers["x-ca-error-message"]
    accepted = save(APP_SECRET)
    assert accepted.json()["code"] == 200 and accepted.json()["data"]["id"]


def test_images_go_through_the_upload_ticket_and_obs(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "csdn")
    image_url = sandbox.client.put_web_file(f"{uuid.uuid4().hex}.png", png(shade=7), "image/png")
    task = content(account, body=f"# Pic\n\n![a]({image_url})\n\nSome words here.\n")
    result = asyncio.run(CsdnPublisher().publish(RecordingContext(), task))
    [post] = posts_of(sandbox, "csdn", account)
    assert post["status"] == "published" and result.url == post["url"]
    assert "/i-blog.csdnimg.cn/direct/" in post["body"] and image_url not in post["body"]
    operations = [
        op for _, name, op in sandbox.client.operations("csdn") if name == account["name"]
    ]
    assert operations[:3] == ["login", "risk", "image"]


def test_a_rotated_image_key_pair_names_the_setting(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = new_account(sandbox, "csdn")
    image_url = sandbox.client.put_web_file(f"{uuid.uuid4().hex}.png", png(shade=9), "image/png")
    monkeypatch.setenv(IMAGE_SIGNING, "260196572:an-old-secret")
    task = content(account, body=f"![a]({image_url})\n\nSome words here for the body.\n")
    with pytest.raises(Rejected, match=IMAGE_SIGNING):
        asyncio.run(CsdnPublisher().publish(RecordingContext(), task))
    assert posts_of(sandbox, "csdn", account) == []


def test_a_risk_check_wanting_a_wechat_scan_needs_a_login(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "csdn")
    sandbox.client.add_fault("csdn", "risk_check", account=account["name"])
    with pytest.raises(AuthExpired, match=r"WeChat QR scan.*1239"):
        asyncio.run(CsdnPublisher().publish(RecordingContext(), content(account)))
    assert posts_of(sandbox, "csdn", account) == []


def test_a_published_article_is_found_in_the_published_list(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "csdn")
    ctx = RecordingContext()
    sandbox.client.add_fault("csdn", "server_error", account=account["name"], on="publish", times=1)
    with pytest.raises(Exception):  # noqa: B017 - the answer is lost, whatever its class
        asyncio.run(CsdnPublisher().publish(ctx, content(account)))
    # The publish reached CSDN's side only in a rerun; before it, the list shows no article.
    found = asyncio.run(CsdnPublisher().find_published(ctx, content(account)))
    assert found is None
    result = asyncio.run(CsdnPublisher().publish(ctx, content(account)))
    [post] = posts_of(sandbox, "csdn", account)
    assert result.url == post["url"]
    lost = {k: v for k, v in ctx.checkpoints.items() if k != "url"}  # as if its answer was lost
    found = asyncio.run(CsdnPublisher().find_published(RecordingContext(lost), content(account)))
    assert found is not None and found.url == post["url"]
