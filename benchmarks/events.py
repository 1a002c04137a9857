"""Live events benchmark: 10, 100 and 1,000 concurrent SSE clients on one API process.

    .venv/bin/python benchmarks/events.py                        # PostgreSQL and SQLite
    .venv/bin/python benchmarks/events.py --backends postgresql --clients 10 100

For each database and client count, one API process (uvicorn in a subprocess, 127.0.0.1) is
started twice: with the event hub (``contenthub.api.app:app_factory``), and with the old
per-connection polling (``events_baseline:baseline_app``, the code as it was). The clients
are spread over ten users, each client one open ``GET /api/v1/events``. Once all are
connected, this script appends events at a steady rate (as workers do: each in its own
transaction, to a random user's task, carrying the time it was written) for a fixed time.
Reported: event-to-client latency p50/p99 over every delivery, deliveries received of those
due, the API process's database statements per second while events flow (its
``contenthub_db_statements_total``), its CPU use (CPU seconds per second, from /proc), and
its resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenthub import storage  # noqa: E402
from contenthub.services import users  # noqa: E402
from contenthub.states import EventReason  # noqa: E402
from contenthub.storage import NewTask, task_enqueue  # noqa: E402
from contenthub.storage.db import Database  # noqa: E402
from contenthub.storage.events import Event, append_events  # noqa: E402
from dispatch import create_database, now  # noqa: E402

USERS = 10
RATE = 20.0  # events a second, over all users
SECONDS = 8.0  # how long events are written
MODES = {
    "hub": "contenthub.api.app:app_factory",
    "per-connection poll (old)": "events_baseline:baseline_app",
}


@dataclass
class Person:
    user_id: int
    task_id: int
    token: str


@dataclass
class Deliveries:
    latencies: list[float] = field(default_factory=list)
    connected: int = 0
    label: bytes = b""


def seed(db: Database) -> list[Person]:
    people = []
    for i in range(USERS):

        def work(s, i: int = i) -> Person:  # type: ignore[no-untyped-def]
            user_id = users.user_create(
                s, f"bench{i}_{uuid.uuid4().hex[:6]}", "pw-bench-123", admin=False, now=now()
            )
            token = users.token_create(s, user_id, "bench", now=now())[1]
            account = storage.account_create(
                s, user_id=user_id, platform="noop", name="a", now=now()
            )
            public_id = task_enqueue(
                s, [NewTask(user_id=user_id, account_id=account, title="t", body="b")], now=now()
            )[0]
            task = storage.task_get(s, public_id, user_id=None)
            return Person(user_id, task["id"], token)

        people.append(db.write(work))
    return people


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_api(target: str, url: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    log = open(workdir / "api.log", "ab")  # noqa: SIM115 - the child owns it
    command = [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    command += ["--backlog", "4096", "--timeout-graceful-shutdown", "3"]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API exited: {(workdir / 'api.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the API did not become ready")


def stop_api(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def statements(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    match = re.search(r"^contenthub_db_statements_total (\S+)$", text, re.MULTILINE)
    assert match, "the API exposes no statement counter"
    return float(match.group(1))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


async def client(port: int, token: str, seen: Deliveries, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    seen.connected += 1
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                arrived = time.time()
                # The message field, without parsing the whole JSON: the client stays cheap.
                start = line.find(b'"message": "', -80) + 12
                label, _, sent = line[start : line.index(b'"', start)].partition(b" ")
                if label == seen.label:
                    seen.latencies.append(arrived - float(sent))
    finally:
        writer.close()


def write_events(db: Database, people: list[Person], label: bytes, counts: dict[int, int]) -> None:
    """RATE events a second for SECONDS, each its own transaction, to a random user."""
    started = time.monotonic()
    for n in range(int(RATE * SECONDS)):
        time.sleep(max(0.0, started + n / RATE - time.monotonic()))
        who = random.choice(people)

        def work(s, who: Person = who) -> None:  # type: ignore[no-untyped-def]
            written = f"{label.decode()} {time.time():.6f}"
            event = Event(who.task_id, who.user_id, "progress", EventReason.PROGRESS)
            append_events(s, [replace(event, message=written)], now())

        db.write(work)
        counts[who.user_id] = counts.get(who.user_id, 0) + 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def measure(
    port: int, pid: int, db: Database, people: list[Person], clients: int
) -> dict[str, float]:
    seen = Deliveries(label=f"b{uuid.uuid4().hex[:8]}".encode())
    stop = asyncio.Event()
    tasks = []
    for i in range(clients):
        tasks.append(asyncio.create_task(client(port, people[i % USERS].token, seen, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a ramp, not a SYN flood
    deadline = time.monotonic() + 120
    while seen.connected < clients:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {seen.connected} of {clients} clients connected")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # let the connections settle
    counts: dict[int, int] = {}
    before, cpu_before = await asyncio.to_thread(statements, port), cpu_seconds(pid)
    started = time.monotonic()
    await asyncio.to_thread(write_events, db, people, seen.label, counts)
    elapsed = time.monotonic() - started
    after, cpu_after = await asyncio.to_thread(statements, port), cpu_seconds(pid)
    per_user = {p.user_id: len(range(n, clients, USERS)) for n, p in enumerate(people)}
    due = sum(count * per_user[user] for user, count in counts.items())
    deadline = time.monotonic() + 15
    while len(seen.latencies) < due and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "p50": percentile(seen.latencies, 0.5) * 1000,
        "p99": percentile(seen.latencies, 0.99) * 1000,
        "received": len(seen.latencies) / due if due else float("nan"),
        "qps": (after - before) / elapsed,
        "cpu": (cpu_after - cpu_before) / elapsed,
    }


def run(backend: str, clients: list[int], modes: list[str], workdir: Path) -> list[list[str]]:
    rows = []
    for mode in modes:
        target = MODES[mode]
        for count in clients:
            bench = create_database(backend, workdir)
            db = Database.connect(bench.url)
            try:
                people = seed(db)
                port = free_port()
                proc = start_api(target, bench.url, workdir, port)
                try:
                    result = asyncio.run(measure(port, proc.pid, db, people, count))
                    rss, peak = rss_mib(proc.pid)
                finally:
                    stop_api(proc)
            finally:
                db.dispose()
                bench.drop()
            row = [
                backend,
                mode,
                str(count),
                f"{result['p50']:.0f}",
                f"{result['p99']:.0f}",
                f"{result['received']:.1%}",
                f"{result['qps']:.1f}",
                f"{result['cpu']:.0%}",
                f"{rss:.0f} / {peak:.0f}",
            ]
            print("  ".join(row), flush=True)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--clients", nargs="+", type=int, default=[10, 100, 1000])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = parser.parse_args()
    head = ["database", "stream", "clients", "p50 ms", "p99 ms", "received", "db statements/s"]
    head += ["API CPU", "RSS / peak MiB"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
        for backend in args.backends:
            rows += run(backend, args.clients, args.modes, Path(tmp))
    print(f"\n{RATE:.0f} events/s for {SECONDS:.0f} s over {USERS} users; one API process\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
