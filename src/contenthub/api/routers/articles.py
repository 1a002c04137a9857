from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from contenthub.api.deps import CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import (
    ArticleIn,
    ArticleOut,
    ArticlePage,
    ArticleUpdate,
    AttachmentOut,
)
from contenthub.clock import utcnow
from contenthub.services import articles

router = APIRouter(prefix="/articles", tags=["articles"])


@router.post("", status_code=201)
def create_article(body: ArticleIn, user: CurrentUser, db: DbDep) -> ArticleOut:
    return db.write(
        lambda s: ArticleOut.model_validate(
            articles.article_create(
                s,
                user,
                title=body.title,
                body=body.body,
                tags=body.tags,
                cover=body.cover,
                now=utcnow(),
            )
        )
    )


@router.get("")
def list_articles(
    user: CurrentUser,
    db: DbDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> ArticlePage:
    items, total = db.read(
        lambda s: articles.article_list(s, scope=user.scope, limit=limit, offset=offset)
    )
    return ArticlePage(
        items=[ArticleOut.model_validate(a) for a in items], total=total, limit=limit, offset=offset
    )


@router.get("/{article_id}")
def get_article(article_id: ResourceId, user: CurrentUser, db: DbDep) -> ArticleOut:
    article = db.read(lambda s: articles.article_get(s, article_id, scope=user.scope))
    return ArticleOut.model_validate(article)


@router.patch("/{article_id}")
def update_article(
    article_id: ResourceId, body: ArticleUpdate, user: CurrentUser, db: DbDep
) -> ArticleOut:
    article = db.write(
        lambda s: articles.article_update(
            s,
            article_id,
            scope=user.scope,
            now=utcnow(),
            title=body.title,
            body=body.body,
            tags=body.tags,
            cover=body.cover,
        )
    )
    return ArticleOut.model_validate(article)


@router.delete("/{article_id}", status_code=204)
def delete_article(article_id: ResourceId, user: CurrentUser, db: DbDep) -> Response:
    db.write(lambda s: articles.article_delete(s, article_id, scope=user.scope))
    return Response(status_code=204)


@router.get("/{article_id}/attachments")
def list_attachments(article_id: ResourceId, user: CurrentUser, db: DbDep) -> list[AttachmentOut]:
    """The images stored with the article, by the path its Markdown refers to them."""
    found = db.read(lambda s: articles.attachments_of(s, article_id, scope=user.scope))
    return [AttachmentOut.model_validate(a) for a in found]


# Optional to the schema so that the article's ownership is checked first (another user's
# article is a 404 whatever is sent); a missing name is then a 422 naming it.
AttachmentName = Query(
    default=None,
    max_length=255,
    description="The path the article's Markdown refers to the image by (img/a.png).",
)


@router.put("/{article_id}/attachments")
async def put_attachment(
    article_id: ResourceId,
    request: Request,
    user: CurrentUser,
    db: DbDep,
    name: str | None = AttachmentName,
) -> list[AttachmentOut]:
    """Store an image with the article under ``name``, the path its Markdown refers to it by
    (``?name=img/a.png`` for ``![…](img/a.png)``); the body is the image's bytes (PNG, JPEG,
    GIF or WebP, at most 5 MiB). Every adapter uploads it like a remote image."""
    data = await request.body()
    file = articles.AttachmentFile(name or "", data)
    found = db.write(
        lambda s: articles.attachments_store(s, article_id, [file], scope=user.scope, now=utcnow())
    )
    return [AttachmentOut.model_validate(a) for a in found]


@router.delete("/{article_id}/attachments", status_code=204)
def delete_attachment(
    article_id: ResourceId, user: CurrentUser, db: DbDep, name: str | None = AttachmentName
) -> Response:
    db.write(lambda s: articles.attachment_remove(s, article_id, name or "", scope=user.scope))
    return Response(status_code=204)
