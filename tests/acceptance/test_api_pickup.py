"""Instant pickup: in one ``contenthub serve``, a publish through its API wakes its own
workers, whatever their poll interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import wait_until

from tests.acceptance.conftest import serve_api
from tests.acceptance.test_api import V1, article, finished


# MariaDB's and SQLite's workers have no NOTIFY: only the in-process signal can wake them.
@pytest.mark.parametrize("backend", ["sqlite", "mysql"])
def test_a_publish_starts_at_once_although_the_workers_poll_hourly(
    backend: str, tmp_path: Path
) -> None:
    with serve_api(backend, tmp_path, env={"CONTENTHUB_POLL_SECONDS": "3600"}) as api:
        client, _ = api.client()
        account = api.noop_account(client)
        article_id = article(client, "Wake up")
        # One after the other: from the second on, the workers are idle in their hour-long
        # wait (the previous outcome's wake-up found nothing more to claim).
        for _ in range(3):
            answer = client.post(
                f"{V1}/publish",
                json={"article_id": article_id, "account_ids": [account], "republish": True},
            )
            assert answer.status_code == 201, answer.text
            task_id = answer.json()["tasks"][0]["id"]
            done = wait_until(lambda t=task_id: finished(client, t), timeout=20, what="publish")
            assert done["status"] == "succeeded", done
