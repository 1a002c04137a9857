"""Publishing use cases: an article to one or many accounts, now or at a set time."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.errors import InputError, SubmissionLimit
from contenthub.services.articles import article_get
from contenthub.storage import NewTask, task_enqueue
from contenthub.storage.db import Database
from contenthub.storage.models import Account, PublishTask, User

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    tags: list[str]


def read_markdown(path: Path, *, title: str | None = None, tags: Sequence[str] = ()) -> Draft:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file", f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError("file", f"{path} is not UTF-8 text") from None
    return parse_markdown(text, source=str(path), title=title, tags=tags)


def parse_markdown(
    text: str, *, source: str, title: str | None = None, tags: Sequence[str] = ()
) -> Draft:
    """Title from ``title`` or else the text's first ``# heading`` (then left out of the body)."""
    if title is None:
        match = _H1.search(text)
        if match is None:
            raise InputError("title", f"{source} has no '# Title' line; pass --title")
        title = match.group(1)
        # The heading became the title; platforms show the title above the body themselves.
        text = (text[: match.start()] + text[match.end() :]).strip() + "\n"
    return Draft(title=title, body=text, tags=[t.strip() for t in tags if t.strip()])


def parse_time(text: str, *, zone: tzinfo) -> datetime:
    """ISO 8601 or 'YYYY-MM-DD HH:MM[:SS]'; a time without an offset is in ``zone``."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            "at", f"{text!r} is not a time; use ISO 8601 or 'YYYY-MM-DD HH:MM:SS'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def zone_named(name: str | None) -> tzinfo:
    if not name:
        return datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("timezone", f"unknown time zone {name!r}") from None


def publish_article(
    db: Database,
    *,
    user_id: int,
    draft: Draft,
    accounts: Sequence[str],
    priority: int,
    at: datetime | None,
    now: datetime,
) -> list[str]:
    """Store the article and queue one task per account, all in one transaction."""
    if not accounts:
        raise InputError("account", "name at least one account to publish to")

    def work(session: Session) -> list[str]:
        account_ids = []
        for ref in accounts:
            try:
                account_ids.append(storage.account_find(session, ref, user_id=user_id).id)
            except LookupError:
                raise InputError("account", f"no account {ref!r} for this user") from None
        article_id = storage.article_create(
            session, user_id=user_id, title=draft.title, body=draft.body, tags=draft.tags, now=now
        )
        batch = str(uuid.uuid4()) if len(account_ids) > 1 else None
        return task_enqueue(
            session,
            [
                NewTask(
                    user_id=user_id,
                    account_id=account_id,
                    title=draft.title,
                    body=draft.body,
                    tags=draft.tags,
                    article_id=article_id,
                    priority=priority,
                    due_at=at,
                    batch_id=batch,
                )
                for account_id in account_ids
            ],
            now=now,
        )

    return db.write(work)


@dataclass(frozen=True)
class Target:
    """One article to publish to some of the user's accounts."""

    article_id: int
    account_ids: Sequence[int]


SUBMISSION_WINDOW_SECONDS = 60


def publish_targets(
    session: Session,
    *,
    user_id: int,
    targets: Sequence[Target],
    priority: int,
    scheduled_at: datetime | None,
    now: datetime,
    per_minute: int,
) -> list[str]:
    """Queue one task per (article, account), snapshotting each article; all or nothing.

    The user's row is locked first, so the sliding-window submission limit is exact even
    with many API processes.
    """
    wanted = sum(len(t.account_ids) for t in targets)
    if wanted == 0:
        raise InputError("account_ids", "name at least one account")
    if wanted > per_minute:
        raise InputError(
            "account_ids", f"this request creates {wanted} tasks; at most {per_minute} a minute"
        )
    session.execute(
        sa.select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    ).one()
    window_start = now - timedelta(seconds=SUBMISSION_WINDOW_SECONDS)
    in_window = PublishTask.user_id == user_id, PublishTask.created_at > window_start
    recent = session.scalar(sa.select(sa.func.count()).where(*in_window)) or 0
    if recent + wanted > per_minute:
        # The window frees up as its oldest tasks age out: wait for the one that makes room.
        frees_at = session.scalar(
            sa.select(PublishTask.created_at)
            .where(*in_window)
            .order_by(PublishTask.created_at)
            .offset(recent + wanted - per_minute - 1)
            .limit(1)
        )
        wait = (frees_at - window_start).total_seconds() if frees_at else 1
        raise SubmissionLimit(per_minute, SUBMISSION_WINDOW_SECONDS, max(1, math.ceil(wait)))
    batch = str(uuid.uuid4()) if wanted > 1 else None
    owned = set(
        session.scalars(
            sa.select(Account.id).where(
                Account.user_id == user_id,
                Account.id.in_({a for t in targets for a in t.account_ids}),
            )
        )
    )
    tasks = []
    for i, target in enumerate(targets):
        where = "" if len(targets) == 1 else f"items[{i}]."
        try:
            article = article_get(session, target.article_id, scope=user_id)
        except LookupError:
            raise InputError(
                f"{where}article_id", f"no article {target.article_id} for this user"
            ) from None
        for account_id in target.account_ids:
            if account_id not in owned:
                raise InputError(f"{where}account_ids", f"no account {account_id} for this user")
            tasks.append(
                NewTask(
                    user_id=user_id,
                    account_id=account_id,
                    title=article.title,
                    body=article.body,
                    tags=list(article.tags or []),
                    cover=article.cover,
                    article_id=article.id,
                    priority=priority,
                    due_at=scheduled_at,
                    batch_id=batch,
                )
            )
    return task_enqueue(session, tasks, now=now)
