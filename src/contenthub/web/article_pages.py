"""Articles: a searchable list, create and edit with a live preview (the platforms' own
renderers), and the Publish dialog."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contenthub.api.deps import ResourceId
from contenthub.clock import parse_time, utcnow, zone_named
from contenthub.errors import InputError, NotFound, SubmissionLimit
from contenthub.platforms.images import image_urls, replace_image_urls
from contenthub.platforms.registry import known_platforms, publisher_for
from contenthub.platforms.render import content_warnings, preview_html
from contenthub.platforms.requirements import (
    ArticleView,
    Attachment,
    Verdict,
    attachment_name,
    check,
    is_attachment_reference,
)
from contenthub.services import accounts as account_service
from contenthub.services import articles as article_service
from contenthub.services import publishing
from contenthub.storage import ArticleRow
from contenthub.storage.enqueue import MAX_PRIORITY, MIN_PRIORITY
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
PAGE_SIZE = 20
PREVIEW_PLATFORMS = ("zhihu", "wechat", "wordpress", "devto", "juejin", "csdn", "toutiao", "local")


@router.get("/articles")
def articles_page(web: Page) -> HTMLResponse:
    query = web.request.query_params
    search = query.get("q", "")[:200].strip()
    number = int(query["page"]) if query.get("page", "").isdigit() else 1
    number = max(1, min(number, 100_000))
    items, total = web.db.read(
        lambda s: article_service.article_list(
            s,
            scope=web.principal.user_id,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            search=search,
        )
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return web.render("articles.html", items=items, total=total, page=number, pages=pages, q=search)


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def _editor(
    web: Web,
    article: ArticleRow | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    fields = {
        "title": article.title if article else "",
        "body": article.body if article else "",
        "tags": ", ".join(article.tags) if article else "",
        "cover": (article.cover or "") if article else "",
    }
    if errors:  # show back what was typed
        fields = {k: web.value(k) for k in fields}
    return web.render(
        "article.html",
        status=status,
        article=article,
        fields=fields,
        errors=errors or {},
        saved=saved,
        preview=preview_html(fields["body"]) if fields["body"].strip() else "",
        preview_platforms=PREVIEW_PLATFORMS,
        attachments=_attachments(web, article),
        **_publish_context(web, article),
    )


def _attachments(web: Web, article: ArticleRow | None) -> list[Any]:
    if article is None:
        return []
    me = web.principal.user_id
    return web.db.read(lambda s: article_service.attachments_of(s, article.id, scope=me))


def _publish_context(web: Web, article: ArticleRow | None) -> dict[str, Any]:
    if article is None:
        return {}
    me = web.principal
    accounts = web.db.read(lambda s: account_service.account_list(s, scope=me.user_id))
    groups: dict[str, list[Any]] = {}
    for account in accounts:
        groups.setdefault(account.platform, []).append(account)
    return {
        "groups": dict(sorted(groups.items())),
        "per_minute": web.request.app.state.settings.submissions_per_minute,
        "min_priority": MIN_PRIORITY,
        "max_priority": MAX_PRIORITY,
    }


def _content(web: Web) -> dict[str, Any]:
    return {
        "title": web.value("title"),
        "body": web.value("body"),
        "tags": _tags(web.value("tags")),
        "cover": web.value("cover").strip() or None,
    }


@router.get("/articles/new")
def article_new(web: Page) -> HTMLResponse:
    return _editor(web, None)


@router.post("/articles/new")
def article_create(web: Page) -> Response:
    content = _content(web)
    me = web.principal
    try:
        article = web.db.write(
            lambda s: article_service.article_create(s, me, now=utcnow(), **content)
        )
    except InputError as error:
        return _editor(web, None, status=422, errors={error.field: error.message})
    return RedirectResponse(f"/articles/{article.id}?saved=1", status_code=303)


def _article(web: Web, article_id: int) -> ArticleRow:
    me = web.principal
    return web.db.read(lambda s: article_service.article_get(s, article_id, scope=me.user_id))


@router.get("/articles/{article_id}")
def article_edit(article_id: ResourceId, web: Page) -> HTMLResponse:
    article = _article(web, article_id)
    return _editor(web, article, saved=web.request.query_params.get("saved") == "1")


@router.post("/articles/{article_id}")
def article_save(article_id: ResourceId, web: Page) -> Response:
    article = _article(web, article_id)
    content = _content(web)
    content["cover"] = content["cover"] or ""  # an emptied field removes the cover
    try:
        web.db.write(
            lambda s: article_service.article_update(
                s, article.id, scope=web.principal.user_id, now=utcnow(), **content
            )
        )
    except InputError as error:
        return _editor(web, article, status=422, errors={error.field: error.message})
    return RedirectResponse(f"/articles/{article.id}?saved=1", status_code=303)


@router.post("/preview")
def preview(web: Page) -> HTMLResponse:
    """The body as the chosen platform's adapter renders it (htmx swaps it in as one types)."""
    platform = web.value("platform")
    body = web.value("body")[: article_service.MAX_BODY_BYTES]
    known = platform if platform in known_platforms() else None
    article_id = web.value("article")
    shown = body
    if article_id.isdigit() and len(article_id) < 10:  # the saved article's images, served
        names = {a.name for a in _stored(web, int(article_id))}
        shown = replace_image_urls(
            body,
            {
                source: f"/articles/{article_id}/attachments/{quote(attachment_name(source))}"
                for source in image_urls(body)
                if is_attachment_reference(source) and attachment_name(source) in names
            },
        )
    html = preview_html(shown, known)
    if known is None:
        return web.render("_preview.html", preview=html, platform=None, warnings=[])
    verdict = _rules(web, known, body)
    notes = verdict.notes + publisher_for(known).default_notes({})
    return web.render(
        "_preview.html",
        preview=html,
        platform=known,
        problems=verdict.problems,
        notes=notes,
        warnings=content_warnings(body, known),
    )


def _rules(web: Web, platform: str, body: str) -> Verdict:
    """The platform's rules against the article as typed (with the saved one's images)."""
    attachments: dict[str, Attachment] = {}
    article_id = web.value("article")
    if article_id.isdigit() and len(article_id) < 10:
        stored = _stored(web, int(article_id))
        attachments = {a.name: Attachment(a.name, a.content_type, a.size) for a in stored}
    view = ArticleView(
        web.value("title")[:500] or "?",
        body,
        _tags(web.value("tags")[:2000]),
        web.value("cover")[:8_000_000] or None,
        attachments,
    )
    return check(publisher_for(platform).requires, view, platform)


def _stored(web: Web, article_id: int) -> list[Any]:
    """The article's attachments if it is the signed-in user's (else none)."""
    try:
        return web.db.read(
            lambda s: article_service.attachments_of(s, article_id, scope=web.principal.user_id)
        )
    except NotFound:
        return []


@router.get("/articles/{article_id}/attachments/{name:path}")
def article_attachment_file(article_id: ResourceId, name: str, web: Page) -> Response:
    """An attachment's bytes, for its owner's preview."""
    me = web.principal.user_id
    try:
        kind, data = web.db.read(
            lambda s: article_service.attachment_file(s, article_id, name, scope=me)
        )
    except NotFound:
        return Response(status_code=404)
    headers = {"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=kind, headers=headers)


@router.post("/articles/{article_id}/attachments")
def article_attachment(article_id: ResourceId, web: Page) -> Response:
    """An image for the article, stored under the path its body refers to it by."""
    article = _article(web, article_id)
    upload = web.form.get("image")
    if upload is None or isinstance(upload, str):
        return _editor(web, article, status=422, errors={"attachment": "choose an image file"})
    data = upload.file.read(article_service.MAX_ATTACHMENT_BYTES + 1)  # a sync route: a thread
    name = web.value("name").strip() or (upload.filename or "").strip()
    files = [article_service.AttachmentFile(name, data)]
    try:
        web.db.write(
            lambda s: article_service.attachments_store(
                s, article.id, files, scope=web.principal.user_id, now=utcnow()
            )
        )
    except InputError as error:
        return _editor(web, article, status=422, errors={"attachment": error.message})
    return RedirectResponse(f"/articles/{article.id}?saved=1", status_code=303)


@router.post("/articles/{article_id}/publish")
def article_publish(article_id: ResourceId, web: Page) -> Response:
    article = _article(web, article_id)
    errors: dict[str, str] = {}
    account_ids = [int(v) for v in web.form.getlist("account") if str(v).isdigit()][:100]
    account_ids = [i for i in account_ids if 0 < i < 2**31]
    priority_text = web.value("priority", "5").strip() or "5"
    priority = 5
    if priority_text.lstrip("-").isdigit() and len(priority_text) < 6:
        priority = int(priority_text)
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY or not priority_text.lstrip("-").isdigit():
        errors["priority"] = f"a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}"
    scheduled_at = None
    if web.value("when") == "at" and not web.value("at").strip():
        errors["at"] = "choose the time to publish at"
    elif web.value("when") == "at":
        try:
            zone = zone_named(web.value("tz")[:64] or None)
            scheduled_at = parse_time(web.value("at")[:40], zone=zone)
        except InputError as error:
            errors["at"] = error.message
    if not errors:
        try:
            done = publishing.publish(
                web.db,
                web.principal,
                [publishing.Target(article.id, account_ids)],
                priority=priority,
                scheduled_at=scheduled_at,
                per_minute=web.request.app.state.settings.submissions_per_minute,
                now=utcnow(),
            )
        except InputError as error:
            field = {"account_ids": "accounts", "scheduled_at": "at"}.get(error.field, error.field)
            errors[field] = error.message
        except NotFound as error:
            errors["accounts"] = str(error)
        except SubmissionLimit as error:
            errors["accounts"] = str(error)
        else:
            tasks = done.tasks
            target = (
                f"/tasks?batch={quote(tasks[0]['batch_id'])}"
                if tasks[0]["batch_id"]
                else (f"/tasks/{tasks[0]['public_id']}")
            )
            if web.is_htmx:
                return Response(headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
    return web.render(
        "_publish_form.html",
        status=422,
        article=article,
        errors=errors,
        chosen=set(account_ids),
        **_publish_context(web, article),
    )
