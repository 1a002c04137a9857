"""A MetaWeblog blog (XML-RPC) under ``/metaweblog``, answering as WordPress's
``class-wp-xmlrpc-server.php`` does: ``blogger.getUsersBlogs``, ``blogger.deletePost``,
``metaWeblog.newMediaObject``/``newPost``/``editPost``/``getPost``/``getRecentPosts``, faults as
``<fault>`` structs (403 "Incorrect username or password.", 401/500 refusals, 404 unknown
post). Served at every engine's usual path (``/xmlrpc.php``, Typecho's ``/action/xmlrpc``,
Z-Blog's ``/zb_system/xml-rpc/index.php``, cnblogs's ``/metaweblog/<blog>``); public pages at
``/p/<id>``, uploads at ``/uploads/<file>``."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contenthub.sandbox import pages, state

NAME = "metaweblog"
PREFIX = "/metaweblog"
ACCOUNT_OPTIONS = {"engine": "wordpress"}  # the sandbox sits at the site's root
PATHS = ("/xmlrpc.php", "/action/xmlrpc", "/zb_system/xml-rpc/index.php", "/metaweblog/{blog}")


def credentials_for(name: str) -> dict[str, Any]:
    return {"username": name, "password": state.secret_for(NAME, name, "password")[:20]}


def login_key(credentials: dict[str, Any]) -> str:
    return f"{credentials.get('username', '')}:{credentials.get('password', '')}"


def blog_id(account: str) -> str:
    return str(int(state.secret_for(NAME, account, "blog")[:6], 16))


def _xml(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True, encoding="utf-8")
    return Response(body, status, headers=headers, media_type="text/xml; charset=UTF-8")


def _fault(code: int, message: str) -> Response:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True)
    return Response(body, 200, media_type="text/xml; charset=UTF-8")


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return _fault(403, "Incorrect username or password.")
    if fault.kind == "rate_limited":
        headers = {"Retry-After": f"{fault.retry_after:g}"}
        return Response("Too Many Requests", 429, headers=headers, media_type="text/plain")
    if fault.kind == "server_error":
        return Response("<h1>Error</h1>", fault.status, media_type="text/html")
    return _fault(500, fault.message)


Handler = Callable[[Request, list[Any]], Awaitable[Response]]


def _status(post: state.SandboxPost) -> str:
    """WordPress's ``post_status``: a post held for review is "pending"; one the editor
    refused goes back to "draft"."""
    if post.status != "published":
        return post.status
    return {"pending": "pending", "refused": "draft"}.get(post.review, "publish")


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    media: dict[int, str] = sandbox.extra.setdefault("metaweblog_media", {})

    async def gate(user: Any, password: Any, operation: str) -> state.SandboxAccount:
        account = sandbox.account(NAME, login_key({"username": user, "password": password}))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(_fault(403, "Incorrect username or password."))
        return account

    def own_post(account: state.SandboxAccount, post_id: Any) -> state.SandboxPost:
        post = sandbox.post(NAME, str(post_id))
        if post is None or post.account != account.name or post.status == "trash":
            raise pages.Refusal(_fault(404, "Invalid post ID."))
        return post

    def check_blog(account: state.SandboxAccount, blog: Any) -> None:
        if str(blog) != blog_id(account.name):
            raise pages.Refusal(_fault(401, "Sorry, you are not allowed to access this blog."))

    def post_struct(request: Request, post: state.SandboxPost) -> dict[str, Any]:
        created = datetime.fromtimestamp(post.created_at, UTC).replace(tzinfo=None)
        link = f"{pages.root_url(request, PREFIX)}/p/{post.id}"
        return {
            "postid": post.id,
            "title": post.title,
            "description": post.body,
            "link": link,
            "permaLink": link,
            "post_status": _status(post),
            "mt_keywords": ",".join(post.tags),
            "dateCreated": xmlrpc.client.DateTime(created),
            "date_created_gmt": xmlrpc.client.DateTime(created),
            "wp_post_thumbnail": post.extra.get("thumbnail", ""),
        }

    def apply(post: state.SandboxPost, struct: dict[str, Any], publish: bool) -> None:
        if not isinstance(struct, dict):
            raise pages.Refusal(_fault(-32602, "server error. invalid method parameters"))
        post.title = str(struct.get("title", post.title))
        post.body = str(struct.get("description", post.body))
        if "mt_keywords" in struct:
            post.tags = [t.strip() for t in str(struct["mt_keywords"]).split(",") if t.strip()]
        if struct.get("wp_post_thumbnail"):
            thumbnail = int(struct["wp_post_thumbnail"])
            # WordPress: set_post_thumbnail reports an unchanged thumbnail as a failure.
            if thumbnail not in media or post.extra.get("thumbnail") == thumbnail:
                raise pages.Refusal(_fault(404, "Invalid attachment ID."))
            post.extra["thumbnail"] = thumbnail
            post.cover = media[thumbnail]
        post.status = "published" if publish else "draft"
        if publish:  # as a WordPress contributor's post: kept "pending" while a hold is on
            sandbox.hold_for_review(post)

    async def get_users_blogs(request: Request, params: list[Any]) -> Response:
        _, user, password = params[:3]
        account = await gate(user, password, "login")
        url = f"{pages.root_url(request, PREFIX)}/"
        blog = {"isAdmin": True, "url": url, "blogid": blog_id(account.name)}
        return _xml([{**blog, "blogName": account.name, "xmlrpc": f"{url}xmlrpc.php"}])

    async def new_media_object(request: Request, params: list[Any]) -> Response:
        blog, user, password, data = params[:4]
        account = await gate(user, password, "image")
        check_blog(account, blog)
        bits = data.get("bits") if isinstance(data, dict) else None
        if not isinstance(bits, bytes) or not bits or not data.get("name"):
            return _fault(500, "Could not write file (empty).")
        media_id = int(sandbox.new_id())
        key = f"{media_id}-{data['name']}"
        sandbox.images[f"mw:{key}"] = state.StoredImage(bits, str(data.get("type", "")))
        url = f"{pages.root_url(request, PREFIX)}/uploads/{key}"
        media[media_id] = url
        return _xml({"id": str(media_id), "file": data["name"], "url": url, "type": data["type"]})

    async def new_post(request: Request, params: list[Any]) -> Response:
        blog, user, password, struct, publish = params[:5]
        operation = "publish" if publish else "draft"
        account = await gate(user, password, operation)
        check_blog(account, blog)
        post = state.SandboxPost(NAME, sandbox.new_id(), account.name, "", "", [], None, "draft")
        apply(post, struct, bool(publish))
        if not post.title.strip():
            return _fault(500, "Content, title, and excerpt are empty.")
        sandbox.save_post(post)
        post.url = post_struct(request, post)["link"]
        await sandbox.after_commit(NAME, account.name, operation)
        return _xml(post.id)

    async def edit_post(request: Request, params: list[Any]) -> Response:
        post_id, user, password, struct, publish = params[:5]
        operation = "publish" if publish else "draft"
        account = await gate(user, password, operation)
        post = own_post(account, post_id)
        apply(post, struct, bool(publish))
        post.url = post_struct(request, post)["link"]
        await sandbox.after_commit(NAME, account.name, operation)
        return _xml(True)

    async def get_post(request: Request, params: list[Any]) -> Response:
        post_id, user, password = params[:3]
        account = await gate(user, password, "lookup")
        return _xml(post_struct(request, own_post(account, post_id)))

    async def get_recent_posts(request: Request, params: list[Any]) -> Response:
        blog, user, password, count = params[:4]
        account = await gate(user, password, "lookup")
        check_blog(account, blog)
        mine = [p for p in sandbox.posts_of(NAME) if p.account == account.name]
        mine.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        return _xml([post_struct(request, p) for p in mine[: int(count)]])

    async def delete_post(request: Request, params: list[Any]) -> Response:
        _, post_id, user, password = params[:4]
        account = await gate(user, password, "draft")
        sandbox.delete_post(NAME, own_post(account, post_id).id)
        return _xml(True)

    methods: dict[str, tuple[int, Handler]] = {
        "blogger.getUsersBlogs": (3, get_users_blogs),
        "blogger.deletePost": (4, delete_post),
        "metaWeblog.newMediaObject": (4, new_media_object),
        "metaWeblog.newPost": (5, new_post),
        "metaWeblog.editPost": (5, edit_post),
        "metaWeblog.getPost": (3, get_post),
        "metaWeblog.getRecentPosts": (4, get_recent_posts),
    }

    async def endpoint(request: Request) -> Response:
        try:
            params, method = xmlrpc.client.loads(await request.body(), use_builtin_types=True)
        except (ExpatError, ValueError):
            return _fault(-32700, "parse error. not well formed")
        arity, handler = methods.get(method or "", (0, None))  # type: ignore[assignment]
        if handler is None:
            return _fault(-32601, f"server error. requested method {method} does not exist.")
        if len(params) < arity:
            return _fault(400, "Insufficient arguments passed to this XML-RPC method.")
        return await handler(request, list(params))

    for path in PATHS:
        router.add_api_route(path, endpoint, methods=["POST"])

    @router.get("/uploads/{key}")
    async def uploaded(key: str) -> Response:
        return pages.image_response(sandbox, f"mw:{key}")

    @router.get("/p/{post_id}")
    async def public_page(post_id: str) -> Response:
        return pages.post_page(sandbox.post(NAME, post_id))

    return router
