"""A worker lost on the last attempt after a publish may have been submitted: the rescuer
queues a final check instead of failing the task, on SQLite, PostgreSQL and MariaDB.
(The worker's side, through a real process and the sandbox: tests/platforms/test_reconcile.py.)
"""

from __future__ import annotations

from datetime import timedelta

from contenthub import storage
from contenthub.platforms.content import PUBLISH_SUBMITTED
from contenthub.states import FINAL_CHECK_MARK, MAX_FINAL_CHECKS
from contenthub.storage import Lease
from contenthub.storage.db import Database
from tests.db.test_dispatch import LEASE, claim, reasons, retry, task_row
from tests.factories import T0, enqueue, make_account, make_user


def lose_worker(db: Database, *, submitted: bool, now) -> dict:
    """Claim the one queued task, maybe checkpoint a submitted publish, let the lease run out
    and rescue; the task as it is then."""
    [t] = claim(db, 1, now=now)
    if submitted:
        lease = Lease(t.id, t.lease_token, t.user_id)
        checkpoint = {**t.checkpoint, "draft_id": "7", PUBLISH_SUBMITTED: True}
        db.write(lambda s: storage.task_checkpoint(s, lease, checkpoint=checkpoint))
    later = now + timedelta(seconds=LEASE + 1)
    assert db.write(lambda s: storage.task_rescue_expired(s, now=later)) == 1
    return task_row(db, t.content.public_id)


def test_a_submitted_publish_is_checked_before_the_task_fails(db: Database) -> None:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, "a1"), max_attempts=1)
    queued = lose_worker(db, submitted=True, now=T0)
    assert queued["status"] == "queued" and queued["stage"] == "final_check"
    assert queued["max_attempts"] == 2 and queued["checkpoint"][FINAL_CHECK_MARK] == 1
    assert reasons(db, public_id) == ["enqueued", "claimed", "final_check"]

    # Each final check whose own worker is lost too is queued again, then the task fails,
    # saying nothing was checked.
    now = T0
    for _ in range(MAX_FINAL_CHECKS - 1):
        now += timedelta(seconds=2 * LEASE)
        assert lose_worker(db, submitted=False, now=now)["status"] == "queued"
    failed = lose_worker(db, submitted=False, now=now + timedelta(seconds=2 * LEASE))
    assert failed["status"] == "failed"
    assert "the platform may have published it; not checked" in failed["error_message"]

    # A user's retry is a real attempt again (resuming from the checkpoints), not a check.
    retry(db, public_id, now + timedelta(seconds=4 * LEASE))
    again = task_row(db, public_id)
    assert again["status"] == "queued" and FINAL_CHECK_MARK not in again["checkpoint"]
    assert again["checkpoint"][PUBLISH_SUBMITTED] is True


def test_nothing_submitted_fails_at_once(db: Database) -> None:
    user = make_user(db, "ann")
    [public_id] = enqueue(db, user, make_account(db, user, "a1"), max_attempts=1)
    failed = lose_worker(db, submitted=False, now=T0)
    assert (failed["status"], failed["error_message"]) == ("failed", "worker lost")
    assert reasons(db, public_id) == ["enqueued", "claimed", "lost_for_good"]
