"""PostgreSQL's one-statement enqueue and completion (storage/postgresql_writes.py) write
exactly what the portable ones write: the same tasks in the same order, the same events, the
same ready marks, and a NOTIFY that wakes listening workers and event hubs; a completion whose
lease was lost is dropped by both; and a completion locks its users in id order, as every
writer of users' rows does. (The rest of the conformance suite, tests/db/test_dispatch.py,
runs on both paths as well.)"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from harness import wait_until

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


def _out_of_the_walk(db: Database, user: int) -> None:
    """As a claim leaves a user and accounts with nothing to start."""
    with db.engine.begin() as conn:
        served = {"turn_at": None, "last_served_at": T0 - timedelta(hours=1)}
        conn.execute(sa.update(User).where(User.id == user).values(served))
        conn.execute(sa.update(Account).where(Account.user_id == user).values(ready_at=None))


def _marks(db: Database, user: int, accounts: list[int]) -> tuple[Any, list[Any]]:
    with db.engine.connect() as conn:
        turn = conn.scalar(sa.select(User.turn_at).where(User.id == user))
        ready = conn.execute(
            sa.select(Account.id, Account.ready_at).where(Account.user_id == user)
        ).all()
    return turn, sorted((accounts.index(a), at) for a, at in ready)


def _written(db: Database, path: str, name: str) -> dict[str, Any]:
    """Enqueue one batch on ``path`` for a user of its own, with the user and accounts out of
    the claim's walk first; what the enqueue answered and what it left in the tables."""
    db.engine.update_execution_options(contenthub_statements=path)
    user = make_user(db, name)
    accounts = [make_account(db, user, f"{name}{i}") for i in range(3)]
    _out_of_the_walk(db, user)
    batch = f"batch-{path}"
    answered = db.write(
        lambda s: storage.task_enqueue_rows(s, _tasks(user, accounts, batch), now=T0)
    )
    turn, ready = _marks(db, user, accounts)
    with db.engine.connect() as conn:
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
        "ready": ready,
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


def _completed(db: Database, path: str, name: str) -> dict[str, Any]:
    """Claim three tasks on ``path`` and complete them: one live, one held for review, one
    whose lease was lost (a stale token); what was recorded and what the tables hold."""
    db.engine.update_execution_options(contenthub_statements=path)
    user = make_user(db, name)
    accounts = [make_account(db, user, f"{name}{i}") for i in range(3)]
    tasks = [storage.NewTask(user, a, title=f"P{i}", body="b") for i, a in enumerate(accounts)]
    ids = db.write(lambda s: storage.task_enqueue(s, tasks, now=T0))
    claimed = db.write(
        lambda s: storage.task_claim(s, worker="w1", slots=3, now=T0, lease_seconds=60)
    )
    by_account = {c.account_id: c for c in claimed}
    leases = [
        storage.Lease(c.id, c.lease_token if i < 2 else "stale", user)
        for i, c in enumerate(by_account[a] for a in accounts)
    ]
    _out_of_the_walk(db, user)
    done = T0 + timedelta(minutes=1)
    results = [
        storage.Published(leases[0], url="https://x.test/1", post_id="1", note="checked"),
        storage.Published(leases[1], url=None, post_id="2", in_review=True),
        storage.Published(leases[2], url="https://x.test/3", post_id="3", updated=True),
    ]
    recorded = db.write(lambda s: storage.task_complete(s, results, now=done, worker="w1"))
    turn, ready = _marks(db, user, accounts)
    rows = [db.read(lambda s, i=i: storage.task_get(s, i, user_id=None)) for i in ids]
    with db.engine.connect() as conn:
        events = conn.execute(
            sa.select(TaskEvent)
            .where(TaskEvent.user_id == user, TaskEvent.reason != "enqueued")
            .order_by(TaskEvent.id)
        ).all()
    position = {row["id"]: i for i, row in enumerate(rows)}
    return {
        "recorded": sorted(position[i] for i in recorded),
        "tasks": [
            {k: row[k] for k in ("status", "stage", "progress", "result_url", "post_id")}
            | {
                "outcome": row["outcome"],
                "finished_at": row["finished_at"],
                "leased": row["lease_token"] is not None,
            }
            for row in rows
        ],
        "turn": turn,
        "ready": ready,
        "events": [
            (position[e.task_id], e.at, e.reason, e.from_status, e.to_status, *_said(e))
            for e in events
        ],
    }


def _said(event: Any) -> tuple[Any, ...]:
    return event.stage, event.progress, event.message, event.worker


def test_postgresql_completion_records_what_the_portable_one_records(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's own completion; the portable one is this database's only one")
    conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        own = _completed(db, "postgresql", "own")
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        # (A completion made by the test after LISTEN: the notification is the completion's.)
        later = _completed(db, "postgresql", "later")
        told = {n.channel for n in listener.notifies(timeout=5, stop_after=1)}
    portable = _completed(db, "portable", "portable")

    assert told == {EVENTS_CHANNEL}
    assert own == portable == later
    assert own["recorded"] == [0, 1]  # the stale lease's result is dropped
    assert [t["status"] for t in own["tasks"]] == ["succeeded", "in_review", "running"]
    assert [t["leased"] for t in own["tasks"]] == [False, False, True]
    assert own["tasks"][0]["outcome"] == "published"
    assert own["turn"] == T0 - timedelta(hours=1)  # back in the walk, at its place
    assert [at is not None for _, at in own["ready"]] == [True, True, False]
    assert [e[2] for e in own["events"] if e[3] == "running"] == ["published", "in_review"]


# -- the completion's lock order ------------------------------------------------------------

USERS_IN_ORDER = 6


def test_a_completion_locks_its_users_in_id_order(db: Database) -> None:
    """Every writer of users' rows takes them in id order, so two completions sharing users
    never wait on each other in a cycle (a deadlock, which the gateway would retry at a cost).
    Seen from outside: while a completion waits for a user another transaction holds, it holds
    every user below that one and none above. (Marked in the order of its tasks, as a first
    version did, the users were locked in a hash table's order: 1, 3, 4, 5, 6 here.)"""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's own completion; the portable one is this database's only one")
    users = [make_user(db, f"u{i}") for i in range(USERS_IN_ORDER)]
    for user in users:
        account = make_account(db, user, "a")
        db.write(
            lambda s, u=user, a=account: storage.task_enqueue(
                s, [storage.NewTask(u, a, title="T", body="b")], now=T0
            )
        )
    claimed = db.write(
        lambda s: storage.task_claim(s, worker="w", slots=USERS_IN_ORDER, now=T0, lease_seconds=60)
    )
    # Given in the reverse of the users' order, as a batch may come.
    results = [
        storage.Published(t.lease, url="u", post_id="p")
        for t in sorted(claimed, key=lambda t: t.user_id, reverse=True)
    ]
    middle = users[USERS_IN_ORDER // 2]
    with db.engine.connect() as holder, db.engine.connect() as probe:
        holder.execute(_LOCK_USER, {"id": middle})  # (its transaction stays open)
        done: dict[str, Any] = {}
        completing = threading.Thread(
            target=lambda: done.update(
                ids=db.write(lambda s: storage.task_complete(s, results, now=T0, worker="w"))
            )
        )
        completing.start()
        try:
            wait_until(lambda: _waiting_for_a_lock(probe), timeout=30, what="the completion")
            held = [u for u in users if not _free(probe, u)]
        finally:
            holder.rollback()
            completing.join(timeout=30)
    assert held == [u for u in users if u <= middle]  # (the middle one: the other's)
    assert done["ids"] == {t.id for t in claimed}


_LOCK_USER = sa.text("SELECT id FROM users WHERE id = :id FOR NO KEY UPDATE")


def _waiting_for_a_lock(conn: sa.Connection) -> bool:
    waiting = conn.scalar(
        sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%WITH given AS%'"
        )
    )
    conn.rollback()
    return bool(waiting)


def _free(conn: sa.Connection, user_id: int) -> bool:
    """Whether the user's row can be locked now (without waiting)."""
    try:
        conn.execute(sa.text(f"{_LOCK_USER.text} NOWAIT"), {"id": user_id})
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        conn.rollback()
