"""The API in several processes of its own, publishes in a separate worker: one system."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
from harness import CONTENTHUB, SUPPORT, free_port, wait_until


def test_api_processes_and_a_worker_publish_together(tmp_path: Path, processes) -> None:
    env = {
        **os.environ,
        "CONTENTHUB_DATA_DIR": str(tmp_path),
        "CONTENTHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'split.db'}",
        "CONTENTHUB_PLATFORM_MODULES": "noop_platform",
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
        "CONTENTHUB_POLL_SECONDS": "0.1",
        "CONTENTHUB_NEW_PASSWORD": "a long password",
    }
    run = lambda *args: subprocess.run(  # noqa: E731
        [CONTENTHUB, *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    run("user", "create", "ann")
    token = run("user", "token", "ann").stdout.strip()
    port = free_port()
    for command in (["api", "--port", str(port), "--processes", "2"], ["worker", "--slots", "2"]):
        with open(tmp_path / f"{command[0]}.log", "wb") as log:
            processes.append(
                subprocess.Popen([CONTENTHUB, *command], env=env, stdout=log, stderr=log)
            )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )

    def ready() -> bool:
        try:
            return client.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=60, what="the API processes")
    account = client.post("/api/v1/accounts", json={"platform": "noop", "name": "n"}).json()
    article = client.post("/api/v1/articles", json={"title": "Split", "body": "b"}).json()
    tasks = [
        client.post(
            "/api/v1/publish",
            # The same article to the same account three times, on purpose.
            json={"article_id": article["id"], "account_ids": [account["id"]], "republish": True},
        ).json()["tasks"][0]
        for _ in range(3)
    ]

    def all_published() -> bool:
        return all(
            client.get(f"/api/v1/tasks/{t['id']}").json()["status"] == "succeeded" for t in tasks
        )

    wait_until(all_published, timeout=60, what="the worker to publish")
    for proc in processes:
        proc.send_signal(signal.SIGTERM)
    for proc in processes:
        assert proc.wait(timeout=30) == 0
