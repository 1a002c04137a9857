"""The publish pool: articles waiting for the publishing job to release them.

An entry is ``pending`` until it is due and released, ``publishing`` while the tasks of its
release run, then ``published`` or ``failed`` (``cancelled`` by its owner). A failed release
goes back to ``pending`` until ``max_retries`` is used up; a retry re-publishes only to the
accounts whose publish did not succeed, so nothing is posted twice.

Every function here is one short unit of work over ``contenthub.storage.pool``; the executor
that strings them together is ``contenthub.scheduler.executors``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contenthub import storage
from contenthub.errors import InputError
from contenthub.services import publishing
from contenthub.services.articles import article_get
from contenthub.services.users import Principal
from contenthub.states import FINAL, TaskStatus
from contenthub.storage import PoolStatus, Session
from contenthub.storage.enqueue import DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY

DEFAULT_MAX_RETRIES = 3
MAX_RETRIES_LIMIT = 10
MAX_TARGETS = 50
MAX_ERROR = 2000
ACTIVE_ACCOUNT = "active"


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
    mine = storage.account_list(session, user_id=user_id)
    if not account_ids:
        active = sorted(a.id for a in mine if a.status == ACTIVE_ACCOUNT)
        if not active:
            raise InputError("account_ids", "you have no active account to publish to")
        return active
    wanted = list(dict.fromkeys(account_ids))
    if len(wanted) > MAX_TARGETS:
        raise InputError("account_ids", f"at most {MAX_TARGETS} accounts per entry")
    own = {a.id for a in mine}
    for account_id in wanted:
        if account_id not in own:
            raise InputError("account_ids", f"no account {account_id} for this user")
    return wanted


def pool_add(
    session: Session,
    *,
    owner: Principal,
    article_id: int,
    now: datetime,
    priority: int = DEFAULT_PRIORITY,
    scheduled_at: datetime | None = None,
    account_ids: Sequence[int] | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> dict[str, Any]:
    """Add one of the owner's articles to the pool; validated first, nothing written on error.

    A ``scheduled_at`` already past is allowed: the entry is due at once."""
    _check_priority(priority)
    _check_time("scheduled_at", scheduled_at)
    if isinstance(max_retries, bool) or not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        raise InputError("max_retries", f"must be from 0 to {MAX_RETRIES_LIMIT}")
    try:
        article = article_get(session, article_id, scope=owner.user_id)
    except LookupError:
        # "content_id" is the field's name where the API and the CLI take it.
        raise InputError("content_id", f"no article {article_id} for this user") from None
    targets = _target_accounts(session, owner.user_id, account_ids)
    # The platforms' rules now, not at the release: a person is here to fix the article.
    view = publishing.article_view(session, article)
    for verdict in publishing.assess(session, owner, view, targets):
        if verdict.problems:
            raise InputError("account_ids", f"{verdict.label}: {verdict.problems[0]}")
    return storage.pool_entry_insert(
        session,
        user_id=owner.user_id,
        article_id=article_id,
        account_ids=targets,
        priority=priority,
        scheduled_at=scheduled_at or now,
        max_retries=max_retries,
        now=now,
    )


def pool_get(session: Session, entry_id: int, *, scope: int | None) -> dict[str, Any]:
    return storage.pool_entry_get(session, entry_id, scope=scope)


# Listing adds nothing to the statement (which also checks the statuses asked for).
pool_list = storage.pool_entry_list


def pool_stats(session: Session, *, scope: int | None) -> dict[str, int]:
    counts = storage.pool_entry_counts(session, scope=scope)
    return {"total": sum(counts.values()), **counts}


def pool_cancel(
    session: Session, entry_id: int, *, scope: int | None, now: datetime
) -> dict[str, Any]:
    """A pending entry is cancelled at once; a publishing one also cancels its open tasks."""
    entry = storage.pool_entry_get(session, entry_id, scope=scope, lock=True)
    if entry["status"] not in (PoolStatus.PENDING, PoolStatus.PUBLISHING):
        raise InputError("status", f"pool entry {entry_id} is already {entry['status']}")
    if entry["status"] == PoolStatus.PUBLISHING:
        open_ids = storage.pool_entry_open_task_ids(
            session, entry_id, release_no=entry["retry_count"]
        )
        for public_id in open_ids:
            storage.task_cancel(session, public_id, user_id=None, now=now)
    return storage.pool_entry_cancel(session, entry_id, now=now)


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
    entry = storage.pool_entry_get(session, entry_id, scope=scope, lock=True)
    if entry["status"] != PoolStatus.PENDING:
        raise InputError(
            "status", f"only pending entries can be rescheduled; this is {entry['status']}"
        )
    return storage.pool_entry_reschedule(
        session, entry_id, now=now, scheduled_at=scheduled_at, priority=priority
    )


# -- what the publishing executor does, one entry per unit of work ---------------------------


@dataclass(frozen=True)
class EntryOutcome:
    """One entry's line in a publishing run's result."""

    pool_id: int
    article_id: int
    status: str  # publishing | published | failed | error
    tasks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    will_retry: bool = False

    def as_result(self) -> dict[str, Any]:
        """The seeds' result line (which calls the article ``content_id``)."""
        item: dict[str, Any] = {
            "pool_id": self.pool_id,
            "content_id": self.article_id,
            "status": self.status,
        }
        if self.tasks:
            item["log_id"] = self.tasks[0]["task_id"]
        media = [t["media_id"] for t in self.tasks if t.get("media_id")]
        if media:
            item["media_id"] = media[0]
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


def pool_due_ids(session: Session, *, scope: int | None, now: datetime) -> list[int]:
    """Due pending entries in release order: most urgent first, then earliest."""
    return storage.pool_entry_due_ids(session, scope=scope, now=now)


def pool_settleable_ids(session: Session, *, scope: int | None) -> list[int]:
    """Publishing entries released by runs that have ended: a new run settles these."""
    return storage.pool_entry_settleable_ids(session, scope=scope)


def pool_release(
    session: Session, entry_id: int, *, run_id: int | None, now: datetime
) -> EntryOutcome | None:
    """Create the entry's publish tasks through the dispatcher, on behalf of run ``run_id``;
    None if someone else took it."""
    entry = storage.pool_entry_take(session, entry_id, status=PoolStatus.PENDING)
    if entry is None or entry["scheduled_at"] > now:
        return None
    article = article_get(session, entry["article_id"], scope=entry["user_id"])
    done = storage.pool_entry_published_accounts(session, entry_id)
    targets = [a for a in entry["account_ids"] if a not in done]
    batch = str(uuid.uuid4()) if len(targets) > 1 else None
    new_tasks = [
        storage.task_from_article(
            article, account_id=account_id, priority=entry["priority"], batch_id=batch
        )
        for account_id in targets
    ]
    public_ids = storage.task_enqueue(session, new_tasks, now=now)
    storage.pool_entry_release(session, entry_id, task_ids=public_ids, run_id=run_id, now=now)
    tasks = [{"task_id": p, "account_id": a} for p, a in zip(public_ids, targets, strict=True)]
    return EntryOutcome(entry_id, entry["article_id"], PoolStatus.PUBLISHING, tasks)


def _result_line(task: dict[str, Any]) -> dict[str, Any]:
    """A released task as the entry's result keeps it: a WeChat draft's id is the seeds'
    ``media_id`` (WeChat's own name for it); other platforms' drafts are not named."""
    line = {k: v for k, v in task.items() if k != "draft_id"}
    if task["platform"] == "wechat" and task["draft_id"]:
        line["media_id"] = task["draft_id"]
    return line


def pool_settle(session: Session, entry_id: int, *, now: datetime) -> EntryOutcome | None:
    """Once every task of its release has ended: published, back to pending, or failed.

    None while a task still runs (or another run is settling the entry)."""
    entry = storage.pool_entry_take(session, entry_id, status=PoolStatus.PUBLISHING)
    if entry is None:
        return None
    released = storage.pool_entry_release_tasks(session, entry_id, release_no=entry["retry_count"])
    if any(t["status"] not in FINAL for t in released):
        return None
    tasks = [_result_line(t) for t in released]
    failures = [t for t in tasks if t["status"] != TaskStatus.SUCCEEDED]
    if not failures:
        storage.pool_entry_settle(
            session, entry_id, status=PoolStatus.PUBLISHED, result=tasks, now=now
        )
        return EntryOutcome(entry_id, entry["article_id"], PoolStatus.PUBLISHED, tasks)
    error = "; ".join(f"account {t['account_id']}: {t['error'] or t['status']}" for t in failures)
    return _record_failure(session, entry, error, tasks, now)


def _record_failure(
    session: Session,
    entry: dict[str, Any],
    error: str,
    tasks: list[dict[str, Any]] | None,
    now: datetime,
) -> EntryOutcome:
    """Back to pending for another release while retries are left; failed for good after."""
    error = error[:MAX_ERROR]
    will_retry = entry["retry_count"] < entry["max_retries"]
    storage.pool_entry_settle(
        session,
        entry["id"],
        status=PoolStatus.PENDING if will_retry else PoolStatus.FAILED,
        result=tasks,
        last_error=error,
        retry_count=entry["retry_count"] + 1 if will_retry else None,
        now=now,
    )
    return EntryOutcome(
        entry["id"], entry["article_id"], PoolStatus.FAILED, tasks or [], error, will_retry
    )


def pool_record_error(
    session: Session, entry_id: int, *, error: str, now: datetime
) -> EntryOutcome | None:
    """A release that could not even create its tasks counts as a failed attempt."""
    entry = storage.pool_entry_take(session, entry_id, status=PoolStatus.PENDING)
    if entry is None:
        return None
    outcome = _record_failure(session, entry, error, None, now)
    return EntryOutcome(entry_id, entry["article_id"], "error", [], error, outcome.will_retry)
