"""dev.to (Forem API v1, platforms.md §10) under ``/devto``: ``api-key`` auth, articles created
unpublished then published, Forem's own limit of 9 article creations per 30 s per account
(429 "Rate limit reached, try again in 30 seconds"), and the public ``/{user}/{slug}`` page."""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contenthub.sandbox import pages, state

NAME = "devto"
PREFIX = "/devto"
CREATIONS_PER_WINDOW, WINDOW_SECONDS = 9, 30.0
ACCEPT = "application/vnd.forem.api-v1+json"


def credentials_for(name: str) -> dict[str, Any]:
    return {"api_key": state.secret_for(NAME, name, "api-key")[:24]}


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("api_key", ""))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return pages.json_error(status, {"error": message, "status": status}, headers)


def _throttled(retry_after: float) -> Response:
    message = f"Rate limit reached, try again in {retry_after:g} seconds"
    return _error(429, message, {"Retry-After": f"{retry_after:g}"})


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return _error(401, "unauthorized")
    if fault.kind == "rate_limited":
        return _throttled(fault.retry_after)
    if fault.kind == "server_error":
        return _error(fault.status, "Internal Server Error")
    return _error(422, fault.message)


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    creations: dict[str, deque[float]] = {}

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        """The caller's account; or a Refusal with Forem's answer."""
        account = sandbox.account(NAME, request.headers.get("api-key", ""))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(_error(401, "unauthorized"))
        return account

    def article_json(request: Request, post: state.SandboxPost) -> dict[str, Any]:
        path = f"/{post.account}/{post.extra['slug']}"
        return {
            "id": int(post.id),
            "title": post.title,
            "slug": post.extra["slug"],
            "path": path,
            "url": f"{pages.root_url(request, PREFIX)}{path}",
            "published": post.status == "published",
            "tag_list": post.tags,
            "body_markdown": post.body,
        }

    def creation_allowed(account: str) -> float | None:
        """None when the account may create an article now, else the seconds to wait."""
        now = time.monotonic()
        window = creations.setdefault(account, deque())
        while window and now - window[0] > WINDOW_SECONDS:
            window.popleft()
        if len(window) >= CREATIONS_PER_WINDOW:
            return WINDOW_SECONDS
        window.append(now)
        return None

    def check_article(article: dict[str, Any]) -> str | None:
        if not str(article.get("title", "")).strip():
            return "Title can't be blank"
        tags = article.get("tags") or []
        if len(tags) > 4:
            return "Tag list exceed the maximum of 4 tags"
        if any(not re.fullmatch(r"[a-z0-9]+", str(t)) for t in tags):
            return "Tag list contains non-alphanumeric characters"
        return None

    @router.get("/api/users/me")
    async def me(request: Request) -> Response:
        account = await gate(request, "login")
        ident = int(state.secret_for(NAME, account.name, "id")[:6], 16)
        return JSONResponse({"id": ident, "username": account.name, "name": account.name})

    @router.post("/api/articles")
    async def create(request: Request) -> Response:
        article = (await pages.json_payload(request)).get("article") or {}
        operation = "publish" if article.get("published") else "draft"
        account = await gate(request, operation)
        if problem := check_article(article):
            return _error(422, problem)
        if (wait := creation_allowed(account.name)) is not None:
            return _throttled(wait)
        post_id = sandbox.new_id()
        slug = re.sub(r"[^a-z0-9]+", "-", str(article["title"]).lower()).strip("-") or "post"
        post = state.SandboxPost(
            NAME,
            post_id,
            account.name,
            str(article["title"]),
            str(article.get("body_markdown", "")),
            list(article.get("tags") or []),
            article.get("main_image"),
            "published" if article.get("published") else "draft",
            extra={
                "slug": f"{slug}-{post_id[-4:]}",
                "description": str(article.get("description", "")),
            },
        )
        sandbox.save_post(post)
        post.url = article_json(request, post)["url"]
        await sandbox.after_commit(NAME, account.name, operation)
        return JSONResponse(article_json(request, post), 201)

    @router.put("/api/articles/{article_id}")
    async def update(article_id: str, request: Request) -> Response:
        article = (await pages.json_payload(request)).get("article") or {}
        operation = "publish" if article.get("published") else "draft"
        account = await gate(request, operation)
        post = sandbox.post(NAME, article_id)
        if post is None or post.account != account.name:
            return _error(404, "not found")
        if article.get("published"):
            post.status = "published"
        post.title = str(article.get("title", post.title))
        post.body = str(article.get("body_markdown", post.body))
        if "tags" in article:
            post.tags = list(article.get("tags") or [])
        if "main_image" in article:
            post.cover = article.get("main_image")
        await sandbox.after_commit(NAME, account.name, operation)
        return JSONResponse(article_json(request, post))

    @router.get("/api/articles/me/unpublished")
    async def unpublished(request: Request, page: int = 1, per_page: int = 30) -> Response:
        """The caller's unpublished articles (drafts), newest first, with their Markdown."""
        account = await gate(request, "lookup")
        drafts = sandbox.drafts_of(NAME, account.name)
        start = (max(page, 1) - 1) * per_page
        return JSONResponse([article_json(request, p) for p in drafts[start : start + per_page]])

    @router.get("/api/articles/{article_id}")
    async def read(article_id: str, request: Request) -> Response:
        """Public: only published articles are found."""
        await sandbox.before(NAME, None, "lookup")
        post = sandbox.post(NAME, article_id)
        if post is None or post.status != "published":
            return _error(404, "not found")
        return JSONResponse(article_json(request, post))

    @router.get("/{username}/{slug}")
    async def public_page(username: str, slug: str) -> Response:
        post = next(
            (
                p
                for p in sandbox.posts_of(NAME)
                if p.account == username and p.extra["slug"] == slug
            ),
            None,
        )
        return pages.post_page(post, markdown=True, summary_field="description")

    return router
