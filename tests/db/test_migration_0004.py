"""Migration 0004 gives events written before it the reason their writers give today."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command

from contenthub import storage
from contenthub.errors import ErrorClass
from contenthub.storage import Lease, migrate
from contenthub.storage.db import Database
from tests.factories import T0, enqueue, make_account, make_user


def _every_kind_of_event(db: Database) -> None:
    user = make_user(db, "ann")
    a = [make_account(db, user, f"a{i}") for i in range(7)]
    enqueue(db, user, a[0])  # published
    enqueue(db, user, a[1], max_attempts=1)  # lost for good
    enqueue(db, user, a[2])  # auth hold
    enqueue(db, user, a[3])  # retry
    enqueue(db, user, a[6])  # rescued
    enqueue(db, user, a[4])  # released, then cancel requested, cancelled, retried
    [later] = enqueue(db, user, a[5], due_at=T0 + timedelta(hours=1))
    claimed = {
        t.account_id: Lease(t.id, t.lease_token, t.user_id)
        for t in db.write(
            lambda s: storage.task_claim(s, worker="w", slots=10, now=T0, lease_seconds=60)
        )
    }

    def write(fn):  # type: ignore[no-untyped-def]
        return db.write(fn)

    write(
        lambda s: storage.task_progress(
            s, claimed[a[0]], progress=50, stage="x", now=T0, worker="w"
        )
    )
    write(
        lambda s: storage.task_complete(
            s, [storage.Published(claimed[a[0]], "u", "p")], now=T0, worker="w"
        )
    )
    for account, error in ((a[2], ErrorClass.AUTH_EXPIRED), (a[3], ErrorClass.TRANSIENT)):
        write(
            lambda s, lease=claimed[account], e=error: storage.task_fail(
                s, lease, error_class=e, message="m", now=T0, worker="w"
            )
        )
    write(lambda s: storage.task_release(s, claimed[a[4]], now=T0, worker="w", reason="stopping"))
    write(lambda s: storage.task_rescue_expired(s, now=T0 + timedelta(minutes=2)))
    write(lambda s: storage.task_cancel(s, later, user_id=None, now=T0))
    write(lambda s: storage.task_retry(s, later, user_id=None, now=T0))
    write(lambda s: storage.task_stage_due(s, now=T0 + timedelta(hours=1)))
    claimed_later = db.write(
        lambda s: storage.task_claim(
            s, worker="w", slots=10, now=T0 + timedelta(hours=2), lease_seconds=60
        )
    )
    again = next(t for t in claimed_later if t.public_id == later)
    write(lambda s: storage.task_cancel(s, again.public_id, user_id=None, now=T0))
    write(
        lambda s: storage.task_finish_cancelled(
            s, Lease(again.id, again.lease_token, again.user_id), now=T0, worker="w"
        )
    )
    write(
        lambda s: storage.task_retry(s, again.public_id, user_id=None, now=T0 + timedelta(hours=3))
    )


def _reasons(db: Database) -> list[tuple[int, str]]:
    with db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id, reason FROM task_events ORDER BY id")))


def test_backfilled_reasons_match_what_the_writers_write(db: Database) -> None:
    _every_kind_of_event(db)
    written = _reasons(db)
    assert {r for _, r in written} >= {
        "enqueued",
        "scheduled",
        "due",
        "claimed",
        "progress",
        "published",
        "retry_scheduled",
        "auth_hold",
        "rescued",
        "lost_for_good",
        "released",
        "cancel_requested",
        "cancelled",
        "retried",
        "rescheduled",
    }
    with db.engine.connect() as conn:
        config = migrate.alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
        conn.commit()
    migrate.upgrade(db.engine)
    assert _reasons(db) == written
