"""CSDN's own rules: every bizapi call carries a valid API-gateway signature."""

from __future__ import annotations

import uuid

import httpx

from contenthub.platforms.csdn import APP_KEY, APP_SECRET, gateway_signature
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import new_account

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
    article = {"title": "Five or more", "markdowncontent": "body", "status": 2}

    def save(secret: str) -> httpx.Response:
        signature = gateway_signature(secret, "POST", "application/json", signed, PATH)
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
