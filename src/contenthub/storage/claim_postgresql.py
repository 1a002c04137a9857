"""The claim on PostgreSQL in three round trips: lock, read, write (decisions §23).

The same rules as the portable claim (:mod:`contenthub.storage.claim`): the same users are
locked, :func:`~contenthub.storage.claim.classify` and the same allocation decide, and the
conformance suite runs against both. What changes is the number of statements:

1. Lock the users in turn (``FOR NO KEY UPDATE SKIP LOCKED``) and the limited platforms of
   their accounts (``FOR UPDATE``, in name order).
2. In a *new* statement (a snapshot taken after the locks are held, so no count is stale):
   the running counts of those users and platforms, and every account whose ready time has
   come with its best due task, its starts of the last 24 hours and its first due time.
3. One statement of data-modifying CTEs: start the chosen tasks (``RETURNING`` what the
   worker needs), settle the accounts' and users' ready state from the tasks actually
   started, write the events and notify the event readers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.states import EventReason, check_transition
from contenthub.storage.claim import (
    DAY,
    QUEUED,
    RUNNING,
    Candidate,
    ClaimedTask,
    ProbedAccount,
    TurnUser,
    _allocate,
    claimed_task,
    classify,
    walk_on,
)
from contenthub.storage.events import EVENTS_CHANNEL

LOCK = sa.text(
    """
    WITH turn AS (
        SELECT id, max_running, last_served_at, turn_at FROM users
        WHERE turn_at <= :now
        ORDER BY turn_at, id
        LIMIT :slots
        FOR NO KEY UPDATE SKIP LOCKED
    ), limited AS (
        SELECT name, max_running FROM platforms
        WHERE max_running IS NOT NULL
          AND name IN (SELECT platform FROM accounts WHERE user_id IN (SELECT id FROM turn))
        ORDER BY name
        FOR UPDATE
    )
    SELECT 'user' AS kind, id, NULL AS name, max_running, last_served_at, turn_at FROM turn
    UNION ALL
    SELECT 'platform', NULL, name, max_running, NULL, NULL FROM limited
    ORDER BY kind DESC, turn_at, id
    """
)

PROBE = sa.text(
    """
    WITH busy_users AS (
        SELECT user_id, count(*) AS n FROM publish_tasks
        WHERE status = 'running' AND user_id = ANY(:users) GROUP BY user_id
    ), busy_platforms AS (
        SELECT platform, count(*) AS n FROM publish_tasks
        WHERE status = 'running' AND platform = ANY(:platforms) GROUP BY platform
    )
    SELECT a.id, a.user_id, a.status, a.next_start_at, a.min_interval_seconds, a.daily_cap,
           (SELECT r.id FROM publish_tasks r WHERE r.running_account_id = a.id LIMIT 1)
               AS running_id,
           best.id AS task_id, best.platform, best.priority, best.due_at,
           coalesce(cap.n, 0) AS started_count, cap.first AS first_started,
           CASE WHEN best.id IS NULL THEN (
               SELECT min(q.due_at) FROM publish_tasks q
               WHERE q.account_id = a.id AND q.status = 'queued'
           ) END AS first_due,
           coalesce(bu.n, 0) AS user_running,
           coalesce(bp.n, 0) AS platform_running,
           (SELECT p.max_running IS NOT NULL FROM platforms p WHERE p.name = best.platform)
               AS platform_limited
    FROM accounts a
    LEFT JOIN LATERAL (
        SELECT q.id, q.platform, q.priority, q.due_at FROM publish_tasks q
        WHERE q.account_id = a.id AND q.status = 'queued' AND q.due_at <= :now
        ORDER BY q.priority, q.due_at, q.id
        LIMIT 1
    ) best ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS n, min(s.started_at) AS first FROM publish_tasks s
        WHERE a.daily_cap IS NOT NULL AND best.id IS NOT NULL
          AND s.account_id = a.id AND s.started_at > :day_ago AND s.started_at <= :now
    ) cap ON true
    LEFT JOIN busy_users bu ON bu.user_id = a.user_id
    LEFT JOIN busy_platforms bp ON bp.platform = best.platform
    WHERE a.user_id = ANY(:users) AND a.ready_at <= :now
    """
)

# PROBE's columns after ProbedAccount's fields.
TASK_ID, PLATFORM, USER_RUNNING, PLATFORM_RUNNING, PLATFORM_LIMITED = 7, 8, 14, 15, 16

RUNNING_OF_USERS = sa.text(
    "SELECT user_id, count(*) FROM publish_tasks"
    " WHERE status = 'running' AND user_id = ANY(:users) GROUP BY user_id"
)

WRITE = sa.text(
    """
    WITH started AS (
        UPDATE publish_tasks t SET
            status = 'running', attempt = t.attempt + 1, lease_owner = :worker,
            lease_token = :token, lease_expires_at = :lease_expires, cancel_requested = false,
            started_at = :now, progress = 0, stage = 'claimed',
            error_class = NULL, error_message = NULL
        FROM accounts a
        WHERE t.id = ANY(:task_ids) AND t.status = 'queued' AND a.id = t.account_id
        RETURNING t.id, t.public_id, t.user_id, t.account_id, t.platform, t.title, t.body,
                  t.tags, t.cover, t.priority, t.attempt, t.max_attempts, t.checkpoint,
                  t.article_id,
                  a.name AS account_name, a.options AS account_options,
                  a.credentials AS account_credentials
    ), probed AS (
        SELECT * FROM unnest(
            CAST(:account_ids AS integer[]),
            CAST(:account_ready AS timestamp[]),
            CAST(:account_next AS timestamp[])
        ) AS p(id, ready, next_start)
    ), accounts_set AS (
        UPDATE accounts a SET
            ready_at = CASE WHEN s.account_id IS NULL THEN p.ready END,
            next_start_at = CASE
                WHEN s.account_id IS NULL THEN p.next_start
                WHEN a.min_interval_seconds > 0
                    THEN :now + a.min_interval_seconds * interval '1 second'
                ELSE a.next_start_at END
        FROM probed p LEFT JOIN started s ON s.account_id = p.id
        WHERE a.id = p.id
          AND (s.account_id IS NOT NULL OR p.ready IS DISTINCT FROM a.ready_at)
        RETURNING a.id, a.ready_at
    ), served AS (
        SELECT user_id, count(*) AS n FROM started GROUP BY user_id
    ), earliest AS (
        SELECT a.user_id, min(CASE WHEN x.id IS NULL THEN a.ready_at ELSE x.ready_at END)
            AS ready
        FROM accounts a LEFT JOIN accounts_set x ON x.id = a.id
        WHERE a.user_id = ANY(:users)
        GROUP BY a.user_id
    ), users_set AS (
        UPDATE users u SET
            last_served_at = CASE WHEN s.n > 0 THEN :now ELSE u.last_served_at END,
            turn_at = CASE WHEN v.room - coalesce(s.n, 0) <= 0 OR e.ready IS NULL THEN NULL
                ELSE greatest(e.ready, CASE WHEN s.n > 0 THEN :now ELSE u.last_served_at END)
                END
        FROM unnest(CAST(:users AS integer[]), CAST(:rooms AS integer[])) AS v(id, room)
        LEFT JOIN served s ON s.user_id = v.id
        LEFT JOIN earliest e ON e.user_id = v.id
        WHERE u.id = v.id
    ), events AS (
        INSERT INTO task_events (task_id, user_id, at, kind, reason, from_status, to_status,
                                 stage, progress, attempt, message, worker)
        SELECT id, user_id, :now, 'status', :reason, :queued, :running, 'claimed', 0, attempt,
               'attempt ' || attempt || ' of ' || max_attempts, :worker
        FROM started
    )
    SELECT started.*, pg_notify(:channel, '') AS notified FROM started ORDER BY id
    """
)


def _naive(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC (models.UTCDateTime); text statements bind them as such."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def claim_round_postgresql(
    session: Session, *, worker: str, slots: int, now: datetime, lease_seconds: float
) -> tuple[list[ClaimedTask], bool]:
    """One round of :func:`contenthub.storage.claim.task_claim` on PostgreSQL, in three
    statements."""
    at = _naive(now)
    # (The session's connection: text statements need none of the ORM's execution.)
    connection = session.connection()
    locked = connection.execute(LOCK, {"now": at, "slots": slots}).all()
    users = [
        TurnUser(r.id, r.max_running, _aware(r.last_served_at))  # type: ignore[arg-type]
        for r in locked
        if r.kind == "user"
    ]
    if not users:
        return [], False
    limits = {r.name: r.max_running for r in locked if r.kind == "platform"}
    user_ids = [u.id for u in users]
    probed = connection.execute(
        PROBE,
        {"now": at, "day_ago": _naive(now - DAY), "users": user_ids, "platforms": list(limits)},
    ).all()
    running: dict[int, int] = {}
    platform_running: dict[str, int] = {}
    unlocked: set[int] = set()  # tasks on a limited platform whose row is not locked
    for r in probed:
        running[r[1]] = r[USER_RUNNING]
        if r[PLATFORM] in limits:
            platform_running[r[PLATFORM]] = r[PLATFORM_RUNNING]
        elif r[PLATFORM_LIMITED]:
            # A limited platform the lock step did not see (an account added since): its
            # task waits for the next claim rather than risk the limit.
            unlocked.add(r[TASK_ID])
    if len(running) < len(users):  # users none of whose accounts is ready now
        running.update(dict(connection.execute(RUNNING_OF_USERS, {"users": user_ids}).all()))
    room = {u.id: u.max_running - running.get(u.id, 0) for u in users}
    # By position, in ProbedAccount's order (a row's attributes cost a lookup each, and a
    # claim reads every ready account of the users it locked: hundreds of rows).
    probe = classify(
        [
            ProbedAccount(
                account_id,
                user_id,
                status,
                next_start_at.replace(tzinfo=UTC),
                min_interval_seconds,
                daily_cap,
                running_id,
                task_id,
                platform or "",
                priority,
                due_at and due_at.replace(tzinfo=UTC),
                started_count,
                first_started and first_started.replace(tzinfo=UTC),
                first_due and first_due.replace(tzinfo=UTC),
            )
            for (
                account_id,
                user_id,
                status,
                next_start_at,
                min_interval_seconds,
                daily_cap,
                running_id,
                task_id,
                platform,
                priority,
                due_at,
                started_count,
                first_started,
                first_due,
                *_,
            ) in probed
            if room[user_id] > 0
        ],
        now,
    )
    platform_room = {name: limit - platform_running.get(name, 0) for name, limit in limits.items()}
    candidates = [c for c in probe.candidates if c.id not in unlocked]
    chosen = _allocate(users, room, candidates, platform_room, slots)
    claimed = _write(session, users, room, chosen, probe.not_ready, worker, now, lease_seconds)
    return claimed, walk_on(users, room, probe)


def _write(
    session: Session,
    users: list[TurnUser],
    room: dict[int, int],
    chosen: list[Candidate],
    not_ready: dict[int, tuple[datetime | None, datetime]],
    worker: str,
    now: datetime,
    lease_seconds: float,
) -> list[ClaimedTask]:
    check_transition(QUEUED, RUNNING)
    token = str(uuid.uuid4())
    # Chosen accounts keep their ready time unless their task really starts.
    accounts = {c.account_id: (now, c.next_start_at) for c in chosen}
    accounts.update(not_ready)
    ids = sorted(accounts)
    connection = session.connection()
    rows = connection.execute(
        WRITE,
        {
            "worker": worker,
            "token": token,
            "lease_expires": _naive(now + timedelta(seconds=lease_seconds)),
            "now": _naive(now),
            "task_ids": [c.id for c in chosen],
            "account_ids": ids,
            "account_ready": [_naive(accounts[i][0]) for i in ids],
            "account_next": [_naive(accounts[i][1]) for i in ids],
            "users": [u.id for u in users],
            "rooms": [room[u.id] for u in users],
            "reason": EventReason.CLAIMED.value,
            "queued": QUEUED,
            "running": RUNNING,
            "channel": EVENTS_CHANNEL,
        },
    ).all()
    return [claimed_task(r, token) for r in rows]
