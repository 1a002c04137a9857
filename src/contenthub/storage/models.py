"""Tables. The publish task row *is* the job: there is no second queue to keep in step.

Times are stored as naive UTC (MariaDB has no time zone type) and handed out as aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, microseconds kept on every database."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; contenthub stores aware UTC times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Any:
        if dialect.name == "sqlite":
            # SQLite keeps times as ISO text: one C parse instead of SQLAlchemy's regular
            # expression and then ours (a listing reads hundreds of times per request).
            return _utc_from_sqlite
        return super().result_processor(dialect, coltype)


def _utc_from_sqlite(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Json = sa.JSON().with_variant(mysql.JSON(), "mysql", "mariadb")
# A cover: an address, or the image itself as a data: URI (megabytes). SQLite keeps the old
# VARCHAR(1000), which it never enforces (migration 0007).
Cover = (
    sa.String(1000)
    .with_variant(sa.Text(), "postgresql")
    .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
)


def _only(predicate: str) -> dict[str, Any]:
    """A partial index where the database has them; MariaDB indexes every row instead."""
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="user")
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    max_running: Mapped[int] = mapped_column(default=10)
    # Fairness cursor: users whose turn is oldest are served first.
    last_served_at: Mapped[datetime] = mapped_column(UTCDateTime, default=EPOCH)
    # The claim's walk (storage/ready.py): max(earliest ready account, last_served_at);
    # NULL while nothing can start (idle, busy, paced or capped until something changes).
    turn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (sa.Index(None, "turn_at", "id"),)


class Platform(Base):
    """Per-platform settings shared by every process (limits must hold across machines)."""

    __tablename__ = "platforms"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    max_running: Mapped[int | None]


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(128))
    credentials: Mapped[bytes | None] = mapped_column(
        sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
    )
    options: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    status_message: Mapped[str | None] = mapped_column(sa.String(500))
    min_interval_seconds: Mapped[float] = mapped_column(default=0.0)
    # At most this many tasks started in any 24 hours: counted from the tasks' ``started_at``
    # by the claim, never kept as a counter.
    daily_cap: Mapped[int | None]
    # The account the old API's endpoints publish to on its platform (one per user and
    # platform; ``storage.account_update`` clears the others).
    is_default: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Pacing: the earliest time the next publish may start on this account.
    next_start_at: Mapped[datetime] = mapped_column(UTCDateTime, default=EPOCH)
    # A lower bound of the first time it may start a task; NULL: not before something
    # changes (storage/ready.py). The claim reads only accounts whose time has come.
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("user_id", "name"),
        sa.Index(None, "user_id", "status"),
        sa.Index(None, "user_id", "ready_at"),
    )


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(LongText)
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    cover: Mapped[str | None] = mapped_column(Cover)
    # The caller's own id for the article (the old API's ``article_id``), one per user.
    external_ref: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.Index(None, "user_id", "id"),
        sa.UniqueConstraint("user_id", "external_ref"),
    )


# An image stored with its article (megabytes): LONGBLOB on MariaDB, whose BLOB holds 64 KB.
Blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class ArticleAttachment(Base):
    """An image a Markdown file referred to beside itself (``img/a.png``), stored with the
    article so any worker can upload it; keyed by the reference as written."""

    __tablename__ = "article_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size: Mapped[int] = mapped_column()
    data: Mapped[bytes] = mapped_column(Blob)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("article_id", "name"),)


class PublishTask(Base):
    __tablename__ = "publish_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="SET NULL")
    )
    # Snapshot taken when the task was created: later edits never change what is published.
    title: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(LongText)
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    cover: Mapped[str | None] = mapped_column(Cover)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    progress: Mapped[int] = mapped_column(default=0)
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    priority: Mapped[int] = mapped_column(default=5)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempt: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    # Fencing token, new on every claim: a worker whose lease was lost cannot write any more.
    lease_token: Mapped[str | None] = mapped_column(sa.String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    checkpoint: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    result_url: Mapped[str | None] = mapped_column(sa.String(1000))
    post_id: Mapped[str | None] = mapped_column(sa.String(255))
    # How a succeeded publish left the platform: "published" (a new post) or "updated" (the
    # account's existing post of the article, edited in place).
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    error_class: Mapped[str | None] = mapped_column(sa.String(32))
    error_message: Mapped[str | None] = mapped_column(sa.String(2000))
    batch_id: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the platform's review ended (the post went live, or was refused); None for a post
    # that was never held for review (states.TaskStatus.IN_REVIEW).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Holds the account id only while running; its unique index makes a second running
    # publish on one account impossible, whatever a bug elsewhere does.
    running_account_id: Mapped[int | None] = mapped_column(
        sa.Computed("CASE WHEN status = 'running' THEN account_id END", persisted=True)
    )

    __table_args__ = (
        # The claim: best due queued task per account. Partial on PostgreSQL and SQLite, so
        # finished history never sits in it and no other index can stand in for it.
        sa.Index(
            "ix_publish_tasks_claim",
            "account_id",
            "status",
            "priority",
            "due_at",
            "id",
            **_only("status = 'queued'"),
        ),
        sa.Index(
            "ux_publish_tasks_running_account",
            "running_account_id",
            unique=True,
            **_only("running_account_id IS NOT NULL"),
        ),
        # Limits count running rows only; the rescuer looks for expired leases.
        sa.Index(
            "ix_publish_tasks_running_user", "user_id", "status", **_only("status = 'running'")
        ),
        sa.Index(
            "ix_publish_tasks_running_platform", "platform", "status", **_only("status = 'running'")
        ),
        sa.Index("ix_publish_tasks_lease", "lease_expires_at", **_only("status = 'running'")),
        # The daily cap: an account's starts of the last 24 hours.
        sa.Index("ix_publish_tasks_account_started", "account_id", "started_at"),
        # Staging of due scheduled tasks.
        sa.Index("ix_publish_tasks_scheduled", "status", "due_at", **_only("status = 'scheduled'")),
        # Listings: a user's newest first (by id), and the submission limit's window.
        sa.Index(None, "user_id", "id"),
        sa.Index(None, "user_id", "created_at"),
        sa.Index(None, "batch_id"),
    )


class TaskEvent(Base):
    """Every status change (and progress step) of a task: its timeline and audit trail."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("publish_tasks.id", ondelete="CASCADE"))
    # The owner, copied for scoped reads of the stream. No foreign key: the task's cascade
    # covers deletion, and a key check would wait on the claim's lock of the user row.
    user_id: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(sa.String(16))
    # Why it happened (contenthub.states.EventReason): what metrics count, never the message.
    reason: Mapped[str] = mapped_column(sa.String(24))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str | None] = mapped_column(sa.String(16))
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    progress: Mapped[int | None]
    attempt: Mapped[int | None]
    message: Mapped[str | None] = mapped_column(sa.String(2000))
    worker: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.Index(None, "task_id", "id"),
        sa.Index(None, "user_id", "id"),
    )


class ApiToken(Base):
    """A bearer token: shown once, stored as a SHA-256 digest (it is random, so no salt)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.Index(None, "user_id", "id"),)


class WebSession(Base):
    """A dashboard sign-in: the cookie's SHA-256 digest (the cookie is random), its CSRF token,
    and when it ends. Revoking sets ``revoked_at``; the row stays for the record."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    csrf: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.Index(None, "user_id", "id"),)


class IdempotentRequest(Base):
    """The answer given to a request carrying an Idempotency-Key, to give it again."""

    __tablename__ = "idempotent_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(200))
    request_digest: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)


class PoolEntry(Base):
    """An article waiting in the publish pool until the publishing job releases it."""

    __tablename__ = "pool_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    account_ids: Mapped[list[int]] = mapped_column(Json)
    priority: Mapped[int] = mapped_column(default=5)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16))
    retry_count: Mapped[int] = mapped_column(default=0)
    max_retries: Mapped[int] = mapped_column(default=3)
    last_error: Mapped[str | None] = mapped_column(sa.String(2000))
    # The settled outcome of the latest release, per task (url, post id, error).
    result: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The scheduled run that made the latest release: while it runs, only it settles the
    # entry, so every run reports the entries it released.
    release_run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("job_runs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The release: due pending entries, most urgent first, then earliest.
        sa.Index(
            "ix_pool_entries_release",
            "status",
            "priority",
            "scheduled_at",
            "id",
            **_only("status = 'pending'"),
        ),
        sa.Index("ix_pool_entries_publishing", "status", **_only("status = 'publishing'")),
        sa.Index(None, "user_id", "id"),
        sa.Index(None, "release_run_id"),
    )


class PoolEntryTask(Base):
    """A publish task created by one release of a pool entry."""

    __tablename__ = "pool_entry_tasks"

    task_id: Mapped[int] = mapped_column(
        sa.ForeignKey("publish_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("pool_entries.id", ondelete="CASCADE"))
    # Which release made it: the entry's retry_count at that time.
    release_no: Mapped[int]

    __table_args__ = (sa.Index(None, "entry_id", "release_no"),)


class ScheduledJob(Base):
    """A recurring job (publishing, account_check, review_check or cleanup), on an interval or
    a cron line."""

    __tablename__ = "scheduled_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    job_type: Mapped[str] = mapped_column(sa.String(32))
    schedule_type: Mapped[str] = mapped_column(sa.String(16))
    interval_seconds: Mapped[int | None]
    cron: Mapped[str | None] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    next_run: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (sa.Index(None, "enabled", "next_run"), sa.Index(None, "user_id", "id"))


class JobRun(Base):
    """One run of a scheduled job: its history."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("scheduled_jobs.id", ondelete="CASCADE"))
    # The schedule tick this run serves; NULL for a manual trigger. Unique per job, so a tick
    # can never run twice, whatever a bug in the claim does.
    tick: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triggered_by: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(sa.String(2000))
    worker: Mapped[str | None] = mapped_column(sa.String(64))
    # Renewed while the run executes: a run whose process died is closed as failed, never
    # left "running" for a person to clean up.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("job_id", "tick"),
        sa.Index(None, "job_id", "id"),
        sa.Index(None, "status", "lease_expires_at"),
    )


class Worker(Base):
    """A live worker process: its proof of life is a session lock only it holds.

    The lock is PostgreSQL's ``pg_advisory_lock(namespace, lock_key)`` or MariaDB's
    ``GET_LOCK`` of a name built from ``lock_key``, on a connection of the worker's own; the
    server drops it the moment that connection dies with the process. On SQLite (one host),
    ``host``, ``pid`` and ``process_start`` say which process to look for instead."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The worker's name, as written in ``publish_tasks.lease_owner``.
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    lock_key: Mapped[int] = mapped_column(unique=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    # Boot id and start time in clock ticks (Linux), so a reused pid is not taken for it.
    process_start: Mapped[str | None] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
