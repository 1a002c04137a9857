"""PostgreSQL's one-statement enqueue (storage/enqueue_postgresql.py) writes exactly what the
portable enqueue writes: the same tasks in the same order, the same events, the same ready
marks, and a NOTIFY that wakes listening workers and event hubs. (Every other enqueue in the
conformance suite, tests/db/test_dispatch.py, runs on both paths as well.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from contenthub import storage
from contenthub.storage.db import Database
from contenthub.storage.events import EVENTS_CHANNEL, NOTIFY_CHANNEL
from contenthub.storage.models import Account, PublishTask, TaskEvent, User
from tests.factories import T0, make_account, make_user

_BY_PATH_DIFFERS = {"id", "public_id", "user_id", "account_id", "batch_id"}


def _tasks(user_id: int, accounts: list[int], batch: str) -> list[storage.NewTask]:
    """Two due now and one scheduled, with tags and a cover, as one batch."""
    due = [None, T0 + timedelta(hours=2), None]
    return [
        storage.NewTask(
            user_id=user_id,
            account_id=account,
            title=f" Post {i} ",
            body="Hello\n" * (i + 1),
            tags=["a", f"t{i}"],
            cover="https://example.test/c.png" if i == 1 else None,
            priority=3 + i,
            due_at=due[i],
            batch_id=batch,
        )
        for i, account in enumerate(accounts)
    ]


def _written(db: Database, path: str, name: str) -> dict[str, Any]:
    """Enqueue one batch on ``path`` for a user of its own, with the user and accounts out of
    the claim's walk first; what the enqueue answered and what it left in the tables."""
    db.engine.update_execution_options(contenthub_statements=path)
    user = make_user(db, name)
    accounts = [make_account(db, user, f"{name}{i}") for i in range(3)]
    with db.engine.begin() as conn:  # as a claim leaves those with nothing to start
        served = {"turn_at": None, "last_served_at": T0 - timedelta(hours=1)}
        conn.execute(sa.update(User).where(User.id == user).values(served))
        conn.execute(sa.update(Account).where(Account.user_id == user).values(ready_at=None))
    batch = f"batch-{path}"
    answered = db.write(
        lambda s: storage.task_enqueue_rows(s, _tasks(user, accounts, batch), now=T0)
    )
    with db.engine.connect() as conn:
        turn = conn.scalar(sa.select(User.turn_at).where(User.id == user))
        ready = conn.execute(
            sa.select(Account.id, Account.ready_at).where(Account.user_id == user)
        ).all()
        bodies = conn.scalars(
            sa.select(PublishTask.body).where(PublishTask.user_id == user).order_by(PublishTask.id)
        ).all()
        events = conn.execute(
            sa.select(TaskEvent).where(TaskEvent.user_id == user).order_by(TaskEvent.id)
        ).all()
    by_id = {row["id"]: i for i, row in enumerate(answered)}
    return {
        "tasks": [{k: v for k, v in row.items() if k not in _BY_PATH_DIFFERS} for row in answered],
        "accounts": [row["account_id"] for row in answered] == accounts,
        "ids": [row["id"] for row in answered] == sorted(by_id),
        "bodies": bodies,
        "turn": turn,
        "ready": sorted((accounts.index(a), at) for a, at in ready),
        "events": [
            (by_id[e.task_id], e.at, e.kind, e.reason, e.from_status, e.to_status, e.message)
            for e in events
        ],
    }


def test_postgresql_enqueue_writes_what_the_portable_one_writes(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's own enqueue; the portable one is this database's only one")
    conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        own = _written(db, "postgresql", "own")
        told = {n.channel for n in listener.notifies(timeout=5, stop_after=2)}
    portable = _written(db, "portable", "portable")

    assert told == {NOTIFY_CHANNEL, EVENTS_CHANNEL}
    assert own == portable
    assert own["accounts"] and own["ids"]  # in the order asked for, ids ascending
    assert [t["status"] for t in own["tasks"]] == ["queued", "scheduled", "queued"]
    assert own["tasks"][0]["title"] == "Post 0" and own["tasks"][1]["tags"] == ["a", "t1"]
    assert own["turn"] == T0 - timedelta(hours=1)  # back in the walk, at its place
    assert [at is not None for _, at in own["ready"]] == [True, False, True]
    assert [e[3] for e in own["events"]] == ["enqueued", "scheduled", "enqueued"]
    assert own["bodies"] == ["Hello\n", "Hello\nHello\n", "Hello\nHello\nHello\n"]
    assert own["events"][1][6] == "scheduled for " + (T0 + timedelta(hours=2)).isoformat()
