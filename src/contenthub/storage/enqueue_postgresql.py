"""The enqueue's writes on PostgreSQL in one statement (decisions §36).

The portable enqueue (:func:`contenthub.storage.enqueue.task_enqueue_rows`) sends five
statements after its checks: the users' and the accounts' ready marks, the tasks, their
events, the notification. Here they are data-modifying CTEs of one statement, the rows coming
in as arrays (one statement text whatever their number). The same rows, the same marks and
the same events are written; the conformance suite runs against both paths.

Lock order is the portable one, the claim's (``ready.py``): the users' rows, then the
accounts'. The sub-statements of one statement run in no set order, so the accounts' mark
reads the users' (its count, computed once before its first row) and so waits for it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

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
_RETURNING = ", ".join(c.name for c in TASK_COLUMNS)

ENQUEUE = sa.text(
    f"""
    WITH turn AS (
        UPDATE users SET turn_at = CASE WHEN last_served_at > :now THEN :now
                                        ELSE last_served_at END
        WHERE id = ANY(CAST(:turn_users AS integer[]))
        RETURNING id
    ), ready AS (
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
        turn_users=sorted(users),
        ready_accounts=sorted(accounts),
        reason=[str(reason) for reason, _ in events],
        message=[message for _, message in events],
    )
    return list(connection.execute(ENQUEUE, params))


def _sent(value: Any) -> Any:
    return _naive(value) if isinstance(value, datetime) else value


def _naive(value: datetime) -> datetime:
    """Stored times are naive UTC (models.UTCDateTime); text statements bind them as such."""
    return value.astimezone(UTC).replace(tzinfo=None)
