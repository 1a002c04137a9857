"""Articles: named storage operations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from contenthub.errors import InputError
from contenthub.storage.models import Article


def article_create(
    session: Session,
    *,
    user_id: int,
    title: str,
    body: str,
    tags: list[str],
    now: datetime,
    cover: str | None = None,
) -> int:
    if not title.strip():
        raise InputError("title", "must not be empty")
    article = Article(
        user_id=user_id,
        title=title.strip(),
        body=body,
        tags=tags,
        cover=cover,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    return article.id
