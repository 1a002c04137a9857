"""Creating a task and queueing it is one insert in one transaction.

This is the one place that checks a task's account belongs to the task's owner, and that an
article has one live publish per account: a publish of an article the account already has
(succeeded) updates that post in place; one still under way is refused; ``republish`` asks for
a new post. Callers (the publish use case, the pool) rely on it rather than checking again.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError
from contenthub.platforms.content import DRAFT_REQUESTED_AT, LEFTOVERS, PUBLISH_SUBMITTED, UPDATE_OF
from contenthub.states import ACTIVE, AWAITING_REVIEW, FINAL_CHECK_MARK, EventReason, TaskStatus
from contenthub.storage.db import announce_new_work, statements_of
from contenthub.storage.events import TASKS, Event, append_events
from contenthub.storage.models import Account, Article, User
from contenthub.storage.ready import mark_accounts_ready
from contenthub.storage.tasks import TASK_COLUMNS, task_row

MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 1, 10, 5
DEFAULT_MAX_ATTEMPTS = 3
MAX_TITLE = 500
STATEMENT_BUDGET_BYTES = 6 * 1024 * 1024


class TargetRefused(InputError):
    """One task of those given cannot be queued; ``index`` says which."""

    def __init__(self, field_name: str, index: int, message: str) -> None:
        super().__init__(field_name, message)
        self.index = index

    def named(self, field_name: str) -> TargetRefused:
        """The same refusal, with the field as the caller's request names it."""
        self.field = field_name
        self.args = (f"{field_name}: {self.message}",)
        return self


class UnknownAccount(TargetRefused):
    """A task names an account that is missing or someone else's (both read alike)."""

    def __init__(self, field_name: str, index: int, account_id: int) -> None:
        super().__init__(field_name, index, f"no account {account_id} for this user")
        self.account_id = account_id


class AlreadyPublishing(TargetRefused):
    """The article already has a publish under way to the account (queued, scheduled or
    running), or is named twice for it in one request; ``republish`` asks for another."""

    def __init__(self, field_name: str, index: int, message: str, task_id: str | None) -> None:
        super().__init__(field_name, index, message)
        self.task_id = task_id


# A publish that is under way or has put the article on the account: another one would post
# it twice. Failed and cancelled ones are not live (a failed one that may have left a post
# says so in its message): publishing again after them is the user's obvious next step. A
# post held for review is on the account already.
LIVE = frozenset({*ACTIVE, *AWAITING_REVIEW, TaskStatus.SUCCEEDED})


@dataclass(frozen=True)
class NewTask:
    user_id: int
    account_id: int
    title: str
    body: str
    tags: Sequence[str] = ()
    cover: str | None = None
    article_id: int | None = None
    priority: int = DEFAULT_PRIORITY
    due_at: datetime | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    batch_id: str | None = None
    # Publish the article to the account although it already has a live publish there.
    republish: bool = False
    public_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def task_from_article(
    article: Article,
    *,
    account_id: int,
    priority: int = DEFAULT_PRIORITY,
    due_at: datetime | None = None,
    batch_id: str | None = None,
    republish: bool = False,
) -> NewTask:
    """A task publishing ``article`` to one account: a snapshot of the article as it is now,
    so later edits never change what this task publishes."""
    return NewTask(
        user_id=article.user_id,
        account_id=account_id,
        title=article.title,
        body=article.body,
        tags=list(article.tags or []),
        cover=article.cover,
        article_id=article.id,
        priority=priority,
        due_at=due_at,
        batch_id=batch_id,
        republish=republish,
    )


def _validate(task: NewTask, index: int, many: bool) -> None:
    where = f"tasks[{index}]." if many else ""
    if not isinstance(task.priority, int) or not MIN_PRIORITY <= task.priority <= MAX_PRIORITY:
        raise InputError(
            f"{where}priority",
            f"must be a whole number from {MIN_PRIORITY} (most urgent) to {MAX_PRIORITY}, "
            f"got {task.priority!r}",
        )
    if not task.title or not task.title.strip():
        raise InputError(f"{where}title", "must not be empty")
    if len(task.title) > MAX_TITLE:
        raise InputError(f"{where}title", f"must be at most {MAX_TITLE} characters")
    if not task.body or not task.body.strip():
        raise InputError(f"{where}body", "must not be empty")
    if not 1 <= task.max_attempts <= 20:
        raise InputError(f"{where}max_attempts", "must be from 1 to 20")
    if task.due_at is not None and task.due_at.tzinfo is None:
        raise InputError(f"{where}due_at", "must carry a time zone")


def task_enqueue(session: Session, tasks: Sequence[NewTask], *, now: datetime) -> list[str]:
    """Validate and insert tasks; returns their public ids. All or nothing."""
    return [row["public_id"] for row in task_enqueue_rows(session, tasks, now=now)]


def task_enqueue_rows(
    session: Session,
    tasks: Sequence[NewTask],
    *,
    now: datetime,
    accounts_read: Mapping[int, AccountOf] | None = None,
) -> list[dict[str, Any]]:
    """:func:`task_enqueue`, returning the tasks as ``task_get`` reads them (from the insert
    itself: no read back).

    ``accounts_read``: the accounts, by id, as this transaction has already read them (the
    publish checks their platform rules first); read here otherwise."""
    if not tasks:
        return []
    many = len(tasks) > 1
    for i, task in enumerate(tasks):
        _validate(task, i, many)
    # (The session's connection: these are Core statements, run on every publish.)
    connection = session.connection()
    accounts = accounts_read
    if accounts is None:
        ids = sorted({t.account_id for t in tasks})
        accounts = {row.id: row for row in connection.execute(_ACCOUNTS_OF, {"ids": ids})}
    for i, task in enumerate(tasks):
        account = accounts.get(task.account_id)
        # Another user's account is reported exactly like a missing one.
        if account is None or account.user_id != task.user_id:
            field_name = f"tasks[{i}].account_id" if many else "account_id"
            raise UnknownAccount(field_name, i, task.account_id)
    platforms = {account_id: row.platform for account_id, row in accounts.items()}
    updates = _one_live_publish(session, tasks, many, platforms)

    rows = []
    for i, task in enumerate(tasks):
        due = task.due_at or now
        status = TaskStatus.SCHEDULED if due > now else TaskStatus.QUEUED
        rows.append(
            {
                "public_id": task.public_id,
                "user_id": task.user_id,
                "article_id": task.article_id,
                "title": task.title.strip(),
                "body": task.body,
                "tags": list(task.tags),
                "cover": task.cover,
                "account_id": task.account_id,
                "platform": accounts[task.account_id].platform,
                "status": status.value,
                "progress": 0,
                "stage": None,
                "priority": task.priority,
                "due_at": due,
                "attempt": 0,
                "max_attempts": task.max_attempts,
                "cancel_requested": False,
                "checkpoint": updates.get(i, {}),
                "batch_id": task.batch_id,
                "created_at": now,
                "queued_at": now if status is TaskStatus.QUEUED else None,
            }
        )
    queued = [t for t, row in zip(tasks, rows, strict=True) if row["status"] == TaskStatus.QUEUED]
    ready = ({t.user_id for t in queued}, {t.account_id for t in queued})
    events = [_event_of(row) for row in rows]
    # Rows go in as few statements as fit the smallest packet a server takes by default
    # (MariaDB: 16 MiB, and escaping may double a body): large bodies one row at a time.
    largest = max(len(row["body"].encode("utf-8")) for row in rows)
    page = max(1, STATEMENT_BUDGET_BYTES // max(largest, 1))
    if statements_of(session) == "postgresql" and len(rows) <= min(page, ONE_STATEMENT_ROWS):
        from contenthub.storage.postgresql_writes import enqueue_postgresql

        inserted = enqueue_postgresql(connection, rows, events, ready, now)
        announce_new_work(session)
        return [task_row(ins._mapping) for ins in inserted]
    # Before the insert: the users' rows first, as the claim takes them (ready.py).
    mark_accounts_ready(session, *ready, now)
    inserted = connection.execute(_insert_tasks(min(page, 1000)), rows).all()
    append_events(
        session,
        [
            Event(
                task_id=ins.id,
                user_id=row["user_id"],
                kind="status",
                reason=reason,
                to_status=row["status"],
                message=message,
            )
            for ins, row, (reason, message) in zip(inserted, rows, events, strict=True)
        ],
        now,
        new_work=True,
    )
    return [task_row(ins._mapping) for ins in inserted]


# At most this many tasks in PostgreSQL's one-statement enqueue (its arrays); a larger
# batch takes the portable path, a page of inserts at a time.
ONE_STATEMENT_ROWS = 1000


def _event_of(row: Mapping[str, Any]) -> tuple[EventReason, str]:
    """A new task's first event: its reason and message."""
    if row["status"] == TaskStatus.SCHEDULED:
        return EventReason.SCHEDULED, "scheduled for " + row["due_at"].isoformat()
    return EventReason.ENQUEUED, "queued"


class AccountOf(Protocol):
    """What the enqueue needs of an account: whose it is and its platform."""

    @property
    def user_id(self) -> int: ...
    @property
    def platform(self) -> str: ...


_ACCOUNTS_OF = sa.select(Account.id, Account.user_id, Account.platform).where(
    Account.id.in_(sa.bindparam("ids", expanding=True))
)


@functools.cache
def _insert_tasks(page_size: int) -> sa.Insert:
    """Built once per page size (nearly always 1,000): a statement returning every column
    costs more to build than SQLite takes to run it."""
    return (
        sa.insert(TASKS)
        .returning(*TASK_COLUMNS, sort_by_parameter_order=True)
        .execution_options(insertmanyvalues_page_size=page_size)
    )


# What of an earlier task's checkpoints an update carries: its ids and uploaded images, not
# the marks of its own attempts.
_NOT_CARRIED = frozenset(
    {PUBLISH_SUBMITTED, DRAFT_REQUESTED_AT, LEFTOVERS, UPDATE_OF, FINAL_CHECK_MARK}
)
IMAGES = "images"  # platforms.images.CHECKPOINT_KEY (that module needs the network stack)


def _edits_posts(platform: str) -> bool:
    """Whether the platform's adapter updates a post in place (``Requirements.edits_posts``)."""
    from contenthub.platforms.registry import publisher_for  # adapters load on demand

    try:
        return publisher_for(platform).requires.edits_posts
    except LookupError:
        return False


def _one_live_publish(
    session: Session, tasks: Sequence[NewTask], many: bool, platforms: Mapping[int, str]
) -> dict[int, dict[str, object]]:
    """One live publish of an article per account, unless a task asks to ``republish``.

    A publish still under way refuses another; one that succeeded makes the new task an update
    of its post: the answer is each such task's first checkpoint (index → checkpoint).

    The owners' rows are locked first (as the submission limit locks them), so two requests
    racing to publish one article to one account meet here one after the other: the second
    sees the first's task. An article's tasks are always its owner's."""
    guarded = [(i, t) for i, t in enumerate(tasks) if t.article_id is not None and not t.republish]
    if not guarded:
        return {}
    for user_id in sorted({t.user_id for _, t in guarded}):
        task_submissions_lock(session, user_id=user_id)
    seen: dict[tuple[int | None, int], int] = {}
    for i, task in guarded:
        field_name = f"tasks[{i}].account_id" if many else "account_id"
        first = seen.setdefault((task.article_id, task.account_id), i)
        if first != i:
            raise AlreadyPublishing(
                field_name,
                i,
                f"account {task.account_id} is named twice for article {task.article_id}",
                None,
            )
    live = session.execute(
        sa.select(
            TASKS.c.article_id,
            TASKS.c.account_id,
            TASKS.c.public_id,
            TASKS.c.status,
            TASKS.c.post_id,
            TASKS.c.result_url,
            TASKS.c.checkpoint,
        )
        .where(
            TASKS.c.account_id.in_({t.account_id for _, t in guarded}),
            TASKS.c.article_id.in_({t.article_id for _, t in guarded}),
            TASKS.c.status.in_([s.value for s in LIVE]),
        )
        .order_by(TASKS.c.id)
    ).all()
    under_way = {(r.article_id, r.account_id): r for r in live if r.status != TaskStatus.SUCCEEDED}
    done = {(r.article_id, r.account_id): r for r in live if r.status == TaskStatus.SUCCEEDED}
    updates: dict[int, dict[str, object]] = {}
    for (article_id, account_id), i in seen.items():
        field_name = f"tasks[{i}].account_id" if many else "account_id"
        row = under_way.get((article_id, account_id))
        if row is not None:
            raise AlreadyPublishing(
                field_name,
                i,
                f"article {article_id} is already {row.status} on account {account_id} "
                f"(task {row.public_id}); wait for it or cancel it, or ask for a second post "
                "(API: republish, CLI: --again)",
                row.public_id,
            )
        row = done.get((article_id, account_id))
        if row is None:
            continue
        platform = platforms[account_id]
        if not _edits_posts(platform):
            raise AlreadyPublishing(
                field_name,
                i,
                f"article {article_id} is already published on account {account_id} (task "
                f"{row.public_id}) and {platform} posts cannot be edited through contenthub; "
                "to post it again, ask for it (API: republish, CLI: --again)",
                row.public_id,
            )
        if not row.post_id:
            raise AlreadyPublishing(
                field_name,
                i,
                f"article {article_id} is already published on account {account_id} (task "
                f"{row.public_id}), which gave no post id to update; to post it again, ask for "
                "it (API: republish, CLI: --again)",
                row.public_id,
            )
        carried = {k: v for k, v in (row.checkpoint or {}).items() if k not in _NOT_CARRIED}
        prior = {"task": row.public_id, "post_id": row.post_id, "url": row.result_url}
        updates[i] = {UPDATE_OF: {**prior, "checkpoints": carried}}
        if carried.get(IMAGES):  # images this account already holds are not uploaded again
            updates[i][IMAGES] = carried[IMAGES]
    return updates


def task_submissions_lock(session: Session, *, user_id: int) -> None:
    """Lock the user's row: one user's submissions then count their window one at a time,
    so a limit stays exact with many API processes. SQLite needs no lock of a row: a writing
    transaction there holds the whole database from its start (``BEGIN IMMEDIATE``). A row
    this transaction locked already is not asked for again (the publish locks its user for
    the limit, the one-live-publish check for its race)."""
    if session.get_bind().dialect.name == "sqlite":
        return
    locked: set[int] = session.info.setdefault(_LOCKED_USERS, set())
    if user_id not in locked:
        session.connection().execute(_LOCK_USER, {"user_id": user_id}).one()
        locked.add(user_id)


_LOCKED_USERS = "contenthub.locked_users"  # the session's (one transaction's) locked users
# Built once: every publish sends it.
_LOCK_USER = (
    sa.select(User.id).where(User.id == sa.bindparam("user_id")).with_for_update(key_share=True)
)


def task_count_created_since(session: Session, *, user_id: int, since: datetime) -> int:
    found = session.connection().scalar(_CREATED_SINCE, {"user_id": user_id, "since": since})
    return found or 0


# Built once: every publish counts its user's last minute.
_CREATED_SINCE = sa.select(sa.func.count()).where(
    TASKS.c.user_id == sa.bindparam("user_id"), TASKS.c.created_at > sa.bindparam("since")
)


def task_created_at_nth_since(
    session: Session, *, user_id: int, since: datetime, nth: int
) -> datetime | None:
    """The creation time of the user's ``nth`` (from 0) oldest task created after ``since``."""
    return session.scalar(
        sa.select(TASKS.c.created_at)
        .where(TASKS.c.user_id == user_id, TASKS.c.created_at > since)
        .order_by(TASKS.c.created_at)
        .offset(nth)
        .limit(1)
    )
