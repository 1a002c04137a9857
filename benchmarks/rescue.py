"""Rescue benchmark: SIGKILL a worker mid-publish, how long until its task is queued again.

    .venv/bin/python benchmarks/rescue.py                       # all three databases (~6 min)
    .venv/bin/python benchmarks/rescue.py --backends postgresql --rounds 2

For each database, in one run, two ways of finding the dead worker:

- **session lock** (ours): each worker holds a session lock (SQLite: its process is looked
  for); the other workers' rescuers requeue the tasks of a worker whose lock is free. The
  lease is set to 120 s so it cannot be what rescued anything.
- **lease only** (the old behaviour, ``CONTENTHUB_FAST_RESCUE=0``): the task is requeued when
  its lease runs out. The lease is 10 s by default to keep the run short (``--baseline-lease
  60`` for the default lease); the latency scales with it.

A round starts ``--victims`` worker processes (one slot each), gives each a slow publish,
SIGKILLs them one by one at random intervals once every publish is under way (so kills fall
at every phase of the rescuers' checks), and reads each task's ``rescued`` event: latency =
event time − that worker's kill time (one host, one clock). One more worker runs throughout as
the rescuer, its only slot held by a publish that never ends, so it rescues but claims
nothing else. Every process started here is ended here.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenthub import storage  # noqa: E402
from contenthub.storage.db import Database  # noqa: E402
from contenthub.storage.models import PublishTask, TaskEvent  # noqa: E402
from dispatch import SERVERS, create_database, wait_for  # noqa: E402

CONTENTHUB = str(Path(sys.executable).parent / "contenthub")
MODES = {"session lock": {"fast": "1", "lease": "120"}, "lease only": {"fast": "0", "lease": "10"}}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Workers:
    url: str
    workdir: Path
    mode: dict[str, str]
    started: list[subprocess.Popen[bytes]]

    def start(self, label: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CONTENTHUB_DATABASE_URL": self.url,
            "CONTENTHUB_DATA_DIR": str(self.workdir),
            "CONTENTHUB_PLATFORM_MODULES": "bench_noop",
            "CONTENTHUB_POLL_SECONDS": "0.2",
            "CONTENTHUB_LEASE_SECONDS": self.mode["lease"],
            "CONTENTHUB_FAST_RESCUE": self.mode["fast"],
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        with open(self.workdir / f"{label}.log", "ab") as log:
            proc = subprocess.Popen(
                [CONTENTHUB, "worker", "--slots", "1"], env=env, stdout=log, stderr=log
            )
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)


def account(db: Database, user: int, name: str) -> int:
    return db.write(
        lambda s: storage.account_create(
            s,
            user_id=user,
            platform="bench-slow",
            name=name,
            now=now(),
            options={"sleep_seconds": 3600},
        )
    )


def enqueue(db: Database, user: int, account_id: int) -> int:
    task = storage.NewTask(user_id=user, account_id=account_id, title="slow", body="x")
    [row] = db.write(lambda s: storage.task_enqueue(s, [task], now=now()))
    return db.read(
        lambda s: s.scalar(sa.select(PublishTask.id).where(PublishTask.public_id == row))
    )


def statuses(db: Database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    rows = db.read(
        lambda s: s.execute(
            sa.select(PublishTask.id, PublishTask.status, PublishTask.lease_owner).where(
                PublishTask.id.in_(ids)
            )
        ).all()
    )
    return {r.id: (r.status, r.lease_owner) for r in rows}


def rescued_at(db: Database, ids: list[int]) -> dict[int, datetime]:
    rows = db.read(
        lambda s: s.execute(
            sa.select(TaskEvent.task_id, sa.func.min(TaskEvent.at))
            .where(TaskEvent.task_id.in_(ids), TaskEvent.reason == "rescued")
            .group_by(TaskEvent.task_id)
        ).all()
    )
    return dict(rows)


def one_round(db: Database, workers: Workers, accounts: list[int], user: int) -> list[float]:
    victims = [workers.start(f"victim-{len(workers.started)}") for _ in accounts]
    ids = [enqueue(db, user, a) for a in accounts]
    wait_for(
        lambda: all(s == "running" for s, _ in statuses(db, ids).values()),
        "every victim to be publishing",
        timeout=120,
    )
    # Each task's worker, by the pid in its name (host:pid:suffix).
    owner_pid = {t: int(owner.split(":")[-2]) for t, (_, owner) in statuses(db, ids).items()}
    killed_at = {}
    for proc in victims:  # a kill at a time, at random phases of the rescuers' checks
        time.sleep(random.uniform(0.1, 0.8))
        proc.send_signal(signal.SIGKILL)
        killed_at[proc.pid] = now()
    for proc in victims:
        proc.wait(timeout=10)
    timeout = float(workers.mode["lease"]) + 30
    wait_for(lambda: len(rescued_at(db, ids)) == len(ids), "every task to be rescued", timeout)
    latencies = [
        (at - killed_at[owner_pid[task]]).total_seconds()
        for task, at in rescued_at(db, ids).items()
    ]
    # Out of the way of the next round: the requeued tasks are cancelled.
    for public_id in db.read(
        lambda s: s.scalars(sa.select(PublishTask.public_id).where(PublishTask.id.in_(ids))).all()
    ):
        db.write(lambda s, p=public_id: storage.task_cancel(s, p, user_id=None, now=now()))
    return latencies


def measure(backend: str, mode_name: str, rounds: int, victims: int, root: Path) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"rescue-{backend}-", dir=root))
    bench = create_database(backend, workdir)
    db = Database.connect(bench.url)
    workers = Workers(bench.url, workdir, MODES[mode_name], [])
    try:
        user = db.write(lambda s: storage.user_ensure(s, "bench", now=now(), max_running=100))
        blocker = enqueue(db, user, account(db, user, "rescuer-blocker"))
        workers.start("rescuer")
        wait_for(
            lambda: statuses(db, [blocker])[blocker][0] == "running",
            "the rescuer to be busy",
            timeout=60,
        )
        accounts = [account(db, user, f"victim{i}") for i in range(victims)]
        latencies: list[float] = []
        for _ in range(rounds):
            latencies += one_round(db, workers, accounts, user)
        return latencies
    finally:
        workers.stop_all()
        db.dispose()
        bench.drop()


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(SERVERS), choices=list(SERVERS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds with the session lock")
    parser.add_argument("--lease-rounds", type=int, default=2, help="rounds with the lease only")
    parser.add_argument("--victims", type=int, default=4, help="workers killed per round")
    parser.add_argument(
        "--baseline-lease", type=int, default=10, help="the lease-only run's lease (s)"
    )
    args = parser.parse_args()
    MODES["lease only"]["lease"] = str(args.baseline_lease)
    rows = []
    with tempfile.TemporaryDirectory(prefix="contenthub-rescue-") as root:
        for backend in args.backends:
            figures = {}
            for mode, rounds in (("session lock", args.rounds), ("lease only", args.lease_rounds)):
                started = time.monotonic()
                figures[mode] = measure(backend, mode, rounds, args.victims, Path(root))
                print(
                    f"{backend:<10} {mode:<12} {len(figures[mode])} kills"
                    f" in {time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                )
            rows.append((backend, figures))
    print()
    print("SIGKILL → task requeued (seconds), one run on this machine")
    print()
    print(
        "| database | kills | session lock p50 / p99 / max (lease 120 s) "
        f"| lease only p50 / p99 / max (lease {args.baseline_lease} s) | p50 ratio |"
    )
    print("|---|---|---|---|---|")
    for backend, figures in rows:
        fast, lease = figures["session lock"], figures["lease only"]
        print(
            f"| {backend} | {len(fast)} + {len(lease)} "
            f"| {p(fast, 50):.2f} / {p(fast, 99):.2f} / {max(fast):.2f} "
            f"| {p(lease, 50):.2f} / {p(lease, 99):.2f} / {max(lease):.2f} "
            f"| {p(lease, 50) / p(fast, 50):.1f}× |"
        )


if __name__ == "__main__":
    main()
