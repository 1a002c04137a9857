"""A user reaches nothing of another user's: every endpoint, enumerated from the API's own
OpenAPI document, answers 404 for another user's ids and changes nothing of theirs.

The list of endpoints is not written here: a new endpoint with a path parameter is attacked
as soon as it exists. A path parameter this file does not know fails the test with a message
saying what to add (the victim's resource of that kind), so coverage cannot silently lapse.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.conftest import ServedApi
from tests.security.conftest import V1, assert_error

FAR = f"{datetime.now(UTC).year + 1}-12-01T00:00:00+00:00"  # nothing of the victim's runs now
# Bodies that pass validation, so the answer is about ownership, not about a bad body. An
# operation with a body that is not listed gets {}; if that is refused as invalid, the test
# says to add a body here.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", f"{V1}/articles/{{article_id}}"): {"title": "taken over", "body": "mine now"},
    ("PATCH", f"{V1}/accounts/{{account_id}}"): {"name": "taken over", "status": "disabled"},
    ("PATCH", f"{V1}/scheduled-jobs/{{job_id}}"): {"name": "taken over", "enabled": False},
    ("POST", f"{V1}/publish-pool/{{entry_id}}/reschedule"): {"priority": 1},
}
# Query parameters that name a resource by id, and which of the victim's ids to send there.
QUERY_IDS = {"account_id": "account_id", "article_id": "article_id", "content_id": "article_id"}
QUERY_IDS |= {"batch_id": "batch_id", "before": "task_id"}
# Answer fields that change by being read (a token's last use), left out of the comparison.
VOLATILE = {"last_used_at"}


def victim_resources(client: httpx.Client, marker: str, data_dir: Path) -> dict[str, Any]:
    """One of every kind of resource, each carrying ``marker`` where it has a name."""

    def created(answer: httpx.Response) -> dict[str, Any]:
        assert answer.status_code == 201, answer.text
        return answer.json()

    article = created(client.post(f"{V1}/articles", json={"title": marker, "body": marker}))
    account = created(
        client.post(
            f"{V1}/accounts",
            json={"platform": "noop", "name": marker, "credentials": {"api_key": marker}},
        )
    )
    second = created(client.post(f"{V1}/accounts", json={"platform": "noop", "name": "second"}))
    published = created(  # two tasks: a batch
        client.post(
            f"{V1}/publish",
            json={
                "article_id": article["id"],
                "account_ids": [account["id"], second["id"]],
                "scheduled_at": FAR,
            },
        )
    )
    assert published["batch_id"]
    entry = created(
        client.post(
            f"{V1}/publish-pool/add",
            json={"content_id": article["id"], "account_ids": [account["id"]], "scheduled_at": FAR},
        )
    )
    job = created(
        client.post(
            f"{V1}/scheduled-jobs",
            json={
                "name": marker,
                "job_type": "account_check",
                "schedule_type": "interval",
                "interval_seconds": 3600,
                "next_run": FAR,
            },
        )
    )
    token = created(client.post(f"{V1}/tokens", json={"name": marker}))
    # A screenshot of the task, where a failed browser step leaves one.
    shot = data_dir / "artifacts" / published["tasks"][0]["id"] / "01-dialog.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + marker.encode())
    return {
        "name": shot.name,
        "article_id": article["id"],
        "account_id": account["id"],
        "task_id": published["tasks"][0]["id"],
        "batch_id": published["batch_id"],
        "entry_id": entry["id"],
        "job_id": job["id"],
        "token_id": token["id"],
    }


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation of the versioned API."""
    found = []
    for path, item in spec["paths"].items():
        if not path.startswith(V1):
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, operation))
    return found


def path_names(template: str) -> list[str]:
    return re.findall(r"{(\w+)}", template)


def fill(template: str, ids: dict[str, Any]) -> str:
    unknown = [name for name in path_names(template) if name not in ids]
    assert not unknown, (
        f"{template} takes {unknown}: give the victim a resource of that kind in "
        "victim_resources() so this endpoint is attacked too"
    )
    return re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), template)


def without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


def snapshot(client: httpx.Client, spec: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    """Everything the victim can read of their own, endpoint by endpoint."""
    seen = {}
    for method, template, _ in operations(spec):
        if method != "GET" or template in (f"{V1}/events", f"{V1}/stats"):
            continue  # a stream; figures over a window that moves with the clock
        answer = client.get(fill(template, ids))
        assert answer.status_code == 200, answer.text
        if answer.headers["content-type"].startswith("application/json"):
            seen[template] = without_volatile(answer.json())
        else:  # a file (a screenshot): its bytes
            seen[template] = hashlib.sha256(answer.content).hexdigest()
    return seen


def test_every_endpoint_answers_404_for_another_users_ids(api: ServedApi) -> None:
    victim, _ = api.client()
    stranger, _ = api.client()
    marker = f"victim-{uuid.uuid4().hex}"
    ids = victim_resources(victim, marker, api.data_dir)
    spec = httpx.get(f"{api.base_url}{V1}/openapi.json").json()
    before = snapshot(victim, spec, ids)

    attacked = []
    for method, template, operation in operations(spec):
        if not path_names(template):
            continue
        body = BODIES.get((method, template), {} if "requestBody" in operation else None)
        answer = stranger.request(method, fill(template, ids), json=body)
        assert answer.status_code != 422, (
            f"{method} {template} refused the test's body ({answer.text}): add a valid one "
            "to BODIES so the ownership check is what answers"
        )
        assert_error(answer, 404, "not_found")
        assert marker not in answer.text
        attacked.append(f"{method} {template}")
    # Not vacuous: today's endpoints with an id in the path are all there.
    assert len(attacked) >= 22, attacked
    assert {"DELETE /api/v1/tokens/{token_id}", "POST /api/v1/tasks/{task_id}/cancel"} <= set(
        attacked
    )

    assert snapshot(victim, spec, ids) == before
    # The victim's token still works after the stranger tried to revoke it, and nothing of
    # the victim's was cancelled, retried, edited, triggered or deleted.
    assert victim.get(f"{V1}/tasks/{ids['task_id']}").json()["status"] == "scheduled"
    history = victim.get(f"{V1}/scheduled-jobs/{ids['job_id']}/history").json()
    assert history == []


def test_ids_in_bodies_and_queries_reach_nothing_of_another_user(api: ServedApi) -> None:
    victim, _ = api.client()
    stranger, _ = api.client()
    marker = f"victim-{uuid.uuid4().hex}"
    ids = victim_resources(victim, marker, api.data_dir)
    mine = {
        "article": stranger.post(f"{V1}/articles", json={"title": "mine", "body": "x"}).json()[
            "id"
        ],
        "account": api.noop_account(stranger),
    }
    for path, payload, field in [
        (
            "/publish",
            {"article_id": ids["article_id"], "account_ids": [mine["account"]]},
            "article_id",
        ),
        ("/publish", {"article_id": mine["article"], "account_ids": [ids["account_id"]]}, None),
        (
            "/publish/batch",
            {"items": [{"article_id": ids["article_id"], "account_ids": [mine["account"]]}]},
            None,
        ),
        (
            "/publish-pool/add",
            {"content_id": ids["article_id"], "account_ids": [mine["account"]]},
            None,
        ),
        (
            "/publish-pool/add",
            {"content_id": mine["article"], "account_ids": [ids["account_id"]]},
            None,
        ),
    ]:
        answer = stranger.post(V1 + path, json=payload)
        assert answer.status_code in (404, 422), f"{path} {payload}: {answer.text}"
        assert answer.json()["error"]["code"] in ("not_found", "invalid")
        if field:
            assert answer.json()["error"]["field"] == field
        assert marker not in answer.text
    assert stranger.get(f"{V1}/tasks").json()["items"] == []
    assert stranger.get(f"{V1}/publish-pool/list").json()["items"] == []

    # Every list that filters by an id, given the victim's ids: nothing of the victim's.
    spec = httpx.get(f"{api.base_url}{V1}/openapi.json").json()
    filtered = []
    for method, template, operation in operations(spec):
        if method != "GET" or path_names(template) or template == f"{V1}/events":
            continue
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in QUERY_IDS:
                value = ids[QUERY_IDS[parameter["name"]]]
                answer = stranger.get(template, params={parameter["name"]: value})
                assert answer.status_code in (200, 404), answer.text
                for secret in (marker, ids["task_id"], ids["batch_id"]):
                    assert secret not in answer.text, f"{template}?{parameter['name']}"
                filtered.append(f"{template}?{parameter['name']}")
    assert len(filtered) >= 5, filtered


def test_a_user_cannot_create_jobs_that_act_on_every_user(api: ServedApi) -> None:
    stranger, _ = api.client()
    answer = stranger.post(
        f"{V1}/scheduled-jobs",
        json={
            "name": "wipe",
            "job_type": "cleanup",
            "schedule_type": "interval",
            "interval_seconds": 60,
        },
    )
    assert_error(answer, 422, "invalid", "job_type")
    assert stranger.get(f"{V1}/scheduled-jobs").json() == []
