"""The claim: every limit and the fairness rule are decided here, inside one transaction.

1. Lock the users whose turn it is (oldest ``last_served_at`` first) and who have a task that
   could start now, ``FOR UPDATE SKIP LOCKED``: two claimers never serve one user at once,
   so the per-user limit, per-account serialization and pacing are exact.
2. Count those users' running tasks (a fresh statement, after the locks are held).
3. For each of their free, active, paced accounts, take its best due task (priority, due time,
   age) through the index ``(account_id, status, priority, due_at, id)``: the cost depends on
   the accounts of the served users, never on the size of the backlog.
4. Drop the accounts whose daily cap is reached: their tasks started in the last 24 hours,
   counted from the rows through ``(account_id, started_at)`` (never a counter a crash can
   leak; a retried task has one ``started_at``, so it counts once). Exact, because the users'
   locks are held: nobody else can start a task on these accounts until commit.
5. Hand out tasks round-robin across the users, within each user's free slots and each
   platform's limit (platform rows are locked while they are counted).
6. Mark them running with a new lease and fencing token, move the users' cursor, pace the
   accounts, write the events.

On SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer), and ``FOR UPDATE`` is not
rendered; PostgreSQL and MariaDB run the same statements with row locks.
"""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.platforms.base import PriorPost, TaskContent
from contenthub.states import EventReason, TaskStatus, check_transition
from contenthub.storage.events import TASKS, Event, append_events
from contenthub.storage.lease import Lease
from contenthub.storage.models import Account, Platform, User

ACCOUNTS = Account.__table__
USERS = User.__table__
PLATFORMS = Platform.__table__
RUNNING, QUEUED = TaskStatus.RUNNING.value, TaskStatus.QUEUED.value
DAY = timedelta(days=1)
# Aliases are built once: building them copies every column, which costs more than a claim.
RUNNING_ON_ACCOUNT = TASKS.alias("running_on_account")
QUEUED_ON_ACCOUNT = TASKS.alias("queued_on_account")
BEST = TASKS.alias("best")


@dataclass(frozen=True)
class ClaimedTask:
    """Everything a worker needs to run one publish, read in the claim itself.

    ``content`` is what the adapter is handed, built once here; only its credentials are
    missing: they are stored sealed (``account_credentials``) and the worker opens them."""

    id: int
    user_id: int
    account_id: int
    platform: str
    priority: int
    attempt: int
    max_attempts: int
    lease_token: str
    checkpoint: dict[str, Any]
    account_credentials: bytes | None
    content: TaskContent
    article_id: int | None = None  # whose attachments the worker loads (None: none)

    @property
    def public_id(self) -> str:
        return self.content.public_id

    @property
    def lease(self) -> Lease:
        return Lease(self.id, self.lease_token, self.user_id)


def _account_ready(now: datetime) -> sa.ColumnElement[bool]:
    """Active, past its pacing time, and not running anything."""
    running = RUNNING_ON_ACCOUNT
    running_task = (
        sa.select(running.c.id)
        .where(running.c.running_account_id == ACCOUNTS.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.and_(
        ACCOUNTS.c.status == "active",
        ACCOUNTS.c.next_start_at <= now,
        running_task.is_(None),
    )


def _best_task_of_account(now: datetime) -> sa.ScalarSelect[Any]:
    queued = BEST
    return (
        sa.select(queued.c.id)
        .where(
            queued.c.account_id == ACCOUNTS.c.id,
            queued.c.status == QUEUED,
            queued.c.due_at <= now,
        )
        .order_by(queued.c.priority, queued.c.due_at, queued.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _lock_users_with_work(session: Session, now: datetime, limit: int) -> list[tuple[int, int]]:
    """Users in turn order that have a task able to start now, locked, skipping locked ones.

    Every test is a correlated scalar subquery on purpose: planners then evaluate it per user
    while walking the ``(last_served_at, id)`` index, stop at ``limit``, and probe each account
    through its own index entry, whatever their (often stale) statistics of a churning queue.
    """
    queued = QUEUED_ON_ACCOUNT
    due_task = (
        sa.select(queued.c.id)
        .where(
            queued.c.account_id == ACCOUNTS.c.id,
            queued.c.status == QUEUED,
            queued.c.due_at <= now,
        )
        .limit(1)
        .scalar_subquery()
    )
    ready_account = (
        sa.select(ACCOUNTS.c.id)
        .where(ACCOUNTS.c.user_id == USERS.c.id, _account_ready(now), due_task.is_not(None))
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(USERS.c.id, USERS.c.max_running)
        .where(ready_account.is_not(None))
        .order_by(USERS.c.last_served_at, USERS.c.id)
        .limit(limit)
        # NO KEY UPDATE on PostgreSQL: inserts that reference the user (events, tasks) go on.
        .with_for_update(skip_locked=True, key_share=True)
    ).all()
    return [(r.id, r.max_running) for r in rows]


def _running_counts(session: Session, column: sa.Column[Any], keys: list[Any]) -> dict[Any, int]:
    rows = session.execute(
        sa.select(column, sa.func.count())
        .where(TASKS.c.status == RUNNING, column.in_(keys))
        .group_by(column)
    ).all()
    return {key: count for key, count in rows}


@dataclass(frozen=True)
class Candidate:
    id: int
    user_id: int
    account_id: int
    platform: str
    priority: int
    due_at: datetime
    min_interval_seconds: float


def _candidates(session: Session, user_ids: list[int], now: datetime) -> list[Candidate]:
    """The best due task of each free, active, paced account of these users that is under
    its daily cap, best first."""
    ready = session.execute(
        sa.select(
            ACCOUNTS.c.id,
            ACCOUNTS.c.min_interval_seconds,
            ACCOUNTS.c.daily_cap,
            _best_task_of_account(now).label("task_id"),
        ).where(ACCOUNTS.c.user_id.in_(user_ids), _account_ready(now))
    ).all()
    accounts = {row.task_id: row for row in ready if row.task_id is not None}
    capped = {row.id: row.daily_cap for row in accounts.values() if row.daily_cap is not None}
    if capped:
        started = _started_in_last_day(session, list(capped), now)
        accounts = {
            task_id: row
            for task_id, row in accounts.items()
            if row.id not in capped or started.get(row.id, 0) < capped[row.id]
        }
    if not accounts:
        return []
    # A second statement by primary key: joining on the subquery's result let MariaDB scan.
    tasks = session.execute(
        sa.select(
            TASKS.c.id,
            TASKS.c.user_id,
            TASKS.c.account_id,
            TASKS.c.platform,
            TASKS.c.priority,
            TASKS.c.due_at,
        )
        .where(TASKS.c.id.in_(accounts))
        .order_by(TASKS.c.priority, TASKS.c.due_at, TASKS.c.id)
    ).all()
    return [
        Candidate(*task, min_interval_seconds=accounts[task.id].min_interval_seconds)
        for task in tasks
    ]


def _started_in_last_day(session: Session, account_ids: list[int], now: datetime) -> dict[int, int]:
    """Tasks of these accounts started in the 24 hours before ``now``, per account.

    Through the index ``(account_id, started_at)``: a range of at most the cap's size per
    account, whatever the account's history. ``started_at`` is the latest start of a task,
    so a retried task counts once. A statement of its own, with the ids as constants: as a
    correlated subquery of the accounts' select, MariaDB looked the index up by account
    only and read the account's whole history."""
    rows = session.execute(
        sa.select(TASKS.c.account_id, sa.func.count())
        .where(
            TASKS.c.account_id.in_(account_ids),
            TASKS.c.started_at > now - DAY,
            TASKS.c.started_at <= now,
        )
        .group_by(TASKS.c.account_id)
    ).all()
    return {account_id: count for account_id, count in rows}


def _platform_room(session: Session, platforms: set[str]) -> dict[str, int]:
    """Free places per limited platform, with the platform rows locked until commit."""
    limits = session.execute(
        sa.select(PLATFORMS.c.name, PLATFORMS.c.max_running)
        .where(PLATFORMS.c.name.in_(sorted(platforms)), PLATFORMS.c.max_running.is_not(None))
        .order_by(PLATFORMS.c.name)
        .with_for_update()
    ).all()
    if not limits:
        return {}
    running = _running_counts(session, TASKS.c.platform, [name for name, _ in limits])
    return {name: limit - running.get(name, 0) for name, limit in limits}


def _allocate(
    users: list[tuple[int, int]],
    running: dict[int, int],
    candidates: list[Candidate],
    platform_room: dict[str, int],
    slots: int,
) -> list[Candidate]:
    """Round-robin across users in cursor order; each user's best task first."""
    per_user: dict[int, deque[Candidate]] = defaultdict(deque)
    for row in candidates:  # already sorted best first
        per_user[row.user_id].append(row)
    room = {uid: limit - running.get(uid, 0) for uid, limit in users}
    chosen: list[Candidate] = []
    progress = True
    while len(chosen) < slots and progress:
        progress = False
        for uid, _ in users:
            if len(chosen) >= slots:
                break
            queue = per_user[uid]
            while queue and room[uid] > 0:
                row = queue.popleft()
                if platform_room.get(row.platform, 1) <= 0:
                    continue
                chosen.append(row)
                room[uid] -= 1
                if row.platform in platform_room:
                    platform_room[row.platform] -= 1
                progress = True
                break
    return chosen


def task_claim(
    session: Session,
    *,
    worker: str,
    slots: int,
    now: datetime,
    lease_seconds: float,
) -> list[ClaimedTask]:
    """Claim up to ``slots`` tasks for ``worker``; every limit holds across all processes."""
    if slots <= 0:
        return []
    users = _lock_users_with_work(session, now, slots)
    if not users:
        return []
    user_ids = [uid for uid, _ in users]
    running = _running_counts(session, TASKS.c.user_id, user_ids)
    candidates = _candidates(session, user_ids, now)
    if not candidates:
        return []
    room = _platform_room(session, {row.platform for row in candidates})
    chosen = _allocate(users, running, candidates, room, slots)
    if not chosen:
        return []

    check_transition(QUEUED, RUNNING)
    token = str(uuid.uuid4())
    ids = [row.id for row in chosen]
    updated = session.execute(
        sa.update(TASKS)
        .where(TASKS.c.id.in_(ids), TASKS.c.status == QUEUED)
        .values(
            status=RUNNING,
            attempt=TASKS.c.attempt + 1,
            lease_owner=worker,
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            cancel_requested=False,
            started_at=now,
            progress=0,
            stage="claimed",
            error_class=None,
            error_message=None,
        )
    ).rowcount
    if updated == 0:
        return []

    claimed = _read_claimed(session, ids, token)
    claimed_ids = {c.id for c in claimed}
    served = [row for row in chosen if row.id in claimed_ids]
    paced = [row for row in served if row.min_interval_seconds > 0]
    if paced:
        session.execute(
            sa.update(ACCOUNTS)
            .where(ACCOUNTS.c.id == sa.bindparam("paced_id"))
            .values(next_start_at=sa.bindparam("paced_until")),
            [
                {
                    "paced_id": row.account_id,
                    "paced_until": now + timedelta(seconds=row.min_interval_seconds),
                }
                for row in paced
            ],
        )
    session.execute(
        sa.update(USERS)
        .where(USERS.c.id.in_({row.user_id for row in served}))
        .values(last_served_at=now)
    )
    append_events(
        session,
        [
            Event(
                task_id=c.id,
                user_id=c.user_id,
                kind="status",
                reason=EventReason.CLAIMED,
                from_status=QUEUED,
                to_status=RUNNING,
                stage="claimed",
                progress=0,
                attempt=c.attempt,
                worker=worker,
                message=f"attempt {c.attempt} of {c.max_attempts}",
            )
            for c in claimed
        ],
        now,
    )
    return claimed


def _read_claimed(session: Session, ids: list[int], token: str) -> list[ClaimedTask]:
    rows = session.execute(
        sa.select(
            TASKS.c.id,
            TASKS.c.public_id,
            TASKS.c.user_id,
            TASKS.c.account_id,
            TASKS.c.platform,
            TASKS.c.title,
            TASKS.c.body,
            TASKS.c.tags,
            TASKS.c.cover,
            TASKS.c.priority,
            TASKS.c.attempt,
            TASKS.c.max_attempts,
            TASKS.c.checkpoint,
            TASKS.c.article_id,
            ACCOUNTS.c.name.label("account_name"),
            ACCOUNTS.c.options.label("account_options"),
            ACCOUNTS.c.credentials.label("account_credentials"),
        )
        .select_from(TASKS.join(ACCOUNTS, ACCOUNTS.c.id == TASKS.c.account_id))
        .where(TASKS.c.id.in_(ids), TASKS.c.lease_token == token)
        .order_by(TASKS.c.id)
    ).all()
    return [
        ClaimedTask(
            id=r.id,
            user_id=r.user_id,
            account_id=r.account_id,
            platform=r.platform,
            priority=r.priority,
            attempt=r.attempt,
            max_attempts=r.max_attempts,
            lease_token=token,
            checkpoint=dict(r.checkpoint or {}),
            account_credentials=r.account_credentials,
            article_id=r.article_id,
            content=TaskContent(
                public_id=r.public_id,
                title=r.title,
                body=r.body,
                tags=list(r.tags or []),
                cover=r.cover,
                account_name=r.account_name,
                options=dict(r.account_options or {}),
                update_of=PriorPost.from_checkpoints(r.checkpoint or {}),
            ),
        )
        for r in rows
    ]
