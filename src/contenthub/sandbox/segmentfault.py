"""SegmentFault 思否 as its editor's gateway answers (see ``platforms/segmentfault.py`` for the
references), each real host under ``/segmentfault/{host}``.

Checked: the ``PHPSESSID`` login cookie (pages redirect to ``/user/login`` without it, the
gateway answers ``Unauthorized``), the editor's ``token`` header on every gateway call (the one
``/write`` shows), Origin ``https://segmentfault.com``, tags by id and at least one of them to
publish, images as the multipart ``image`` field (png, jpeg, gif). A published draft remembers
its article (``object_id``) [I].
"""

from __future__ import annotations

import html
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from contenthub.sandbox import login, pages, state

NAME = "segmentfault"
PREFIX = "/segmentfault"
WEB, IMAGES = "/segmentfault.com", "image-static.segmentfault.com"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif"}


def credentials_for(name: str) -> dict[str, Any]:
    return {
        "cookies": {
            "PHPSESSID": state.secret_for(NAME, name, "session"),
            "sf_remember": state.secret_for(NAME, name, "remember"),
        }
    }


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="segmentfault.com",
    path="/user/login",
    home_host="segmentfault.com",
    home_path="/",
    session_cookie="PHPSESSID",
    other_cookies=lambda account: {"sf_remember": secrets.token_hex(16)},
)


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("cookies", {}).get("PHPSESSID", ""))


def editor_token(account: state.SandboxAccount) -> str:
    return state.secret_for(NAME, account.name, "editor-token")


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return Response("Unauthorized", 401, media_type="text/plain")
    if fault.kind == "rate_limited":
        # SegmentFault's throttle format was not found: a 429 with Retry-After [I].
        body = {"message": "操作太频繁，请稍后再试"}
        return pages.json_error(429, body, {"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return Response("<html>502 Bad Gateway</html>", fault.status, media_type="text/html")
    return pages.json_error(400, {"message": fault.message})  # a refusal's shape is a guess [I]


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    tags: dict[str, str] = sandbox.extra.setdefault("segmentfault_tags", {})

    def who(request: Request) -> state.SandboxAccount | None:
        return sandbox.account(NAME, request.cookies.get("PHPSESSID", ""))

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        """The caller's account for a gateway call; or a Refusal with SegmentFault's answer."""
        account = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None or request.headers.get("token") != editor_token(account):
            raise pages.Refusal(Response("Unauthorized", 401, media_type="text/plain"))
        if request.headers.get("origin") != "https://segmentfault.com":
            raise pages.Refusal(pages.json_error(403, {"message": "forbidden origin"}))
        return account

    async def page_gate(request: Request) -> state.SandboxAccount:
        account = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, "login")
        if fault is not None and fault.kind != "login_expired":
            raise pages.Refusal(fault_answer(fault))
        if account is None or fault is not None:
            root = pages.root_url(request, PREFIX)
            raise pages.Refusal(RedirectResponse(f"{root}{WEB}/user/login", 302))
        return account

    def own_draft(account: state.SandboxAccount, draft_id: str) -> state.SandboxPost:
        post = sandbox.post(NAME, draft_id)
        if post is None or post.account != account.name:
            raise pages.Refusal(pages.json_error(404, {"message": "草稿不存在"}))
        return post

    @router.get(f"{WEB}/user/settings")
    async def settings(request: Request) -> Response:
        account = await page_gate(request)
        name = html.escape(account.name)
        answer = HTMLResponse(f'<!doctype html><a class="user" href="/u/{name}">{name}</a>')
        return pages.refresh_login(answer, request, "PHPSESSID", "segmentfault.com")

    @router.get(f"{WEB}/write")
    async def write(request: Request) -> Response:
        account = await page_gate(request)
        data = f'{{"props":{{"serverData":{{"Token":"{editor_token(account)}"}}}}}}'
        return HTMLResponse(f'<!doctype html><script id="__NEXT_DATA__">{data}</script>')

    @router.get(f"{WEB}/gateway/tags")
    async def tag_search(request: Request, q: str = "") -> Response:
        await gate(request, "draft")
        word = q.strip()
        if not word:
            return JSONResponse({"rows": []})
        tag_id = str(int(state.secret_for(NAME, word.lower(), "tag")[:12], 16))
        tags.setdefault(tag_id, word.lower())
        return JSONResponse({"rows": [{"id": tag_id, "name": tags[tag_id]}]})

    @router.post(f"{WEB}/gateway/image")
    async def image(request: Request) -> Response:
        await gate(request, "image")
        file = (await request.form()).get("image")
        if not isinstance(file, UploadFile) or file.content_type not in IMAGE_TYPES:
            return JSONResponse([1, "图片格式不支持"])
        key = f"{sandbox.new_id()}"
        sandbox.images[f"segmentfault:{key}"] = state.StoredImage(
            await file.read(), str(file.content_type)
        )
        url = f"{pages.root_url(request, PREFIX)}/{IMAGES}/{key}"
        return JSONResponse({"url": f"/img/{key}", "result": url})

    @router.get(f"/{IMAGES}/{{key}}")
    async def image_file(key: str) -> Response:
        return pages.image_response(sandbox, f"segmentfault:{key}")

    @router.post(f"{WEB}/gateway/draft")
    async def draft_create(request: Request) -> Response:
        account = await gate(request, "draft")
        payload = await pages.json_payload(request)
        if not str(payload.get("title", "")).strip() or payload.get("type") != "article":
            return JSONResponse([1, "标题不能为空"])
        post = state.SandboxPost(NAME, sandbox.new_id(), account.name, "", "", [], None, "draft")
        post.title, post.body = str(payload["title"]), str(payload.get("text", ""))
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, "draft")
        return JSONResponse({"id": post.id}, 201)

    @router.get(f"{WEB}/gateway/drafts")
    async def draft_list(request: Request) -> Response:
        """The account's drafts, newest first [I]."""
        account = await gate(request, "lookup")
        rows = [
            {"id": p.id, "title": p.title, "created": int(p.created_at)}
            for p in sandbox.drafts_of(NAME, account.name)
        ]
        return JSONResponse({"rows": rows, "total": len(rows)})

    @router.get(f"{WEB}/gateway/draft/{{draft_id}}")
    async def draft_view(draft_id: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        post = own_draft(account, draft_id)
        article_id = post.extra.get("post_id", "")
        return JSONResponse({"id": post.id, "title": post.title, "object_id": article_id})

    @router.delete(f"{WEB}/gateway/draft/{{draft_id}}")
    async def draft_delete(draft_id: str, request: Request) -> Response:
        account = await gate(request, "draft")
        post = own_draft(account, draft_id)
        if post.status != "draft":
            return pages.json_error(400, {"message": "已发布的草稿不能删除"})
        sandbox.delete_post(NAME, post.id)
        return Response(status_code=204)

    @router.post(f"{WEB}/gateway/article")
    async def publish(request: Request) -> Response:
        account = await gate(request, "publish")
        payload = await pages.json_payload(request)
        post = own_draft(account, str(payload.get("draft_id", "")))
        tag_ids = payload.get("tags") or []
        if not tag_ids or any(str(t) not in tags for t in tag_ids):
            return pages.json_error(400, {"message": "请至少添加一个标签"})
        if not str(payload.get("title", "")).strip() or not str(payload.get("text", "")).strip():
            return pages.json_error(400, {"message": "标题和内容不能为空"})
        post.title, post.body = str(payload["title"]), str(payload["text"])
        post.tags = [tags[str(t)] for t in tag_ids]
        post.cover = payload.get("cover") or None
        post.extra.setdefault("post_id", str(int(post.id) * 3))
        post.status = "published"
        post.url = f"{pages.root_url(request, PREFIX)}{WEB}/a/{post.extra['post_id']}"
        await sandbox.after_commit(NAME, account.name, "publish")
        article_id = post.extra["post_id"]
        return JSONResponse({"id": article_id, "url": f"/a/{article_id}"}, 201)

    @router.get(f"{WEB}/a/{{article_id}}")
    async def public_page(article_id: str) -> Response:
        posts = sandbox.posts_of(NAME)
        found = next((p for p in posts if p.extra.get("post_id") == article_id), None)
        return pages.post_page(found, markdown=True)

    return router
