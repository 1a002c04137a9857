"""A Ghost site's Admin API (https://ghost.org/docs/admin-api/) under ``/ghost``: the
``Authorization: Ghost <JWT>`` token checked as Ghost checks it (HS256 with the key's secret,
``kid`` naming the key, ``aud`` ``/admin/``, at most 5 minutes long), posts created from HTML,
published with the ``updated_at`` collision check (409), image uploads, Ghost's error shape,
and the public ``/<slug>/`` page (a draft's preview is ``/p/<uuid>/``). Unlike a real Ghost,
whose ``/site/`` is public, ``/site/`` here needs the token: one sandbox serves every
account's site, and the token tells which."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contenthub.sandbox import pages, state

NAME = "ghost"
PREFIX = "/ghost"
API = "/ghost/api/admin"
TOKEN_SECONDS = 300


def credentials_for(name: str) -> dict[str, Any]:
    key_id = state.secret_for(NAME, name, "key-id")[:24]
    secret = state.secret_for(NAME, name, "secret-1") + state.secret_for(NAME, name, "secret-2")
    return {"admin_api_key": f"{key_id}:{secret[:64]}"}


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("admin_api_key", "")).partition(":")[0]


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None):
    body = {"errors": [{"message": message, "type": kind, "context": None}]}
    return pages.json_error(status, body, headers)


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return _error(401, "UnauthorizedError", "Invalid token: invalid signature")
    if fault.kind == "rate_limited":
        headers = {"Retry-After": f"{fault.retry_after:g}"}
        return _error(429, "TooManyRequestsError", "Too many requests.", headers)
    if fault.kind == "server_error":
        return _error(fault.status, "InternalServerError", "An unexpected error occurred.")
    return _error(422, "ValidationError", fault.message)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    def who(request: Request) -> tuple[state.SandboxAccount | None, str | None]:
        """The token's account, or why the token is refused."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Ghost" or not token:
            return None, 'Authorization header format is "Authorization: Ghost [token]"'
        try:
            key_id = str(jwt.get_unverified_header(token).get("kid", ""))
        except jwt.PyJWTError:
            return None, "Invalid token"
        account = sandbox.account(NAME, key_id)
        if account is None:
            return None, "Unknown Admin API Key"
        secret = bytes.fromhex(account.credentials["admin_api_key"].partition(":")[2])
        try:
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], audience="/admin/",
                options={"require": ["iat", "exp", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            return None, f"Invalid token: {error}"
        if claims["exp"] - claims["iat"] > TOKEN_SECONDS:
            return None, "Invalid token: token lifetime is too long"
        return account, None

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        account, why = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(_error(401, "UnauthorizedError", why or "Invalid token"))
        return account

    def post_json(request: Request, post: state.SandboxPost) -> dict[str, Any]:
        root = pages.root_url(request, PREFIX)
        live = post.status == "published"
        return {
            "id": post.id,
            "uuid": post.extra["uuid"],
            "title": post.title,
            "slug": post.extra["slug"],
            "html": post.body,
            "status": post.status,
            "url": f"{root}/{post.extra['slug']}/" if live else f"{root}/p/{post.extra['uuid']}/",
            "tags": [{"name": t, "slug": t.lower()} for t in post.tags],
            "feature_image": post.cover,
            "custom_excerpt": post.extra.get("custom_excerpt"),
            "codeinjection_foot": post.extra.get("codeinjection_foot"),
            "created_at": _iso(post.created_at),
            "updated_at": post.extra["updated_at"],
        }

    def own(account: state.SandboxAccount, post_id: str) -> state.SandboxPost:
        post = sandbox.post(NAME, post_id)
        if post is None or post.account != account.name:
            raise pages.Refusal(_error(404, "NotFoundError", "Post not found."))
        return post

    def apply(post: state.SandboxPost, fields: dict[str, Any]) -> None:
        post.title = str(fields.get("title", post.title))
        post.body = str(fields.get("html", post.body))
        if "tags" in fields:
            post.tags = [str(t["name"] if isinstance(t, dict) else t) for t in fields["tags"]]
        if "feature_image" in fields:
            post.cover = fields["feature_image"]
        for key in ("custom_excerpt", "codeinjection_foot"):
            if key in fields:
                post.extra[key] = fields[key]
        if fields.get("status") in ("draft", "published"):
            post.status = fields["status"]
        post.extra["updated_at"] = _iso(time.time())

    def first_post(payload: dict[str, Any]) -> dict[str, Any]:
        posts = payload.get("posts")
        if not isinstance(posts, list) or not posts or not isinstance(posts[0], dict):
            raise pages.Refusal(_error(422, "ValidationError", "No root key ('posts') provided."))
        return posts[0]

    @router.get(f"{API}/site/")
    async def site(request: Request) -> Response:
        account = await gate(request, "login")
        root = pages.root_url(request, PREFIX)
        return JSONResponse({"site": {"title": account.name, "url": f"{root}/", "version": "5.0"}})

    @router.get(f"{API}/posts/")
    async def browse(
        request: Request, filter: str = "", limit: int = 15, order: str = ""
    ) -> Response:
        account = await gate(request, "lookup" if filter else "login")
        status = re.fullmatch(r"status:(\w+)", filter)
        mine = [
            p
            for p in sandbox.posts_of(NAME)
            if p.account == account.name and (status is None or p.status == status.group(1))
        ]
        mine.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        return JSONResponse({"posts": [post_json(request, p) for p in mine[:limit]]})

    @router.post(f"{API}/posts/")
    async def add(request: Request, source: str = "") -> Response:
        fields = first_post(await pages.json_payload(request))
        operation = "publish" if fields.get("status") == "published" else "draft"
        account = await gate(request, operation)
        if not str(fields.get("title", "")).strip():
            return _error(422, "ValidationError", "Value in [posts.title] cannot be blank.")
        if source != "html" and "html" in fields:
            return _error(422, "ValidationError", "html is ignored without ?source=html")
        post_id = uuid.uuid4().hex[:24]
        slug = re.sub(r"[^a-z0-9]+", "-", str(fields["title"]).lower()).strip("-") or "untitled"
        post = state.SandboxPost(NAME, post_id, account.name, "", "", [], None, "draft")
        post.extra.update(uuid=str(uuid.uuid4()), slug=f"{slug}-{post_id[-4:]}")
        apply(post, fields)
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, operation)
        return JSONResponse({"posts": [post_json(request, post)]}, 201)

    @router.get(f"{API}/posts/{{post_id}}/")
    async def read(post_id: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        return JSONResponse({"posts": [post_json(request, own(account, post_id))]})

    @router.put(f"{API}/posts/{{post_id}}/")
    async def edit(post_id: str, request: Request) -> Response:
        fields = first_post(await pages.json_payload(request))
        operation = "publish" if fields.get("status") == "published" else "draft"
        account = await gate(request, operation)
        post = own(account, post_id)
        if fields.get("updated_at") != post.extra["updated_at"]:
            message = "Saving failed! Someone else is editing this post."
            return _error(409, "UpdateCollisionError", message)
        apply(post, fields)
        await sandbox.after_commit(NAME, account.name, operation)
        return JSONResponse({"posts": [post_json(request, post)]})

    @router.delete(f"{API}/posts/{{post_id}}/")
    async def remove(post_id: str, request: Request) -> Response:
        account = await gate(request, "draft")
        sandbox.delete_post(NAME, own(account, post_id).id)
        return Response(status_code=204)

    @router.post(f"{API}/images/upload/")
    async def upload(request: Request) -> Response:
        await gate(request, "image")
        form = await request.form()
        file = form.get("file")
        if file is None or isinstance(file, str):
            return _error(422, "ValidationError", "Please select an image.")
        data = await file.read()
        if not data:
            return _error(415, "UnsupportedMediaTypeError", "Please select a valid image.")
        key = f"{sandbox.new_id()}-{file.filename}"
        sandbox.images[f"ghost:{key}"] = state.StoredImage(data, file.content_type or "")
        url = f"{pages.root_url(request, PREFIX)}/content/images/{key}"
        return JSONResponse({"images": [{"url": url, "ref": form.get("ref")}]}, 201)

    @router.get("/content/images/{key}")
    async def image(key: str) -> Response:
        return pages.image_response(sandbox, f"ghost:{key}")

    @router.get("/{slug}/")
    async def public_page(slug: str) -> Response:
        found = next((p for p in sandbox.posts_of(NAME) if p.extra.get("slug") == slug), None)
        return pages.post_page(found)

    return router
