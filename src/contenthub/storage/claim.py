"""The claim: every limit and the fairness rule are decided here, inside one transaction.

1. Lock the users whose turn has come (``turn_at <= now``, oldest turn first; storage/ready.py
   keeps idle, paced, capped, held and busy users out of that range), ``FOR UPDATE SKIP
   LOCKED``: two claimers never serve one user at once, so the per-user limit, per-account
   serialization and pacing are exact.
2. Count those users' running tasks (a fresh statement, after the locks are held).
3. For each of their accounts whose ``ready_at`` has come, read its best due task (priority,
   due time, age) through the index ``(account_id, status, priority, due_at, id)``, whether
   it is active, free and paced, and its starts of the last 24 hours (the daily cap, counted
   from the rows through ``(account_id, started_at)``, never a counter a crash can leak).
   :func:`classify` says which may start now and when the others may next.
4. Hand out tasks round-robin across the users, within each user's free slots and each
   platform's limit (platform rows are locked while they are counted).
5. Mark them running with a new lease and fencing token, write the events, and settle the
   ready state (the accounts that started or could not, each user's next turn).
6. If some locked users could not start anything (their ready state was stale), walk on to
   the next users, at most ``ROUNDS`` times.

On SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer), and ``FOR UPDATE`` is not
rendered; MariaDB runs the same statements with row locks; PostgreSQL runs the same rules in
three statements a round (claim_postgresql.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.platforms.content import PriorPost, TaskContent
from contenthub.states import EventReason, TaskStatus, check_transition
from contenthub.storage.db import statements_of
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


def _running_task_of_account() -> sa.ScalarSelect[Any]:
    running = RUNNING_ON_ACCOUNT
    return (
        sa.select(running.c.id)
        .where(running.c.running_account_id == ACCOUNTS.c.id)
        .limit(1)
        .scalar_subquery()
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


@dataclass(frozen=True)
class TurnUser:
    id: int
    max_running: int
    last_served_at: datetime


def _lock_users_in_turn(session: Session, now: datetime, limit: int) -> list[TurnUser]:
    """Users whose turn has come, oldest turn first, locked, skipping locked ones.

    Only users that may start something are in the ``(turn_at, id)`` range (ready.py): the
    walk stops after ``limit`` rows whatever the number of idle, paced, capped or busy users.
    """
    rows = session.execute(
        sa.select(USERS.c.id, USERS.c.max_running, USERS.c.last_served_at)
        .where(USERS.c.turn_at <= now)
        .order_by(USERS.c.turn_at, USERS.c.id)
        .limit(limit)
        # NO KEY UPDATE on PostgreSQL: inserts that reference the user (events, tasks) go on.
        .with_for_update(skip_locked=True, key_share=True)
    ).all()
    return [TurnUser(r.id, r.max_running, r.last_served_at) for r in rows]


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
    next_start_at: datetime


@dataclass
class Probe:
    """What the claim read of the accounts whose ready time has come."""

    candidates: list[Candidate]
    # Accounts found unable to start anything now, with the exact next time they may.
    not_ready: dict[int, tuple[datetime | None, datetime]]


@dataclass(frozen=True)
class ProbedAccount:
    """One account whose ready time has come, as the claim read it."""

    id: int
    user_id: int
    status: str
    next_start_at: datetime
    min_interval_seconds: float
    daily_cap: int | None
    running_id: int | None
    # Its best due queued task (None: nothing due now) and that task's sort key.
    task_id: int | None
    platform: str
    priority: int | None
    due_at: datetime | None
    # Starts in the last 24 hours and the earliest of them (read only under a cap).
    started_count: int
    first_started: datetime | None
    # The earliest due time of its queued tasks (read only when none is due).
    first_due: datetime | None


def classify(accounts: list[ProbedAccount], now: datetime) -> Probe:
    """Which probed accounts may start their best task now (best first), and when the others
    may next: the one rule both claims (portable and PostgreSQL) apply to what they read."""
    candidates: list[Candidate] = []
    not_ready: dict[int, tuple[datetime | None, datetime]] = {}
    for a in accounts:
        capped = a.daily_cap is not None and a.started_count >= a.daily_cap
        if (
            a.status == "active"
            and a.running_id is None
            and a.task_id is not None
            and a.next_start_at <= now
            and not capped
        ):
            assert a.priority is not None and a.due_at is not None
            candidates.append(
                Candidate(
                    a.task_id,
                    a.user_id,
                    a.id,
                    a.platform,
                    a.priority,
                    a.due_at,
                    a.min_interval_seconds,
                    a.next_start_at,
                )
            )
            continue
        capped_until = a.first_started + DAY if capped and a.first_started else None
        not_ready[a.id] = (_next_ready(a, a.first_due, capped_until), a.next_start_at)
    candidates.sort(key=lambda c: (c.priority, c.due_at, c.id))
    return Probe(candidates, not_ready)


def _probe_accounts(session: Session, user_ids: list[int], now: datetime) -> Probe:
    """The best due task of each of these users' accounts whose ready time has come, with
    what :func:`classify` needs to decide whether it may start now."""
    rows = session.execute(
        sa.select(
            ACCOUNTS.c.id,
            ACCOUNTS.c.user_id,
            ACCOUNTS.c.status,
            ACCOUNTS.c.next_start_at,
            ACCOUNTS.c.min_interval_seconds,
            ACCOUNTS.c.daily_cap,
            _running_task_of_account().label("running_id"),
            _best_task_of_account(now).label("task_id"),
        ).where(ACCOUNTS.c.user_id.in_(user_ids), ACCOUNTS.c.ready_at <= now)
    ).all()
    if not rows:
        return Probe([], {})
    capped = [r.id for r in rows if r.daily_cap is not None and r.task_id is not None]
    started = _started_in_last_day(session, capped, now) if capped else {}
    idle = [r.id for r in rows if r.task_id is None and r.running_id is None]
    first_due = _first_due(session, idle) if idle else {}
    task_ids = [r.task_id for r in rows if r.task_id is not None]
    # A second statement by primary key: joining on the subquery's result let MariaDB scan.
    tasks = (
        {
            t.id: t
            for t in session.execute(
                sa.select(TASKS.c.id, TASKS.c.platform, TASKS.c.priority, TASKS.c.due_at).where(
                    TASKS.c.id.in_(task_ids)
                )
            )
        }
        if task_ids
        else {}
    )
    return classify(
        [
            ProbedAccount(
                id=r.id,
                user_id=r.user_id,
                status=r.status,
                next_start_at=r.next_start_at,
                min_interval_seconds=r.min_interval_seconds,
                daily_cap=r.daily_cap,
                running_id=r.running_id,
                task_id=r.task_id if r.task_id in tasks else None,
                platform=tasks[r.task_id].platform if r.task_id in tasks else "",
                priority=tasks[r.task_id].priority if r.task_id in tasks else None,
                due_at=tasks[r.task_id].due_at if r.task_id in tasks else None,
                started_count=started.get(r.id, (0, None))[0],
                first_started=started.get(r.id, (0, None))[1],
                first_due=first_due.get(r.id),
            )
            for r in rows
        ],
        now,
    )


def _next_ready(
    account: ProbedAccount, first_due: datetime | None, capped_until: datetime | None
) -> datetime | None:
    """The earliest time the account may start a task, from what the claim read; None: not
    before another writer marks it (a task queued, its running task ended, re-activated)."""
    if account.status != "active" or account.running_id is not None:
        return None
    if account.task_id is None and first_due is None:
        return None
    times = [account.next_start_at]
    if account.task_id is None and first_due is not None:
        times.append(first_due)
    if capped_until is not None:
        times.append(capped_until)
    return max(times)


def _first_due(session: Session, account_ids: list[int]) -> dict[int, datetime]:
    """The earliest due time of the queued tasks of these accounts (none is due yet)."""
    rows = session.execute(
        sa.select(TASKS.c.account_id, sa.func.min(TASKS.c.due_at))
        .where(TASKS.c.account_id.in_(account_ids), TASKS.c.status == QUEUED)
        .group_by(TASKS.c.account_id)
    ).all()
    return {account_id: due for account_id, due in rows}


def _started_in_last_day(
    session: Session, account_ids: list[int], now: datetime
) -> dict[int, tuple[int, datetime | None]]:
    """Tasks of these accounts started in the 24 hours before ``now``, and the earliest of
    those starts, per account.

    Through the index ``(account_id, started_at)``: a range of at most the cap's size per
    account, whatever the account's history. ``started_at`` is the latest start of a task,
    so a retried task counts once. A statement of its own, with the ids as constants: as a
    correlated subquery of the accounts' select, MariaDB looked the index up by account
    only and read the account's whole history."""
    rows = session.execute(
        sa.select(TASKS.c.account_id, sa.func.count(), sa.func.min(TASKS.c.started_at))
        .where(
            TASKS.c.account_id.in_(account_ids),
            TASKS.c.started_at > now - DAY,
            TASKS.c.started_at <= now,
        )
        .group_by(TASKS.c.account_id)
    ).all()
    return {account_id: (count, first) for account_id, count, first in rows}


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
    users: list[TurnUser],
    room: dict[int, int],
    candidates: list[Candidate],
    platform_room: dict[str, int],
    slots: int,
) -> list[Candidate]:
    """Round-robin across users in turn order; each user's best task first."""
    per_user: dict[int, deque[Candidate]] = defaultdict(deque)
    for row in candidates:  # already sorted best first
        per_user[row.user_id].append(row)
    room = dict(room)
    chosen: list[Candidate] = []
    progress = True
    while len(chosen) < slots and progress:
        progress = False
        for user in users:
            if len(chosen) >= slots:
                break
            queue = per_user[user.id]
            while queue and room[user.id] > 0:
                row = queue.popleft()
                if platform_room.get(row.platform, 1) <= 0:
                    continue
                chosen.append(row)
                room[user.id] -= 1
                if row.platform in platform_room:
                    platform_room[row.platform] -= 1
                progress = True
                break
    return chosen


# A claim whose users turned out unable to start anything (their ready state was stale, now
# corrected) walks on to the next users, a bounded number of times.
ROUNDS = 3


def task_claim(
    session: Session,
    *,
    worker: str,
    slots: int,
    now: datetime,
    lease_seconds: float,
) -> list[ClaimedTask]:
    """Claim up to ``slots`` tasks for ``worker``; every limit holds across all processes.

    On PostgreSQL the same claim runs in three statements a round (claim_postgresql.py)
    unless the gateway chose the portable ones (``db.statements_of``)."""
    if statements_of(session) == "postgresql":
        from contenthub.storage.claim_postgresql import claim_round_postgresql as one_round
    else:
        one_round = _claim_round
    claimed: list[ClaimedTask] = []
    for _ in range(ROUNDS):
        if len(claimed) >= slots:
            break
        got, walk_on = one_round(
            session, worker=worker, slots=slots - len(claimed), now=now, lease_seconds=lease_seconds
        )
        claimed += got
        if not walk_on:
            break
    return claimed


def _claim_round(
    session: Session, *, worker: str, slots: int, now: datetime, lease_seconds: float
) -> tuple[list[ClaimedTask], bool]:
    """One round of the portable claim: the tasks started, and whether some users it locked
    left the walk (so a next round would see others)."""
    users = _lock_users_in_turn(session, now, slots)
    if not users:
        return [], False
    running = _running_counts(session, TASKS.c.user_id, [u.id for u in users])
    room = {u.id: u.max_running - running.get(u.id, 0) for u in users}
    with_room = [u.id for u in users if room[u.id] > 0]
    probe = _probe_accounts(session, with_room, now) if with_room else Probe([], {})
    chosen: list[Candidate] = []
    if probe.candidates:
        platform_room = _platform_room(session, {row.platform for row in probe.candidates})
        chosen = _allocate(users, room, probe.candidates, platform_room, slots)
    claimed = _start(session, chosen, worker=worker, now=now, lease_seconds=lease_seconds)
    served = [row for row in chosen if row.id in {c.id for c in claimed}]
    _settle_ready_state(session, users, room, served, probe.not_ready, now)
    return claimed, walk_on(users, room, probe)


def walk_on(users: list[TurnUser], room: dict[int, int], probe: Probe) -> bool:
    """Whether a round found users it had to take out of the walk (stale ready state)."""
    return bool(probe.not_ready) or any(room[u.id] <= 0 for u in users)


def _start(
    session: Session, chosen: list[Candidate], *, worker: str, now: datetime, lease_seconds: float
) -> list[ClaimedTask]:
    """Mark the chosen tasks running with a new lease and fencing token; their events."""
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


def _settle_ready_state(
    session: Session,
    users: list[TurnUser],
    room: dict[int, int],
    served: list[Candidate],
    not_ready: dict[int, tuple[datetime | None, datetime]],
    now: datetime,
) -> None:
    """Raise the ready state to what this claim saw, while the users' locks are held
    (ready.py): a started account is not ready until its task ends, a probed one that could
    not start waits for its next time, and each user's turn moves to its earliest ready
    account (or its last service, if later), or leaves the walk while it has no room."""
    accounts = dict(not_ready)
    for row in served:  # running now: not ready until the task ends; paced from now
        paced = now + timedelta(seconds=row.min_interval_seconds)
        next_start = paced if row.min_interval_seconds > 0 else row.next_start_at
        accounts[row.account_id] = (None, next_start)
    if accounts:
        session.execute(
            sa.update(ACCOUNTS)
            .where(ACCOUNTS.c.id == sa.bindparam("account_id"))
            .values(ready_at=sa.bindparam("ready"), next_start_at=sa.bindparam("next_start")),
            [
                {"account_id": aid, "ready": ready, "next_start": next_start}
                for aid, (ready, next_start) in sorted(accounts.items())
            ],
        )
    started: dict[int, int] = defaultdict(int)
    for row in served:
        started[row.user_id] += 1
    with_room = [u.id for u in users if room[u.id] - started[u.id] > 0]
    earliest = _earliest_ready(session, with_room) if with_room else {}
    changes = []
    for user in users:
        last_served = now if started[user.id] else user.last_served_at
        ready = earliest.get(user.id)
        turn = None if ready is None else max(ready, last_served)
        changes.append({"user_id": user.id, "served": last_served, "turn": turn})
    session.execute(
        sa.update(USERS)
        .where(USERS.c.id == sa.bindparam("user_id"))
        .values(last_served_at=sa.bindparam("served"), turn_at=sa.bindparam("turn")),
        changes,
    )


def _earliest_ready(session: Session, user_ids: list[int]) -> dict[int, datetime]:
    rows = session.execute(
        sa.select(ACCOUNTS.c.user_id, sa.func.min(ACCOUNTS.c.ready_at))
        .where(ACCOUNTS.c.user_id.in_(user_ids), ACCOUNTS.c.ready_at.is_not(None))
        .group_by(ACCOUNTS.c.user_id)
    ).all()
    return {user_id: ready for user_id, ready in rows}


def claimed_task(r: Any, token: str) -> ClaimedTask:
    """A started task's row (with its account's name, options and credentials) as the worker
    gets it: the one mapping every claim (portable or PostgreSQL's) hands out."""
    return ClaimedTask(
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
    return [claimed_task(r, token) for r in rows]
