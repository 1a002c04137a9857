"""The enqueue's and the completion's writes on PostgreSQL in one statement each (decisions
§36).

The portable enqueue (:func:`contenthub.storage.enqueue.task_enqueue_rows`) sends five
statements after its checks: the users' and the accounts' ready marks, the tasks, their
events, the notification; the portable completion
(:func:`contenthub.storage.lease.task_complete`) six: the fenced rows locked, their update,
their events, the notification and the two marks. Here each is data-modifying CTEs of one
statement, the rows coming in as arrays (one statement text whatever their number). The
same rows, marks and events are written; the conformance suite runs against both paths
(the engine option ``contenthub_statements="portable"``).

Lock order is the portable one, the claim's (``ready.py``): tasks, then the users' rows in id
order, then the accounts'. The sub-statements of one statement run in no set order, so each
step reads the one before (the users' lock counts the tasks written, the accounts' mark
counts the users marked: a count is computed once, before the step's first row), and the
users are locked by a ``SELECT … ORDER BY id FOR NO KEY UPDATE`` (rows are locked as the
sort gives them). Marking the users straight from the tasks written locked them in the
tasks' order: two completions sharing users deadlocked under load (decisions §36).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from contenthub.states import TaskStatus
from contenthub.storage.events import EVENTS_CHANNEL, NOTIFY_CHANNEL
from contenthub.storage.models import EPOCH
from contenthub.storage.tasks import TASK_COLUMNS

# The new tasks' columns as arrays: (name, array type, how a value is sent).
_TEXT, _INT, _TIME, _JSON = "varchar[]", "integer[]", "timestamp[]", "text[]"
_COLUMNS = (
    ("public_id", _TEXT),
    ("user_id", _INT),
    ("article_id", _INT),
    ("title", _TEXT),
    ("body", "text[]"),
    ("tags", _JSON),
    ("cover", "text[]"),
    ("account_id", _INT),
    ("platform", _TEXT),
    ("status", _TEXT),
    ("priority", _INT),
    ("due_at", _TIME),
    ("max_attempts", _INT),
    ("checkpoint", _JSON),
    ("batch_id", _TEXT),
    ("queued_at", _TIME),
)
_CAST = {"tags": "CAST(n.tags AS json)", "checkpoint": "CAST(n.checkpoint AS json)"}
RUNNING = TaskStatus.RUNNING.value
_RETURNING = ", ".join(c.name for c in TASK_COLUMNS)


def _users_turned_back(*, after: str) -> str:
    """The CTEs ``locked`` and ``turn``: the ``:users`` locked in id order (the lock order of
    every writer of users' rows), once ``after`` has been computed (a step that must come
    first), then back to their place in the claim's turn order (``ready.user_turn_back``)."""
    return f"""locked AS (
        SELECT id FROM users WHERE id = ANY(CAST(:users AS integer[])) AND {after}
        ORDER BY id
        FOR NO KEY UPDATE
    ), turn AS (
        UPDATE users SET turn_at = CASE WHEN last_served_at > :now THEN :now
                                        ELSE last_served_at END
        WHERE id IN (SELECT id FROM locked)
        RETURNING id
    )"""


ENQUEUE = sa.text(
    f"""
    WITH {_users_turned_back(after="true")}, ready AS (
        UPDATE accounts SET ready_at = :epoch
        WHERE id = ANY(CAST(:ready_accounts AS integer[]))
          AND (SELECT count(*) FROM turn) >= 0
    ), inserted AS (
        INSERT INTO publish_tasks ({", ".join(name for name, _ in _COLUMNS)},
                                   progress, attempt, cancel_requested, created_at)
        SELECT {", ".join(_CAST.get(name, f"n.{name}") for name, _ in _COLUMNS)},
               0, 0, false, :now
        FROM unnest({", ".join(f"CAST(:{name} AS {kind})" for name, kind in _COLUMNS)})
            WITH ORDINALITY AS n({", ".join(name for name, _ in _COLUMNS)}, position)
        ORDER BY n.position
        RETURNING {_RETURNING}
    ), events AS (
        INSERT INTO task_events (task_id, user_id, at, kind, reason, to_status, message)
        SELECT i.id, i.user_id, :now, 'status', e.reason, i.status, e.message
        FROM inserted i
        JOIN unnest(CAST(:public_id AS varchar[]), CAST(:reason AS varchar[]),
                    CAST(:message AS varchar[])) AS e(public_id, reason, message)
          ON e.public_id = i.public_id
        ORDER BY i.id
    )
    SELECT inserted.* FROM inserted,
        (SELECT pg_notify('{EVENTS_CHANNEL}', ''), pg_notify('{NOTIFY_CHANNEL}', '')) AS told
    ORDER BY inserted.id
    """
).columns(*TASK_COLUMNS)


def enqueue_postgresql(
    connection: sa.Connection,
    rows: Sequence[dict[str, Any]],
    events: Sequence[tuple[str, str]],  # (EventReason values are str)
    ready: tuple[Collection[int], Collection[int]],
    now: datetime,
) -> list[sa.Row[Any]]:
    """Insert ``rows`` (the portable path's insert rows, all created ``now``) with one event
    each (``events``: reason and message, in the rows' order), mark the ``ready`` users and
    accounts, and notify; returns the inserted tasks in the rows' order."""
    params: dict[str, Any] = {name: [_sent(row[name]) for row in rows] for name, _ in _COLUMNS}
    params["tags"] = [json.dumps(row["tags"]) for row in rows]
    params["checkpoint"] = [json.dumps(row["checkpoint"]) for row in rows]
    users, accounts = ready
    params.update(
        now=_naive(now),
        epoch=_naive(EPOCH),
        users=sorted(users),
        ready_accounts=sorted(accounts),
        reason=[str(reason) for reason, _ in events],
        message=[message for _, message in events],
    )
    return list(connection.execute(ENQUEUE, params))


COMPLETE = sa.text(
    f"""
    WITH given AS (
        SELECT * FROM unnest(
            CAST(:task_id AS integer[]), CAST(:token AS varchar[]), CAST(:target AS varchar[]),
            CAST(:reason AS varchar[]), CAST(:stage AS varchar[]), CAST(:url AS varchar[]),
            CAST(:post_id AS varchar[]), CAST(:outcome AS varchar[]),
            CAST(:message AS varchar[])
        ) AS g(id, token, target, reason, stage, url, post_id, outcome, message)
    ), done AS (
        UPDATE publish_tasks t SET
            status = g.target, progress = 100, stage = g.stage, finished_at = :now,
            lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
            result_url = g.url, post_id = g.post_id, outcome = g.outcome
        FROM given g
        WHERE t.id = g.id AND t.status = :running AND t.lease_token = g.token
        RETURNING t.id, t.user_id, t.account_id, g.target, g.reason, g.stage, g.message
    ), events AS (
        INSERT INTO task_events (task_id, user_id, at, kind, reason, from_status, to_status,
                                 stage, progress, message, worker)
        SELECT id, user_id, :now, 'status', reason, :running, target, stage, 100, message,
               :worker
        FROM done ORDER BY id
    ), {_users_turned_back(after="(SELECT count(*) FROM done) >= 0")}, ready AS (
        UPDATE accounts SET ready_at = :epoch
        WHERE id IN (SELECT account_id FROM done) AND (SELECT count(*) FROM turn) >= 0
    )
    SELECT done.id FROM done, (SELECT pg_notify('{EVENTS_CHANNEL}', '')) AS told
    """
)


@dataclass(frozen=True)
class Completion:
    """One publish to record: its lease (id and fencing token), where it ended and why."""

    task_id: int
    user_id: int
    token: str
    target: str
    reason: str
    stage: str
    url: str | None
    post_id: str | None
    outcome: str
    message: str


def complete_postgresql(
    connection: sa.Connection, completions: Sequence[Completion], *, now: datetime, worker: str
) -> set[int]:
    """Record ``completions`` whose lease still holds, with their events and the ready marks
    of their users and accounts; returns the ids recorded."""
    # One array per field, under the field's name (the statement's parameters).
    params: dict[str, Any] = {
        f.name: [getattr(c, f.name) for c in completions] for f in fields(Completion)
    }
    params.update(now=_naive(now), epoch=_naive(EPOCH), worker=worker, running=RUNNING)
    # Every user named (one whose lease was lost meanwhile too: a stale mark costs the claim
    # one probe, and the users are then locked before the accounts, whatever the plan).
    params["users"] = sorted({c.user_id for c in completions})
    return set(connection.execute(COMPLETE, params).scalars())


def _sent(value: Any) -> Any:
    return _naive(value) if isinstance(value, datetime) else value


def _naive(value: datetime) -> datetime:
    """Stored times are naive UTC (models.UTCDateTime); text statements bind them as such."""
    return value.astimezone(UTC).replace(tzinfo=None)
