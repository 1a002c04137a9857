"""``--processes N`` under real kills: children restarted, stopped with it, never left behind.

The operator's scenario of issue 15 on PostgreSQL behind pgbouncer in transaction mode (as
docs/production.md sets it up): the API in two processes, workers in two under one
supervisor, a publish, one worker process SIGKILLed mid-publish: it is started again and
every task is published exactly once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from harness import CONTENTHUB, children_of, free_port, wait_until, worker_env

from tests.conftest import REPO, fresh_database_url

RULES = REPO / "deploy" / "prometheus" / "contenthub-rules.yml"


def two_children(pid: int, unlike: set[int] | None = None) -> set[int] | None:
    """``pid``'s two children, once it has two (and they are not ``unlike``)."""
    found = children_of(pid)
    return found if len(found) == 2 and found != unlike else None


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def listening_sockets_on(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (IPv4), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            found.add(inode)
    return found


def sockets_held_by(pid: int) -> set[str]:
    """The inodes of every socket ``pid`` has open."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                held.add(target[len("socket:[") : -1])
    return held


def start(processes: list, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen([CONTENTHUB, *args], env=env, stdout=out, stderr=out)
    processes.append(proc)
    return proc


def answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[str]:
    url, server = fresh_database_url("postgresql", tmp_path, "ops")
    yield url
    if server:
        server.drop()


@pytest.fixture
def pgbouncer(tmp_path: Path, postgres: str) -> Iterator[str]:
    """pgbouncer in transaction mode in front of the test database, as docs/production.md
    sets it up; its URL (the direct one stays ``postgres``)."""
    direct = sa.make_url(postgres)
    port = free_port()
    (tmp_path / "users.txt").write_text(f'"{direct.username}" ""\n')
    config = tmp_path / "pgbouncer.ini"
    config.write_text(
        f"[databases]\n* = host={direct.host} port={direct.port}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {tmp_path / 'users.txt'}\npool_mode = transaction\n"
        "max_client_conn = 500\ndefault_pool_size = 40\nunix_socket_dir =\n"
    )
    as_user = ["-u", "nobody"] if os.getuid() == 0 else []  # it refuses to run as root
    with open(tmp_path / "pgbouncer.log", "wb") as log:
        bouncer = subprocess.Popen(["pgbouncer", *as_user, str(config)], stdout=log, stderr=log)
    pooled = direct.set(port=port).render_as_string(hide_password=False)
    try:
        engine = sa.create_engine(pooled, connect_args={"prepare_threshold": None})

        def answers_through_it() -> bool:
            try:
                with engine.connect() as conn:
                    return conn.scalar(sa.text("SELECT 1")) == 1
            except sa.exc.OperationalError:
                return False

        wait_until(answers_through_it, timeout=30, what="pgbouncer")
        engine.dispose()
        yield pooled
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=10)


def test_a_killed_api_supervisor_takes_its_children_and_frees_the_port(
    tmp_path: Path, processes: list
) -> None:
    env = worker_env(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    supervisor = start(processes, env, log, "api", "--port", str(port), "--processes", "2")
    wait_until(lambda: answers(base), timeout=60, what="the API")
    children = wait_until(
        lambda: two_children(supervisor.pid),
        timeout=30,
        what="two API processes",
    )
    # Forked from the supervisor, each keeps its own listening socket and not its sibling's.
    listening = listening_sockets_on(port)
    held = [sockets_held_by(pid) & listening for pid in children]
    assert [len(one) for one in held] == [1, 1]
    assert held[0] != held[1]

    supervisor.kill()
    supervisor.wait(timeout=10)
    wait_until(
        lambda: not any(alive(pid) for pid in children), timeout=30, what="the children to stop"
    )
    assert not answers(base)

    again = start(processes, env, log, "api", "--port", str(port), "--processes", "2")
    wait_until(lambda: answers(base), timeout=60, what="the restarted API")
    assert "Address already in use" not in log.read_text()
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=30) == 0


def test_operator_scenario_a_killed_worker_process_is_restarted_and_nothing_is_lost(
    tmp_path: Path, postgres: str, pgbouncer: str, processes: list
) -> None:
    env = worker_env(
        pgbouncer,
        tmp_path,
        CONTENTHUB_DATABASE_SESSION_URL=postgres,
        CONTENTHUB_NEW_PASSWORD="a long password",
        CONTENTHUB_SHUTDOWN_GRACE_SECONDS="1",
    )
    run = lambda *args: subprocess.run(  # noqa: E731
        [CONTENTHUB, *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    run("user", "create", "ops")
    token = run("user", "token", "ops").stdout.strip()
    port = free_port()
    start(processes, env, tmp_path / "api.log", "api", "--port", str(port), "--processes", "2")
    workers = start(
        processes, env, tmp_path / "worker.log", "worker", "--processes", "2", "--slots", "2"
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )
    wait_until(lambda: answers(str(client.base_url)), timeout=60, what="the API")
    first_children = wait_until(
        lambda: two_children(workers.pid),
        timeout=30,
        what="two worker processes",
    )

    journal = tmp_path / "posts.journal"
    tasks = []
    for n in range(3):
        account = client.post(
            "/api/v1/accounts",
            json={
                "platform": "noop",
                "name": f"blog-{n}",
                "options": {"sleep_ms": 1500, "journal": str(journal)},
            },
        ).json()
        article = client.post("/api/v1/articles", json={"title": f"Post {n}", "body": "b"}).json()
        answer = client.post(
            "/api/v1/publish", json={"article_id": article["id"], "account_ids": [account["id"]]}
        )
        assert answer.status_code in (200, 201, 202), answer.text
        tasks.extend(task["id"] for task in answer.json()["tasks"])

    engine = sa.create_engine(postgres)

    def a_running_task() -> tuple[str, str] | None:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT public_id, lease_owner FROM publish_tasks "
                    "WHERE status = 'running' AND stage = 'publish' LIMIT 1"
                )
            ).first()
        return (row[0], row[1]) if row else None

    try:
        running_id, owner = wait_until(a_running_task, timeout=60, what="a task to start")
    finally:
        engine.dispose()
    victim = int(owner.split(":")[1])  # host:pid:nonce
    assert victim in first_children
    os.kill(victim, signal.SIGKILL)

    replaced = wait_until(
        lambda: two_children(workers.pid, unlike=first_children),
        timeout=30,
        what="the killed worker process to be started again",
    )
    assert victim not in replaced

    def all_published() -> bool:
        return all(
            client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "succeeded"
            for task_id in tasks
        )

    wait_until(all_published, timeout=90, what="every task to be published")
    posts = journal.read_text().split()[::2]
    assert sorted(posts) == sorted(set(posts)) and len(posts) == len(tasks)
    killed = client.get(f"/api/v1/tasks/{running_id}").json()
    rescues = [e["message"] or "" for e in killed["events"] if e["reason"] == "rescued"]
    # Found dead by its liveness lock, held on the direct connection (through pgbouncer the
    # lock would have gone with the transaction and only the 60 s lease would have found it).
    assert any("session lock" in message for message in rescues), rescues
    assert (tmp_path / "pgbouncer.log").read_text().count("login attempt") > 5

    # An account whose login expired holds its task: /metrics says so, as the alert reads it.
    expired = client.post(
        "/api/v1/accounts",
        json={"platform": "noop", "name": "expired", "options": {"fail": "auth_expired"}},
    ).json()
    article = client.post("/api/v1/articles", json={"title": "Held", "body": "b"}).json()
    client.post(
        "/api/v1/publish", json={"article_id": article["id"], "account_ids": [expired["id"]]}
    )

    def scrape_when_held_and_both_registered() -> str | None:
        text = httpx.get(f"{client.base_url}/metrics", timeout=10).text
        held = 'contenthub_held_accounts{status="needs_login"} 1.0' in text
        both = re.search(r'^contenthub_workers\{host="[^"]+"\} 2\.0$', text, re.M)
        return text if held and both else None

    metrics = wait_until(
        scrape_when_held_and_both_registered,
        timeout=90,
        what="the held account and the restarted worker in /metrics",
    )
    assert "contenthub_database_up 1.0" in metrics
    assert re.search(r"^contenthub_lease_rescues_last_hour [1-9]", metrics, re.M)
    # Every series the shipped alerting rules read is one /metrics really exposes.
    rule_names = set(re.findall(r"contenthub_[a-z_]+", RULES.read_text()))
    exposed = set(re.findall(r"^(contenthub_[a-z_]+)", metrics, re.M))
    assert rule_names <= exposed, rule_names - exposed

    # SIGTERM to the supervisor while a publish runs: every process stops, the publish is
    # handed back to the queue (not failed, no attempt used).
    slow = client.post(
        "/api/v1/accounts",
        json={"platform": "noop", "name": "slow", "options": {"sleep_ms": 60000}},
    ).json()
    article = client.post("/api/v1/articles", json={"title": "Slow", "body": "b"}).json()
    handed = client.post(
        "/api/v1/publish", json={"article_id": article["id"], "account_ids": [slow["id"]]}
    ).json()["tasks"][0]["id"]
    wait_until(
        lambda: client.get(f"/api/v1/tasks/{handed}").json()["stage"] == "publish",
        timeout=60,
        what="the slow publish to start",
    )
    workers.send_signal(signal.SIGTERM)
    assert workers.wait(timeout=60) == 0
    assert not any(alive(pid) for pid in replaced)
    back = client.get(f"/api/v1/tasks/{handed}").json()
    assert back["status"] == "queued"
    assert back["events"][-1]["reason"] == "released"
