"""Scheduled jobs on every database: schedules, claims, history, validation. The clock is a
parameter: tests move it, nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import noop_platform  # noqa: F401 - registers the test platform
import pytest
import sqlalchemy as sa

from contenthub import storage
from contenthub.errors import InputError, NotFound
from contenthub.scheduler import Schedule, Scheduler, jobs
from contenthub.secrets_box import SecretBox
from contenthub.services.users import Principal
from contenthub.storage.db import Database
from contenthub.storage.models import Account, JobRun, PublishTask, ScheduledJob, TaskEvent
from tests.factories import T0, enqueue, make_account, make_user


def create(db: Database, user_id: int, *, admin: bool = False, **kwargs: Any) -> dict[str, Any]:
    spec = {
        "name": "job",
        "job_type": "account_check",
        "schedule": Schedule("interval", 60),
        "now": T0,
        **kwargs,
    }
    owner = Principal(user_id, f"user{user_id}", is_admin=admin)
    return db.write(lambda s: jobs.job_create(s, owner=owner, **spec))


def runs(db: Database, job_id: int) -> list[JobRun]:
    return db.read(
        lambda s: list(
            s.scalars(sa.select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.id))
        )
    )


def job_row(db: Database, job_id: int) -> ScheduledJob:
    return db.read(lambda s: s.get(ScheduledJob, job_id))


@pytest.fixture
def scheduler(db: Database, tmp_path) -> Scheduler:
    return Scheduler(db, worker="test", secrets=SecretBox.from_env(tmp_path), clock=lambda: T0)


def test_interval_runs_once_per_tick_on_its_grid(db, scheduler) -> None:
    user = make_user(db, "alice")
    job = create(db, user, next_run=T0)
    assert scheduler.run_once(T0 - timedelta(seconds=1)) == 0
    assert scheduler.run_once(T0) == 1
    assert scheduler.run_once(T0) == 0  # the same tick is not run twice
    assert job_row(db, job["id"]).next_run == T0 + timedelta(seconds=60)
    # Late by 20 s: the run happens, and the grid does not drift.
    assert scheduler.run_once(T0 + timedelta(seconds=80)) == 1
    assert job_row(db, job["id"]).next_run == T0 + timedelta(seconds=120)
    assert [r.tick for r in runs(db, job["id"])] == [T0, T0 + timedelta(seconds=60)]


def test_ticks_missed_while_nothing_ran_make_one_run(db, scheduler) -> None:
    user = make_user(db, "alice")
    job = create(db, user, next_run=T0)
    start_up = T0 + timedelta(hours=5, seconds=30)
    assert scheduler.run_once(start_up) == 1
    assert scheduler.run_once(start_up) == 0
    assert job_row(db, job["id"]).next_run == T0 + timedelta(hours=5, minutes=1)
    assert len(runs(db, job["id"])) == 1


def test_cron_in_the_jobs_time_zone(db, scheduler) -> None:
    user = make_user(db, "alice")
    job = create(db, user, schedule=Schedule("cron", cron="0 2 * * *", timezone="Asia/Shanghai"))
    first = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)  # 02:00 in Shanghai
    assert job["next_run"] == first
    assert scheduler.run_once(first - timedelta(microseconds=1)) == 0
    assert scheduler.run_once(first + timedelta(seconds=3)) == 1
    assert job_row(db, job["id"]).next_run == first + timedelta(days=1)


def test_disabled_jobs_do_not_run(db, scheduler) -> None:
    user = make_user(db, "alice")
    job = create(db, user, next_run=T0)
    db.write(
        lambda s: jobs.job_update(s, job["id"], scope=user, now=T0, changes={"enabled": False})
    )
    assert scheduler.run_once(T0 + timedelta(hours=1)) == 0


def test_trigger_runs_now_and_history_records_it(db, scheduler) -> None:
    user = make_user(db, "alice")
    make_account(db, user, "fine")
    make_account(db, user, "expired", options={"fail": "auth_expired"})
    job = create(db, user)
    run = scheduler.trigger(job["id"], scope=user, now=T0)
    assert run["status"] == "succeeded" and run["triggered_by"] == "manual"
    assert run["result"]["data"]["checked_count"] == 2
    assert [a["name"] for a in run["result"]["data"]["needs_login"]] == ["expired"]
    statuses = db.read(lambda s: {a.name: a.status for a in s.scalars(sa.select(Account))})
    assert statuses == {"fine": "active", "expired": "needs_login"}
    history = db.read(lambda s: jobs.job_history(s, job["id"], scope=user))
    assert [h["id"] for h in history] == [run["id"]]
    assert history[0]["finished_at"] is not None
    assert job_row(db, job["id"]).next_run == job["next_run"]  # the schedule is untouched


def test_a_crashing_run_is_recorded_as_failed(db) -> None:
    user = make_user(db, "alice")
    make_account(db, user, "fine")
    job = create(db, user)
    no_secrets = Scheduler(db, worker="test", secrets=None, clock=lambda: T0)
    run = no_secrets.trigger(job["id"], scope=user, now=T0)
    assert run["status"] == "failed" and "secret box" in run["error"]


def test_other_users_jobs_are_not_found(db, scheduler) -> None:
    owner, stranger = make_user(db, "alice"), make_user(db, "mallory")
    job = create(db, owner)
    with pytest.raises(NotFound):
        scheduler.trigger(job["id"], scope=stranger, now=T0)
    with pytest.raises(NotFound):
        db.read(lambda s: jobs.job_history(s, job["id"], scope=stranger))


def test_cleanup_applies_retention(db, scheduler) -> None:
    admin = db.write(lambda s: storage.user_ensure(s, "root", now=T0, role="admin"))
    account = make_account(db, admin, "a")
    [old] = enqueue(db, admin, account, now=T0 - timedelta(days=100))
    db.write(
        lambda s: s.execute(
            sa.update(PublishTask)
            .where(PublishTask.public_id == old)
            .values(status="succeeded", finished_at=T0 - timedelta(days=100))
        )
    )
    enqueue(db, admin, account, now=T0)
    job = create(
        db, admin, admin=True, job_type="cleanup", params={"task_days": 30, "event_days": 60}
    )
    run = scheduler.trigger(job["id"], scope=None, now=T0)
    assert run["result"]["data"]["tasks_removed"] == 1
    left = db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(PublishTask)))
    events = db.read(lambda s: s.scalar(sa.select(sa.func.min(TaskEvent.at))))
    assert left == 1 and events == T0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"job_type": "mining"}, "job_type"),
        ({"schedule": Schedule("cron", cron="61 * * * *")}, "cron"),
        ({"schedule": Schedule("cron", cron="not cron")}, "cron"),
        ({"schedule": Schedule("interval", -5)}, "interval_seconds"),
        ({"schedule": Schedule("interval", 0)}, "interval_seconds"),
        ({"schedule": Schedule("hourly")}, "schedule_type"),
        ({"schedule": Schedule("cron", cron="* * * * *", timezone="Mars/Base")}, "timezone"),
        ({"job_type": "publishing", "params": {"max_items": 0}}, "params.max_items"),
        ({"job_type": "publishing", "params": {"colour": 1}}, "params.colour"),
        ({"job_type": "cleanup"}, "job_type"),  # admins only
        ({"name": " "}, "name"),
    ],
)
def test_bad_job_input_names_the_field_and_writes_nothing(db, kwargs, field) -> None:
    user = make_user(db, "alice")
    with pytest.raises(InputError) as error:
        create(db, user, **kwargs)
    assert error.value.field == field
    assert db.read(lambda s: jobs.job_list(s, scope=None)) == []


def test_a_run_whose_process_died_is_closed_not_left_running(db, scheduler) -> None:
    user = make_user(db, "alice")
    job = create(db, user, next_run=T0)
    # A process claims the tick and dies before finishing: nothing renews the run's lease.
    [claimed] = db.write(lambda s: jobs.job_claim_due(s, now=T0, worker="doomed"))
    assert [r.status for r in runs(db, job["id"])] == ["running"]
    assert scheduler.run_once(T0 + jobs.RUN_LEASE / 2) == 0
    assert [r.status for r in runs(db, job["id"])] == ["running"]  # still leased
    scheduler.run_once(T0 + jobs.RUN_LEASE + timedelta(seconds=1))
    lost = runs(db, job["id"])[0]
    assert lost.id == claimed.run_id
    assert lost.status == "failed" and "worker lost: doomed" in lost.error
    assert lost.finished_at is not None
