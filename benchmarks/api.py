"""API benchmark: 50 concurrent clients on loopback against a real ``contenthub serve``.

Needs ``wrk`` (Debian package ``wrk``; ``scripts/setup bench`` installs it).

    .venv/bin/python benchmarks/api.py                 # SQLite and PostgreSQL, 10 s per row
    .venv/bin/python benchmarks/api.py --seconds 5 --backends sqlite
    .venv/bin/python benchmarks/api.py --src ../main/src   # the same, running other sources

Each client is a user of its own. For each database and process layout:

- **pickup**: one publish at a time through the API of an idle server, from the task's
  creation to its start (both stamped by the server: ``created_at``, ``started_at``),
  sampled at random points of the workers' poll cycle;
- ``POST /api/v1/publish`` (one article to one account; the workers publish the tasks
  meanwhile to a no-op platform) and ``GET /api/v1/tasks?limit=50``, each for a bounded
  time, reporting p50/p99 latency and requests per second.

The reference rows are a bare FastAPI app (one uvicorn process, like ``serve``; no token, no
database) answering 50 task-shaped rows from memory, through our listing's response model
and as plain dicts, measured right before each ``GET /api/v1/tasks``; the ``vs bare``
column is a rate over the response-model reference's. ``CPU ms/req`` is the servers' CPU
time (every process of the layout, workers included) per answered request: rates move with
the machine's load, the CPU a request costs much less. The per-user submission
limit (20 a minute) is raised for the run, or every client would be turned away after its
first 20; its check still runs on every request.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenthub.services import users  # noqa: E402
from contenthub.storage.db import Database  # noqa: E402
from dispatch import CONTENTHUB, create_database  # noqa: E402

CLIENTS = 50
SOURCES = HERE.parent / "src"


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


def start_servers(
    url: str, workdir: Path, port: int, topology: str, src: Path
) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "CONTENTHUB_PLATFORM_MODULES": "bench_noop",
        "CONTENTHUB_SUBMISSIONS_PER_MINUTE": "100000000",
        # ``src`` first: the servers run the sources asked for, not the installed ones.
        "PYTHONPATH": os.pathsep.join([str(src), str(HERE)]),
    }
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - the children own it
    procs = []
    for command in TOPOLOGIES[topology]:
        listen = ["--port", str(port)] if command[0] != "worker" else []
        procs.append(
            subprocess.Popen([CONTENTHUB, *command, *listen], env=env, stdout=log, stderr=log)
        )
    return procs


def wait_ready(base: str, proc: subprocess.Popen, path: str = "/readyz") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited; see serve.log")
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the server did not become ready")


def stop_servers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the reference: a bare FastAPI endpoint, 50 rows from memory ---------------------------


def reference_app():  # type: ignore[no-untyped-def]
    """FastAPI as its tutorial writes it, without a database or a token: 50 rows from memory
    answered through a declared response model (``/rows``: our listing's own, ``TaskPage``,
    which FastAPI validates and serializes) and as untyped dicts (``/dicts``)."""
    from fastapi import FastAPI

    from contenthub.api.schemas import TaskPage

    created = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": str(uuid.UUID(int=i)),
            "status": "succeeded",
            "progress": 100,
            "stage": "done",
            "platform": "bench-noop",
            "account_id": 1,
            "article_id": 1,
            "title": "Benchmark",
            "priority": 5,
            "due_at": created,
            "attempt": 1,
            "max_attempts": 3,
            "cancel_requested": False,
            "result_url": None,
            "post_id": str(uuid.UUID(int=i)),
            "error_class": None,
            "error_message": None,
            "leftovers": [],
            "batch_id": None,
            "created_at": created,
            "started_at": created + timedelta(seconds=1),
            "finished_at": created + timedelta(seconds=2),
            "held": None,
        }
        for i in range(50)
    ]
    app = FastAPI()

    @app.get("/rows", response_model=TaskPage)
    async def listing() -> dict:
        return {"items": rows, "limit": 50, "next_before": None}

    @app.get("/dicts")
    async def dicts() -> dict:
        return {"items": rows, "limit": 50, "next_before": None}

    return app


def start_reference(workdir: Path, port: int) -> subprocess.Popen:
    log = open(workdir / "reference.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [sys.executable, __file__, "--serve-reference", str(port)], stdout=log, stderr=log
    )


def serve_reference(port: int) -> None:
    import uvicorn

    uvicorn.run(reference_app(), port=port, log_config=None, access_log=False)


def measure_reference(
    clients: list[tuple[str, dict]], seconds: float, workdir: Path
) -> dict[str, float]:
    """Requests/s of the reference's two routes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_reference(workdir, port)
    try:
        wait_ready(base, proc, "/rows")
        return {
            path: hammer(base, clients, "GET", path, seconds, workdir, [proc.pid])
            for path in ("/rows", "/dicts")
        }
    finally:
        stop_servers([proc])


# -- pickup ----------------------------------------------------------------------------


def measure_pickup(base: str, client: tuple[str, dict], samples: int) -> tuple[float, float]:
    """One publish at a time; time from the task's creation to its start. p50, p99 in ms."""
    token, body = client
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        for _ in range(samples):
            # Reach the workers at a random point of their poll cycle (when they poll).
            time.sleep(random.uniform(0.02, 0.6))
            answer = http.post("/api/v1/publish", json=body)
            answer.raise_for_status()
            task_id = answer.json()["tasks"][0]["id"]
            deadline = time.monotonic() + 30
            while (task := http.get(f"/api/v1/tasks/{task_id}").json())["started_at"] is None:
                if time.monotonic() > deadline:
                    raise TimeoutError("a task was not picked up within 30 s")
                time.sleep(0.01)
            started = datetime.fromisoformat(task["started_at"])
            latencies.append((started - datetime.fromisoformat(task["created_at"])) / MS)
    latencies.sort()
    return statistics.median(latencies), latencies[max(0, int(len(latencies) * 0.99) - 1)]


MS = timedelta(milliseconds=1)


def wait_drained(url: str) -> None:
    """Until no task waits or runs: each phase starts on an idle server."""
    from contenthub import storage

    db = Database.connect(url)
    try:
        deadline = time.monotonic() + 300
        while True:
            counts = db.read(lambda s: storage.task_status_counts(s, user_id=None))
            if not counts.get("queued") and not counts.get("running"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the workers did not drain the queue: {counts}")
            time.sleep(0.2)
    finally:
        db.dispose()


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


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by ``pids`` and every process below them (Linux ``/proc``)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted, total = set(pids), 0
    for pid in sorted(stats):  # parents before children: pids grow
        if pid in wanted or stats[pid][0] in wanted:
            wanted.add(pid)
            total += stats[pid][1]
    return total / TICKS


def hammer(
    base: str,
    clients: list[tuple[str, dict]],
    method: str,
    path: str,
    seconds: float,
    workdir: Path,
    server_pids: list[int] | None = None,
) -> tuple[float, float, float, int, float]:
    """wrk with CLIENTS connections: requests/s, p50 ms, p99 ms, non-2xx answers, and the
    servers' CPU milliseconds per request (load on the machine changes the rates a lot,
    the CPU a request costs much less).

    wrk (C) leaves the CPU to the server; a Python client would take a core of the two."""
    script = workdir / f"{method.lower()}.lua"
    script.write_text(wrk_script(clients, method))
    cpu_before = cpu_seconds(server_pids or [])
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
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_ms = (cpu_seconds(server_pids or []) - cpu_before) * 1000 / max(done, 1)
    return rate, p50, p99, int(bad.group(1)) if bad else 0, cpu_ms


def measure(
    backend: str, topology: str, args: argparse.Namespace, workdir: Path
) -> list[tuple[str, ...]]:
    bench = create_database(backend, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = start_servers(bench.url, workdir, port, topology, Path(args.src))
    rows = []

    def report(
        label: str, rate: str, p50: str, p99: str, errors: str, ratio: str, cpu: str = ""
    ) -> None:
        rows.append((backend, topology, label, rate, p50, p99, errors, ratio, cpu))
        print(f"  {backend} {topology} {label}: {rate} req/s, p99 {p99} ms", file=sys.stderr)

    try:
        wait_ready(base, procs[0])
        clients = [make_client(base, bench.url) for _ in range(CLIENTS)]
        if args.pickups:
            p50, p99 = measure_pickup(base, clients[0], args.pickups)
            report("pickup, publish → running", "", f"{p50:.1f}", f"{p99:.1f}", "", "")
        cases = [
            ("POST /api/v1/publish", "POST", "/api/v1/publish"),
            ("GET /api/v1/tasks", "GET", "/api/v1/tasks?limit=50"),
        ]
        for label, method, path in cases:
            wait_drained(bench.url)
            ratio = ""
            if method == "GET":
                reference = measure_reference(clients, args.seconds, workdir)
                typed, untyped = reference["/rows"], reference["/dicts"]
                for name, (ref_rate, ref_p50, ref_p99, ref_errors, ref_cpu) in (
                    ("bare FastAPI: 50 rows, TaskPage model", typed),
                    ("bare FastAPI: 50 rows as dicts", untyped),
                ):
                    ratio = f"{ref_rate / typed[0]:.2f}"
                    report(
                        name,
                        f"{ref_rate:,.0f}",
                        f"{ref_p50:.1f}",
                        f"{ref_p99:.1f}",
                        str(ref_errors),
                        ratio,
                        f"{ref_cpu:.2f}",
                    )
            pids = [proc.pid for proc in procs]
            rate, p50, p99, errors, cpu = hammer(
                base, clients, method, path, args.seconds, workdir, pids
            )
            if method == "GET":
                ratio = f"{rate / typed[0]:.2f}"
            report(
                label, f"{rate:,.0f}", f"{p50:.1f}", f"{p99:.1f}", str(errors), ratio, f"{cpu:.2f}"
            )
    finally:
        stop_servers(procs)
        bench.drop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--topologies", default=",".join(TOPOLOGIES))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pickups", type=int, default=100, help="pickup samples (0: none)")
    parser.add_argument("--src", default=str(SOURCES), help="the sources the servers run")
    parser.add_argument("--serve-reference", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_reference:
        serve_reference(args.serve_reference)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "database",
        "processes",
        "measure",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "vs bare",
        "CPU ms/req",
        title=f"{CLIENTS} concurrent clients, {args.seconds:.0f} s each; sources {args.src}",
    )
    with tempfile.TemporaryDirectory(prefix="contenthub-api-bench-") as tmp:
        for backend in args.backends.split(","):
            for topology in args.topologies.split(","):
                for row in measure(backend, topology, args, Path(tmp)):
                    table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
