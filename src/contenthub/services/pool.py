"""The publish pool: articles waiting for the publishing job to release them.

An entry is ``pending`` until it is due and released, ``publishing`` while the tasks of its
release run, then ``published`` or ``failed`` (``cancelled`` by its owner). A failed release
goes back to ``pending`` until ``max_retries`` is used up; a retry re-publishes only to the
accounts whose publish did not succeed, so nothing is posted twice.

Every function here is one short unit of work; the executor that strings them together is
``contenthub.scheduler.executors``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.errors import InputError
from contenthub.services.articles import article_get
from contenthub.states import FINAL, TaskStatus
from contenthub.storage.enqueue import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY
from contenthub.storage.models import Account, PoolEntry, PoolEntryTask, PublishTask
from contenthub.storage.scope import owned

POOL_STATUSES = ("pending", "publishing", "published", "failed", "cancelled")
DEFAULT_MAX_RETRIES = 3
MAX_RETRIES_LIMIT = 10
MAX_TARGETS = 50


def entry_out(entry: PoolEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "content_id": entry.article_id,
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


def _check_priority(priority: int) -> None:
    if isinstance(priority, bool) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise InputError(
            "priority",
            f"must be a whole number from {MIN_PRIORITY} (most urgent) to {MAX_PRIORITY}, "
            f"got {priority!r}",
        )


def _check_time(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise InputError(name, "must carry a time zone")


def _target_accounts(
    session: Session, user_id: int, account_ids: Sequence[int] | None
) -> list[int]:
    """The named accounts (all the user's own), or by default every active one."""
    if account_ids is None or len(account_ids) == 0:
        active = list(
            session.scalars(
                sa.select(Account.id)
                .where(Account.user_id == user_id, Account.status == "active")
                .order_by(Account.id)
            )
        )
        if not active:
            raise InputError("account_ids", "you have no active account to publish to")
        return active
    wanted = list(dict.fromkeys(account_ids))
    if len(wanted) > MAX_TARGETS:
        raise InputError("account_ids", f"at most {MAX_TARGETS} accounts per entry")
    owned = set(
        session.scalars(
            sa.select(Account.id).where(Account.user_id == user_id, Account.id.in_(wanted))
        )
    )
    for account_id in wanted:
        if account_id not in owned:
            raise InputError("account_ids", f"no account {account_id} for this user")
    return wanted


def pool_add(
    session: Session,
    *,
    user_id: int,
    content_id: int,
    now: datetime,
    priority: int = DEFAULT_PRIORITY,
    scheduled_at: datetime | None = None,
    account_ids: Sequence[int] | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> dict[str, Any]:
    """Add one of the user's articles to the pool; validated first, nothing written on error."""
    _check_priority(priority)
    _check_time("scheduled_at", scheduled_at)
    if isinstance(max_retries, bool) or not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        raise InputError("max_retries", f"must be from 0 to {MAX_RETRIES_LIMIT}")
    try:
        article_get(session, content_id, scope=user_id)
    except LookupError:
        raise InputError("content_id", f"no article {content_id} for this user") from None
    entry = PoolEntry(
        user_id=user_id,
        article_id=content_id,
        account_ids=_target_accounts(session, user_id, account_ids),
        priority=priority,
        scheduled_at=scheduled_at or now,
        status="pending",
        retry_count=0,
        max_retries=max_retries,
        result=[],
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    session.flush()
    return entry_out(entry)


def _owned_entry(session: Session, entry_id: int, scope: int | None) -> PoolEntry:
    entry: PoolEntry = owned(
        session, PoolEntry, entry_id, scope=scope, what="pool entry", lock=True
    )
    return entry


def pool_get(session: Session, entry_id: int, *, scope: int | None) -> dict[str, Any]:
    return entry_out(owned(session, PoolEntry, entry_id, scope=scope, what="pool entry"))


def pool_list(
    session: Session,
    *,
    scope: int | None,
    statuses: Sequence[str] = (),
    content_id: int | None = None,
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
    if content_id is not None:
        filters.append(PoolEntry.article_id == content_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(PoolEntry).where(*filters)) or 0
    rows = session.scalars(
        sa.select(PoolEntry)
        .where(*filters)
        .order_by(PoolEntry.priority, PoolEntry.scheduled_at, PoolEntry.id)
        .limit(limit)
        .offset(offset)
    )
    return [entry_out(e) for e in rows], total


def pool_stats(session: Session, *, scope: int | None) -> dict[str, int]:
    query = sa.select(PoolEntry.status, sa.func.count()).group_by(PoolEntry.status)
    if scope is not None:
        query = query.where(PoolEntry.user_id == scope)
    counts = dict.fromkeys(POOL_STATUSES, 0)
    counts.update({status: n for status, n in session.execute(query).all()})
    return {"total": sum(counts.values()), **counts}


def pool_cancel(
    session: Session, entry_id: int, *, scope: int | None, now: datetime
) -> dict[str, Any]:
    """A pending entry is cancelled at once; a publishing one also cancels its open tasks."""
    entry = _owned_entry(session, entry_id, scope)
    if entry.status not in ("pending", "publishing"):
        raise InputError("status", f"pool entry {entry_id} is already {entry.status}")
    if entry.status == "publishing":
        for public_id in _open_task_ids(session, entry):
            storage.task_cancel(session, public_id, user_id=None, now=now)
    entry.status = "cancelled"
    entry.updated_at = now
    return entry_out(entry)


def _open_task_ids(session: Session, entry: PoolEntry) -> list[str]:
    return list(
        session.scalars(
            sa.select(PublishTask.public_id)
            .join(PoolEntryTask, PoolEntryTask.task_id == PublishTask.id)
            .where(
                PoolEntryTask.entry_id == entry.id,
                PoolEntryTask.release_no == entry.retry_count,
                PublishTask.status.not_in([s.value for s in FINAL]),
            )
        )
    )


def pool_reschedule(
    session: Session,
    entry_id: int,
    *,
    scope: int | None,
    now: datetime,
    scheduled_at: datetime | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Move a pending entry in time or in urgency."""
    if scheduled_at is None and priority is None:
        raise InputError("scheduled_at", "give a new scheduled_at, a new priority, or both")
    if priority is not None:
        _check_priority(priority)
    _check_time("scheduled_at", scheduled_at)
    entry = _owned_entry(session, entry_id, scope)
    if entry.status != "pending":
        raise InputError(
            "status", f"only pending entries can be rescheduled; this is {entry.status}"
        )
    if scheduled_at is not None:
        entry.scheduled_at = scheduled_at
    if priority is not None:
        entry.priority = priority
    entry.updated_at = now
    return entry_out(entry)


# -- what the publishing executor does, one entry per unit of work ---------------------------


@dataclass(frozen=True)
class EntryOutcome:
    """One entry's line in a publishing run's result."""

    pool_id: int
    content_id: int
    status: str  # publishing | published | failed | error
    tasks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    will_retry: bool = False

    def as_result(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pool_id": self.pool_id,
            "content_id": self.content_id,
            "status": self.status,
        }
        if self.tasks:
            item["log_id"] = self.tasks[0]["task_id"]
        if self.error is not None:
            item["error"] = self.error
        published = [t for t in self.tasks if t.get("url")]
        if published:
            item["post_id"] = published[0]["post_id"]
            item["url"] = published[0]["url"]
        if self.status == "failed":
            item["will_retry"] = self.will_retry
        item["tasks"] = self.tasks
        return item


def _scoped(query: sa.Select[Any], scope: int | None) -> sa.Select[Any]:
    return query if scope is None else query.where(PoolEntry.user_id == scope)


def pool_due_ids(session: Session, *, scope: int | None, now: datetime) -> list[int]:
    """Due pending entries in release order: most urgent first, then earliest."""
    query = (
        sa.select(PoolEntry.id)
        .where(PoolEntry.status == "pending", PoolEntry.scheduled_at <= now)
        .order_by(PoolEntry.priority, PoolEntry.scheduled_at, PoolEntry.id)
    )
    return list(session.scalars(_scoped(query, scope)))


def pool_publishing_ids(session: Session, *, scope: int | None) -> list[int]:
    query = sa.select(PoolEntry.id).where(PoolEntry.status == "publishing").order_by(PoolEntry.id)
    return list(session.scalars(_scoped(query, scope)))


def _lock_entry(session: Session, entry_id: int, status: str) -> PoolEntry | None:
    """The entry if it is still in ``status`` and no concurrent run holds it."""
    return session.scalar(
        sa.select(PoolEntry)
        .where(PoolEntry.id == entry_id, PoolEntry.status == status)
        .with_for_update(skip_locked=True)
    )


def _published_accounts(session: Session, entry_id: int) -> set[int]:
    return set(
        session.scalars(
            sa.select(PublishTask.account_id)
            .join(PoolEntryTask, PoolEntryTask.task_id == PublishTask.id)
            .where(
                PoolEntryTask.entry_id == entry_id,
                PublishTask.status == TaskStatus.SUCCEEDED.value,
            )
        )
    )


def pool_release(session: Session, entry_id: int, *, now: datetime) -> EntryOutcome | None:
    """Create the entry's publish tasks through the dispatcher; None if someone else took it."""
    entry = _lock_entry(session, entry_id, "pending")
    if entry is None or entry.scheduled_at > now:
        return None
    article = article_get(session, entry.article_id, scope=entry.user_id)
    done = _published_accounts(session, entry.id)
    targets = [a for a in entry.account_ids if a not in done]
    batch = str(uuid.uuid4()) if len(targets) > 1 else None
    public_ids = storage.task_enqueue(
        session,
        [
            storage.NewTask(
                user_id=entry.user_id,
                account_id=account_id,
                title=article.title,
                body=article.body,
                tags=list(article.tags or []),
                cover=article.cover,
                article_id=article.id,
                priority=entry.priority,
                batch_id=batch,
            )
            for account_id in targets
        ],
        now=now,
    )
    task_ids = session.scalars(
        sa.select(PublishTask.id).where(PublishTask.public_id.in_(public_ids))
    )
    session.add_all(
        PoolEntryTask(task_id=task_id, entry_id=entry.id, release_no=entry.retry_count)
        for task_id in task_ids
    )
    entry.status = "publishing"
    entry.released_at = now
    entry.updated_at = now
    tasks = [{"task_id": p, "account_id": a} for p, a in zip(public_ids, targets, strict=True)]
    return EntryOutcome(entry.id, entry.article_id, "publishing", tasks)


def _release_tasks(session: Session, entry: PoolEntry) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(
            PublishTask.public_id,
            PublishTask.account_id,
            PublishTask.status,
            PublishTask.result_url,
            PublishTask.post_id,
            PublishTask.error_message,
        )
        .join(PoolEntryTask, PoolEntryTask.task_id == PublishTask.id)
        .where(PoolEntryTask.entry_id == entry.id, PoolEntryTask.release_no == entry.retry_count)
        .order_by(PublishTask.id)
    ).all()
    return [
        {
            "task_id": r.public_id,
            "account_id": r.account_id,
            "status": r.status,
            "url": r.result_url,
            "post_id": r.post_id,
            "error": r.error_message,
        }
        for r in rows
    ]


def pool_settle(session: Session, entry_id: int, *, now: datetime) -> EntryOutcome | None:
    """Once every task of its release has ended: published, back to pending, or failed.

    None while a task still runs (or another run is settling the entry)."""
    entry = _lock_entry(session, entry_id, "publishing")
    if entry is None:
        return None
    tasks = _release_tasks(session, entry)
    if any(t["status"] not in FINAL for t in tasks):
        return None
    failures = [t for t in tasks if t["status"] != TaskStatus.SUCCEEDED.value]
    entry.result = tasks
    entry.updated_at = now
    if not failures:
        entry.status = "published"
        entry.last_error = None
        return EntryOutcome(entry.id, entry.article_id, "published", tasks)
    error = "; ".join(f"account {t['account_id']}: {t['error'] or t['status']}" for t in failures)
    return _record_failure(entry, error[:2000], tasks)


def _record_failure(entry: PoolEntry, error: str, tasks: list[dict[str, Any]]) -> EntryOutcome:
    will_retry = entry.retry_count < entry.max_retries
    entry.last_error = error
    if will_retry:
        entry.retry_count += 1
        entry.status = "pending"
    else:
        entry.status = "failed"
    return EntryOutcome(entry.id, entry.article_id, "failed", tasks, error, will_retry)


def pool_record_error(
    session: Session, entry_id: int, *, error: str, now: datetime
) -> EntryOutcome | None:
    """A release that could not even create its tasks counts as a failed attempt."""
    entry = _lock_entry(session, entry_id, "pending")
    if entry is None:
        return None
    entry.updated_at = now
    outcome = _record_failure(entry, error[:2000], [])
    return EntryOutcome(entry.id, entry.article_id, "error", [], error, outcome.will_retry)
