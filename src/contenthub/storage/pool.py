"""Pool entries and the tasks of their releases: named storage operations.

An entry is read as a dict (``entry_out``) with its article's title. Entries a scheduled run
works on are taken with ``pool_entry_take`` (``FOR UPDATE SKIP LOCKED``): a run never waits
for another, it skips the entry and the other run reports it.

Which run settles a released entry: the run that released it, while that run still runs
(``release_run_id``); once it has ended (finished, or closed as lost), any later run. So a
manual run overlapping a scheduled one reports exactly the entries it released.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError
from contenthub.states import FINAL, TaskStatus
from contenthub.storage.jobs import RunStatus
from contenthub.storage.models import Article, JobRun, PoolEntry, PoolEntryTask, PublishTask
from contenthub.storage.scope import owned

MAX_ERROR = 2000


class PoolStatus(StrEnum):
    PENDING = "pending"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


POOL_STATUSES = tuple(s.value for s in PoolStatus)


def entry_out(entry: PoolEntry, title: str | None) -> dict[str, Any]:
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "article_id": entry.article_id,
        "title": title,
        "account_ids": list(entry.account_ids),
        "priority": entry.priority,
        "scheduled_at": entry.scheduled_at,
        "status": entry.status,
        "retry_count": entry.retry_count,
        "max_retries": entry.max_retries,
        "last_error": entry.last_error,
        "result": list(entry.result or []),
        "released_at": entry.released_at,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }


def _out(session: Session, entry: PoolEntry) -> dict[str, Any]:
    return entry_out(
        entry, session.scalar(sa.select(Article.title).where(Article.id == entry.article_id))
    )


def _scoped(query: sa.Select[Any], scope: int | None) -> sa.Select[Any]:
    return query if scope is None else query.where(PoolEntry.user_id == scope)


# -- what a person does with an entry ------------------------------------------------------


def pool_entry_insert(
    session: Session,
    *,
    user_id: int,
    article_id: int,
    account_ids: list[int],
    priority: int,
    scheduled_at: datetime,
    max_retries: int,
    now: datetime,
) -> dict[str, Any]:
    entry = PoolEntry(
        user_id=user_id,
        article_id=article_id,
        account_ids=account_ids,
        priority=priority,
        scheduled_at=scheduled_at,
        status=PoolStatus.PENDING.value,
        retry_count=0,
        max_retries=max_retries,
        result=[],
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    session.flush()
    return _out(session, entry)


def pool_entry_get(
    session: Session, entry_id: int, *, scope: int | None, lock: bool = False
) -> dict[str, Any]:
    """The scope's entry (``lock``: held until the unit of work ends); NotFound otherwise."""
    entry = owned(session, PoolEntry, entry_id, scope=scope, what="pool entry", lock=lock)
    return _out(session, entry)


def pool_entry_list(
    session: Session,
    *,
    scope: int | None,
    statuses: Sequence[str] = (),
    article_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Entries in release order (priority, then scheduled time), with the total that match."""
    for status in statuses:
        if status not in POOL_STATUSES:
            raise InputError("status", f"must be one of {', '.join(POOL_STATUSES)}")
    filters = []
    if scope is not None:
        filters.append(PoolEntry.user_id == scope)
    if statuses:
        filters.append(PoolEntry.status.in_(statuses))
    if article_id is not None:
        filters.append(PoolEntry.article_id == article_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(PoolEntry).where(*filters))
    rows = session.execute(
        sa.select(PoolEntry, Article.title)
        .join(Article, Article.id == PoolEntry.article_id)
        .where(*filters)
        .order_by(PoolEntry.priority, PoolEntry.scheduled_at, PoolEntry.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [entry_out(entry, title) for entry, title in rows], total or 0


def pool_entry_counts(session: Session, *, scope: int | None) -> dict[str, int]:
    """Entries per status, every status named (zero when none)."""
    query = _scoped(sa.select(PoolEntry.status, sa.func.count()).group_by(PoolEntry.status), scope)
    counts = {status.value: 0 for status in PoolStatus}
    counts.update({status: n for status, n in session.execute(query).all()})
    return counts


def pool_entry_reschedule(
    session: Session,
    entry_id: int,
    *,
    now: datetime,
    scheduled_at: datetime | None,
    priority: int | None,
) -> dict[str, Any]:
    entry = _entry(session, entry_id)
    if scheduled_at is not None:
        entry.scheduled_at = scheduled_at
    if priority is not None:
        entry.priority = priority
    entry.updated_at = now
    return _out(session, entry)


def pool_entry_cancel(session: Session, entry_id: int, *, now: datetime) -> dict[str, Any]:
    entry = _entry(session, entry_id)
    entry.status = PoolStatus.CANCELLED.value
    entry.updated_at = now
    return _out(session, entry)


def pool_entry_open_task_ids(session: Session, entry_id: int, *, release_no: int) -> list[str]:
    """Public ids of the release's tasks that have not ended."""
    query = _entry_tasks(PublishTask.public_id, entry_id=entry_id, release_no=release_no)
    return list(session.scalars(query.where(PublishTask.status.not_in([s.value for s in FINAL]))))


def _entry_tasks(*columns: Any, entry_id: int, release_no: int | None = None) -> sa.Select[Any]:
    """``columns`` of the tasks the entry released: in one release, or in any."""
    query = (
        sa.select(*columns)
        .join(PoolEntryTask, PoolEntryTask.task_id == PublishTask.id)
        .where(PoolEntryTask.entry_id == entry_id)
    )
    if release_no is not None:
        query = query.where(PoolEntryTask.release_no == release_no)
    return query


def _entry(session: Session, entry_id: int) -> PoolEntry:
    """An entry the caller has already found (and locked) in this unit of work."""
    entry = session.get(PoolEntry, entry_id)
    assert entry is not None, f"pool entry {entry_id} was read earlier in this unit of work"
    return entry


# -- what a publishing run does, one entry per unit of work ----------------------------------


def pool_entry_due_ids(session: Session, *, scope: int | None, now: datetime) -> list[int]:
    """Due pending entries in release order: most urgent first, then earliest."""
    query = (
        sa.select(PoolEntry.id)
        .where(PoolEntry.status == PoolStatus.PENDING.value, PoolEntry.scheduled_at <= now)
        .order_by(PoolEntry.priority, PoolEntry.scheduled_at, PoolEntry.id)
    )
    return list(session.scalars(_scoped(query, scope)))


def pool_entry_settleable_ids(session: Session, *, scope: int | None) -> list[int]:
    """Publishing entries whose releasing run has ended (or was pruned): the ones a new run
    settles. An entry whose run still runs is that run's to settle and report."""
    releasing_run_runs = (
        sa.select(JobRun.id)
        .where(JobRun.id == PoolEntry.release_run_id, JobRun.status == RunStatus.RUNNING.value)
        .exists()
    )
    query = (
        sa.select(PoolEntry.id)
        .where(PoolEntry.status == PoolStatus.PUBLISHING.value, ~releasing_run_runs)
        .order_by(PoolEntry.id)
    )
    return list(session.scalars(_scoped(query, scope)))


def pool_entry_take(
    session: Session, entry_id: int, *, status: PoolStatus
) -> dict[str, Any] | None:
    """The entry, locked, if it is still in ``status`` and no concurrent run holds it."""
    entry = session.scalar(
        sa.select(PoolEntry)
        .where(PoolEntry.id == entry_id, PoolEntry.status == status.value)
        .with_for_update(skip_locked=True)
    )
    return None if entry is None else _out(session, entry)


def pool_entry_published_accounts(session: Session, entry_id: int) -> set[int]:
    """Accounts an earlier release of the entry has already published to."""
    query = _entry_tasks(PublishTask.account_id, entry_id=entry_id)
    return set(session.scalars(query.where(PublishTask.status == TaskStatus.SUCCEEDED.value)))


def pool_entry_release(
    session: Session,
    entry_id: int,
    *,
    task_ids: Sequence[str],
    run_id: int | None,
    now: datetime,
) -> None:
    """Record the release of a taken pending entry: its tasks (by public id) and its run."""
    entry = _entry(session, entry_id)
    ids = session.scalars(sa.select(PublishTask.id).where(PublishTask.public_id.in_(task_ids)))
    session.add_all(
        PoolEntryTask(task_id=task_id, entry_id=entry.id, release_no=entry.retry_count)
        for task_id in ids
    )
    entry.status = PoolStatus.PUBLISHING.value
    entry.released_at = now
    entry.release_run_id = run_id
    entry.updated_at = now


def pool_entry_release_tasks(
    session: Session, entry_id: int, *, release_no: int
) -> list[dict[str, Any]]:
    """The tasks of one release, as the entry's result records them, with the platform and
    the draft id its adapter checkpointed (``draft_id``, None before one was made)."""
    query = _entry_tasks(
        PublishTask.public_id,
        PublishTask.account_id,
        PublishTask.platform,
        PublishTask.checkpoint,
        PublishTask.status,
        PublishTask.result_url,
        PublishTask.post_id,
        PublishTask.error_message,
        entry_id=entry_id,
        release_no=release_no,
    )
    rows = session.execute(query.order_by(PublishTask.id)).all()
    return [
        {
            "task_id": r.public_id,
            "account_id": r.account_id,
            "platform": r.platform,
            "draft_id": (r.checkpoint or {}).get("draft_id"),
            "status": r.status,
            "url": r.result_url,
            "post_id": r.post_id,
            "error": r.error_message,
        }
        for r in rows
    ]


def pool_entry_settle(
    session: Session,
    entry_id: int,
    *,
    status: PoolStatus,
    now: datetime,
    result: list[dict[str, Any]] | None = None,
    last_error: str | None = None,
    retry_count: int | None = None,
) -> None:
    """Record how a taken entry's release (or its attempt) ended."""
    entry = _entry(session, entry_id)
    entry.status = status.value
    entry.last_error = last_error[:MAX_ERROR] if last_error else None
    if result is not None:
        entry.result = result
    if retry_count is not None:
        entry.retry_count = retry_count
    entry.updated_at = now
