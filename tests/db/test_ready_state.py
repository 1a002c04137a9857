"""The ready state the claim walks (storage/ready.py): who cannot start anything leaves the
walk and comes back exactly when something may start, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contenthub import storage
from contenthub.errors import ErrorClass
from contenthub.storage.db import Database
from contenthub.storage.models import PublishTask, User
from tests.db.test_dispatch import claim, claim_statements, complete, fail

__all__ = ["claim_statements"]  # both claims on PostgreSQL here too
from tests.factories import T0, enqueue, make_account, make_user

MINUTE = timedelta(minutes=1)


def turn_of(db: Database, user_id: int) -> datetime | None:
    return db.read(lambda s: s.scalar(sa.select(User.turn_at).where(User.id == user_id)))


def test_who_cannot_start_leaves_the_walk_and_comes_back_at_its_time(db: Database) -> None:
    paced_user, capped_user = make_user(db, "paced"), make_user(db, "capped")
    held_user, busy_user = make_user(db, "held"), make_user(db, "busy", max_running=1)
    paced = make_account(db, paced_user, "p", min_interval_seconds=600)
    capped = make_account(db, capped_user, "c", daily_cap=1)
    held = make_account(db, held_user, "h")
    busy = [make_account(db, busy_user, f"b{i}") for i in range(2)]
    for user, account in [(paced_user, paced), (capped_user, capped), (busy_user, busy[0])]:
        enqueue(db, user, account, 2)
    enqueue(db, busy_user, busy[1])
    first = claim(db, 10)
    assert sorted(t.account_id for t in first) == sorted([paced, capped, busy[0]])
    for t in first:
        if t.account_id != busy[0]:
            complete(db, t)
    db.write(lambda s: storage.account_set_status(s, held, "needs_login", now=T0))
    enqueue(db, held_user, held)

    assert claim(db, 10, now=T0 + MINUTE) == []
    # Nobody is left in the walk: paced and capped until their time, the others until a change.
    assert turn_of(db, paced_user) == T0 + timedelta(seconds=600)
    assert turn_of(db, capped_user) == T0 + timedelta(days=1)
    assert turn_of(db, held_user) is None and turn_of(db, busy_user) is None

    assert [t.account_id for t in claim(db, 10, now=T0 + timedelta(seconds=600))] == [paced]
    db.write(lambda s: storage.account_set_status(s, held, "active", now=T0 + 2 * MINUTE))
    assert [t.account_id for t in claim(db, 10, now=T0 + 2 * MINUTE)] == [held]
    [busy_first] = [t for t in first if t.account_id == busy[0]]
    complete(db, busy_first, now=T0 + 2 * MINUTE)
    [freed] = claim(db, 10, now=T0 + 2 * MINUTE)
    assert freed.user_id == busy_user
    assert claim(db, 10, now=T0 + timedelta(days=1) - timedelta(seconds=1)) == []
    assert [t.account_id for t in claim(db, 10, now=T0 + timedelta(days=1))] == [capped]


def test_a_raised_cap_frees_the_account_at_once(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a", daily_cap=1)
    enqueue(db, user, account, 2)
    [t] = claim(db, 1)
    complete(db, t)
    assert claim(db, 1, now=T0 + MINUTE) == []
    db.write(lambda s: storage.account_update(s, account, now=T0 + MINUTE, clear_daily_cap=True))
    assert len(claim(db, 1, now=T0 + MINUTE)) == 1


def test_capped_users_at_the_front_of_the_turn_do_not_block_others(db: Database) -> None:
    capped_users = [make_user(db, f"capped{i}") for i in range(4)]
    for user in capped_users:
        account = make_account(db, user, "a", daily_cap=1)
        enqueue(db, user, account, 2)
    for t in claim(db, 10):
        complete(db, t)
    # A fifth user, served after them: its turn comes after theirs, and they are all capped.
    late = make_user(db, "late")
    late_account = make_account(db, late, "a")
    enqueue(db, late, late_account, 2, now=T0 + MINUTE)
    [t] = claim(db, 1, now=T0 + MINUTE)
    complete(db, t, now=T0 + MINUTE)

    [served] = claim(db, 2, now=T0 + 2 * MINUTE)
    assert served.user_id == late


def test_a_retry_waiting_for_its_backoff_is_claimed_at_its_time(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a")
    enqueue(db, user, account)
    [t] = claim(db, 1)
    later = T0 + timedelta(seconds=90)
    assert fail(db, t, ErrorClass.RATE_LIMITED, retry_after=90) == "queued"
    assert claim(db, 1, now=later - timedelta(seconds=1)) == []
    assert turn_of(db, user) == later
    [again] = claim(db, 1, now=later)
    assert again.id == t.id


# -- enqueuers and claimers racing, in processes of their own ----------------------------

RACE_TASKS = 40


def _enqueuer(url: str, pairs: list[tuple[int, int]]) -> None:
    db = Database.connect(url)
    for i in range(RACE_TASKS):
        user, account = pairs[i % len(pairs)]
        task = storage.NewTask(user_id=user, account_id=account, title=f"T{i}", body="b")
        db.write(lambda s, t=task: storage.task_enqueue(s, [t], now=datetime.now(UTC)))
    db.dispose()


def _claimer(url: str, name: str, statements: str, deadline: float) -> None:
    """Claims and completes at once until every task has succeeded (or the deadline)."""
    db = Database.connect(url)
    if statements == "portable":
        db.engine.update_execution_options(contenthub_statements="portable")
    while time.monotonic() < deadline:
        tasks = db.write(
            lambda s: storage.task_claim(
                s, worker=name, slots=2, now=datetime.now(UTC), lease_seconds=60
            )
        )
        for t in tasks:
            done = storage.Published(t.lease, url="u", post_id="p")
            db.write(
                lambda s, d=done: storage.task_complete(s, [d], now=datetime.now(UTC), worker=name)
            )
        if not tasks and _succeeded(db) == RACE_TASKS:
            break
    db.dispose()


def _succeeded(db: Database) -> int:
    return db.read(
        lambda s: s.scalar(sa.select(sa.func.count()).where(PublishTask.status == "succeeded"))
    )


def test_enqueues_racing_claims_and_completions_never_strand_a_task(
    db: Database, database_url: str, claim_statements: str
) -> None:
    """Two claimer processes and an enqueuer: users at their one-task limit, accounts freed
    and re-marked while claims raise them. A task the ready state lost would stay queued
    while the claimers find nothing, until the deadline."""
    pairs = []
    for u in range(3):
        user = make_user(db, f"user{u}", max_running=1)
        pairs += [(user, make_account(db, user, f"a{a}")) for a in range(2)]
    context = multiprocessing.get_context("spawn")
    deadline = time.monotonic() + 60
    procs = [context.Process(target=_enqueuer, args=(database_url, pairs))] + [
        context.Process(target=_claimer, args=(database_url, f"w{i}", claim_statements, deadline))
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=90)
        assert proc.exitcode == 0
    assert _succeeded(db) == RACE_TASKS
    attempts = db.read(lambda s: s.scalar(sa.select(sa.func.max(PublishTask.attempt))))
    assert attempts == 1
