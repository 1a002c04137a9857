"""Article attachments: images stored with their article (``img/a.png`` beside a Markdown
file). Reads hand out names, types and sizes; the bytes only to whoever uploads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.storage.models import ArticleAttachment


@dataclass(frozen=True)
class AttachmentRow:
    name: str
    content_type: str
    size: int


def attachment_put(
    session: Session, article_id: int, *, name: str, content_type: str, data: bytes, now: datetime
) -> None:
    """Store an image under ``name``, replacing one of that name (one statement per image:
    each is megabytes)."""
    session.execute(
        sa.delete(ArticleAttachment).where(
            ArticleAttachment.article_id == article_id, ArticleAttachment.name == name
        )
    )
    session.execute(
        sa.insert(ArticleAttachment).values(
            article_id=article_id,
            name=name,
            content_type=content_type,
            size=len(data),
            data=data,
            created_at=now,
        )
    )


def attachment_list(session: Session, article_id: int) -> list[AttachmentRow]:
    rows = session.connection().execute(_LISTED, {"article_id": article_id}).all()
    return [AttachmentRow(name, content_type, size) for name, content_type, size in rows]


# Built once: every publish reads its article's attachments.
_LISTED = (
    sa.select(ArticleAttachment.name, ArticleAttachment.content_type, ArticleAttachment.size)
    .where(ArticleAttachment.article_id == sa.bindparam("article_id"))
    .order_by(ArticleAttachment.name)
)


def attachment_data(
    session: Session, article_id: int, names: Iterable[str] | None = None
) -> dict[str, tuple[str, bytes]]:
    """``{name: (content type, bytes)}`` of the article's attachments (only ``names``)."""
    query = sa.select(
        ArticleAttachment.name, ArticleAttachment.content_type, ArticleAttachment.data
    ).where(ArticleAttachment.article_id == article_id)
    if names is not None:
        wanted = list(names)
        if not wanted:
            return {}
        query = query.where(ArticleAttachment.name.in_(wanted))
    return {r.name: (r.content_type, bytes(r.data)) for r in session.execute(query)}


def attachment_delete(session: Session, article_id: int, name: str) -> bool:
    done = session.execute(
        sa.delete(ArticleAttachment).where(
            ArticleAttachment.article_id == article_id, ArticleAttachment.name == name
        )
    ).rowcount
    return bool(done)
