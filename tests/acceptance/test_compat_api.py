"""The old TOP_N endpoints, switched on with CONTENTHUB_COMPAT_API: the requests of its report
(seeds/002) sent verbatim to a real ``contenthub serve`` whose workers publish to the Zhihu
sandbox, every field of the answers checked. One sandbox and one server serve the module;
each test is its own user."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from harness import wait_until

from contenthub import storage
from contenthub.platforms import outbound
from contenthub.sandbox.server import SandboxServer
from contenthub.services.compat import CANCELLED_MESSAGE
from tests.acceptance.conftest import ServedApi, serve_api

QUEUED = "发布任务已创建，正在后台处理"
OLD_STATUSES = {"pending", "queued", "running", "success", "failed"}
TASK_FIELDS = {"task_id", "status", "progress", "article_title", "result_url", "error_message"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PASSWORD = "correct horse battery"  # the one ServedApi.client gives its users

# The seeds' request examples, as the report shows them.
SEED_PUBLISH = {"title": "文章标题", "content": "文章内容", "article_id": 123}
SEED_BATCH = {
    "articles": [
        {"title": "文章1", "content": "内容1", "article_id": 1},
        {"title": "文章2", "content": "内容2", "article_id": 2},
    ]
}


class Old:
    """The compat server, the sandbox behind it, and one user's zhihu accounts."""

    def __init__(self, api: ServedApi, sandbox: SandboxServer) -> None:
        self.api, self.sandbox = api, sandbox
        self.user_id = 0  # the user last made by ``user``

    def user(self, **account: Any) -> tuple[httpx.Client, int]:
        """A new user with one Zhihu account on the sandbox (settings in ``account``)."""
        client, self.user_id = self.api.client()
        return client, self.zhihu_account(client, **account)

    def user_name(self, user_id: int) -> str:
        return self.api.db.read(lambda s: storage.user_by_id(s, user_id).name)

    def zhihu_account(self, client: httpx.Client, **settings: Any) -> int:
        name = f"zh-{uuid.uuid4().hex[:8]}"
        described = self.sandbox.account("zhihu", name)
        answer = client.post(
            "/api/v1/accounts",
            json={
                "platform": "zhihu",
                "name": name,
                "options": described["options"],
                "credentials": described["credentials"],
                **settings,
            },
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def finished(self, client: httpx.Client, task_id: str) -> dict[str, Any]:
        """Polls the old task endpoint, as the old front end did, until the task ends."""
        seen: set[str] = set()

        def ended() -> dict[str, Any] | None:
            answer = client.get(f"/api/publish_task/{task_id}")
            assert answer.status_code == 200, answer.text
            task = answer.json()["task"]
            seen.add(task["status"])
            return task if task["status"] in ("success", "failed") else None

        task = wait_until(ended, timeout=60, what=f"task {task_id} to end")
        assert seen <= OLD_STATUSES, seen
        return task


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Old]:
    with SandboxServer() as sandbox, outbound.allowing(sandbox.url.removeprefix("http://")):
        extra = {
            "CONTENTHUB_COMPAT_API": "1",
            outbound.ALLOW_SETTING: sandbox.url.removeprefix("http://"),
        }
        with serve_api("sqlite", tmp_path_factory.mktemp("compat"), extra) as api:
            yield Old(api, sandbox)


def refused(answer: httpx.Response, status: int, *words: str) -> None:
    """The old shape of a refusal, with the API's status code and a message naming why."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"success", "error", "message"} and body["success"] is False
    assert body["error"] == body["message"]
    for word in words:
        assert word in body["message"], body


def test_publish_zhihu_as_the_seeds_show_and_the_task_polled_to_success(old: Old) -> None:
    client, account_id = old.user()
    answer = client.post("/api/publish_zhihu", json=SEED_PUBLISH)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"success", "task_id", "status", "message"}
    assert body["success"] is True and body["status"] == "queued" and body["message"] == QUEUED
    assert UUID.match(body["task_id"])

    task = old.finished(client, body["task_id"])
    assert set(task) == TASK_FIELDS
    assert task["task_id"] == body["task_id"] and task["status"] == "success"
    assert task["progress"] == 100 and task["article_title"] == "文章标题"
    assert task["error_message"] is None
    assert task["result_url"].startswith(old.sandbox.url)
    page = httpx.get(task["result_url"], timeout=10, follow_redirects=True)
    assert page.status_code == 200 and "文章内容" in page.text
    # The caller's article_id is kept: the stored article is found by it, on the account.
    [article] = client.get("/api/v1/articles").json()["items"]
    assert article["external_ref"] == "123" and article["title"] == "文章标题"
    ours = client.get(f"/api/v1/tasks/{body['task_id']}").json()
    assert ours["account_id"] == account_id and ours["article_id"] == article["id"]

    # Sent again, it is the same article, already published there: its post is updated in
    # place (the same URL), nothing else stored; "republish": true asks for a second post.
    update = client.post("/api/publish_zhihu", json={**SEED_PUBLISH, "content": "新的内容"})
    assert update.status_code == 200 and update.json()["status"] == "queued", update.text
    updated = old.finished(client, update.json()["task_id"])
    assert updated["status"] == "success" and updated["result_url"] == task["result_url"]
    ours = client.get(f"/api/v1/tasks/{update.json()['task_id']}").json()
    assert ours["outcome"] == "updated" and ours["article_id"] == article["id"]
    page = httpx.get(task["result_url"], timeout=10, follow_redirects=True)
    assert "新的内容" in page.text
    again = client.post("/api/publish_zhihu", json={**SEED_PUBLISH, "republish": True})
    assert again.status_code == 200 and again.json()["status"] == "queued", again.text
    assert client.get("/api/v1/articles").json()["total"] == 1
    second = client.get(f"/api/v1/tasks/{again.json()['task_id']}").json()
    assert second["article_id"] == article["id"]
    final = old.finished(client, again.json()["task_id"])
    assert final["status"] == "success" and final["result_url"] != task["result_url"]


def test_the_seeds_batch_and_a_batch_that_partly_fails(old: Old) -> None:
    client, _ = old.user()
    answer = client.post("/api/publish_zhihu_batch", json=SEED_BATCH)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"success", "total", "success_count", "failed_count", "results"}
    assert (body["success"], body["total"], body["success_count"], body["failed_count"]) == (
        True,
        2,
        2,
        0,
    )
    for line, given in zip(body["results"], SEED_BATCH["articles"], strict=True):
        assert set(line) == {"article_id", "title", "success", "task_id", "status", "message"}
        assert line["article_id"] == given["article_id"] and line["title"] == given["title"]
        assert line["success"] is True and line["status"] == "queued"
        assert line["message"] == QUEUED and UUID.match(line["task_id"])
    for line in body["results"]:
        assert old.finished(client, line["task_id"])["status"] == "success"

    # One item without content, one to publish, one already published (its post updated):
    # each its own line.
    mixed = {
        "articles": [
            {"title": "没有内容", "article_id": 3},
            {"title": "文章4", "content": "内容4", "article_id": 4},
            SEED_BATCH["articles"][0],
        ]
    }
    answer = client.post("/api/publish_zhihu_batch", json=mixed)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["success"], body["total"], body["success_count"], body["failed_count"]) == (
        True,
        3,
        2,
        1,
    )
    missing, queued, twice = body["results"]
    assert set(missing) == {"article_id", "title", "success", "error", "message"}
    assert missing["success"] is False and "content" in missing["error"]
    assert missing["article_id"] == 3 and missing["title"] == "没有内容"
    assert queued["success"] is True and queued["status"] == "queued"
    assert twice["success"] is True and twice["status"] == "queued"
    titles = [t["article_title"] for t in client.get("/api/publish_tasks").json()["tasks"]]
    assert sorted(titles) == ["文章1", "文章1", "文章2", "文章4"]


def test_status_names_cancel_retry_and_the_task_list_in_the_old_words(old: Old) -> None:
    # A day between two publishes on the account: the second waits, to be cancelled.
    client, account_id = old.user(min_interval_seconds=86_400)
    first = client.post("/api/publish_zhihu", json={"title": "先发", "content": "第一篇"})
    assert old.finished(client, first.json()["task_id"])["status"] == "success"
    waiting = client.post("/api/publish_zhihu", json={"title": "后发", "content": "第二篇"})
    task_id = waiting.json()["task_id"]

    cancelled = client.post(f"/api/publish_task/{task_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {
        "success": True,
        "message": CANCELLED_MESSAGE,
        "task": {
            "task_id": task_id,
            "status": "failed",
            "progress": 0,
            "article_title": "后发",
            "result_url": None,
            "error_message": CANCELLED_MESSAGE,
        },
    }
    refused(client.post(f"/api/publish_task/{task_id}/cancel"), 422, "cancelled")
    # Another user's task is not there for anyone else, whichever endpoint asks.
    stranger, _ = old.api.client()
    refused(stranger.get(f"/api/publish_task/{task_id}"), 404, task_id)
    refused(stranger.post(f"/api/publish_task/{task_id}/retry"), 404, task_id)
    assert stranger.get("/api/publish_tasks").json()["tasks"] == []
    retried = client.post(f"/api/publish_task/{task_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["message"] == "任务已重新入队"
    assert retried.json()["task"]["status"] == "queued"
    assert retried.json()["task"]["error_message"] is None

    # Scheduled through /api/v1, it reads as the old system's "pending".
    later = client.post("/api/v1/articles", json={"title": "定时", "body": "稍后"}).json()
    scheduled = client.post(
        "/api/v1/publish",
        json={
            "article_id": later["id"],
            "account_ids": [account_id],
            "scheduled_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    ).json()["tasks"][0]["id"]
    assert client.get(f"/api/publish_task/{scheduled}").json()["task"]["status"] == "pending"

    listed = client.get("/api/publish_tasks").json()
    assert set(listed) == {"success", "total", "tasks"} and listed["success"] is True
    assert listed["total"] == 3 and all(set(t) == TASK_FIELDS for t in listed["tasks"])
    assert [t["status"] for t in listed["tasks"]] == ["pending", "queued", "success"]
    only = client.get("/api/publish_tasks", params={"status": "success"}).json()["tasks"]
    assert [t["article_title"] for t in only] == ["先发"]
    refused(client.get("/api/publish_tasks", params={"status": "done"}), 422, "status")
    refused(client.get("/api/publish_task/no-such-task"), 404, "no-such-task")


def test_the_login_session_serves_an_old_front_end_and_the_default_account(old: Old) -> None:
    client, _ = old.user()
    name = old.user_name(old.user_id)
    second_id = old.zhihu_account(client)
    anonymous = httpx.Client(base_url=old.api.base_url, timeout=30)
    refused(anonymous.post("/api/publish_zhihu", json=SEED_PUBLISH), 401)
    refused(anonymous.get("/api/publish_tasks"), 401)

    # Signed in on the dashboard, as a person at the old front end was.
    browser = httpx.Client(base_url=old.api.base_url, timeout=30)
    form = browser.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    signed = browser.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf[1]})
    assert signed.status_code == 303, signed.text

    # Two Zhihu accounts and none the default: which one is the user's to say.
    refused(browser.post("/api/publish_zhihu", json=SEED_PUBLISH), 422, "default")
    assert client.patch(f"/api/v1/accounts/{second_id}", json={"is_default": True}).is_success
    answer = browser.post("/api/publish_zhihu", json=SEED_PUBLISH)
    assert answer.status_code == 200 and answer.json()["message"] == QUEUED, answer.text
    task = client.get(f"/api/v1/tasks/{answer.json()['task_id']}").json()
    assert task["account_id"] == second_id
    listed = browser.get("/api/publish_tasks").json()["tasks"]
    assert [t["task_id"] for t in listed] == [answer.json()["task_id"]]

    # Another site's page cannot use the cookie to change anything.
    foreign = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    forged = browser.post(f"/api/publish_task/{answer.json()['task_id']}/cancel", headers=foreign)
    refused(forged, 403, "another site")
    assert client.get(f"/api/v1/tasks/{task['id']}").json()["status"] != "cancelled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "标题", "content": "内容", "article_id": "12\x003"}, "article_id"),
        ({"title": "标\x00题", "content": "内容"}, "title"),
        ({"title": "标题", "content": "内容", "article_id": 1.5}, "article_id"),
        ({"title": "标题", "content": "内容", "article_id": 10**70}, "article_id"),
        ({"title": "标题", "content": "内容", "article_id": "x" * 65}, "article_id"),
        ({"title": "", "content": "内容"}, "title"),
        ({"content": "内容"}, "title"),
        (["not", "an", "object"], ""),
    ],
)
def test_bad_input_is_a_422_in_the_old_shape_naming_the_field(
    old: Old, body: Any, field: str
) -> None:
    client, _ = old.user()
    refused(client.post("/api/publish_zhihu", json=body), 422, field)
    refused(client.post("/api/publish_zhihu_batch", json={"articles": "none"}), 422, "articles")
    assert client.get("/api/v1/articles").json()["total"] == 0
    assert client.get("/api/publish_tasks").json()["total"] == 0


def test_a_running_task_cancelled_stops_at_its_next_step_and_reads_failed(old: Old) -> None:
    client, _ = old.user()
    [account] = client.get("/api/v1/accounts").json()
    # Every request of this account to Zhihu takes a second: the publish is caught running.
    old.sandbox.client.add_fault(
        "zhihu", "latency", account=account["name"], min_ms=1000, max_ms=1000
    )
    try:
        task_id = client.post("/api/publish_zhihu", json=SEED_PUBLISH).json()["task_id"]
        wait_until(
            lambda: (
                client.get(f"/api/publish_task/{task_id}").json()["task"]["status"] == "running"
            ),
            timeout=30,
            what="the publish to start",
        )
        answer = client.post(f"/api/publish_task/{task_id}/cancel")
        assert answer.status_code == 200, answer.text
        assert answer.json()["message"] == "任务将在当前步骤结束后取消"
        assert answer.json()["task"]["status"] == "running"
        ended = old.finished(client, task_id)
    finally:
        old.sandbox.client.clear_faults()
    assert (ended["status"], ended["error_message"]) == ("failed", CANCELLED_MESSAGE)
    assert ended["result_url"] is None


def test_an_idempotency_key_gives_the_first_answer_again(old: Old) -> None:
    client, _ = old.user()
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    body = {"title": "只发一次", "content": "内容", "article_id": "ext-1"}
    first = client.post("/api/publish_zhihu", json=body, headers=key)
    again = client.post("/api/publish_zhihu", json=body, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and first.json()["status"] == "queued"
    refused(client.post("/api/publish_zhihu", json={**body, "title": "改"}, headers=key), 422)
    # A batch's key applies to each item: sent again, every line is its first answer.
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    batch = {"articles": [{**body, "article_id": "ext-2"}, {**body, "article_id": "ext-3"}]}
    lines = client.post("/api/publish_zhihu_batch", json=batch, headers=key).json()["results"]
    replayed = client.post("/api/publish_zhihu_batch", json=batch, headers=key).json()["results"]
    assert all(line["success"] for line in lines) and replayed == lines
    assert client.get("/api/publish_tasks").json()["total"] == 3
