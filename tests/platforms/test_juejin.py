"""Juejin's own rules: the CSRF token on writes and the 50–100-character brief."""

from __future__ import annotations

import httpx
import pytest

from contenthub.errors import Rejected
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of, publish


def test_a_write_without_the_csrf_token_is_refused(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "juejin")
    api = f"{account['options']['base_url']}/api.juejin.cn"
    cookies = account["credentials"]["cookies"]
    headers = {"Origin": "https://juejin.cn"}
    token = (
        httpx.head(
            f"{api}/user_api/v1/sys/token",
            cookies=cookies,
            headers={**headers, "x-secsdk-csrf-request": "1"},
            timeout=10,
        )
        .headers["x-ware-csrf-token"]
        .split(",")[1]
    )
    draft = f"{api}/content_api/v1/article_draft/create"
    refused = httpx.post(draft, cookies=cookies, headers=headers, json={}, timeout=10)
    assert refused.status_code == 403
    allowed = httpx.post(
        draft, cookies=cookies, headers={**headers, "x-secsdk-csrf-token": token}, json={}
    )
    assert allowed.json()["err_no"] == 2  # past the CSRF check, stopped by the empty brief


def test_the_brief_fits_and_a_too_short_article_is_refused_before_a_draft(
    sandbox: SandboxServer,
) -> None:
    account = new_account(sandbox, "juejin")
    publish(content(account), "juejin", RecordingContext())
    [post] = posts_of(sandbox, "juejin", account)
    assert 50 <= len(post["extra"]["brief"]) <= 100

    short = new_account(sandbox, "juejin")
    with pytest.raises(Rejected, match="summary"):
        publish(content(short, title="短", body="太短"), "juejin", RecordingContext())
    assert posts_of(sandbox, "juejin", short) == []
