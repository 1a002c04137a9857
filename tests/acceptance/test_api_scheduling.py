"""The publish pool, scheduled jobs and statistics through the real HTTP API of a running
``contenthub serve`` (its own workers and scheduler loop do the publishing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from harness import wait_until

from tests.acceptance.conftest import ServedApi

V1 = "/api/v1"


def article(client: httpx.Client) -> int:
    answer = client.post(f"{V1}/articles", json={"title": "Pooled", "body": "Hello pool"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def error_field(answer: httpx.Response) -> str | None:
    assert answer.status_code == 422, answer.text
    return answer.json()["error"]["field"]


def test_pool_entry_is_published_by_the_scheduled_publishing_job(api: ServedApi) -> None:
    client, _ = api.client()
    account = api.noop_account(client)
    entry = client.post(
        f"{V1}/publish-pool/add", json={"content_id": article(client), "priority": 1}
    )
    assert entry.status_code == 201, entry.text
    assert entry.json()["account_ids"] == [account]
    job = client.post(
        f"{V1}/scheduled-jobs",
        json={
            "name": "publish every second",
            "job_type": "publishing",
            "schedule_type": "interval",
            "interval_seconds": 1,
            "params": {"wait_seconds": 10},
        },
    )
    assert job.status_code == 201, job.text

    def published_run() -> dict[str, Any] | None:
        runs = client.get(f"{V1}/scheduled-jobs/{job.json()['id']}/history").json()
        for run in runs:
            results = (run["result"] or {}).get("data", {}).get("results", [])
            if any(r["status"] == "published" for r in results):
                return run
        return None

    run = wait_until(published_run, timeout=60, what="a run that published the entry")
    assert run["triggered_by"] == "schedule" and run["status"] == "succeeded"
    assert run["result"]["message"] == "Publishing completed: 1 succeeded, 0 failed"
    [item] = run["result"]["data"]["results"]
    assert item["pool_id"] == entry.json()["id"] and item["url"].startswith("noop://")
    assert client.get(f"{V1}/publish-pool/{entry.json()['id']}").json()["status"] == "published"
    stats = client.get(f"{V1}/publish-pool/stats").json()
    assert stats["total"] == 1 and stats["published"] == 1
    client.patch(f"{V1}/scheduled-jobs/{job.json()['id']}", json={"enabled": False})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": 11}, "priority"),
        ({"priority": 0}, "priority"),
        ({"scheduled_at": "next tuesday"}, "scheduled_at"),
        ({"scheduled_at": "2026-02-06T12:00:00"}, "scheduled_at"),  # no time zone
        ({"content_id": 2_000_000_000}, "content_id"),
        ({"account_ids": [2_000_000_000]}, "account_ids"),
    ],
)
def test_bad_pool_input_names_the_field(api: ServedApi, body: dict, field: str) -> None:
    client, _ = api.client()
    api.noop_account(client)
    answer = client.post(f"{V1}/publish-pool/add", json={"content_id": article(client), **body})
    assert error_field(answer) == field
    assert client.get(f"{V1}/publish-pool/stats").json()["total"] == 0


def test_pool_is_owner_scoped_and_entries_can_be_rescheduled_and_cancelled(api: ServedApi) -> None:
    client, _ = api.client()
    api.noop_account(client)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    entry = client.post(
        f"{V1}/publish-pool/add", json={"content_id": article(client), "scheduled_at": later}
    ).json()
    stranger, _ = api.client()
    assert stranger.get(f"{V1}/publish-pool/{entry['id']}").status_code == 404
    assert stranger.post(f"{V1}/publish-pool/{entry['id']}/cancel").status_code == 404
    assert stranger.get(f"{V1}/publish-pool/list").json()["total"] == 0
    moved = client.post(f"{V1}/publish-pool/{entry['id']}/reschedule", json={"priority": 2})
    assert moved.json()["priority"] == 2
    listed = client.get(f"{V1}/publish-pool/list", params={"status": "pending"}).json()
    assert [(e["id"], e["title"]) for e in listed["items"]] == [(entry["id"], "Pooled")]
    assert listed["items"][0]["content_id"] == entry["content_id"]
    assert client.post(f"{V1}/publish-pool/{entry['id']}/cancel").json()["status"] == "cancelled"
    again = client.post(f"{V1}/publish-pool/{entry['id']}/cancel")
    assert error_field(again) == "status"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "mining"}, "job_type"),
        ({"schedule_type": "cron", "cron": "99 * * * *"}, "cron"),
        ({"interval_seconds": -60}, "interval_seconds"),
        ({"schedule_type": "hourly"}, "schedule_type"),
        ({"params": {"max_items": "lots"}}, "params.max_items"),
        ({"job_type": "cleanup"}, "job_type"),  # admins only
    ],
)
def test_bad_job_input_names_the_field(api: ServedApi, body: dict, field: str) -> None:
    client, _ = api.client()
    job = {
        "name": "j",
        "job_type": "publishing",
        "schedule_type": "interval",
        "interval_seconds": 60,
        **body,
    }
    assert error_field(client.post(f"{V1}/scheduled-jobs", json=job)) == field
    assert client.get(f"{V1}/scheduled-jobs").json() == []


def test_trigger_history_and_scoping_of_jobs(api: ServedApi) -> None:
    client, _ = api.client()
    api.noop_account(client, fail="auth_expired")
    job = client.post(
        f"{V1}/scheduled-jobs",
        json={
            "name": "logins",
            "job_type": "account_check",
            "schedule_type": "cron",
            "cron": "0 3 * * *",
            "timezone": "Asia/Shanghai",
        },
    ).json()
    run = client.post(f"{V1}/scheduled-jobs/{job['id']}/trigger")
    assert run.status_code == 200, run.text
    assert run.json()["triggered_by"] == "manual"
    assert len(run.json()["result"]["data"]["needs_login"]) == 1
    history = client.get(f"{V1}/scheduled-jobs/{job['id']}/history").json()
    assert [h["id"] for h in history] == [run.json()["id"]]
    assert client.get(f"{V1}/accounts").json()[0]["status"] == "needs_login"
    stranger, _ = api.client()
    for call in (
        stranger.post(f"{V1}/scheduled-jobs/{job['id']}/trigger"),
        stranger.get(f"{V1}/scheduled-jobs/{job['id']}/history"),
        stranger.patch(f"{V1}/scheduled-jobs/{job['id']}", json={"enabled": False}),
        stranger.delete(f"{V1}/scheduled-jobs/{job['id']}"),
    ):
        assert call.status_code == 404
        assert call.json()["error"]["code"] == "not_found"
    assert client.delete(f"{V1}/scheduled-jobs/{job['id']}").status_code == 204


def test_statistics_per_platform_and_account(api: ServedApi) -> None:
    client, _ = api.client()
    account = api.noop_account(client)
    published = client.post(
        f"{V1}/publish", json={"article_id": article(client), "account_ids": [account]}
    )
    assert published.status_code == 201, published.text
    task_id = published.json()["tasks"][0]["id"]
    wait_until(
        lambda: client.get(f"{V1}/tasks/{task_id}").json()["status"] == "succeeded",
        timeout=30,
        what="the publish to finish",
    )
    report = client.get(f"{V1}/stats").json()
    assert report["overall"]["by_status"]["succeeded"] == 1
    assert report["overall"]["success_rate"] == 1.0
    assert report["overall"]["duration_p50_seconds"] is not None
    assert [p["platform"] for p in report["platforms"]] == ["noop"]
    assert report["accounts"][0]["account_id"] == account
    assert report["queue"]["depth"] == 0
    bad = client.get(
        f"{V1}/stats", params={"since": "2026-02-06T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    )
    assert error_field(bad) == "since"
