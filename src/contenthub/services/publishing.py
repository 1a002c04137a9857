"""Publishing use cases: an article to one or many accounts, now or at a set time."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from contenthub import store
from contenthub.db import Database
from contenthub.dispatch import NewTask, task_enqueue
from contenthub.errors import InputError

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    tags: list[str]


def read_markdown(path: Path, *, title: str | None = None, tags: Sequence[str] = ()) -> Draft:
    """Title from ``title`` or else the file's first ``# heading`` (then left out of the body)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file", f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError("file", f"{path} is not UTF-8 text") from None
    if title is None:
        match = _H1.search(text)
        if match is None:
            raise InputError("title", f"{path} has no '# Title' line; pass --title")
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
                account_ids.append(store.account_find(session, ref, user_id=user_id).id)
            except LookupError:
                raise InputError("account", f"no account {ref!r} for this user") from None
        article_id = store.article_create(
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
