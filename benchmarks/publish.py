"""Publish benchmark against the platform sandbox (issue 4).

1. Ten articles, four worker slots, sandbox Zhihu answering every publish after 4 s, spread over
   four accounts (one publish at a time per account): wall time against the ideal 12 s
   (3 rounds × 4 s) and the seeds' 40 s (one after another).
2. contenthub's own cost per publish, with the sandbox answering at once, at 1, 4 and 16 slots:
   worker slot-seconds per publish (wall × slots ÷ publishes), which is everything that is not
   the platform's latency: claim, progress and checkpoint writes, rendering, HTTP round trips.

The sandbox runs in its own process so it does not share this process's interpreter lock.
Run: .venv/bin/python benchmarks/publish.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.platforms import outbound
from contenthub.sandbox.server import SandboxClient, account_description
from contenthub.secrets_box import SecretBox
from contenthub.storage import NewTask, migrate, task_enqueue
from contenthub.storage.db import Database
from contenthub.storage.models import PublishTask
from contenthub.worker import Worker, WorkerConfig

LATENCY_SECONDS = 4.0
BODY = "## Benchmark\n\nA paragraph of text with **bold** and `code`.\n\n- one\n- two\n"


@dataclass(frozen=True)
class Run:
    publishes: int
    slots: int
    wall_seconds: float
    p50_publish_ms: float  # one publish from its claim to its recorded success


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "contenthub.sandbox.server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_admin/posts", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


async def drain(db: Database, box: SecretBox, slots: int, expected: int) -> float:
    """Run one in-process worker until ``expected`` tasks succeeded; returns the wall time."""
    worker = Worker(db, WorkerConfig(slots=slots, poll_seconds=0.05), secrets=box)
    started = time.perf_counter()
    running = asyncio.create_task(worker.run(install_signals=False))
    while True:
        counts = await asyncio.to_thread(
            db.read, lambda s: storage.task_status_counts(s, user_id=None)
        )
        if counts.get("failed"):
            raise SystemExit(f"publishes failed: {counts}")
        if counts.get("succeeded", 0) >= expected:
            break
        await asyncio.sleep(0.02)
    wall = time.perf_counter() - started
    worker.request_stop()
    await running
    return wall


def scenario(
    database_url: str, sandbox: str, box: SecretBox, *, accounts: int, publishes: int, slots: int
) -> Run:
    db = Database.connect(database_url)
    migrate.upgrade(db.engine)
    tag = f"s{slots}-{time.monotonic_ns()}"
    admin = SandboxClient(sandbox)

    def setup(session) -> list[NewTask]:
        user = storage.user_ensure(session, f"bench-{tag}", now=utcnow(), max_running=slots)
        ids = []
        for i in range(accounts):
            described = admin.add_account("zhihu", f"{tag}-{i}")
            ids.append(
                storage.account_create(
                    session,
                    user_id=user,
                    platform="zhihu",
                    name=described["name"],
                    now=utcnow(),
                    options=account_description(sandbox, "zhihu", described["name"])["options"],
                    credentials=box.seal(described["credentials"]),
                )
            )
        return [
            NewTask(user_id=user, account_id=ids[i % accounts], title=f"Post {i}", body=BODY)
            for i in range(publishes)
        ]

    tasks = db.write(setup)
    db.write(lambda s: task_enqueue(s, tasks, now=utcnow()))
    already = db.read(lambda s: storage.task_status_counts(s, user_id=None)).get("succeeded", 0)
    wall = asyncio.run(drain(db, box, slots, already + publishes))
    user_id = tasks[0].user_id
    spans = db.read(
        lambda s: s.execute(
            sa.select(PublishTask.started_at, PublishTask.finished_at).where(
                PublishTask.user_id == user_id
            )
        ).all()
    )
    p50 = statistics.median((end - start).total_seconds() * 1000 for start, end in spans)
    admin.close()
    db.dispose()
    return Run(publishes, slots, wall, p50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="contenthub-bench-"))
    database_url = arguments.database_url or f"sqlite:///{folder / 'bench.db'}"
    box = SecretBox(Fernet.generate_key())
    os.environ.setdefault("CONTENTHUB_DATA_DIR", str(folder))
    proc, sandbox = start_sandbox()
    try:
        # The sandbox is on loopback: allowed as an administrator would allow it.
        with outbound.allowing(sandbox.removeprefix("http://")):
            admin = SandboxClient(sandbox)
            admin.add_fault(
                "zhihu",
                "latency",
                on="publish",
                min_ms=LATENCY_SECONDS * 1000,
                max_ms=LATENCY_SECONDS * 1000,
            )
            slow = scenario(database_url, sandbox, box, accounts=4, publishes=10, slots=4)
            admin.clear_faults()
            overhead = [
                scenario(database_url, sandbox, box, accounts=slots, publishes=n, slots=slots)
                for slots, n in ((1, 40), (4, 80), (16, 160))
            ]
            admin.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    ideal = -(-slow.publishes // slow.slots) * LATENCY_SECONDS
    print(f"\n10 articles, 4 slots, Zhihu answering each publish after {LATENCY_SECONDS:.0f} s")
    print(f"{'':<24}{'wall s':>10}")
    print(f"{'contenthub':<24}{slow.wall_seconds:>10.2f}")
    print(f"{'ideal (3 rounds)':<24}{ideal:>10.2f}")
    print(f"{'seeds (serial)':<24}{slow.publishes * LATENCY_SECONDS:>10.2f}")
    print(
        f"overhead per publish beyond the platform's {LATENCY_SECONDS:.0f} s: "
        f"{slow.p50_publish_ms - LATENCY_SECONDS * 1000:.0f} ms (p50)"
    )
    print("\nsandbox answering at once: a whole Zhihu publish (5 HTTP calls, its progress and")
    print("checkpoint writes, rendering) — an upper bound on what contenthub itself adds")
    print(f"{'slots':>6}{'publishes':>11}{'wall s':>10}{'publish/s':>11}{'p50 publish ms':>16}")
    for run in overhead:
        print(
            f"{run.slots:>6}{run.publishes:>11}{run.wall_seconds:>10.2f}"
            f"{run.publishes / run.wall_seconds:>11.1f}{run.p50_publish_ms:>16.1f}"
        )


if __name__ == "__main__":
    main()
