"""Browser publishes through a real ``contenthub worker`` process: Toutiao and Zhihu's browser
mode end to end, a screenshot for a failed step, Chromium killed under a publish, and nothing
of Chromium left behind when the worker stops or is killed.

One database backend (SQLite): what is tested here is the worker's browser, not the dispatcher
(the dispatch tests run on all three)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from harness import CONTENTHUB, start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.browser.launch import chromium_processes
from contenthub.browser.pool import figures_folder, read_figures
from contenthub.sandbox.server import SandboxServer
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from tests.conftest import fresh_database_url
from tests.factories import enqueue, make_account, make_user
from tests.platforms.conftest import new_account, posts_of

pytestmark = pytest.mark.chaos
SECRET_KEY = Fernet.generate_key()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Database, dict[str, str], Path]]:
    """A SQLite database, the worker's environment, and where its Chromium profiles go."""
    url, _ = fresh_database_url("sqlite", tmp_path, "browser")
    root = Path(f"/tmp/chb-{uuid.uuid4().hex[:8]}")  # short: Chromium's socket lives in it
    env = worker_env(
        url,
        tmp_path,
        CONTENTHUB_SECRET_KEY=SECRET_KEY.decode(),
        CONTENTHUB_BROWSER_STEP_TIMEOUT_SECONDS="5",
        CONTENTHUB_BROWSER_RUNTIME_DIR=str(root),
    )
    db = Database.connect(url)
    yield db, env, root
    db.dispose()
    shutil.rmtree(root, ignore_errors=True)


def bind(db: Database, user: int, sandbox_account: dict, **options: object) -> int:
    sealed = SecretBox(SECRET_KEY).seal(sandbox_account["credentials"])
    return make_account(
        db,
        user,
        sandbox_account["name"],
        platform=sandbox_account["platform"],
        options={**sandbox_account["options"], **options},
        credentials=sealed,
    )


def task(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def succeeded(db: Database, public_id: str) -> dict | None:
    found = task(db, public_id)
    assert found["status"] != "failed", found["error_message"]
    return found if found["status"] == "succeeded" else None


def stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_browser_publishes_through_a_worker_and_a_stop_leaves_nothing(
    setup, processes, sandbox: SandboxServer, tmp_path: Path
) -> None:
    db, env, root = setup
    user = make_user(db, "ann")
    toutiao, zhihu, refused, modal = (
        new_account(sandbox, p) for p in ("toutiao", "zhihu", "zhihu", "toutiao")
    )
    sandbox.client.add_fault("zhihu", "anti_bot", account=refused["name"])
    sandbox.client.add_fault("toutiao", "modal", account=modal["name"])
    toutiao_account = bind(db, user, toutiao)
    [toutiao_id] = enqueue(db, user, toutiao_account)
    [zhihu_id] = enqueue(db, user, bind(db, user, zhihu, browser=True))
    [refused_id] = enqueue(db, user, bind(db, user, refused))
    [modal_id] = enqueue(db, user, bind(db, user, modal))
    worker = start_worker(processes, env, slots=4, log=tmp_path / "w.log")

    for public_id, platform, account in (
        (toutiao_id, "toutiao", toutiao),
        (zhihu_id, "zhihu", zhihu),
        (refused_id, "zhihu", refused),
    ):
        done = wait_until(lambda i=public_id: succeeded(db, i), timeout=90, what=platform)
        [post] = posts_of(sandbox, platform, account)
        assert post["status"] == "published" and done["result_url"] == post["url"]

    # The modal: a transient failure with a readable message and a screenshot.
    held = wait_until(
        lambda: (t := task(db, modal_id))["error_class"] and t, timeout=60, what="the modal"
    )
    assert held["error_class"] == "transient" and "dialog" in held["error_message"]
    shown = subprocess.run(
        [CONTENTHUB, "task", "show", modal_id, "--user", "ann"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    [line] = [line for line in shown.stdout.splitlines() if "screenshot" in line]
    shot = Path(line.split()[-1])
    assert shot.is_file() and shot.read_bytes().startswith(b"\x89PNG")
    assert shot.is_relative_to(tmp_path / "artifacts" / modal_id)

    # The account's next publish finds its context warm, though the first publish stored the
    # cookies the editor refreshed (Toutiao's ``ttwid``): the context holds that new session.
    [before] = read_figures(figures_folder(tmp_path))
    [again_id] = enqueue(db, user, toutiao_account)
    wait_until(lambda: succeeded(db, again_id), timeout=90, what="the second Toutiao publish")
    assert len(posts_of(sandbox, "toutiao", toutiao)) == 2

    # One browser served them all, as /metrics tells.
    [figures] = read_figures(figures_folder(tmp_path))
    assert figures["contexts"] == before["contexts"]
    assert figures["pid"] == worker.pid and figures["launches"] == 1
    assert figures["browsers"] == 1 and figures["contexts"] >= 3
    metrics = metrics_text(tmp_path)
    assert f'contenthub_browser_launches_total{{pid="{worker.pid}"}} 1.0' in metrics
    assert f'contenthub_browser_browsers{{pid="{worker.pid}"}} 1.0' in metrics
    assert chromium_processes(root)

    stop(worker, signal.SIGTERM)
    assert chromium_processes(root) == []
    assert not root.exists() or list(root.iterdir()) == []
    assert read_figures(figures_folder(tmp_path)) == []


def metrics_text(data_dir: Path) -> str:
    """``/metrics`` of an API on this data dir (in this process: the figures are files)."""
    from fastapi.testclient import TestClient

    from contenthub.api.app import create_app
    from contenthub.config import Settings

    settings = Settings(database_url=f"sqlite:///{data_dir / 'browser.db'}", data_dir=data_dir)
    db = Database.connect(settings.database_url)
    try:
        with TestClient(create_app(settings, db)) as client:
            answer = client.get("/metrics")
            assert answer.status_code == 200
            return answer.text
    finally:
        db.dispose()


def test_a_worker_without_chromium_publishes_over_http_and_rejects_browser_publishes(
    setup, processes, sandbox: SandboxServer, tmp_path: Path
) -> None:
    db, env, root = setup
    user = make_user(db, "ann")
    zhihu, toutiao = new_account(sandbox, "zhihu"), new_account(sandbox, "toutiao")
    [http_id] = enqueue(db, user, bind(db, user, zhihu))
    [browser_id] = enqueue(db, user, bind(db, user, toutiao))
    env = {**env, "CONTENTHUB_CHROMIUM": str(tmp_path / "no-chromium")}
    start_worker(processes, env, slots=2, log=tmp_path / "w.log")

    wait_until(lambda: succeeded(db, http_id), timeout=60, what="the HTTP publish")
    failed = wait_until(
        lambda: (t := task(db, browser_id))["status"] == "failed" and t,
        timeout=60,
        what="the browser publish to fail",
    )
    assert failed["error_class"] == "rejected"
    assert "apt-get install chromium" in failed["error_message"]
    assert posts_of(sandbox, "toutiao", toutiao) == [] and chromium_processes(root) == []


def test_chromium_killed_mid_publish_retries_and_a_killed_worker_leaves_nothing(
    setup, processes, sandbox: SandboxServer, tmp_path: Path
) -> None:
    db, env, root = setup
    user = make_user(db, "ann")
    account = new_account(sandbox, "toutiao")
    sandbox.client.add_fault(
        "toutiao", "latency", account=account["name"], on="publish", min_ms=2500, times=1
    )
    [public_id] = enqueue(db, user, bind(db, user, account))
    worker = start_worker(processes, env, slots=2, log=tmp_path / "w.log")

    wait_until(lambda: task(db, public_id)["stage"] == "publish", timeout=60, what="publish")
    for pid in chromium_processes(root):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: succeeded(db, public_id), timeout=60, what="the retry to succeed")
    assert len(posts_of(sandbox, "toutiao", account)) == 1  # published once
    events = db.read(lambda s: storage.task_events(s, task(db, public_id)["id"]))
    assert any("browser crashed" in (e["message"] or "") for e in events)
    assert chromium_processes(root)

    # Killed outright, together with Playwright's driver: Chromium goes with its pipe, and
    # the next worker reaps the profile the dead one left.
    driver = children(worker.pid)
    for pid in [worker.pid, *driver]:
        os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)
    wait_until(lambda: chromium_processes(root) == [], timeout=30, what="Chromium to exit")
    dead = [f for f in root.iterdir() if f.name.startswith(f"{worker.pid}-")]
    successor = start_worker(processes, env, slots=1, log=tmp_path / "w2.log")
    wait_until(lambda: not any(f.exists() for f in dead), timeout=30, what="the leftovers reaped")
    stop(successor, signal.SIGTERM)
    assert chromium_processes(root) == [] and list(root.iterdir()) == []
