"""The REST API through real HTTP against a running ``contenthub serve``."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from harness import wait_until

from tests.acceptance.conftest import ServedApi

V1 = "/api/v1"
NEXT_YEAR = datetime.now(UTC).year + 1  # scheduled times stay within two years


def article(client: httpx.Client, title: str = "Hello", body: str = "Body **text**") -> int:
    answer = client.post(f"{V1}/articles", json={"title": title, "body": body, "tags": ["t"]})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def finished(client: httpx.Client, task_id: str) -> dict[str, Any] | None:
    task = client.get(f"{V1}/tasks/{task_id}").json()
    return task if task["status"] in ("succeeded", "failed", "cancelled") else None


def assert_error(answer: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert error["field"] == field, error


def test_health_readiness_and_auth(api: ServedApi) -> None:
    assert httpx.get(f"{api.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{api.base_url}/readyz").json() == {"status": "ready"}
    anonymous = httpx.get(f"{api.base_url}{V1}/tasks")
    assert_error(anonymous, 401, "unauthenticated")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    forged = httpx.get(f"{api.base_url}{V1}/tasks", headers={"Authorization": "Bearer chub_x"})
    assert_error(forged, 401, "unauthenticated")


def test_tokens_are_shown_once_and_can_be_revoked(api: ServedApi) -> None:
    client, _ = api.client()
    created = client.post(f"{V1}/tokens", json={"name": "ci"}).json()
    assert created["token"].startswith("chub_")
    listed = client.get(f"{V1}/tokens").json()
    assert all("token" not in t for t in listed)
    other = httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert other.get(f"{V1}/articles").status_code == 200
    assert client.delete(f"{V1}/tokens/{created['id']}").status_code == 204
    assert other.get(f"{V1}/articles").status_code == 401


def test_article_crud_and_paging(api: ServedApi) -> None:
    client, _ = api.client()
    ids = [article(client, f"A{i}") for i in range(3)]
    page = client.get(f"{V1}/articles", params={"limit": 2}).json()
    assert page["total"] == 3 and [a["id"] for a in page["items"]] == ids[::-1][:2]
    changed = client.patch(f"{V1}/articles/{ids[0]}", json={"title": "New", "tags": []}).json()
    assert changed["title"] == "New" and changed["tags"] == [] and changed["body"]
    assert client.delete(f"{V1}/articles/{ids[0]}").status_code == 204
    assert_error(client.get(f"{V1}/articles/{ids[0]}"), 404, "not_found")


def test_accounts_never_give_their_secrets_back(api: ServedApi) -> None:
    client, _ = api.client()
    account_id = api.noop_account(client)
    for answer in (
        client.get(f"{V1}/accounts"),
        client.get(f"{V1}/accounts/{account_id}"),
        client.patch(f"{V1}/accounts/{account_id}", json={"min_interval_seconds": 2}),
    ):
        assert answer.status_code == 200
        assert "SECRET-API-KEY-123" not in answer.text and "credentials" not in answer.json()
    assert client.get(f"{V1}/accounts/{account_id}").json()["has_credentials"] is True
    assert_error(
        client.post(f"{V1}/accounts", json={"platform": "myspace", "name": "x"}),
        422,
        "invalid",
        "platform",
    )


def test_publish_runs_to_success_from_a_snapshot(api: ServedApi) -> None:
    client, _ = api.client()
    article_id = article(client, "Snapshot")
    accounts = [api.noop_account(client), api.noop_account(client)]
    answer = client.post(
        f"{V1}/publish", json={"article_id": article_id, "account_ids": accounts, "priority": 2}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["batch_id"] and len(body["tasks"]) == 2
    assert {t["status"] for t in body["tasks"]} == {"queued"}
    client.patch(f"{V1}/articles/{article_id}", json={"title": "Edited later"})
    for task in body["tasks"]:
        done = wait_until(lambda t=task: finished(client, t["id"]), timeout=30, what="publish")
        assert done["status"] == "succeeded" and done["title"] == "Snapshot"
        assert done["result_url"] == f"noop://{task['id']}"
    listed = client.get(f"{V1}/tasks", params={"batch_id": body["batch_id"]}).json()
    assert len(listed["items"]) == 2


def test_the_listing_shows_each_task_as_its_page_does(api: ServedApi) -> None:
    """Every field a listing shows is the task's own: a succeeded task's outcome, a failed
    one's error, a waiting one's schedule (the listing once showed ``outcome`` as null)."""
    client, _ = api.client()
    article_id = article(client, "Listed 标题")
    good, bad = api.noop_account(client), api.noop_account(client, fail="rejected")
    tasks = client.post(
        f"{V1}/publish", json={"article_id": article_id, "account_ids": [good, bad]}
    ).json()["tasks"]
    for task in tasks:
        wait_until(lambda t=task: finished(client, t["id"]), timeout=30, what="publish")
    later = client.post(
        f"{V1}/publish",
        json={
            "article_id": article_id,
            "account_ids": [good],
            "scheduled_at": f"{NEXT_YEAR}-01-01T12:00:00.123456Z",
            "republish": True,
        },
    ).json()["tasks"]
    detail_only = {"events", "screenshots"}
    listed = client.get(f"{V1}/tasks").json()
    assert [t["id"] for t in listed["items"]] == [t["id"] for t in [*later, *tasks[::-1]]]
    for item in listed["items"]:
        detail = client.get(f"{V1}/tasks/{item['id']}").json()
        assert item == {k: v for k, v in detail.items() if k not in detail_only}
    by_id = {t["id"]: t for t in listed["items"]}
    assert by_id[tasks[0]["id"]]["outcome"] == "published"
    assert by_id[tasks[1]["id"]]["error_class"] == "rejected"
    assert by_id[later[0]["id"]]["due_at"] == f"{NEXT_YEAR}-01-01T12:00:00.123456Z"
    # Paging and filters combined: each combination is its own statement, built once.
    outcomes = {"status": ["succeeded", "failed"]}
    first = client.get(f"{V1}/tasks", params={**outcomes, "limit": 1}).json()
    assert [t["id"] for t in first["items"]] == [tasks[1]["id"]]
    rest = client.get(
        f"{V1}/tasks", params={**outcomes, "limit": 5, "before": first["next_before"]}
    ).json()
    assert [t["id"] for t in rest["items"]] == [tasks[0]["id"]] and rest["next_before"] is None
    scheduled = client.get(f"{V1}/tasks", params={"status": "scheduled", "account_id": good})
    assert [t["id"] for t in scheduled.json()["items"]] == [later[0]["id"]]


def test_a_task_held_on_its_account_says_why_and_what_fixes_it(api: ServedApi) -> None:
    client, _ = api.client()
    account = api.noop_account(client)
    name = client.get(f"{V1}/accounts/{account}").json()["name"]
    marked = client.patch(f"{V1}/accounts/{account}", json={"status": "needs_login"})
    assert marked.status_code == 200, marked.text
    answer = client.post(
        f"{V1}/publish", json={"article_id": article(client), "account_ids": [account]}
    )
    [task] = answer.json()["tasks"]
    held = client.get(f"{V1}/tasks/{task['id']}").json()
    assert held["status"] == "queued"
    assert held["held"] == {
        "account": name,
        "status": "needs_login",
        "reason": "marked as needing a login",
        "fix": f"contenthub account login {name}",
    }
    client.patch(f"{V1}/accounts/{account}", json={"status": "active"})
    done = wait_until(lambda: finished(client, task["id"]), timeout=30, what="the publish")
    assert done["status"] == "succeeded" and done["held"] is None


def test_schedule_cancel_retry_and_batches(api: ServedApi) -> None:
    client, _ = api.client()
    article_id = article(client)
    account = api.noop_account(client)
    later = client.post(
        f"{V1}/publish",
        json={
            "article_id": article_id,
            "account_ids": [account],
            "scheduled_at": f"{NEXT_YEAR}-01-01T00:00:00+08:00",
        },
    ).json()["tasks"][0]
    assert later["status"] == "scheduled" and later["due_at"].startswith(
        f"{NEXT_YEAR - 1}-12-31T16:00"
    )
    assert client.post(f"{V1}/tasks/{later['id']}/cancel").json()["status"] == "cancelled"
    assert_error(client.post(f"{V1}/tasks/{later['id']}/cancel"), 422, "invalid", "status")
    # Its time is still ahead: a retry puts it back to wait for that time, not out at once.
    retried = client.post(f"{V1}/tasks/{later['id']}/retry").json()
    assert retried["status"] == "scheduled" and retried["due_at"] == later["due_at"]
    detail = client.get(f"{V1}/tasks/{later['id']}").json()
    assert detail["events"][-1]["reason"] == "rescheduled"
    assert f"still scheduled for {NEXT_YEAR - 1}-12-31T16:00" in detail["events"][-1]["message"]

    broken = api.noop_account(client, fail="rejected")
    batch = client.post(
        f"{V1}/publish/batch",
        json={
            "items": [
                {"article_id": article_id, "account_ids": [broken]},
                {"article_id": article(client, "Second"), "account_ids": [broken]},
            ]
        },
    ).json()
    for task in batch["tasks"]:
        done = wait_until(lambda t=task: finished(client, t["id"]), timeout=30, what="failure")
        assert done["status"] == "failed" and done["error_class"] == "rejected"
    bulk = client.post(f"{V1}/tasks/batches/{batch['batch_id']}/retry").json()
    assert sorted(bulk["changed"]) == sorted(t["id"] for t in batch["tasks"])
    detail = client.get(f"{V1}/tasks/{batch['tasks'][0]['id']}").json()
    statuses = [e["to_status"] for e in detail["events"] if e["kind"] == "status"]
    assert statuses[:4] == ["queued", "running", "failed", "queued"]  # failed, then retried


def test_other_users_get_404_for_everything(api: ServedApi) -> None:
    owner, _ = api.client()
    stranger, _ = api.client()
    article_id = article(owner)
    account = api.noop_account(owner, sleep_ms=3000)
    task = owner.post(
        f"{V1}/publish", json={"article_id": article_id, "account_ids": [account]}
    ).json()["tasks"][0]
    batch = owner.post(
        f"{V1}/publish",
        json={"article_id": article_id, "account_ids": [account, account], "republish": True},
    ).json()
    for method, path, payload in [
        ("GET", f"/articles/{article_id}", None),
        ("PATCH", f"/articles/{article_id}", {"title": "x"}),
        ("DELETE", f"/articles/{article_id}", None),
        ("GET", f"/accounts/{account}", None),
        ("PATCH", f"/accounts/{account}", {"name": "x"}),
        ("DELETE", f"/accounts/{account}", None),
        ("POST", f"/accounts/{account}/check", None),
        ("GET", f"/tasks/{task['id']}", None),
        ("POST", f"/tasks/{task['id']}/cancel", None),
        ("POST", f"/tasks/{task['id']}/retry", None),
        ("POST", f"/tasks/batches/{batch['batch_id']}/cancel", None),
        ("POST", f"/tasks/batches/{batch['batch_id']}/retry", None),
    ]:
        answer = stranger.request(method, V1 + path, json=payload)
        assert_error(answer, 404, "not_found")
    for payload, field in [
        (
            {"article_id": article_id, "account_ids": [api.noop_account(stranger)]},
            "article_id",
        ),
        ({"article_id": article(stranger), "account_ids": [account]}, "account_ids"),
    ]:
        assert_error(stranger.post(f"{V1}/publish", json=payload), 422, "invalid", field)
    assert stranger.get(f"{V1}/tasks").json()["items"] == []
    assert owner.get(f"{V1}/tasks/{task['id']}").json()["status"] in ("queued", "running")


def test_bad_input_names_the_field_and_is_never_a_500(api: ServedApi) -> None:
    client, _ = api.client()
    article_id = article(client)
    account = api.noop_account(client)
    cases = [
        ({"article_id": article_id, "account_ids": [account], "priority": 11}, "priority"),
        ({"article_id": article_id, "account_ids": [account], "priority": 0}, "priority"),
        ({"article_id": article_id, "account_ids": []}, "account_ids"),
        (
            {"article_id": article_id, "account_ids": [account], "scheduled_at": "tomorrow"},
            "scheduled_at",
        ),
        (
            {
                "article_id": article_id,
                "account_ids": [account],
                "scheduled_at": "2030-01-01T00:00:00",
            },
            "scheduled_at",
        ),
        ({"article_id": article_id, "account_ids": [account], "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        assert_error(client.post(f"{V1}/publish", json=payload), 422, "invalid", field)
    garbage = client.post(
        f"{V1}/publish", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 422
    assert_error(
        client.post(f"{V1}/articles", json={"title": "", "body": "x"}), 422, "invalid", "title"
    )
    assert client.get(f"{V1}/tasks").json()["items"] == []


def test_submission_limit_answers_429_and_creates_nothing(api: ServedApi) -> None:
    client, _ = api.client()
    article_id = article(client)
    accounts = [api.noop_account(client) for _ in range(10)]
    for _ in range(2):
        request = {"article_id": article_id, "account_ids": accounts, "republish": True}
        ok = client.post(f"{V1}/publish", json=request)
        assert ok.status_code == 201
    over = client.post(
        f"{V1}/publish", json={"article_id": article_id, "account_ids": accounts[:1]}
    )
    assert_error(over, 429, "rate_limited")
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    listed = client.get(f"{V1}/tasks", params={"limit": 200}).json()["items"]
    assert len(listed) == 20


def test_idempotency_key_replays_the_same_tasks(api: ServedApi) -> None:
    client, _ = api.client()
    payload = {"article_id": article(client), "account_ids": [api.noop_account(client)]}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post(f"{V1}/publish", json=payload, headers=key)
    again = client.post(f"{V1}/publish", json=payload, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["tasks"][0]["id"] == again.json()["tasks"][0]["id"]
    assert len(client.get(f"{V1}/tasks").json()["items"]) == 1
    changed = client.post(f"{V1}/publish", json={**payload, "priority": 1}, headers=key)
    assert_error(changed, 422, "invalid", "Idempotency-Key")


class EventReader:
    """Reads an SSE stream on a thread, collecting parsed messages."""

    def __init__(self, client: httpx.Client, headers: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(client, headers or {}), daemon=True)
        self._thread.start()
        assert self._open.wait(10), "the event stream did not open"

    def _run(self, client: httpx.Client, headers: dict[str, str]) -> None:
        with client.stream("GET", f"{V1}/events", headers=headers, timeout=60) as stream:
            self._open.set()
            event_id = None
            for line in stream.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    self.events.append({**json.loads(line[6:]), "sse_id": event_id})

    def close(self) -> None:
        self._stop.set()


def test_event_stream_delivers_a_lifecycle_in_order_and_resumes(api: ServedApi) -> None:
    client, _ = api.client()
    article_id = article(client)
    account = api.noop_account(client)
    reader = EventReader(client)
    try:
        task = client.post(
            f"{V1}/publish", json={"article_id": article_id, "account_ids": [account]}
        ).json()["tasks"][0]

        def lifecycle() -> list[dict[str, Any]] | None:
            mine = [e for e in reader.events if e["task_id"] == task["id"]]
            return mine if any(e["to_status"] == "succeeded" for e in mine) else None

        events = wait_until(lifecycle, timeout=30, what="the task's events on the stream")
    finally:
        reader.close()
    statuses = [e["to_status"] for e in events if e["kind"] == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    assert [e["progress"] for e in events if e["kind"] == "progress"] == [50, 90]
    assert [e["sse_id"] for e in events] == sorted(e["sse_id"] for e in events)
    running = next(e for e in events if e["to_status"] == "running")
    resumed = EventReader(client, {"Last-Event-ID": str(running["sse_id"])})
    try:
        rest = wait_until(
            lambda: (
                [e for e in resumed.events if e["task_id"] == task["id"]]
                if any(e["to_status"] == "succeeded" for e in resumed.events)
                else None
            ),
            timeout=30,
            what="the resumed stream",
        )
    finally:
        resumed.close()
    assert [e["sse_id"] for e in rest] == [
        e["sse_id"] for e in events if e["sse_id"] > running["sse_id"]
    ]


def test_metrics_and_logs_carry_no_secrets(api: ServedApi) -> None:
    client, _ = api.client()
    account = api.noop_account(client)
    task = client.post(
        f"{V1}/publish", json={"article_id": article(client), "account_ids": [account]}
    ).json()["tasks"][0]
    wait_until(lambda: finished(client, task["id"]), timeout=30, what="the publish")
    metrics = httpx.get(f"{api.base_url}/metrics").text
    assert "contenthub_tasks{" in metrics and "contenthub_queue_depth" in metrics
    assert 'contenthub_api_request_seconds_count{method="POST",route="/api/v1/accounts"}' in metrics
    assert "SECRET-API-KEY-123" not in api.log.read_text()
    assert "correct horse battery" not in api.log.read_text()
