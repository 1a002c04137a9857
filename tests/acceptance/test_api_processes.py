"""The API in several processes of its own, publishes in a separate worker: one system."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
from harness import CONTENTHUB, SUPPORT, children_of, free_port, wait_until


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


def _connections_held(pid: int, port: int) -> int:
    """Established connections to ``port`` that process ``pid`` has accepted (Linux /proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])  # the socket's inode
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in established
    return held


BURST = 40


def test_a_burst_of_new_connections_is_spread_over_the_api_processes(
    tmp_path: Path, processes
) -> None:
    """A client pool opening its connections at once (a proxy, a load test): the kernel spreads
    them over the processes, each with a socket of its own on the port. (One shared socket let
    the first process to wake accept them all.) Another API cannot take the port meanwhile,
    and the supervisor then stops cleanly."""
    env = {
        **os.environ,
        "CONTENTHUB_DATA_DIR": str(tmp_path),
        "CONTENTHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'burst.db'}",
    }
    port = free_port()
    with open(tmp_path / "api.log", "wb") as log:
        api = subprocess.Popen(
            [CONTENTHUB, "api", "--port", str(port), "--processes", "2"],
            env=env,
            stdout=log,
            stderr=log,
        )
    processes.append(api)

    def both_answering() -> set[int] | None:
        children = children_of(api.pid)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                # Fresh connections, several: each child's socket gets one with near certainty.
                up = all(client.get("/readyz").status_code == 200 for _ in range(8))
        except httpx.HTTPError:
            return None
        return children if up and len(children) == 2 else None

    children = wait_until(both_answering, timeout=60, what="the API processes")
    # The sockets share the port among themselves only: a second API there is refused.
    second = subprocess.run(
        [CONTENTHUB, "api", "--port", str(port), "--processes", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode != 0 and "Address already in use" in second.stderr
    burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]
    try:
        for sock in burst:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in burst:
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
        held = [_connections_held(child, port) for child in children]
    finally:
        for sock in burst:
            sock.close()
    assert sum(held) == BURST
    # Spread by a hash of each connection: 20 each on average; under 5 is one chance in 10^7.
    assert min(held) >= 5, f"connections per process: {held}"
    api.send_signal(signal.SIGTERM)
    assert api.wait(timeout=30) == 0
