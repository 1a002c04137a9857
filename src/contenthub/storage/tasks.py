"""Reading tasks and their timelines, always scoped to the owner unless ``user_id`` is None."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.platforms.content import LEFTOVERS, UPDATE_OF, WARNINGS
from contenthub.states import TaskStatus
from contenthub.storage.events import EVENTS, TASKS
from contenthub.storage.models import Account

TASK_COLUMNS = [c for c in TASKS.c if c.name not in ("body", "running_account_id")]


def task_row(row: Any) -> dict[str, Any]:
    """A task row as callers see it, with the drafts it left on the platform (``leftovers``,
    recorded by the adapter in its checkpoint) and what of the article the platform could not
    take (``warnings``, recorded by the worker) named at the top level."""
    task = dict(row)
    checkpoint = task.get("checkpoint") or {}
    task["leftovers"] = _list_at(checkpoint, LEFTOVERS)
    task["warnings"] = _list_at(checkpoint, WARNINGS)
    task["updates"] = (checkpoint.get(UPDATE_OF) or {}).get("post_id")
    return task


def _list_at(checkpoint: dict[str, Any], key: str) -> list[Any]:
    value = checkpoint.get(key)
    return list(value) if isinstance(value, list) else []


def task_get(session: Session, public_id: str, *, user_id: int | None) -> dict[str, Any]:
    query = sa.select(*TASK_COLUMNS).where(TASKS.c.public_id == public_id)
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    row = session.execute(query).mappings().first()
    if row is None:
        raise NotFound("task", public_id)
    return task_row(row)


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks a listing shows; an empty field does not filter."""

    statuses: Sequence[TaskStatus | str] = ()
    platform: str | None = None
    account_id: int | None = None
    article_id: int | None = None
    batch_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def task_list(
    session: Session,
    *,
    user_id: int | None,
    where: TaskFilter = TaskFilter(),
    before: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` (a task id) pages backwards without offsets."""
    params = listing_params(session, user_id, where, before)
    result = session.execute(_listing_query(frozenset(params)), {**params, "limit": limit})
    return task_rows_of(result)


def task_rows_of(result: sa.Result[Any]) -> list[dict[str, Any]]:
    """A listing's result as :func:`task_row` shows each row."""
    names = list(result.keys())
    return [task_row(dict(zip(names, row, strict=True))) for row in result.all()]


def listing_params(
    session: Session, user_id: int | None, where: TaskFilter, before: str | None
) -> dict[str, Any]:
    """A listing's parameters, only those given (each is a condition of its statement)."""
    given = {
        "user_id": user_id,
        "platform": where.platform,
        "account_id": where.account_id,
        "article_id": where.article_id,
        "batch_id": where.batch_id,
        "created_after": where.created_after,
        "created_before": where.created_before,
        "statuses": [TaskStatus(s).value for s in where.statuses] or None,
    }
    if before is not None:
        given["anchor"] = session.scalar(sa.select(TASKS.c.id).where(TASKS.c.public_id == before))
        if given["anchor"] is None:
            raise InputError("before", f"no task {before}")
    return {name: value for name, value in given.items() if value is not None}


# A listing's conditions, each on a parameter of its own: the statement for one combination
# of filters is built (and its cache key computed, and compiled) once per process, not once
# per request — SQLAlchemy's statement building took most of a listing's time.
_LISTING_CONDITIONS = {
    "user_id": TASKS.c.user_id == sa.bindparam("user_id"),
    "platform": TASKS.c.platform == sa.bindparam("platform"),
    "account_id": TASKS.c.account_id == sa.bindparam("account_id"),
    "article_id": TASKS.c.article_id == sa.bindparam("article_id"),
    "batch_id": TASKS.c.batch_id == sa.bindparam("batch_id"),
    "created_after": TASKS.c.created_at >= sa.bindparam("created_after"),
    "created_before": TASKS.c.created_at < sa.bindparam("created_before"),
    "statuses": TASKS.c.status.in_(sa.bindparam("statuses", expanding=True)),
    "anchor": TASKS.c.id < sa.bindparam("anchor"),
}


def listing_select(columns: Sequence[Any], conditions: frozenset[str]) -> sa.Select[Any]:
    """``columns`` of a page of tasks: those meeting ``conditions`` (names of
    :func:`listing_params`), newest first, ``limit`` of them."""
    query = sa.select(*columns).where(*(_LISTING_CONDITIONS[name] for name in sorted(conditions)))
    return query.order_by(TASKS.c.id.desc()).limit(sa.bindparam("limit"))


@functools.cache  # at most 2**9 statements
def _listing_query(conditions: frozenset[str]) -> sa.Select[Any]:
    return listing_select(TASK_COLUMNS, conditions)


def task_events(session: Session, task_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(EVENTS).where(EVENTS.c.task_id == task_id).order_by(EVENTS.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def task_status_counts(session: Session, *, user_id: int | None) -> dict[str, int]:
    query = sa.select(TASKS.c.status, sa.func.count()).group_by(TASKS.c.status)
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    return {status: count for status, count in session.execute(query).all()}


def task_queue_depth(
    session: Session, *, user_id: int | None, now: datetime
) -> tuple[int, datetime | None]:
    """Queued tasks that are due, and the due time of the one that has waited longest."""
    query = sa.select(sa.func.count(), sa.func.min(TASKS.c.due_at)).where(
        TASKS.c.status == TaskStatus.QUEUED.value, TASKS.c.due_at <= now
    )
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    depth, oldest = session.execute(query).one()
    return depth, oldest


_ID_CHARS = frozenset("0123456789abcdef-")
FULL_ID_LENGTH = 36


def task_resolve(session: Session, ref: str, *, user_id: int | None) -> str:
    """The full id of the one task whose id is ``ref`` or starts with it.

    Short ids are what people copy from narrow tables; an ambiguous prefix is refused with
    the number of tasks it matches, never guessed.
    """
    ref = ref.strip().lower()
    if not ref or not set(ref) <= _ID_CHARS:
        raise NotFound("task", ref)
    if len(ref) == FULL_ID_LENGTH:
        return ref
    matching = sa.select(TASKS.c.public_id).where(TASKS.c.public_id.like(f"{ref}%"))
    if user_id is not None:
        matching = matching.where(TASKS.c.user_id == user_id)
    found = list(session.scalars(matching.limit(2)))
    if not found:
        raise NotFound("task", ref)
    if len(found) > 1:
        count = session.scalar(sa.select(sa.func.count()).select_from(matching.subquery()))
        raise InputError("task", f"{ref} matches {count} tasks; give more of its id")
    return found[0]


def task_ids_of_batch(session: Session, batch_id: str, *, user_id: int | None) -> list[str]:
    query = sa.select(TASKS.c.public_id).where(TASKS.c.batch_id == batch_id)
    if user_id is not None:
        query = query.where(TASKS.c.user_id == user_id)
    return list(session.scalars(query.order_by(TASKS.c.id)))


def task_counts_by_status_and_platform(session: Session) -> list[tuple[str, str, int]]:
    query = sa.select(TASKS.c.status, TASKS.c.platform, sa.func.count()).group_by(
        TASKS.c.status, TASKS.c.platform
    )
    return [(status, platform, count) for status, platform, count in session.execute(query)]


def task_running_per_worker(session: Session) -> list[tuple[str | None, int]]:
    query = (
        sa.select(TASKS.c.lease_owner, sa.func.count())
        .where(TASKS.c.status == TaskStatus.RUNNING.value)
        .group_by(TASKS.c.lease_owner)
    )
    return [(owner, count) for owner, count in session.execute(query)]


def task_publish_durations(
    session: Session, *, since: datetime, limit: int = 20_000
) -> list[tuple[str, float]]:
    """(platform, seconds from start to finish) of tasks that succeeded since ``since``."""
    rows = session.execute(
        sa.select(TASKS.c.platform, TASKS.c.started_at, TASKS.c.finished_at)
        .where(TASKS.c.status == TaskStatus.SUCCEEDED.value, TASKS.c.finished_at > since)
        .limit(limit)
    )
    return [
        (platform, (finished - started).total_seconds())
        for platform, started, finished in rows
        if started and finished
    ]


def task_oldest_running_start(session: Session) -> datetime | None:
    """When the longest-running attempt started (through the partial index on running)."""
    return session.scalar(
        sa.select(sa.func.min(TASKS.c.started_at)).where(TASKS.c.status == TaskStatus.RUNNING.value)
    )


def task_held_by_account_status(session: Session, *, now: datetime) -> list[tuple[str, int, int]]:
    """(account status, accounts, tasks) for due waiting tasks whose account is not active:
    the claim passes them over until someone logs the account in or activates it."""
    accounts = Account.__table__
    waiting = sa.or_(
        TASKS.c.status == TaskStatus.QUEUED.value,
        sa.and_(TASKS.c.status == TaskStatus.SCHEDULED.value, TASKS.c.due_at <= now),
    )
    query = (
        sa.select(
            accounts.c.status,
            sa.func.count(sa.distinct(accounts.c.id)),
            sa.func.count(),
        )
        .select_from(TASKS.join(accounts, accounts.c.id == TASKS.c.account_id))
        .where(waiting, accounts.c.status != "active")
        .group_by(accounts.c.status)
    )
    return [(status, n_accounts, n_tasks) for status, n_accounts, n_tasks in session.execute(query)]
