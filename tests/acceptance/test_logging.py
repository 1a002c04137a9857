"""What an operator reads: one line per lifecycle event, request ids, DEBUG stage timings,
a log file written once by the supervisor, and never a secret."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
from harness import CONTENTHUB, free_port, wait_until, worker_env

SECRET = "SECRET-API-KEY-123"


def test_serve_logs_each_line_once_with_request_ids_and_stage_timings(
    tmp_path: Path, processes: list
) -> None:
    port, sandbox_port = free_port(), free_port()
    log_file = tmp_path / "contenthub.log"
    env = worker_env(
        f"sqlite:///{tmp_path / 'logs.db'}",
        tmp_path,
        CONTENTHUB_LOG_LEVEL="DEBUG",
        CONTENTHUB_LOG_FILE=str(log_file),
        CONTENTHUB_NEW_PASSWORD="a long password",
    )
    run = lambda *args: subprocess.run(  # noqa: E731
        [CONTENTHUB, *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    run("user", "create", "ann")
    token = run("user", "token", "ann").stdout.strip()
    with open(tmp_path / "stderr.log", "wb") as out:
        serve = subprocess.Popen(
            [CONTENTHUB, "serve", "--port", str(port), "--demo", "--sandbox-port",
             str(sandbox_port)],
            env=env, stdout=out, stderr=out,
        )  # fmt: skip
    processes.append(serve)
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

    wait_until(ready, timeout=60, what="the API")
    assert client.get("/readyz").status_code == 200  # a second look at the schema
    account = client.post(
        "/api/v1/accounts",
        json={"platform": "noop", "name": "n", "credentials": {"api_key": SECRET}},
        headers={"X-Request-ID": "req-7f3a"},
    )
    assert account.headers["X-Request-ID"] == "req-7f3a"
    generated = client.get("/api/v1/tasks").headers["X-Request-ID"]
    assert len(generated) == 32
    article = client.post("/api/v1/articles", json={"title": "Logged", "body": "b"}).json()
    task = client.post(
        "/api/v1/publish", json={"article_id": article["id"], "account_ids": [account.json()["id"]]}
    ).json()["tasks"][0]
    wait_until(
        lambda: client.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "succeeded",
        timeout=60,
        what="the publish",
    )
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=60) == 0

    text = log_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    messages = [line["message"] for line in lines]
    for once in ("Application startup complete.", "Application shutdown complete."):
        assert messages.count(once) == 1, once
    assert sum(m.startswith("Finished server process") for m in messages) == 1
    assert not any("color_message" in line for line in lines)
    assert not any(line["logger"].startswith("alembic") for line in lines)
    assert any(
        line.get("request_id") == "req-7f3a" and line.get("path") == "/api/v1/accounts"
        for line in lines
    )
    stages = [line for line in lines if line["message"].startswith("publish stage")]
    assert [s["stage"] for s in stages] == ["publish", "verify"]
    assert all(s["task_id"] == task["id"] and "previous_stage_seconds" in s for s in stages)
    everything = text + (tmp_path / "stderr.log").read_text()
    assert SECRET not in everything and token not in everything


def test_a_bad_log_level_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = worker_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, CONTENTHUB_LOG_LEVEL="LOUD")
    done = subprocess.run(
        [CONTENTHUB, "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("CONTENTHUB_LOG_LEVEL must be one of")


def test_one_handler_rotates_the_supervised_log_file(tmp_path: Path, processes: list) -> None:
    """Supervisor and children lines go through one rotating handler: the files hold the
    newest lines, the newest of all in the current file (two handlers left the supervisor's
    own lines in, or deleted with, a file the other had already rotated away)."""
    log_file = tmp_path / "contenthub.log"
    env = worker_env(
        f"sqlite:///{tmp_path / 'rotate.db'}",
        tmp_path,
        CONTENTHUB_LOG_FILE=str(log_file),
        CONTENTHUB_LOG_FILE_MAX_BYTES="700",
        CONTENTHUB_LOG_FILE_BACKUPS="2",
    )
    with open(tmp_path / "stderr.log", "wb") as out:
        supervisor = subprocess.Popen(
            [CONTENTHUB, "worker", "--processes", "2", "--slots", "1"],
            env=env, stdout=out, stderr=out,
        )  # fmt: skip
    processes.append(supervisor)
    wait_until(
        lambda: (tmp_path / "stderr.log").read_text().count('"worker started"') == 2,
        timeout=60,
        what="both workers",
    )
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0

    printed = (tmp_path / "stderr.log").read_text().splitlines()
    backups = [tmp_path / f"contenthub.log.{n}" for n in (2, 1)]
    files = [*(f for f in backups if f.exists()), log_file]
    written = [line for f in files for line in f.read_text().splitlines()]
    assert len(files) == 3  # it rotated
    assert sorted(written) == sorted(printed[-len(written) :])
    assert log_file.read_text().splitlines()[-1] == printed[-1]
    assert json.loads(printed[-1])["message"] == "all processes stopped"
