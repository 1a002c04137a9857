"""What PostgreSQL's ``pg_notify`` costs each event write (decisions §23).

    .venv/bin/python benchmarks/notify.py [--writes 2000]

One event per transaction, as a progress step writes it: with the ``pg_notify`` round trip
``append_events`` adds on PostgreSQL, and without it, interleaved in blocks of 100 so both
meet the same machine load. Prints median and p99 per transaction and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from contenthub import storage  # noqa: E402
from contenthub.states import EventReason  # noqa: E402
from contenthub.storage import NewTask  # noqa: E402
from contenthub.storage.db import Database  # noqa: E402
from contenthub.storage.events import EVENTS, EVENTS_CHANNEL, Event  # noqa: E402
from dispatch import create_database, seed_users_and_accounts  # noqa: E402


def one_write(db: Database, task_id: int, user_id: int, notify: bool) -> float:
    event = Event(task_id=task_id, user_id=user_id, kind="progress", reason=EventReason.PROGRESS)
    started = time.perf_counter()
    with db._sessions() as session, session.begin():
        session.execute(
            sa.insert(EVENTS),
            [
                {
                    "task_id": event.task_id,
                    "user_id": event.user_id,
                    "at": datetime.now(UTC),
                    "kind": event.kind,
                    "reason": event.reason.value,
                    "progress": 50,
                }
            ],
        )
        if notify:
            session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": EVENTS_CHANNEL})
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    bench = create_database("postgresql", Path("/tmp"))
    db = Database.connect(bench.url)
    try:
        user, account = seed_users_and_accounts(db)[0]
        task = NewTask(user_id=user, account_id=account, title="T", body="b")
        [public_id] = db.write(lambda s: storage.task_enqueue(s, [task], now=datetime.now(UTC)))
        task_id = db.read(lambda s: storage.task_get(s, public_id, user_id=None))["id"]
        times: dict[bool, list[float]] = {True: [], False: []}
        for block in range(args.writes // 100):
            for notify in (block % 2 == 0, block % 2 == 1):
                for _ in range(50):
                    times[notify].append(one_write(db, task_id, user, notify))
        for notify, label in ((False, "insert only"), (True, "insert + pg_notify")):
            values = sorted(times[notify])
            print(
                f"{label:20} median {statistics.median(values):.3f} ms"
                f"  p99 {values[int(len(values) * 0.99) - 1]:.3f} ms  ({len(values)} writes)"
            )
        ratio = statistics.median(times[True]) / statistics.median(times[False])
        print(f"pg_notify costs {ratio:.2f}× the event write without it (medians)")
    finally:
        db.dispose()
        bench.drop()


if __name__ == "__main__":
    main()
