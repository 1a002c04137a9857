"""Articles: the content a user keeps and publishes. Tasks keep their own snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import InputError
from contenthub.storage.models import Article
from contenthub.storage.scope import owned

MAX_TITLE = 500
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_TAGS = 20


def check_content(title: str | None, body: str | None, tags: Sequence[str] | None) -> None:
    if title is not None and (not title.strip() or len(title) > MAX_TITLE):
        raise InputError("title", f"must be 1–{MAX_TITLE} characters")
    if body is not None:
        if not body.strip():
            raise InputError("body", "must not be empty")
        if len(body.encode("utf-8")) > MAX_BODY_BYTES:
            raise InputError("body", f"must be at most {MAX_BODY_BYTES // 1024 // 1024} MB")
    if tags is not None:
        if len(tags) > MAX_TAGS:
            raise InputError("tags", f"at most {MAX_TAGS} tags")
        if any(not t.strip() or len(t) > 50 for t in tags):
            raise InputError("tags", "each tag must be 1–50 characters")


def article_get(session: Session, article_id: int, *, scope: int | None) -> Article:
    article: Article = owned(session, Article, article_id, scope=scope, what="article")
    return article


def article_list(
    session: Session, *, scope: int | None, limit: int, offset: int
) -> tuple[list[Article], int]:
    query = sa.select(Article)
    count = sa.select(sa.func.count()).select_from(Article)
    if scope is not None:
        query, count = query.where(Article.user_id == scope), count.where(Article.user_id == scope)
    items = list(session.scalars(query.order_by(Article.id.desc()).limit(limit).offset(offset)))
    return items, session.scalar(count) or 0


def article_update(
    session: Session,
    article_id: int,
    *,
    scope: int | None,
    now: datetime,
    title: str | None,
    body: str | None,
    tags: list[str] | None,
    cover: str | None,
) -> Article:
    check_content(title, body, tags)
    article = article_get(session, article_id, scope=scope)
    if title is not None:
        article.title = title.strip()
    if body is not None:
        article.body = body
    if tags is not None:
        article.tags = [t.strip() for t in tags]
    if cover is not None:
        article.cover = cover or None
    article.updated_at = now
    return article


def article_delete(session: Session, article_id: int, *, scope: int | None) -> None:
    session.delete(article_get(session, article_id, scope=scope))
