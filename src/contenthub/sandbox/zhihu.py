"""Zhihu (知乎 专栏) as platforms.md §2 describes it, each real host under ``/zhihu/{host}``.

Checked: the ``z_c0`` login cookie, ``x-requested-with: fetch`` on API calls, ``x-xsrftoken``
equal to the ``_xsrf`` cookie on writes, and the Aliyun OSS V1 signature of image uploads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contenthub.sandbox import login, pages, state

NAME = "zhihu"
PREFIX = "/zhihu"
BUCKET = "zhihu-pics"
ANTI_BOT = {"error": {"message": "请求参数异常，请升级客户端后重试。", "code": 10003}}
NO_AUTH = {"error": {"code": 100, "name": "ZERR_NO_AUTH_TOKEN", "message": "请求头或参数封装错误"}}


def credentials_for(name: str) -> dict[str, Any]:
    return {
        "cookies": {
            "z_c0": state.secret_for(NAME, name, "z_c0"),
            "d_c0": state.secret_for(NAME, name, "d_c0"),
            "_xsrf": state.secret_for(NAME, name, "xsrf"),
        }
    }


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="www.zhihu.com",
    path="/signin",
    home_host="www.zhihu.com",
    home_path="/",
    session_cookie="z_c0",
    other_cookies=lambda account: {
        "_xsrf": secrets.token_hex(16),
        "d_c0": state.secret_for(NAME, account.name, "d_c0"),
    },
)


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("cookies", {}).get("z_c0", ""))


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return pages.json_error(401, NO_AUTH)
    if fault.kind == "rate_limited":
        # Zhihu's own throttle format was not found; a plain 429 with Retry-After [I].
        body = {"error": {"code": 10005, "message": "请求过于频繁，请稍后再试"}}
        return pages.json_error(429, body, {"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return pages.json_error(fault.status, {"error": {"code": 500, "message": "服务器开小差了"}})
    # Publish failures come back as HTTP 200 with a non-zero code.
    return JSONResponse({"code": 403, "message": fault.message, "data": None})


def _oss_signature_ok(request: Request, object_key: str, secret: str, access_id: str) -> bool:
    oss_headers = "".join(
        f"{name}:{request.headers[name].strip()}\n"
        for name in sorted(h for h in request.headers if h.startswith("x-oss-"))
    )
    to_sign = (
        f"PUT\n{request.headers.get('content-md5', '')}\n{request.headers.get('content-type', '')}"
        f"\n{request.headers.get('x-oss-date', '')}\n{oss_headers}/{BUCKET}/{object_key}"
    )
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    expected = f"OSS {access_id}:{base64.b64encode(digest).decode()}"
    return hmac.compare_digest(request.headers.get("authorization", ""), expected)


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    uploads: dict[str, dict[str, str]] = sandbox.extra.setdefault("zhihu_uploads", {})

    def who(request: Request) -> state.SandboxAccount | None:
        return sandbox.account(NAME, request.cookies.get("z_c0", ""))

    async def gate(request: Request, operation: str, *, write: bool) -> state.SandboxAccount:
        """The caller's account; or a Refusal with Zhihu's answer."""
        account = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if request.headers.get("x-requested-with") != "fetch":
            raise pages.Refusal(pages.json_error(403, ANTI_BOT))
        if account is None:
            raise pages.Refusal(pages.json_error(401, NO_AUTH))
        if write and request.headers.get("x-xsrftoken") != request.cookies.get("_xsrf"):
            raise pages.Refusal(pages.json_error(403, ANTI_BOT))
        return account

    def article_json(request: Request, post: state.SandboxPost) -> dict[str, Any]:
        url = f"{pages.root_url(request, PREFIX)}/zhuanlan.zhihu.com/p/{post.id}"
        return {
            "id": int(post.id),
            "title": post.title,
            "content": post.body,
            "url": url,
            "state": post.status,
            "created": 0,
        }

    @router.get("/www.zhihu.com/api/v4/me")
    async def me(request: Request) -> Response:
        account = await gate(request, "login", write=False)
        return JSONResponse(
            {"id": account.user_id, "uid": account.user_id, "name": account.name, "avatar_url": ""}
        )

    @router.post("/api.zhihu.com/images")
    async def image_apply(request: Request) -> Response:
        await gate(request, "image", write=True)
        payload = await pages.json_payload(request)
        image_hash = str(payload.get("image_hash", ""))
        if len(image_hash) != 32:
            return pages.json_error(
                400, {"error": {"code": 10002, "message": "image_hash 参数错误"}}
            )
        object_key = f"v2-{image_hash}"
        exists = object_key in sandbox.images
        token = {
            "access_id": state.secret_for(NAME, image_hash, "oss-id")[:16],
            "access_key": state.secret_for(NAME, image_hash, "oss-key"),
            "access_token": state.secret_for(NAME, image_hash, "oss-token"),
        }
        uploads[object_key] = token
        return JSONResponse(
            {
                "upload_vendor": "aliyun",
                "upload_file": {
                    "state": 1 if exists else 2,
                    "image_id": object_key,
                    "object_key": object_key,
                },
                "upload_token": {**token, "access_timestamp": 0},
            }
        )

    @router.get("/api.zhihu.com/images/{image_id}")
    async def image_status(image_id: str, request: Request) -> Response:
        await gate(request, "image", write=False)
        if image_id not in sandbox.images:
            return JSONResponse({"status": "processing", "original_hash": ""})
        return JSONResponse({"status": "completed", "original_hash": image_id})

    @router.put("/zhihu-pics-upload.zhimg.com/{object_key}")
    async def oss_put(object_key: str, request: Request) -> Response:
        token = uploads.get(object_key)
        if token is None or request.headers.get("x-oss-security-token") != token["access_token"]:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        if not _oss_signature_ok(request, object_key, token["access_key"], token["access_id"]):
            return Response("<Error><Code>SignatureDoesNotMatch</Code></Error>", 403)
        data = await request.body()
        if hashlib.md5(data).hexdigest() != object_key.removeprefix("v2-"):
            return Response("<Error><Code>InvalidDigest</Code></Error>", 400)
        content_type = request.headers.get("content-type", "application/octet-stream")
        sandbox.images[object_key] = state.StoredImage(data, content_type)
        return Response(status_code=200, headers={"ETag": f'"{object_key}"'})

    @router.get("/pic4.zhimg.com/{key}")
    async def cdn(key: str) -> Response:
        return pages.image_response(sandbox, key.split(".")[0])

    @router.post("/zhuanlan.zhihu.com/api/articles/drafts")
    async def draft_create(request: Request) -> Response:
        account = await gate(request, "draft", write=True)
        payload = await pages.json_payload(request)
        post = sandbox.save_post(
            state.SandboxPost(
                NAME,
                sandbox.new_id(),
                account.name,
                str(payload.get("title", "")),
                str(payload.get("content", "")),
                [],
                None,
                "draft",
            )
        )
        await sandbox.after_commit(NAME, account.name, "draft")
        return JSONResponse(article_json(request, post))

    def own_post(account: state.SandboxAccount, article_id: str) -> state.SandboxPost | None:
        post = sandbox.post(NAME, article_id)
        return post if post is not None and post.account == account.name else None

    async def writable_post(request: Request, article_id: str) -> state.SandboxPost:
        """The caller's article, to change; or a Refusal."""
        account = await gate(request, "draft", write=True)
        post = own_post(account, article_id)
        if post is None:
            raise pages.Refusal(
                pages.json_error(404, {"error": {"code": 404, "message": "文章不存在"}})
            )
        return post

    @router.patch("/zhuanlan.zhihu.com/api/articles/{article_id}/draft")
    async def draft_update(article_id: str, request: Request) -> Response:
        post = await writable_post(request, article_id)
        payload = await pages.json_payload(request)
        post.title = str(payload.get("title", post.title))
        post.body = str(payload.get("content", post.body))
        post.cover = payload.get("titleImage") or post.cover
        return Response(status_code=204)

    @router.post("/zhuanlan.zhihu.com/api/articles/{article_id}/topics")
    async def topic_add(article_id: str, request: Request) -> Response:
        post = await writable_post(request, article_id)
        name = str((await pages.json_payload(request)).get("name", "")).strip()
        if name and name not in post.tags:
            post.tags.append(name)
        return JSONResponse({"id": name, "name": name})

    @router.get("/zhuanlan.zhihu.com/api/articles/{article_id}")
    async def article_get(article_id: str, request: Request) -> Response:
        account = await gate(request, "lookup", write=False)
        post = own_post(account, article_id)
        if post is None:
            return pages.json_error(404, {"error": {"code": 404, "message": "文章不存在"}})
        return JSONResponse(article_json(request, post))

    @router.post("/www.zhihu.com/api/v4/content/publish")
    async def publish(request: Request) -> Response:
        account = await gate(request, "publish", write=True)
        payload = await pages.json_payload(request)
        data = payload.get("data") or {}
        draft_id = str((data.get("draft") or {}).get("id", ""))
        post = own_post(account, draft_id)
        if payload.get("action") != "article" or post is None:
            return JSONResponse({"code": 400, "message": "草稿不存在", "data": None})
        html_body = (data.get("hybrid") or {}).get("html")
        if html_body:
            post.body = str(html_body)
        post.title = str((data.get("title") or {}).get("title") or post.title)
        post.status = "published"
        post.url = article_json(request, post)["url"]
        await sandbox.after_commit(NAME, account.name, "publish")
        result = json.dumps({"publish": {"id": post.id}})
        return JSONResponse({"code": 0, "message": "success", "data": {"result": result}})

    @router.get("/zhuanlan.zhihu.com/p/{article_id}")
    async def public_page(article_id: str) -> Response:
        return pages.post_page(sandbox.post(NAME, article_id))

    return router
