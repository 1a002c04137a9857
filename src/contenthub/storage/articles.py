"""Articles: named storage operations. Reads answer ``ArticleRow`` values; tasks keep their
own snapshot of an article, so changing or deleting one never changes a publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError, NotFound
from contenthub.storage.models import Article
from contenthub.storage.rows import snapshot
from contenthub.storage.scope import owned_row


@dataclass(frozen=True)
class ArticleRow:
    id: int
    user_id: int
    title: str
    body: str
    tags: list[str]
    cover: str | None
    external_ref: str | None
    created_at: datetime
    updated_at: datetime


ARTICLES = Article.__table__


def _row(article: Any) -> ArticleRow:
    return snapshot(ArticleRow, article, tags=list(article.tags or []))


def article_create(
    session: Session,
    *,
    user_id: int,
    title: str,
    body: str,
    tags: list[str],
    now: datetime,
    cover: str | None = None,
    external_ref: str | None = None,
) -> int:
    if not title.strip():
        raise InputError("title", "must not be empty")
    article = Article(
        user_id=user_id,
        title=title.strip(),
        body=body,
        tags=tags,
        cover=cover,
        external_ref=external_ref,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    return article.id


def article_get(session: Session, article_id: int, *, user_id: int | None) -> ArticleRow:
    """The article if it is the user's (None: anyone's); someone else's reads as missing."""
    return _row(owned_row(session, ARTICLES, article_id, scope=user_id, what="article"))


def article_find_by_ref(session: Session, external_ref: str, *, user_id: int) -> ArticleRow | None:
    """The user's article the caller knows as ``external_ref`` (the old API's article_id)."""
    article = session.scalar(
        sa.select(Article).where(Article.user_id == user_id, Article.external_ref == external_ref)
    )
    return None if article is None else _row(article)


def article_list(
    session: Session,
    *,
    user_id: int | None,
    limit: int,
    offset: int,
    title_contains: str | None = None,
) -> tuple[list[ArticleRow], int]:
    """Newest first, and how many there are in all (``title_contains``: case-insensitive)."""
    query = sa.select(Article)
    count = sa.select(sa.func.count()).select_from(Article)
    if user_id is not None:
        query = query.where(Article.user_id == user_id)
        count = count.where(Article.user_id == user_id)
    if title_contains:
        match = Article.title.icontains(title_contains, autoescape=True)
        query, count = query.where(match), count.where(match)
    items = session.scalars(query.order_by(Article.id.desc()).limit(limit).offset(offset))
    return [_row(a) for a in items], session.scalar(count) or 0


def article_update(
    session: Session,
    article_id: int,
    *,
    now: datetime,
    title: str | None = None,
    body: str | None = None,
    tags: list[str] | None = None,
    cover: str | None = None,
) -> None:
    """Change the given fields (None: keep; an empty ``cover`` removes the cover)."""
    values: dict[str, Any] = {"updated_at": now}
    if title is not None:
        values["title"] = title
    if body is not None:
        values["body"] = body
    if tags is not None:
        values["tags"] = tags
    if cover is not None:
        values["cover"] = cover or None
    done = session.execute(
        sa.update(Article).where(Article.id == article_id).values(**values)
    ).rowcount
    if done != 1:
        raise NotFound("article", article_id)


def article_delete(session: Session, article_id: int) -> None:
    done = session.execute(sa.delete(Article).where(Article.id == article_id)).rowcount
    if done != 1:
        raise NotFound("article", article_id)
