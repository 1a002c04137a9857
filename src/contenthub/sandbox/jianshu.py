"""简书 Jianshu as its writer's web API answers (see ``platforms/jianshu.py`` for the
references), each real host under ``/jianshu/{host}``.

Checked: the ``remember_user_token`` login cookie, Origin ``https://www.jianshu.com``, notes
only in the account's own notebooks, ``autosave_control`` one more than the note's version (an
older one is refused as a conflict [I]), an image upload's Qiniu token and key, a title and
content before ``publicize``. Error answers are ``{"error": [{code, message}]}``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from contenthub.sandbox import login, pages, state

NAME = "jianshu"
PREFIX = "/jianshu"
WEB, QINIU, CDN = "/www.jianshu.com", "/upload.qiniup.com", "upload-images.jianshu.io"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif"}
NOT_LOGGED_IN = 401


def credentials_for(name: str) -> dict[str, Any]:
    return {
        "cookies": {
            "remember_user_token": state.secret_for(NAME, name, "remember"),
            "_m7e_session_core": state.secret_for(NAME, name, "session"),
        }
    }


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="www.jianshu.com",
    path="/sign_in",
    home_host="www.jianshu.com",
    home_path="/",
    session_cookie="remember_user_token",
    other_cookies=lambda account: {"_m7e_session_core": secrets.token_hex(16)},
)


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("cookies", {}).get("remember_user_token", ""))


def error(status: int, message: str, code: int = 0, headers: dict | None = None) -> Response:
    return pages.json_error(status, {"error": [{"code": code, "message": message}]}, headers)


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return error(NOT_LOGGED_IN, "请先登录", 1)
    if fault.kind == "rate_limited":
        # Jianshu's throttle answer was not found: a 429 with Retry-After [I].
        return error(429, "操作过于频繁", 2, {"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return Response("<html>502 Bad Gateway</html>", fault.status, media_type="text/html")
    return error(422, fault.message, 3)  # a refusal's status is a guess [I]


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    upload_keys: dict[str, str] = sandbox.extra.setdefault("jianshu_uploads", {})

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        account = sandbox.account(NAME, request.cookies.get("remember_user_token", ""))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(error(NOT_LOGGED_IN, "请先登录", 1))
        if request.headers.get("origin") != "https://www.jianshu.com":
            raise pages.Refusal(error(403, "forbidden origin"))
        return account

    def notebook_of(account: state.SandboxAccount) -> str:
        return str(int(state.secret_for(NAME, account.name, "notebook")[:8], 16))

    def own_note(account: state.SandboxAccount, note_id: str) -> state.SandboxPost:
        post = sandbox.post(NAME, note_id)
        if post is None or post.account != account.name:
            raise pages.Refusal(error(404, "文章不存在"))
        return post

    @router.get(f"{WEB}/settings/basic.json")
    async def basic(request: Request) -> Response:
        account = await gate(request, "login")
        answer = JSONResponse({"data": {"nickname": account.name, "avatar": ""}})
        return pages.refresh_login(answer, request, "remember_user_token", "jianshu.com")

    @router.get(f"{WEB}/author/notebooks")
    async def notebooks(request: Request) -> Response:
        account = await gate(request, "login")
        return JSONResponse([{"id": int(notebook_of(account)), "name": "日记本"}])

    @router.get(f"{WEB}/author/notebooks/{{notebook_id}}/notes")
    async def notes(notebook_id: str, request: Request) -> Response:
        account = await gate(request, "lookup")
        if notebook_id != notebook_of(account):
            return error(404, "文集不存在")
        mine = [p for p in sandbox.posts_of(NAME) if p.account == account.name]
        return JSONResponse(
            [
                {
                    "id": int(p.id),
                    "slug": p.extra["slug"],
                    "title": p.title,
                    "notebook_id": int(notebook_id),
                    "shared": p.status == "published",
                    "autosave_control": p.extra.get("version", 0),
                    "content_updated_at": int(p.created_at),
                    "note_type": 1,  # rich text
                }
                for p in sorted(mine, key=lambda p: p.created_at, reverse=True)
            ]
        )

    @router.post(f"{WEB}/author/notes")
    async def create(request: Request) -> Response:
        account = await gate(request, "draft")
        payload = await pages.json_payload(request)
        if str(payload.get("notebook_id", "")) != notebook_of(account):
            return error(422, "文集不存在")
        post = state.SandboxPost(NAME, sandbox.new_id(), account.name, "", "", [], None, "draft")
        post.title = str(payload.get("title") or "无标题文章")
        post.extra.update(slug=secrets.token_hex(6), version=0)
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, "draft")
        return JSONResponse({"id": int(post.id), "slug": post.extra["slug"], "title": post.title})

    @router.put(f"{WEB}/author/notes/{{note_id}}")
    async def update(note_id: str, request: Request) -> Response:
        account = await gate(request, "draft")
        post = own_note(account, note_id)
        payload = await pages.json_payload(request)
        version = payload.get("autosave_control")
        if not isinstance(version, int) or version <= post.extra.get("version", 0):
            return error(409, "文章已在其他地方被修改，请刷新")
        post.title = str(payload.get("title", post.title))
        post.body = str(payload.get("content", post.body))
        post.extra["version"] = version
        return JSONResponse(
            {"id": int(post.id), "content_size_status": "fine", "autosave_control": version}
        )

    @router.post(f"{WEB}/author/notes/{{note_id}}/publicize")
    async def publicize(note_id: str, request: Request) -> Response:
        account = await gate(request, "publish")
        post = own_note(account, note_id)
        if not post.title.strip() or not post.body.strip():
            return error(422, "标题和正文不能为空")
        post.status = "published"
        post.url = f"{pages.root_url(request, PREFIX)}{WEB}/p/{post.extra['slug']}"
        await sandbox.after_commit(NAME, account.name, "publish")
        return JSONResponse({"last_compiled_at": int(post.created_at)})

    @router.post(f"{WEB}/author/notes/{{note_id}}/soft_destroy")
    async def soft_destroy(note_id: str, request: Request) -> Response:
        account = await gate(request, "draft")
        post = own_note(account, note_id)
        sandbox.delete_post(NAME, post.id)
        return Response(status_code=204)

    @router.get(f"{WEB}/p/{{slug}}")
    async def public_page(slug: str) -> Response:
        posts = sandbox.posts_of(NAME)
        return pages.post_page(next((p for p in posts if p.extra.get("slug") == slug), None))

    # -- images: an upload token from Jianshu, the file to Qiniu ---------------------------

    @router.get(f"{WEB}/upload_images/token.json")
    async def upload_token(request: Request, filename: str = "") -> Response:
        account = await gate(request, "image")
        key = f"{sandbox.new_id()}-{secrets.token_hex(4)}.{filename.rsplit('.', 1)[-1] or 'png'}"
        token = state.secret_for(NAME, f"{account.name}:{key}", "qiniu")
        upload_keys[token] = key
        return JSONResponse({"token": token, "key": key})

    @router.post(f"{QINIU}/")
    async def qiniu(request: Request) -> Response:
        form = await request.form()
        token, file = str(form.get("token", "")), form.get("file")
        if upload_keys.get(token) != form.get("key"):
            return JSONResponse({"error": "bad token"}, 401)
        if not isinstance(file, UploadFile) or file.content_type not in IMAGE_TYPES:
            return JSONResponse({"error": "file type not allowed"}, 400)
        key = upload_keys.pop(token)
        sandbox.images[f"jianshu:{key}"] = state.StoredImage(
            await file.read(), str(file.content_type)
        )
        url = f"{pages.root_url(request, PREFIX)}/{CDN}/upload_images/{key}"
        return JSONResponse({"key": key, "url": url})

    @router.get(f"/{CDN}/upload_images/{{key}}")
    async def cdn(key: str) -> Response:
        return pages.image_response(sandbox, f"jianshu:{key}")

    return router
