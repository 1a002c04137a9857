"""API benchmark: 50 concurrent clients on loopback against a real ``contenthub serve``.

Needs ``wrk`` (Debian package ``wrk``; ``scripts/setup bench`` installs it).

    .venv/bin/python benchmarks/api.py                 # SQLite and PostgreSQL, 10 s per row
    .venv/bin/python benchmarks/api.py --seconds 5 --backends sqlite

Each client is a user of its own. For each database: ``POST /api/v1/publish`` (one article
to one account; the workers in the same process publish the tasks meanwhile to a no-op
platform) and ``GET /api/v1/tasks?limit=50``, each for a bounded time, reporting p50/p99
latency and requests per second. The per-user submission limit (20 a minute) is raised for
the run, or every client would be turned away after its first 20; its check still runs on
every request.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenthub.services import users  # noqa: E402
from contenthub.storage.db import Database  # noqa: E402
from dispatch import CONTENTHUB, create_database  # noqa: E402

CLIENTS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TOPOLOGIES = {
    # One process: API and publish workers share its interpreter (the single-machine setup).
    "serve": [["serve", "--slots", "8"]],
    # The API in two processes of its own, publishes in a separate worker.
    "api×2 + worker": [["api", "--processes", "2"], ["worker", "--slots", "8"]],
}


def start_servers(url: str, workdir: Path, port: int, topology: str) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "CONTENTHUB_PLATFORM_MODULES": "bench_noop",
        "CONTENTHUB_SUBMISSIONS_PER_MINUTE": "100000000",
        # The inherited path too: the servers run the code under study, not the installed one.
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - the children own it
    procs = []
    for command in TOPOLOGIES[topology]:
        listen = ["--port", str(port)] if command[0] != "worker" else []
        procs.append(
            subprocess.Popen([CONTENTHUB, *command, *listen], env=env, stdout=log, stderr=log)
        )
    return procs


def wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited; see serve.log")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the server did not become ready")


def make_client(base: str, url: str) -> tuple[str, dict]:
    """A user of its own (as 50 people would be), with an account and an article."""
    token = make_token(url)
    headers = {"Authorization": f"Bearer {token}"}
    account = httpx.post(
        f"{base}/api/v1/accounts", headers=headers, json={"platform": "bench-noop", "name": "bench"}
    ).json()["id"]
    article = httpx.post(
        f"{base}/api/v1/articles", headers=headers, json={"title": "Benchmark", "body": "body"}
    ).json()["id"]
    # The same article again and again: asked for explicitly, or each publish after the first
    # would be refused as already live on the account.
    return token, {"article_id": article, "account_ids": [account], "republish": True}


def make_token(url: str) -> str:
    db = Database.connect(url)
    try:
        now = datetime.now(UTC)

        def work(s):  # type: ignore[no-untyped-def]
            user_id = users.user_create(
                s, f"bench{uuid.uuid4().hex[:6]}", "benchmark-pass", admin=False, now=now
            )
            return users.token_create(s, user_id, "bench", now=now)[1]

        return db.write(work)
    finally:
        db.dispose()


def wrk_script(clients: list[tuple[str, dict]], method: str) -> str:
    """A wrk Lua script: every request goes out as one of the clients, chosen at random."""
    tokens = ", ".join(f'"{token}"' for token, _ in clients)
    bodies = ", ".join("[[" + json.dumps(body) + "]]" for _, body in clients)
    return f"""
local tokens = {{{tokens}}}
local bodies = {{{bodies}}}
request = function()
  local i = math.random(#tokens)
  local headers = {{["Authorization"] = "Bearer " .. tokens[i],
                    ["Content-Type"] = "application/json"}}
  if "{method}" == "POST" then
    return wrk.format("POST", nil, headers, bodies[i])
  end
  return wrk.format("GET", nil, headers, nil)
end
"""


def _ms(text: str) -> float:
    value = float(re.sub(r"[a-z]+$", "", text))
    unit = re.sub(r"^[0-9.]+", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def hammer(
    base: str,
    clients: list[tuple[str, dict]],
    method: str,
    path: str,
    seconds: float,
    workdir: Path,
) -> tuple[float, float, float, int]:
    """wrk with CLIENTS connections: requests/s, p50 ms, p99 ms, non-2xx answers.

    wrk (C) leaves the CPU to the server; a Python client would take a core of the two."""
    script = workdir / f"{method.lower()}.lua"
    script.write_text(wrk_script(clients, method))
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CLIENTS}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
            base + path,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, p50, p99, int(bad.group(1)) if bad else 0


def measure(backend: str, topology: str, seconds: float, workdir: Path) -> list[tuple[str, ...]]:
    bench = create_database(backend, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = start_servers(bench.url, workdir, port, topology)
    rows = []
    try:
        wait_ready(base, procs[0])
        clients = [make_client(base, bench.url) for _ in range(CLIENTS)]
        cases = [
            ("POST /api/v1/publish", "POST", "/api/v1/publish"),
            ("GET /api/v1/tasks", "GET", "/api/v1/tasks?limit=50"),
        ]
        for label, method, path in cases:
            rate, p50, p99, errors = hammer(base, clients, method, path, seconds, workdir)
            rows.append(
                (backend, topology, label, f"{rate:,.0f}", f"{p50:.1f}", f"{p99:.1f}", str(errors))
            )
            print(f"  {backend} {topology} {label}: {rows[-1][3]} req/s", file=sys.stderr)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        bench.drop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "database",
        "processes",
        "endpoint",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        title=f"{CLIENTS} concurrent clients, {args.seconds:.0f} s each",
    )
    with tempfile.TemporaryDirectory(prefix="contenthub-api-bench-") as tmp:
        for backend in args.backends.split(","):
            for topology in TOPOLOGIES:
                for row in measure(backend, topology, args.seconds, Path(tmp)):
                    table.add_row(*row)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
