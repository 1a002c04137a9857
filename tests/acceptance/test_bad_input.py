"""Bad input through the real API on all three databases: a 4xx naming what is wrong, never a
5xx, nothing half-written; and one live publish of an article per account."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from contenthub.services.articles import MAX_BODY_BYTES
from tests.acceptance.conftest import ServedApi, serve_api

V1 = "/api/v1"
HOSTILE = ["a\x00b", "x\x1by", "\x7f", "tab\there", "\u0085"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApi]:
    with serve_api(request.param, tmp_path_factory.mktemp(f"bad-{request.param}")) as served:
        yield served


def assert_error(answer: httpx.Response, status: int, field: str | None) -> None:
    assert answer.status_code == status, f"{answer.request.url}: {answer.status_code} {answer.text}"
    assert answer.json()["error"]["field"] == field, answer.text


def article(client: httpx.Client, body: str = "text") -> int:
    answer = client.post(f"{V1}/articles", json={"title": "T", "body": body})
    assert answer.status_code == 201, answer.text[:300]
    return int(answer.json()["id"])


def task_count(client: httpx.Client) -> int:
    return len(client.get(f"{V1}/tasks", params={"limit": 200}).json()["items"])


def test_control_characters_in_paths_and_queries_are_422_naming_the_parameter(
    api: ServedApi,
) -> None:
    client, _ = api.client()
    for text in HOSTILE:
        assert_error(client.get(f"{V1}/tasks/{quote(text, safe='')}"), 422, "task_id")
        cancel = f"{V1}/tasks/batches/{quote(text, safe='')}/cancel"
        assert_error(client.post(cancel), 422, "batch_id")
        for name in ("batch_id", "before", "platform"):
            assert_error(client.get(f"{V1}/tasks", params={name: text}), 422, name)
    # The literal escape in a raw path is decoded first: %00 is NUL too.
    assert_error(client.get(f"{V1}/tasks/abc%00def"), 422, "task_id")
    assert_error(client.get(f"{V1}/tasks?before=%01"), 422, "before")
    # Ordinary Unicode is not refused: it is just not found.
    assert client.get(f"{V1}/tasks/{quote('标题😀')}").status_code == 404


def test_a_cron_line_that_never_fires_is_422_naming_cron(api: ServedApi) -> None:
    client, _ = api.client()
    for cron in ("0 0 30 2 *", "0 0 31 4 *"):
        answer = client.post(
            f"{V1}/scheduled-jobs",
            json={
                "name": "never",
                "job_type": "publishing",
                "schedule_type": "cron",
                "cron": cron,
            },
        )
        assert_error(answer, 422, "cron")
        assert "never fires" in answer.json()["error"]["message"]
    assert client.get(f"{V1}/scheduled-jobs").json() == []


def test_one_live_publish_per_article_and_account(api: ServedApi) -> None:
    client, _ = api.client()
    account, other = api.noop_account(client), api.noop_account(client)
    post = article(client)

    twice = client.post(f"{V1}/publish", json={"article_id": post, "account_ids": [account] * 2})
    assert_error(twice, 422, "account_ids")
    assert task_count(client) == 0

    first = client.post(f"{V1}/publish", json={"article_id": post, "account_ids": [account]})
    assert first.status_code == 201, first.text
    first_task = first.json()["tasks"][0]["id"]
    again = client.post(f"{V1}/publish", json={"article_id": post, "account_ids": [other, account]})
    assert_error(again, 409, "account_ids")
    assert first_task in again.json()["error"]["message"]
    assert task_count(client) == 1  # not even the task to the other account
    batch = client.post(
        f"{V1}/publish/batch",
        json={
            "items": [
                {"article_id": post, "account_ids": [other]},
                {"article_id": post, "account_ids": [account]},
            ]
        },
    )
    assert_error(batch, 409, "items[1].account_ids")

    asked = client.post(
        f"{V1}/publish", json={"article_id": post, "account_ids": [account], "republish": True}
    )
    assert asked.status_code == 201, asked.text
    assert task_count(client) == 2

    # A cancelled publish is not live: publishing again needs no flag.
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled = client.post(
        f"{V1}/publish", json={"article_id": post, "account_ids": [other], "scheduled_at": later}
    ).json()["tasks"][0]["id"]
    assert client.post(f"{V1}/tasks/{scheduled}/cancel").status_code == 200
    fresh = client.post(f"{V1}/publish", json={"article_id": post, "account_ids": [other]})
    assert fresh.status_code == 201, fresh.text


def test_two_racing_requests_publish_one_article_to_one_account_once(api: ServedApi) -> None:
    client, _ = api.client()
    account = api.noop_account(client)
    for _ in range(3):
        post = article(client)
        start = threading.Barrier(4)
        answers: list[int] = []

        def send(post: int, start: threading.Barrier, answers: list[int]) -> None:
            request = {"article_id": post, "account_ids": [account]}
            with httpx.Client(base_url=api.base_url, headers=client.headers, timeout=30) as own:
                start.wait()
                answers.append(own.post(f"{V1}/publish", json=request).status_code)

        threads = [threading.Thread(target=send, args=(post, start, answers)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [201, 409, 409, 409], answers
    assert task_count(client) == 3


def test_times_in_the_past_publish_now_and_far_future_is_refused(api: ServedApi) -> None:
    client, _ = api.client()
    account = api.noop_account(client)
    past = client.post(
        f"{V1}/publish",
        json={
            "article_id": article(client),
            "account_ids": [account],
            "scheduled_at": "2020-01-01T00:00:00Z",
        },
    )
    assert past.status_code == 201, past.text
    assert "is past: publishing now" in past.json()["notice"]
    assert past.json()["tasks"][0]["status"] != "scheduled"
    for when in ("9999-12-31T00:00:00Z", (datetime.now(UTC) + timedelta(days=800)).isoformat()):
        far = client.post(
            f"{V1}/publish",
            json={"article_id": article(client), "account_ids": [account], "scheduled_at": when},
        )
        assert_error(far, 422, "scheduled_at")
    assert task_count(client) == 1


def test_the_largest_article_is_stored_and_published_on_every_database(api: ServedApi) -> None:
    """The documented limit, in the text that grows most on its way into SQL (every quote is
    escaped), to several accounts at once: stored whole, never a 5xx."""
    client, _ = api.client()
    accounts = [api.noop_account(client) for _ in range(3)]
    body = "'" * (MAX_BODY_BYTES - 1) + "x"
    created = client.post(f"{V1}/articles", json={"title": "largest", "body": body})
    assert created.status_code == 201, created.text[:300]
    post = created.json()["id"]
    assert client.get(f"{V1}/articles/{post}").json()["body"] == body
    published = client.post(f"{V1}/publish", json={"article_id": post, "account_ids": accounts})
    assert published.status_code == 201, published.text[:300]
    over = client.post(f"{V1}/articles", json={"title": "over", "body": body + "x"})
    assert_error(over, 422, "body")
    huge = client.post(f"{V1}/articles", json={"title": "huge", "body": "x" * (25 * 10**6)})
    assert huge.status_code == 413, huge.text[:300]
    assert client.get(f"{V1}/articles").json()["total"] == 1
