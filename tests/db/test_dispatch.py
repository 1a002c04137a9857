"""The dispatcher's conformance suite: every rule, on SQLite, PostgreSQL and MariaDB.

Time is a parameter: tests move the clock instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from contenthub import storage
from contenthub.errors import ErrorClass, InputError, NotFound
from contenthub.states import EventReason
from contenthub.storage import Lease, NewTask
from contenthub.storage.db import Database
from contenthub.storage.models import Account, PublishTask, TaskEvent
from contenthub.worker.maintenance import Maintenance, MaintenanceCounts
from tests.factories import T0, enqueue, make_account, make_user

LEASE = 60.0


@pytest.fixture(autouse=True, params=["own", "portable"])
def claim_statements(request: pytest.FixtureRequest, db: Database) -> str:
    """Every test runs against both claims on PostgreSQL: its own and the portable one."""
    if request.param == "portable":
        if db.dialect != "postgresql":
            pytest.skip("the portable claim is this database's only one")
        db.engine.update_execution_options(contenthub_statements="portable")
    return request.param


def claim(db: Database, slots: int, now=T0, worker: str = "w1") -> list[storage.ClaimedTask]:
    return db.write(
        lambda s: storage.task_claim(s, worker=worker, slots=slots, now=now, lease_seconds=LEASE)
    )


def lease_of(task: storage.ClaimedTask) -> Lease:
    return Lease(task.id, task.lease_token, task.user_id)


def complete(db: Database, task: storage.ClaimedTask, now=T0) -> bool:
    done = storage.Published(lease_of(task), url="u", post_id="p")
    recorded = db.write(lambda s: storage.task_complete(s, [done], now=now, worker="w1"))
    return recorded == {task.id}


def task_row(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def count_rows(db: Database, model) -> int:
    return db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(model)))


# -- enqueue ------------------------------------------------------------------------------


def test_enqueue_writes_task_and_event_with_snapshot(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    [public_id] = enqueue(db, user, account, priority=2)
    task = task_row(db, public_id)
    assert task["status"] == "queued"
    assert task["priority"] == 2
    assert task["title"] == "Post 0"
    assert task["attempt"] == 0 and task["max_attempts"] == 3
    events = db.read(lambda s: storage.task_events(s, task["id"]))
    assert [(e["from_status"], e["to_status"]) for e in events] == [(None, "queued")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"priority": 0}, "priority"),
        ({"priority": 11}, "priority"),
        ({"title": "  "}, "title"),
        ({"account_id": 999_999}, "account_id"),
    ],
)
def test_bad_enqueue_names_the_field_and_writes_nothing(db: Database, change, field) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    good = {"user_id": user, "account_id": account, "title": "T", "body": "B"}
    tasks = [NewTask(**good), NewTask(**{**good, **change})]
    with pytest.raises(InputError) as raised:
        db.write(lambda s: storage.task_enqueue(s, tasks, now=T0))
    assert raised.value.field.endswith(field)
    assert count_rows(db, PublishTask) == 0
    assert count_rows(db, TaskEvent) == 0


def test_another_users_account_is_unknown(db: Database) -> None:
    ann, bob = make_user(db, "ann"), make_user(db, "bob")
    bobs = make_account(db, bob, "b1")
    with pytest.raises(InputError, match="no account"):
        enqueue(db, ann, bobs)
    assert count_rows(db, PublishTask) == 0


# -- claim and limits ---------------------------------------------------------------------


def test_claim_runs_each_task_once_and_one_per_account(db: Database) -> None:
    user = make_user(db, "ann")
    a1, a2 = make_account(db, user, "a1"), make_account(db, user, "a2")
    enqueue(db, user, a1, 3)
    enqueue(db, user, a2, 3)
    first = claim(db, 10)
    assert sorted(t.account_id for t in first) == [a1, a2]
    assert claim(db, 10) == []  # both accounts are busy
    assert all(t.attempt == 1 for t in first)
    complete(db, first[0])
    [nxt] = claim(db, 10)
    assert nxt.account_id == first[0].account_id
    assert nxt.id not in {t.id for t in first}


def test_database_refuses_a_second_running_task_on_one_account(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    enqueue(db, user, account, 2)
    claim(db, 1)
    with pytest.raises(sa.exc.IntegrityError):
        db.write(
            lambda s: s.execute(
                sa.update(PublishTask)
                .where(PublishTask.status == "queued")
                .values(status="running")
            )
        )


def test_per_user_limit(db: Database) -> None:
    user = make_user(db, "ann", max_running=2)
    for i in range(5):
        enqueue(db, user, make_account(db, user, f"a{i}"))
    assert len(claim(db, 10)) == 2
    assert claim(db, 10) == []


def test_platform_limit_holds_across_users(db: Database) -> None:
    db.write(lambda s: storage.platform_set_limit(s, "noop", 3))
    for name in ("ann", "bob", "cy"):
        user = make_user(db, name)
        for i in range(3):
            enqueue(db, user, make_account(db, user, f"{name}{i}"))
    first = claim(db, 10)
    assert len(first) == 3
    assert len({t.user_id for t in first}) == 3  # round-robin: one each
    assert claim(db, 10) == []
    complete(db, first[0])
    assert len(claim(db, 10)) == 1


def test_pacing_and_daily_cap(db: Database) -> None:
    user = make_user(db, "ann")
    paced = make_account(db, user, "paced", min_interval_seconds=60)
    enqueue(db, user, paced, 3)
    [t1] = claim(db, 5)
    complete(db, t1)
    assert claim(db, 5, now=T0 + timedelta(seconds=30)) == []
    [t2] = claim(db, 5, now=T0 + timedelta(seconds=61))
    complete(db, t2, now=T0 + timedelta(seconds=61))

    capped = make_account(db, user, "capped", daily_cap=2)
    enqueue(db, user, capped, 3)
    later = T0 + timedelta(minutes=10)
    for _ in range(2):
        [t] = [t for t in claim(db, 5, now=later) if t.account_id == capped]
        complete(db, t, now=later)
    assert [t for t in claim(db, 5, now=later) if t.account_id == capped] == []
    next_day = T0 + timedelta(days=1, minutes=11)
    assert [t.account_id for t in claim(db, 5, now=next_day)].count(capped) == 1


def test_daily_cap_counts_the_starts_of_the_last_24_hours(db: Database) -> None:
    user = make_user(db, "ann")
    capped = make_account(db, user, "capped", daily_cap=2)
    hour = timedelta(hours=1)
    [retried] = enqueue(db, user, capped)
    [t] = claim(db, 1, now=T0)
    assert fail(db, t, ErrorClass.TRANSIENT, now=T0) == "queued"
    [t] = claim(db, 1, now=T0 + hour)  # the same task again: still one start of the two
    assert t.public_id == retried and t.attempt == 2
    complete(db, t, now=T0 + hour)
    enqueue(db, user, capped, 3, now=T0 + hour)
    [second] = claim(db, 1, now=T0 + 2 * hour)
    complete(db, second, now=T0 + 2 * hour)

    assert claim(db, 1, now=T0 + 3 * hour) == []
    oldest_is_a_day_old = T0 + hour + timedelta(days=1)
    assert claim(db, 1, now=oldest_is_a_day_old - timedelta(seconds=1)) == []
    [third] = claim(db, 1, now=oldest_is_a_day_old)
    complete(db, third, now=oldest_is_a_day_old)
    assert claim(db, 1, now=oldest_is_a_day_old) == []  # the second start is still in the day
    assert len(claim(db, 1, now=T0 + 2 * hour + timedelta(days=1))) == 1


def test_daily_cap_holds_when_claims_race(db: Database) -> None:
    """Four claimers at once on capped accounts: no account starts more than its cap."""
    cap, accounts = 3, []
    for u in range(3):
        user = make_user(db, f"user{u}")
        for a in range(2):
            account = make_account(db, user, f"a{a}", daily_cap=cap)
            enqueue(db, user, account, cap + 3)
            accounts.append(account)
    start = threading.Barrier(4)

    def claimer(worker: str) -> None:
        start.wait()
        for _ in range(15):
            for t in claim(db, 2, worker=worker):
                complete(db, t)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while tasks := claim(db, 10):  # whatever the race left undone, within the cap
        for t in tasks:
            complete(db, t)

    started = db.read(
        lambda s: dict(
            s.execute(
                sa.select(PublishTask.account_id, sa.func.count())
                .where(PublishTask.started_at.is_not(None))
                .group_by(PublishTask.account_id)
            ).all()
        )
    )
    assert started == {account: cap for account in accounts}


def test_priority_then_due_time_then_age(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    low = enqueue(db, user, account, priority=9)[0]
    old_normal = enqueue(db, user, account, priority=5)[0]
    new_normal = enqueue(db, user, account, priority=5, now=T0 + timedelta(seconds=1))[0]
    urgent = enqueue(db, user, account, priority=1, now=T0 + timedelta(seconds=2))[0]
    order = []
    now = T0 + timedelta(seconds=3)
    for _ in range(4):
        [t] = claim(db, 1, now=now)
        order.append(t.public_id)
        complete(db, t, now=now)
    assert order == [urgent, old_normal, new_normal, low]


def test_fairness_small_user_is_not_stuck_behind_a_big_one(db: Database) -> None:
    ann, bob = make_user(db, "ann"), make_user(db, "bob")
    ann_accounts = [make_account(db, ann, f"a{i}") for i in range(10)]
    for i in range(500):
        enqueue(db, ann, ann_accounts[i % 10])
    bob_accounts = [make_account(db, bob, f"b{i}") for i in range(5)]
    for account in bob_accounts:
        enqueue(db, bob, account, now=T0 + timedelta(seconds=1))
    now = T0 + timedelta(seconds=2)
    started: list[int] = []
    while len([u for u in started if u == bob]) < 5:
        batch = claim(db, 2, now=now)
        assert batch, "work left but nothing claimed"
        started += [t.user_id for t in batch]
        for t in batch:
            complete(db, t, now=now)
    # Slots alternate between users: bob's 5 start within the first 10 starts.
    assert len(started) <= 10


def test_scheduled_tasks_wait_for_their_time(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    [public_id] = enqueue(db, user, account, due_at=T0 + timedelta(hours=1))
    assert task_row(db, public_id)["status"] == "scheduled"
    assert db.write(lambda s: storage.task_stage_due(s, now=T0 + timedelta(minutes=59))) == 0
    assert claim(db, 1, now=T0 + timedelta(minutes=59)) == []
    assert db.write(lambda s: storage.task_stage_due(s, now=T0 + timedelta(hours=1))) == 1
    [t] = claim(db, 1, now=T0 + timedelta(hours=1))
    assert t.public_id == public_id


def test_the_maintenance_duty_rescues_and_stages_in_one_run(db: Database) -> None:
    user = make_user(db, "ann")
    [scheduled] = enqueue(db, user, make_account(db, user, "a1"), due_at=T0 + timedelta(hours=1))
    assert claim(db, 1, now=T0) == []  # nothing due yet
    [lost] = enqueue(db, user, make_account(db, user, "a2"))
    assert len(claim(db, 1, now=T0)) == 1  # and its worker is never heard of again
    duty = Maintenance(db)
    assert duty.run_once(T0 + timedelta(seconds=LEASE - 1)) == MaintenanceCounts(0, 0)
    counts = duty.run_once(T0 + timedelta(hours=1))
    assert counts == MaintenanceCounts(rescued=1, staged=1)
    assert {task_row(db, i)["status"] for i in (scheduled, lost)} == {"queued"}


# -- leases -------------------------------------------------------------------------------


def test_expired_lease_is_rescued_then_fails_when_attempts_are_used_up(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    [public_id] = enqueue(db, user, account, max_attempts=2)
    now = T0
    for attempt in (1, 2):
        [t] = claim(db, 1, now=now)
        assert t.attempt == attempt
        now += timedelta(seconds=LEASE + 1)
        assert db.write(lambda s, n=now: storage.task_rescue_expired(s, now=n)) == 1
    task = task_row(db, public_id)
    assert task["status"] == "failed"
    assert task["error_class"] == "worker_lost"
    assert task["lease_owner"] is None


def test_heartbeat_keeps_the_lease(db: Database) -> None:
    user = make_user(db, "ann")
    enqueue(db, user, make_account(db, user, "a1"))
    [t] = claim(db, 1)
    result = db.write(
        lambda s: storage.task_heartbeat(
            s, [lease_of(t)], now=T0 + timedelta(seconds=50), lease_seconds=LEASE
        )
    )
    assert result.lost == set() and result.cancel_requested == set()
    later = T0 + timedelta(seconds=LEASE + 10)
    assert db.write(lambda s: storage.task_rescue_expired(s, now=later)) == 0


def test_a_lost_lease_cannot_overwrite_the_new_attempt(db: Database) -> None:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, "a1"))
    [old] = claim(db, 1, worker="w-old")
    later = T0 + timedelta(seconds=LEASE + 1)
    db.write(lambda s: storage.task_rescue_expired(s, now=later))
    [new] = claim(db, 1, now=later, worker="w-new")
    assert complete(db, old, now=later) is False
    beat = db.write(
        lambda s: storage.task_heartbeat(s, [lease_of(old)], now=later, lease_seconds=LEASE)
    )
    assert beat.lost == {old.id}
    assert complete(db, new, now=later) is True
    task = task_row(db, public_id)
    assert task["status"] == "succeeded" and task["attempt"] == 2


# -- cancel, retry, error classes ---------------------------------------------------------


def test_cancel_scheduled_queued_and_running(db: Database) -> None:
    user = make_user(db, "ann")
    a1, a2 = make_account(db, user, "a1"), make_account(db, user, "a2")
    [scheduled] = enqueue(db, user, a1, due_at=T0 + timedelta(days=1))
    [running] = enqueue(db, user, a2)
    [queued] = enqueue(db, user, a2)
    [t] = claim(db, 5)
    assert t.public_id == running

    def cancel(public_id: str) -> storage.ControlResult:
        return db.write(lambda s: storage.task_cancel(s, public_id, user_id=user, now=T0))

    assert cancel(scheduled).status == "cancelled"
    assert cancel(queued).status == "cancelled"
    assert cancel(running).cancel_requested
    beat = db.read(lambda s: storage.task_poll_cancel(s, [lease_of(t)]))
    assert beat.cancel_requested == {t.id}
    assert db.write(lambda s: storage.task_finish_cancelled(s, lease_of(t), now=T0, worker="w1"))
    assert task_row(db, running)["status"] == "cancelled"
    with pytest.raises(InputError, match="already cancelled"):
        cancel(running)


def test_other_users_cannot_touch_a_task(db: Database) -> None:
    ann, bob = make_user(db, "ann"), make_user(db, "bob")
    [public_id] = enqueue(db, ann, make_account(db, ann, "a1"))
    with pytest.raises(NotFound):
        db.write(lambda s: storage.task_cancel(s, public_id, user_id=bob, now=T0))
    with pytest.raises(NotFound):
        db.read(lambda s: storage.task_get(s, public_id, user_id=bob))
    assert task_row(db, public_id)["status"] == "queued"


def fail(db: Database, t, error_class: ErrorClass, now=T0, retry_after=None) -> str | None:
    return db.write(
        lambda s: storage.task_fail(
            s,
            lease_of(t),
            error_class=error_class,
            message="boom",
            now=now,
            worker="w1",
            retry_after_seconds=retry_after,
        )
    )


def test_transient_errors_back_off_then_fail_and_the_user_can_retry(db: Database) -> None:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, "a1"))
    now = T0
    for attempt in (1, 2):
        [t] = claim(db, 1, now=now)
        assert t.attempt == attempt
        assert fail(db, t, ErrorClass.TRANSIENT, now=now) == "queued"
        due = task_row(db, public_id)["due_at"]
        assert due > now  # backoff
        assert claim(db, 1, now=now) == []
        now = due
    [t] = claim(db, 1, now=now)
    assert t.attempt == 3
    assert fail(db, t, ErrorClass.TRANSIENT, now=now) == "failed"
    db.write(lambda s: storage.task_retry(s, public_id, user_id=user, now=now))
    [t] = claim(db, 1, now=now)
    assert t.attempt == 4 and t.max_attempts == 6


def test_rejected_fails_at_once_and_rate_limited_waits_its_hint(db: Database) -> None:
    user = make_user(db, "ann")
    [rejected] = enqueue(db, user, make_account(db, user, "a1"))
    [limited] = enqueue(db, user, make_account(db, user, "a2"))
    tasks = {t.public_id: t for t in claim(db, 2)}
    assert fail(db, tasks[rejected], ErrorClass.REJECTED) == "failed"
    assert fail(db, tasks[limited], ErrorClass.RATE_LIMITED, retry_after=120) == "queued"
    row = task_row(db, limited)
    assert row["due_at"] == T0 + timedelta(seconds=120)
    assert row["max_attempts"] == 4  # waiting out a rate limit does not use the budget
    assert task_row(db, rejected)["error_message"] == "boom"


def test_auth_expired_holds_the_accounts_tasks_until_it_is_active(db: Database) -> None:
    user = make_user(db, "ann")
    account = make_account(db, user, "a1")
    ids = enqueue(db, user, account, 3)
    [t] = claim(db, 5)
    assert fail(db, t, ErrorClass.AUTH_EXPIRED) == "queued"
    status = db.read(lambda s: s.get(Account, account).status)
    assert status == "needs_login"
    assert claim(db, 5) == []
    assert {task_row(db, i)["status"] for i in ids} == {"queued"}
    db.write(lambda s: storage.account_set_status(s, account, "active", now=T0))
    assert len(claim(db, 5)) == 1


def test_every_status_change_has_an_event(db: Database) -> None:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, "a1"))
    [t] = claim(db, 1)
    db.write(
        lambda s: storage.task_progress(
            s, lease_of(t), progress=40, stage="draft", now=T0, worker="w1"
        )
    )
    complete(db, t)
    task = task_row(db, public_id)
    changes = [
        (e["from_status"], e["to_status"])
        for e in db.read(lambda s: storage.task_events(s, task["id"]))
        if e["kind"] == "status"
    ]
    assert changes == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]


# -- retrying a cancelled scheduled task, event reasons, task ids by prefix ---------------


def retry(db: Database, public_id: str, now) -> storage.ControlResult:
    return db.write(lambda s: storage.task_retry(s, public_id, user_id=None, now=now))


def reasons(db: Database, public_id: str) -> list[str]:
    task = task_row(db, public_id)
    return [e["reason"] for e in db.read(lambda s: storage.task_events(s, task["id"]))]


def test_retrying_a_cancelled_scheduled_task_keeps_its_time_while_it_is_ahead(
    db: Database,
) -> None:
    user = make_user(db, "ann")
    due = T0 + timedelta(days=1)
    [public_id] = enqueue(db, user, make_account(db, user, "a1"), due_at=due)
    db.write(lambda s: storage.task_cancel(s, public_id, user_id=user, now=T0))

    result = retry(db, public_id, T0 + timedelta(hours=1))
    assert result.status == "scheduled" and result.due_at == due
    task = task_row(db, public_id)
    assert task["status"] == "scheduled" and task["due_at"] == due
    assert task["finished_at"] is None and task["stage"] is None
    assert claim(db, 1, now=T0 + timedelta(hours=2)) == []  # not published at once
    assert reasons(db, public_id) == ["scheduled", "cancelled", "rescheduled"]
    # ... and it goes out when its time comes, like any scheduled task.
    assert db.write(lambda s: storage.task_stage_due(s, now=due)) == 1
    [t] = claim(db, 1, now=due)
    assert t.public_id == public_id


def test_retrying_a_cancelled_scheduled_task_after_its_time_publishes_it_now(
    db: Database,
) -> None:
    user = make_user(db, "ann")
    due = T0 + timedelta(hours=1)
    [public_id] = enqueue(db, user, make_account(db, user, "a1"), due_at=due)
    db.write(lambda s: storage.task_cancel(s, public_id, user_id=user, now=T0))
    later = due + timedelta(minutes=5)
    result = retry(db, public_id, later)
    assert result.status == "queued"
    assert task_row(db, public_id)["due_at"] == later
    [t] = claim(db, 1, now=later)
    assert t.public_id == public_id
    assert reasons(db, public_id)[-2:] == ["retried", "claimed"]


def test_a_cancelled_queued_task_is_retried_now_even_if_it_waited_for_a_backoff(
    db: Database,
) -> None:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, "a1"))
    [t] = claim(db, 1)
    assert fail(db, t, ErrorClass.TRANSIENT) == "queued"  # due later, after the backoff
    db.write(lambda s: storage.task_cancel(s, public_id, user_id=user, now=T0))
    assert retry(db, public_id, T0).status == "queued"
    assert task_row(db, public_id)["due_at"] == T0


def test_every_event_says_why_it_was_written(db: Database) -> None:
    user = make_user(db, "ann")
    a1, a2, a3 = (make_account(db, user, n) for n in ("a1", "a2", "a3"))
    [published] = enqueue(db, user, a1)
    [lost] = enqueue(db, user, a2, max_attempts=1)
    [held] = enqueue(db, user, a3)
    tasks = {t.public_id: t for t in claim(db, 3)}
    db.write(
        lambda s: storage.task_progress(
            s, lease_of(tasks[published]), progress=50, stage="draft", now=T0, worker="w1"
        )
    )
    complete(db, tasks[published])
    assert fail(db, tasks[held], ErrorClass.AUTH_EXPIRED) == "queued"
    later = T0 + timedelta(seconds=LEASE + 1)
    assert db.write(lambda s: storage.task_rescue_expired(s, now=later)) == 1
    assert reasons(db, published) == ["enqueued", "claimed", "progress", "published"]
    assert reasons(db, lost) == ["enqueued", "claimed", "lost_for_good"]
    assert reasons(db, held) == ["enqueued", "claimed", "auth_hold"]


def test_rescues_and_retries_are_counted_by_reason_not_by_message(db: Database) -> None:
    user = make_user(db, "ann")
    a1, a2, a3 = (make_account(db, user, n) for n in ("a1", "a2", "a3"))
    enqueue(db, user, a1)
    enqueue(db, user, a2)
    [released] = enqueue(db, user, a3)
    tasks = claim(db, 3)
    by_account = {t.account_id: t for t in tasks}
    assert fail(db, by_account[a1], ErrorClass.TRANSIENT) == "queued"
    # A hand-back whose text happens to read like a rescue is still a hand-back.
    db.write(
        lambda s: storage.task_release(
            s, lease_of(by_account[a3]), now=T0, worker="w1", reason="worker lost its way"
        )
    )
    later = T0 + timedelta(seconds=LEASE + 1)
    assert db.write(lambda s: storage.task_rescue_expired(s, now=later)) == 1  # a2's
    counts = db.read(lambda s: storage.event_counts_by_reason(s, since=T0 - timedelta(hours=1)))
    assert counts[EventReason.RESCUED] == 1
    assert counts[EventReason.RETRY_SCHEDULED] == 1
    assert counts[EventReason.RELEASED] == 1
    assert reasons(db, released)[-1] == "released"


def test_a_task_is_found_by_any_unique_prefix_of_its_id(db: Database) -> None:
    ann, bob = make_user(db, "ann"), make_user(db, "bob")
    mine = enqueue(db, ann, make_account(db, ann, "a1"), 17)
    [theirs] = enqueue(db, bob, make_account(db, bob, "b1"))

    def resolve(ref: str, user_id: int | None = ann) -> str:
        return db.read(lambda s: storage.task_resolve(s, ref, user_id=user_id))

    for public_id in mine:
        assert resolve(public_id) == public_id
        assert resolve(public_id[:13].upper()) == public_id
    # 17 ids over 16 hex digits: some first digit is shared, so one character is ambiguous.
    firsts = [i[0] for i in mine]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(InputError, match=f"{shared} matches {firsts.count(shared)} tasks"):
        resolve(shared)
    with pytest.raises(NotFound):
        resolve(theirs[:13])  # someone else's reads like a missing one
    assert resolve(theirs[:13], user_id=None) == theirs
    for junk in ("", "zz", "8%", "_"):
        with pytest.raises(NotFound):
            resolve(junk)
