"""A WordPress site's REST API (platforms.md §9) under ``/wordpress``: Basic auth with an
application password, media uploads, tags by id, posts, and the public ``/?p=ID`` page."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contenthub.sandbox import pages, state

NAME = "wordpress"
PREFIX = "/wordpress"
API = "/wp-json/wp/v2"
STATUSES = {"draft", "publish", "pending", "private", "future"}


def credentials_for(name: str) -> dict[str, Any]:
    raw = state.secret_for(NAME, name, "app")[:24]
    return {"username": name, "app_password": " ".join(re.findall(".{4}", raw))}


def login_key(credentials: dict[str, Any]) -> str:
    password = str(credentials.get("app_password", "")).replace(" ", "")
    return f"{credentials.get('username', '')}:{password}"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return pages.json_error(
        status, {"code": code, "message": message, "data": {"status": status}}, headers
    )


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return _error(
            401, "incorrect_password", "The provided password is an invalid application password."
        )
    if fault.kind == "rate_limited":
        return _error(
            429,
            "rest_rate_limited",
            "Too many requests.",
            {"Retry-After": f"{fault.retry_after:g}"},
        )
    if fault.kind == "server_error":
        return _error(
            fault.status,
            "internal_server_error",
            "There has been a critical error on this website.",
        )
    return _error(403, "rest_cannot_publish", fault.message)


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    tags: dict[int, str] = sandbox.extra.setdefault("wordpress_tags", {})
    media: dict[int, str] = sandbox.extra.setdefault("wordpress_media", {})
    # What WordPress knows of each upload: its author (account name) and the post it is attached to.
    media_info: dict[int, dict[str, Any]] = sandbox.extra.setdefault("wordpress_media_info", {})

    def who(request: Request) -> state.SandboxAccount | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return sandbox.account(NAME, login_key({"username": user, "app_password": password}))

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        """The caller's account; or a Refusal with WordPress's answer."""
        account = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None and request.headers.get("authorization"):
            raise pages.Refusal(
                _error(
                    401,
                    "incorrect_password",
                    "The provided password is an invalid application password.",
                )
            )
        if account is None:
            raise pages.Refusal(
                _error(401, "rest_not_logged_in", "You are not currently logged in.")
            )
        return account

    def post_json(request: Request, post: state.SandboxPost) -> dict[str, Any]:
        return {
            "id": int(post.id),
            "status": "publish" if post.status == "published" else post.status,
            "link": f"{pages.root_url(request, PREFIX)}/?p={post.id}",
            "title": {"raw": post.title, "rendered": post.title},
            "content": {"raw": post.body, "rendered": post.body},
            "tags": post.extra.get("tag_ids", []),
            "featured_media": post.extra.get("featured_media", 0),
            "date_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(post.created_at)),
        }

    def user_id(account: state.SandboxAccount) -> int:
        return int(state.secret_for(NAME, account.name, "id")[:6], 16)

    def media_json(media_id: int) -> dict[str, Any]:
        info = media_info.get(media_id, {})
        return {
            "id": media_id,
            "source_url": media[media_id],
            "media_type": "image",
            "post": info.get("post", 0),
            "author": info.get("author_id", 0),
            "media_details": {},
        }

    @router.get(f"{API}/users/me")
    async def me(request: Request) -> Response:
        account = await gate(request, "login")
        return JSONResponse({"id": user_id(account), "name": account.name, "slug": account.name})

    @router.get(f"{API}/media")
    async def media_list(request: Request, search: str = "", author: int = 0) -> Response:
        """The media library: uploads whose file name has ``search``, of user ``author``."""
        account = await gate(request, "media")
        mine = user_id(account)  # each sandbox account is a site of its own
        found = [
            media_json(i)
            for i, url in media.items()
            if search in url.rsplit("/", 1)[-1]
            and media_info.get(i, {}).get("author_id") == mine
            and (not author or author == mine)
        ]
        return JSONResponse(found)

    @router.post(f"{API}/media/{{media_id}}")
    async def media_update(media_id: int, request: Request) -> Response:
        account = await gate(request, "media")
        if media_id not in media or media_info.get(media_id, {}).get("author_id") != user_id(
            account
        ):
            return _error(404, "rest_post_invalid_id", "Invalid post ID.")
        payload = await pages.json_payload(request)
        if "post" in payload:
            media_info[media_id]["post"] = int(payload["post"])
        return JSONResponse(media_json(media_id))

    @router.post(f"{API}/media")
    async def media_upload(request: Request) -> Response:
        account = await gate(request, "image")
        match = re.search(r'filename="?([^";]+)"?', request.headers.get("content-disposition", ""))
        if match is None:
            return _error(
                400, "rest_upload_no_content_disposition", "No Content-Disposition supplied."
            )
        data = await request.body()
        if not data:
            return _error(400, "rest_upload_no_data", "No data supplied.")
        media_id = int(sandbox.new_id())
        key = f"{media_id}-{match.group(1)}"
        sandbox.images[f"wp:{key}"] = state.StoredImage(
            data, request.headers.get("content-type", "")
        )
        url = f"{pages.root_url(request, PREFIX)}/wp-content/uploads/{key}"
        media[media_id] = url
        media_info[media_id] = {"author_id": user_id(account), "post": 0}
        return JSONResponse(media_json(media_id), 201)

    @router.get("/wp-content/uploads/{key}")
    async def uploaded(key: str) -> Response:
        return pages.image_response(sandbox, f"wp:{key}")

    @router.get(f"{API}/tags")
    async def tag_search(request: Request, search: str = "") -> Response:
        await gate(request, "tags")
        found = [{"id": i, "name": n} for i, n in tags.items() if search.lower() in n.lower()]
        return JSONResponse(found)

    @router.post(f"{API}/tags")
    async def tag_create(request: Request) -> Response:
        await gate(request, "tags")
        name = str((await pages.json_payload(request)).get("name", "")).strip()
        if not name:
            return _error(400, "rest_missing_callback_param", "Missing parameter(s): name")
        existing = next((i for i, n in tags.items() if n.lower() == name.lower()), None)
        if existing is not None:
            body = {
                "code": "term_exists",
                "message": "A term with the name provided already exists.",
                "data": {"status": 400, "term_id": existing},
            }
            return pages.json_error(400, body)
        tag_id = int(sandbox.new_id())
        tags[tag_id] = name
        return JSONResponse({"id": tag_id, "name": name}, 201)

    def valid(payload: dict[str, Any]) -> Response | None:
        if "status" in payload and payload["status"] not in STATUSES:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): status")
        if any(t not in tags for t in payload.get("tags", [])):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): tags")
        if payload.get("featured_media") and payload["featured_media"] not in media:
            return _error(400, "rest_invalid_featured_media", "Invalid featured media ID.")
        return None

    def apply(post: state.SandboxPost, payload: dict[str, Any]) -> None:
        post.title = str(payload.get("title", post.title))
        post.body = str(payload.get("content", post.body))
        post.extra["excerpt"] = str(payload.get("excerpt", post.extra.get("excerpt", "")))
        if "tags" in payload:
            post.extra["tag_ids"] = list(payload["tags"])
            post.tags = [tags[t] for t in payload["tags"]]
        if payload.get("featured_media"):
            post.extra["featured_media"] = payload["featured_media"]
            post.cover = media[payload["featured_media"]]
        if "status" in payload:
            post.status = "published" if payload["status"] == "publish" else payload["status"]

    @router.post(f"{API}/posts")
    async def post_create(request: Request) -> Response:
        payload = await pages.json_payload(request)
        operation = "publish" if payload.get("status") == "publish" else "draft"
        account = await gate(request, operation)
        if invalid := valid(payload):
            return invalid
        post = state.SandboxPost(NAME, sandbox.new_id(), account.name, "", "", [], None, "draft")
        apply(post, payload)
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, operation)
        return JSONResponse(post_json(request, post), 201)

    @router.get(f"{API}/posts")
    async def post_list(
        request: Request, status: str = "publish", search: str = "", per_page: int = 10
    ) -> Response:
        """The user's posts of one status, newest first, whose title or content has ``search``."""
        account = await gate(request, "lookup")
        wanted = "published" if status == "publish" else status
        posts = [
            p
            for p in sandbox.posts_of(NAME)
            if p.account == account.name
            and p.status == wanted
            and (search in p.title or search in p.body)
        ]
        posts.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        return JSONResponse([post_json(request, p) for p in posts[:per_page]])

    @router.delete(f"{API}/posts/{{post_id}}")
    async def post_delete(post_id: str, request: Request, force: bool = False) -> Response:
        account = await gate(request, "draft")
        post = sandbox.post(NAME, post_id)
        if post is None or post.account != account.name:
            return _error(404, "rest_post_invalid_id", "Invalid post ID.")
        if force:
            sandbox.delete_post(NAME, post.id)
        else:
            post.status = "trash"
        return JSONResponse({"deleted": True, "previous": post_json(request, post)})

    @router.get(f"{API}/posts/{{post_id}}")
    async def post_get(post_id: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        post = sandbox.post(NAME, post_id)
        if post is None or post.account != account.name:
            return _error(404, "rest_post_invalid_id", "Invalid post ID.")
        return JSONResponse(post_json(request, post))

    @router.post(f"{API}/posts/{{post_id}}")
    async def post_update(post_id: str, request: Request) -> Response:
        payload = await pages.json_payload(request)
        operation = "publish" if payload.get("status") == "publish" else "draft"
        account = await gate(request, operation)
        post = sandbox.post(NAME, post_id)
        if post is None or post.account != account.name:
            return _error(404, "rest_post_invalid_id", "Invalid post ID.")
        if invalid := valid(payload):
            return invalid
        apply(post, payload)
        await sandbox.after_commit(NAME, account.name, operation)
        return JSONResponse(post_json(request, post))

    @router.get("/")
    async def public_page(p: str = "") -> Response:
        # WordPress prints the title, excerpt and tag names as HTML, as they are stored.
        return pages.post_page(sandbox.post(NAME, p), summary_field="excerpt", fields_are_html=True)

    return router
