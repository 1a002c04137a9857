"""Ghost's Admin API token as the sandbox twin checks it (as Ghost does), and a draft whose
creation answer was lost, found by the filtered post list rather than created twice."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from contenthub.errors import AuthExpired, Transient
from contenthub.platforms.content import AccountAccess
from contenthub.platforms.ghost import AdminKeyAuth, admin_token
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of, publish


def _site(sandbox: SandboxServer, token: str, account: dict) -> httpx.Response:
    url = f"{account['options']['base_url']}/ghost/api/admin/site/"
    return httpx.get(url, headers={"Authorization": f"Ghost {token}"}, timeout=10)


def test_the_token_is_what_ghost_takes_and_a_bad_one_is_refused(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "ghost")
    key_id, secret = account["credentials"]["admin_api_key"].split(":")
    token = admin_token(f"{key_id}:{secret}")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": key_id, "typ": "JWT"}
    claims = jwt.decode(token, bytes.fromhex(secret), algorithms=["HS256"], audience="/admin/")
    assert claims["exp"] - claims["iat"] == 300
    assert _site(sandbox, token, account).json()["site"]["title"] == account["name"]

    now = int(time.time())
    too_long = {"iat": now, "exp": now + 3600, "aud": "/admin/"}
    wrong_audience = {"iat": now, "exp": now + 300, "aud": "/content/"}
    for bad_claims, secret_hex in (
        (too_long, secret),
        (wrong_audience, secret),
        (claims, "00" * 32),
    ):
        bad = jwt.encode(bad_claims, bytes.fromhex(secret_hex), "HS256", headers={"kid": key_id})
        refused = _site(sandbox, bad, account)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["type"] == "UnauthorizedError"

    malformed = AccountAccess("x", account["options"], {"admin_api_key": "not-a-key"})
    with pytest.raises(AuthExpired, match="not <24 hex>:<64 hex>") as raised:
        asyncio.run(publisher_for("ghost").check_login(malformed))
    assert "not-a-key" not in raised.value.message


def test_every_request_carries_a_token_minted_for_it(sandbox: SandboxServer) -> None:
    """A publish can outlast one five-minute token: each request is signed anew."""
    account = new_account(sandbox, "ghost")
    key = account["credentials"]["admin_api_key"]
    now = int(time.time())
    moments = iter([now - 200, now])  # the first token still valid, 100 s from its end
    sent: list[str] = []
    with httpx.Client(
        auth=AdminKeyAuth(key, clock=lambda: next(moments)),
        event_hooks={"request": [lambda r: sent.append(r.headers["Authorization"])]},
        timeout=10,
    ) as client:
        url = f"{account['options']['base_url']}/ghost/api/admin/site/"
        assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    secret = bytes.fromhex(key.split(":")[1])
    issued = [
        jwt.decode(h.removeprefix("Ghost "), secret, ["HS256"], audience="/admin/")["iat"]
        for h in sent
    ]
    assert issued == [now - 200, now]


def test_a_lost_draft_answer_is_found_by_the_filtered_list(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "ghost")
    task = content({**account, "options": {**account["options"], "timeout_seconds": 0.5}})
    sandbox.client.add_fault(
        "ghost", "crash_after_commit", account=account["name"], on="draft", times=1,
        hang_seconds=3,
    )  # fmt: skip
    first = RecordingContext()
    with pytest.raises(Transient):
        publish(task, "ghost", first)
    assert "draft_id" not in first.checkpoints

    result = publish(task, "ghost", RecordingContext(first.checkpoints))

    [post] = posts_of(sandbox, "ghost", account)
    assert post["id"] == result.post_id and post["status"] == "published"
    assert httpx.get(result.url or "", timeout=10).status_code == 200
