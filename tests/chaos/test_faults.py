"""Faults with real processes: SIGKILL mid-publish, connections dying, graceful stop."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import start_server, start_worker, wait_until, worker_env
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from contenthub import storage
from contenthub.storage.db import Database
from contenthub.storage.models import Account
from contenthub.worker.process import RECORDING_SECONDS
from tests.factories import enqueue, make_account, make_user

pytestmark = pytest.mark.chaos


def task(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def events(db: Database, public_id: str) -> list[dict]:
    return db.read(lambda s: storage.task_events(s, task(db, public_id)["id"]))


def local_site_task(db: Database, root: Path, delay: float) -> str:
    user = make_user(db, "ann")
    account = make_account(
        db,
        user,
        "site",
        platform="local",
        options={"root": str(root), "write_delay_seconds": delay},
    )
    return enqueue(db, user, account)[0]


def journal_entries(root: Path) -> list[dict]:
    path = root / "published.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_published_once(db: Database, root: Path, public_id: str, *, what: str) -> None:
    """Waits for the task to succeed; its post is in the local site, once, at its URL."""
    final = wait_until(
        lambda: (t := task(db, public_id))["status"] == "succeeded" and t, timeout=60, what=what
    )
    assert [e["post_id"] for e in journal_entries(root)] == [public_id]
    assert final["result_url"].endswith(f"{public_id}.html")


def test_sigkill_mid_publish_is_rescued_and_posts_exactly_once(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    public_id = local_site_task(db, root, delay=2.0)
    env = worker_env(database_url, tmp_path, CONTENTHUB_LEASE_SECONDS="2")
    doomed = start_worker(processes, env, slots=2, log=tmp_path / "doomed.log")
    # The post is written and checkpointed; the publish is still under way.
    wait_until(
        lambda: task(db, public_id)["checkpoint"].get("draft_path"),
        timeout=30,
        what="the first attempt to write the draft",
    )
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    assert task(db, public_id)["status"] == "running"

    start_worker(processes, env, slots=2, log=tmp_path / "rescuer.log")
    final = wait_until(
        lambda: (t := task(db, public_id))["status"] == "succeeded" and t,
        timeout=60,
        what="the rescued task to finish",
    )
    assert final["attempt"] == 2
    assert [e["post_id"] for e in journal_entries(root)] == [public_id]  # written once
    assert len(list((root / "posts").glob("*.html"))) == 1
    assert list((root / "drafts").iterdir()) == []
    assert any("worker lost" in (e["message"] or "") for e in events(db, public_id))


def _kill_connections(db: Database, admin: Database) -> int:
    """Kill every server connection to the test database except the admin's own."""
    name = db.engine.url.database
    if db.dialect == "postgresql":
        return len(
            admin.write(
                lambda s: s.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).all()
            )
        )
    ids = admin.read(
        lambda s: (
            s.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist"
                    " WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": name},
            )
            .scalars()
            .all()
        )
    )
    for conn_id in ids:
        admin.write(lambda s, c=conn_id: s.execute(sa.text(f"KILL CONNECTION {int(c)}")))
    return len(ids)


def test_connections_killed_mid_publish_end_in_a_true_final_state(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    if db.dialect == "sqlite":
        pytest.skip("SQLite has no server connections to kill")
    root = tmp_path / "site"
    public_id = local_site_task(db, root, delay=2.0)
    start_worker(
        processes, worker_env(database_url, tmp_path), slots=2, log=tmp_path / "worker.log"
    )
    wait_until(
        lambda: task(db, public_id)["stage"] == "publish",
        timeout=30,
        what="the publish to be under way",
    )
    admin = Database.connect(database_url, pool_size=1)
    try:
        assert _kill_connections(db, admin) >= 1
    finally:
        admin.dispose()
    db.engine.dispose()  # our own pooled connections were killed too
    final = wait_until(
        lambda: (t := task(db, public_id))["status"] == "succeeded" and t,
        timeout=60,
        what="the task to finish after the connections died",
    )
    assert final["attempt"] == 1
    assert [e["post_id"] for e in journal_entries(root)] == [public_id]


@pytest.fixture
def proxied(db: Database, database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A loopback proxy the test can cut in front of the test database, and the database's
    URL through it (database servers only)."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite is a file, not a server behind a network")
    url = make_url(database_url)
    proxy = TcpProxy(url.port or (5432 if db.dialect == "postgresql" else 3306))
    try:
        yield (
            proxy,
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        )
    finally:
        proxy.close()


def test_database_unreachable_for_seconds_mid_publish(
    db: Database, proxied: tuple[TcpProxy, str], processes, tmp_path: Path
) -> None:
    proxy, through_proxy = proxied
    root = tmp_path / "site"
    public_id = local_site_task(db, root, delay=1.0)
    start_worker(
        processes,
        worker_env(through_proxy, tmp_path, CONTENTHUB_LEASE_SECONDS="6"),
        slots=2,
        log=tmp_path / "worker.log",
    )
    wait_until(
        lambda: task(db, public_id)["stage"] == "publish",
        timeout=30,
        what="the publish to be under way",
    )
    assert proxy.cut() >= 1
    outage_started = time.monotonic()
    # The worker finishes the publish and must record it while the database is away.
    wait_until(lambda: time.monotonic() - outage_started > 3, timeout=10, what="the outage")
    proxy.restore()
    assert_published_once(db, root, public_id, what="the task to finish after the outage")


def test_sigterm_hands_running_work_back(
    db: Database, database_url: str, processes, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    public_id = local_site_task(db, root, delay=30.0)
    env = worker_env(database_url, tmp_path, CONTENTHUB_SHUTDOWN_GRACE_SECONDS="0.5")
    worker = start_worker(processes, env, slots=2, log=tmp_path / "worker.log")
    wait_until(
        lambda: task(db, public_id)["stage"] == "publish",
        timeout=30,
        what="the publish to be under way",
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    after = task(db, public_id)
    assert after["status"] == "queued"
    assert after["max_attempts"] == 4  # the interrupted attempt is not held against it
    assert after["checkpoint"]["draft_path"]  # the next attempt resumes from here


def test_an_api_whose_database_has_gone_stops_at_once(
    proxied: tuple[TcpProxy, str], processes, tmp_path: Path
) -> None:
    """SIGTERM while the event hub's read retries an unreachable database: the process ends
    then, not once the read's minute of retries is over (a stopping process waits for its
    threads)."""
    proxy, through_proxy = proxied
    log = tmp_path / "api.log"
    api, _ = start_server(
        ["api", "--processes", "1"], worker_env(through_proxy, tmp_path), log, what="the API"
    )
    processes.append(api)
    assert proxy.cut() >= 1
    wait_until(
        lambda: "database busy or unreachable, retrying" in log.read_text(),
        timeout=30,
        what="a read retrying the database",
    )
    api.send_signal(signal.SIGTERM)
    assert api.wait(timeout=15) == 0


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_worker_whose_database_has_gone_stops_after_its_grace(
    command: str, db: Database, proxied: tuple[TcpProxy, str], processes, tmp_path: Path
) -> None:
    """SIGTERM while the database is unreachable and a publish is under way: the worker (its
    own process, or ``serve``'s) hands the publish back within its grace, waits
    ``RECORDING_SECONDS`` for the database, then gives up on it and ends with status 1 (it
    retried for ever); once the database is back, another worker rescues the task and
    publishes it exactly once."""
    proxy, through_proxy = proxied
    root = tmp_path / "site"
    public_id = local_site_task(db, root, delay=30.0)
    log = tmp_path / "stopping.log"
    env = worker_env(through_proxy, tmp_path, CONTENTHUB_SHUTDOWN_GRACE_SECONDS="1")
    if command == "worker":
        stopping = start_worker(processes, env, slots=2, log=log)
    else:
        stopping, _ = start_server(["serve", "--slots", "2"], env, log, what="serve")
        processes.append(stopping)
    wait_until(
        lambda: task(db, public_id)["stage"] == "publish",
        timeout=30,
        what="the publish to be under way",
    )
    assert proxy.cut() >= 1
    stopping.send_signal(signal.SIGTERM)
    # 1 s of grace and RECORDING_SECONDS: it ends well before a write's minute of retries.
    assert stopping.wait(timeout=RECORDING_SECONDS + 20) == 1
    said = log.read_text()
    assert "giving up on it" in said and "outcomes not recorded" in said
    assert task(db, public_id)["status"] == "running"  # nothing could be written

    proxy.restore()
    env = worker_env(
        through_proxy, tmp_path, CONTENTHUB_LEASE_SECONDS="4", CONTENTHUB_SHUTDOWN_GRACE_SECONDS="1"
    )
    # The rescuer's attempt need not take the 30 s the first one was given.
    db.write(lambda s: s.execute(sa.update(Account).values(options={"root": str(root)})))
    start_worker(processes, env, slots=2, log=tmp_path / "rescuer.log")
    assert_published_once(
        db, root, public_id, what="another worker to rescue the task and publish it"
    )
