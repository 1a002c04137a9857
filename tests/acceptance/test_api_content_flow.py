"""The API as a client uses it: a publish that breaks an account's platform rules is a 422
naming the account and the rule, and creates nothing; the preview says what each adapter will
do; images are stored with an article as its attachments, and then pass the rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.acceptance.conftest import ServedApi, serve_api
from tests.platforms.conftest import png

V1 = "/api/v1"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    with serve_api("postgresql", tmp_path_factory.mktemp("content-flow")) as served:
        yield served


def account(client: httpx.Client, platform: str, credentials: dict[str, str]) -> int:
    name = f"{platform}-{uuid.uuid4().hex[:6]}"
    answer = client.post(
        f"{V1}/accounts", json={"platform": platform, "name": name, "credentials": credentials}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_platform_rules_are_checked_before_queueing(api: ServedApi) -> None:
    client, _ = api.client()
    wechat = account(client, "wechat", {"appid": "wx1", "secret": "s3cret"})
    devto = account(client, "devto", {"api_key": "k3y"})
    body = "A body with words enough for any summary a platform asks for.\n\n![x](img/a.png)\n"
    article = client.post(f"{V1}/articles", json={"title": "Hi", "body": body}).json()["id"]

    refused = client.post(f"{V1}/publish", json={"article_id": article, "account_ids": [devto]})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "account_ids"
    assert error["message"].startswith("account devto-")
    assert "image img/a.png is neither a web address nor an image stored" in error["message"]
    assert client.get(f"{V1}/tasks").json()["items"] == []

    image = png(3, 3)
    stored = client.put(
        f"{V1}/articles/{article}/attachments", params={"name": "img/a.png"}, content=image
    )
    assert stored.status_code == 200, stored.text
    assert stored.json() == [{"name": "img/a.png", "content_type": "image/png", "size": len(image)}]
    wrong = client.put(
        f"{V1}/articles/{article}/attachments", params={"name": "b.png"}, content=b"not an image"
    )
    assert wrong.status_code == 422 and "not a PNG" in wrong.text

    preview = client.post(
        f"{V1}/publish/preview", json={"article_id": article, "account_ids": [wechat, devto]}
    )
    assert preview.status_code == 200, preview.text
    by_platform = {a["platform"]: a for a in preview.json()["accounts"]}
    assert by_platform["wechat"]["ok"]
    assert by_platform["wechat"]["notes"] == ["wechat cover: the body's first image, img/a.png"]
    assert not by_platform["devto"]["ok"]
    assert "devto cannot host images" in by_platform["devto"]["problems"][0]

    published = client.post(f"{V1}/publish", json={"article_id": article, "account_ids": [wechat]})
    assert published.status_code == 201, published.text
    assert published.json()["notes"][0].endswith("cover: the body's first image, img/a.png")
    assert published.json()["tasks"][0]["updates"] is None
