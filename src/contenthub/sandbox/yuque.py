"""语雀 Yuque's OpenAPI v2 under ``/yuque`` (the adapter's docstring names the references):
``X-Auth-Token`` auth, each account owning one knowledge base ``{name}/notes``, documents
created published under a slug the caller chooses (a taken slug is refused, as Yuque does), a
table of contents that lists only what was appended to it, and the public page
``/{login}/{book}/{slug}``. Errors answer ``{"status", "message"}``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contenthub.sandbox import pages, state

NAME = "yuque"
PREFIX = "/yuque"
BOOK = "notes"


def credentials_for(name: str) -> dict[str, Any]:
    return {"token": state.secret_for(NAME, name, "token")}


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("token", ""))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return pages.json_error(status, {"status": status, "message": message}, headers)


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return _error(401, "Unauthorized")
    if fault.kind == "rate_limited":
        retry = f"{fault.retry_after:g}"
        return _error(429, "Too Many Requests", {"Retry-After": retry})
    if fault.kind == "server_error":
        return _error(fault.status, "Internal Server Error")
    return _error(400, fault.message)


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    toc: dict[str, list[str]] = {}  # namespace → document ids, in order

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        account = sandbox.account(NAME, request.headers.get("X-Auth-Token", ""))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(_error(401, "Unauthorized"))
        return account

    def own_book(account: state.SandboxAccount, login: str, book: str) -> str:
        if login != account.name or book != BOOK:
            raise pages.Refusal(_error(404, "Not Found"))
        return f"{login}/{book}"

    def doc_json(post: state.SandboxPost) -> dict[str, Any]:
        return {
            "id": int(post.id),
            "slug": post.extra["slug"],
            "title": post.title,
            "book_id": post.extra["book_id"],
            "public": post.extra["public"],
            "status": 1,
            "format": "markdown",
            "body": post.body,
        }

    def by_slug(namespace: str, slug: str) -> state.SandboxPost | None:
        return next(
            (
                p
                for p in sandbox.posts_of(NAME)
                if p.extra["namespace"] == namespace and p.extra["slug"] == slug
            ),
            None,
        )

    @router.get("/api/v2/user")
    async def me(request: Request) -> Response:
        account = await gate(request, "login")
        ident = int(state.secret_for(NAME, account.name, "id")[:6], 16)
        return JSONResponse({"data": {"id": ident, "login": account.name, "name": account.name}})

    @router.get("/api/v2/users/{login}/repos")
    async def repos(login: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        if login != account.name:
            return JSONResponse({"data": []})
        book = {"id": 1, "type": "Book", "slug": BOOK, "namespace": f"{login}/{BOOK}"}
        return JSONResponse({"data": [book]})

    @router.post("/api/v2/repos/{login}/{book}/docs")
    async def create(login: str, book: str, request: Request) -> Response:
        account = await gate(request, "publish")
        namespace = own_book(account, login, book)
        doc = await pages.json_payload(request)
        title, slug = str(doc.get("title") or "").strip(), str(doc.get("slug") or "")
        if not title:
            return _error(400, "title is required")
        if doc.get("format", "markdown") not in ("markdown", "html", "lake"):
            return _error(400, "format is invalid")
        if slug and (not re.fullmatch(r"[\w.-]{2,190}", slug) or by_slug(namespace, slug)):
            return _error(400, "slug is invalid or already taken")
        post_id = sandbox.new_id()
        public = 1 if doc.get("public", 1) else 0
        extra = {"slug": slug or post_id, "namespace": namespace, "book_id": 1, "public": public}
        post = state.SandboxPost(
            NAME, post_id, account.name, title, str(doc.get("body", "")), [], None, "published"
        )
        post.extra = extra
        post.url = f"{pages.root_url(request, PREFIX)}/{namespace}/{extra['slug']}"
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, "publish")
        return JSONResponse({"data": doc_json(post)})

    @router.get("/api/v2/repos/{login}/{book}/docs/{slug}")
    async def read(login: str, book: str, slug: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        post = by_slug(own_book(account, login, book), slug)
        if post is None:
            return _error(404, "Not Found")
        return JSONResponse({"data": doc_json(post)})

    @router.put("/api/v2/repos/{login}/{book}/docs/{doc_id}")
    async def update(login: str, book: str, doc_id: str, request: Request) -> Response:
        """An edit of a document in place (the OpenAPI's 更新文档): its id, not its slug."""
        account = await gate(request, "publish")
        namespace = own_book(account, login, book)
        post = sandbox.post(NAME, doc_id)
        if post is None or post.extra["namespace"] != namespace:
            return _error(404, "Not Found")
        doc = await pages.json_payload(request)
        if "title" in doc and not str(doc["title"]).strip():
            return _error(400, "title is required")
        post.title = str(doc.get("title", post.title))
        post.body = str(doc.get("body", post.body))
        if "public" in doc:
            post.extra["public"] = 1 if doc["public"] else 0
        post.extra["edits"] = post.extra.get("edits", 0) + 1
        await sandbox.after_commit(NAME, account.name, "publish")
        return JSONResponse({"data": doc_json(post)})

    @router.put("/api/v2/repos/{login}/{book}/toc")
    async def append_to_toc(login: str, book: str, request: Request) -> Response:
        account = await gate(request, "toc")
        namespace = own_book(account, login, book)
        change = await pages.json_payload(request)
        if change.get("action") != "appendNode":
            return _error(400, "action is invalid")
        ids = [str(i) for i in change.get("doc_ids") or []]
        if not ids or any(sandbox.post(NAME, i) is None for i in ids):
            return _error(400, "doc_ids is invalid")
        listed = toc.setdefault(namespace, [])
        listed += [i for i in ids if i not in listed]
        await sandbox.after_commit(NAME, account.name, "toc")
        return JSONResponse({"data": [{"type": "DOC", "doc_id": int(i)} for i in listed]})

    @router.get("/api/v2/repos/{login}/{book}/toc")
    async def read_toc(login: str, book: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        listed = toc.get(own_book(account, login, book), [])
        return JSONResponse({"data": [{"type": "DOC", "doc_id": int(i)} for i in listed]})

    @router.get("/{login}/{book}/{slug}")
    async def public_page(login: str, book: str, slug: str) -> Response:
        post = by_slug(f"{login}/{book}", slug)
        if post is not None and not post.extra["public"]:
            post = None
        return pages.post_page(post, markdown=True)

    return router
