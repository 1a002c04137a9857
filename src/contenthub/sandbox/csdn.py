"""CSDN as platforms.md §4 describes it, each real host under ``/csdn/{host}``.

Checked: the ``UserToken`` login cookie, Origin ``https://editor.csdn.net`` on bizapi calls,
the API-gateway signature (``x-ca-key``, ``x-ca-nonce``, ``x-ca-signature-headers``,
``x-ca-signature``; a bad one is HTTP 400 with ``X-Ca-Error-Message`` as Aliyun's gateway
answers [I]), titles of 5–100 characters, and the OSS policy of image uploads (jpg, png, gif).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from contenthub.sandbox import login, pages, state

NAME = "csdn"
PREFIX = "/csdn"
APP_KEY, APP_SECRET = "203803574", "9znpamsyl2c7cdrr9sas0le9vbc3r6ba"
BIZAPI, OSS, CDN = (
    "/bizapi.csdn.net",
    "csdn-img-blog.oss-cn-beijing.aliyuncs.com",
    "i-blog.csdnimg.cn",
)
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}
EXPIRED = {"code": 401, "message": "登录状态已过期，请重新登录", "data": None}
STATUSES = {0: "published", 2: "draft"}


def credentials_for(name: str) -> dict[str, Any]:
    return {
        "cookies": {
            "UserName": name,
            "UserToken": state.secret_for(NAME, name, "token"),
            "UserInfo": state.secret_for(NAME, name, "info"),
        }
    }


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="passport.csdn.net",
    path="/login",
    home_host="www.csdn.net",
    home_path="/",
    session_cookie="UserToken",
    other_cookies=lambda account: {
        "UserName": account.name,
        "UserInfo": state.secret_for(NAME, account.name, "info"),
    },
)


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("cookies", {}).get("UserToken", ""))


def _answer(data: Any, code: int = 200, message: str = "success") -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": data})


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return JSONResponse(EXPIRED)
    if fault.kind == "rate_limited":
        # CSDN's throttle format was not found: a 429 with Retry-After [I].
        body = {"code": 429, "message": "操作过于频繁，请稍后再试", "data": None}
        return pages.json_error(429, body, {"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return pages.json_error(fault.status, {"code": 500, "message": "服务器错误", "data": None})
    return _answer(None, 400, fault.message)


def _signature_ok(request: Request) -> bool:
    headers = request.headers
    if headers.get("x-ca-key") != APP_KEY:
        return False
    if headers.get("x-ca-signature-headers") != "x-ca-key,x-ca-nonce":
        return False
    content_type = headers.get("content-type", "") if request.method == "POST" else ""
    path = request.url.path.removeprefix(f"{PREFIX}{BIZAPI}")
    if request.url.query:
        path = f"{path}?{request.url.query}"
    to_sign = (
        f"{request.method}\n{headers.get('accept', '')}\n\n{content_type}\n\n"
        f"x-ca-key:{headers['x-ca-key']}\nx-ca-nonce:{headers.get('x-ca-nonce', '')}\n{path}"
    )
    expected = base64.b64encode(
        hmac.new(APP_SECRET.encode(), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(headers.get("x-ca-signature", ""), expected)


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    policies: dict[str, str] = sandbox.extra.setdefault("csdn_policies", {})

    async def gate(
        request: Request, operation: str, *, signed: bool = False
    ) -> state.SandboxAccount:
        """The caller's account; or a Refusal with CSDN's answer."""
        account = sandbox.account(NAME, request.cookies.get("UserToken", ""))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(JSONResponse(EXPIRED))
        if signed and request.headers.get("origin") != "https://editor.csdn.net":
            raise pages.Refusal(Response("<html>403 Forbidden</html>", 403))  # the WAF
        if signed and not _signature_ok(request):
            answer = JSONResponse({"message": "Invalid Signature"}, 400)
            answer.headers["X-Ca-Error-Message"] = "Invalid Signature"
            raise pages.Refusal(answer)
        return account

    def public_url(request: Request, post: state.SandboxPost) -> str:
        root = pages.root_url(request, PREFIX)
        return f"{root}/blog.csdn.net/{post.account}/article/details/{post.id}"

    @router.get("/me.csdn.net/api/user/show")
    async def me(request: Request) -> Response:
        account = await gate(request, "login")
        answer = _answer({"csdnid": account.user_id, "username": account.name})
        return pages.refresh_login(answer, request, "UserToken", "csdn.net")

    @router.get("/imgservice.csdn.net/direct/v1.0/image/upload")
    async def image_policy(request: Request) -> Response:
        await gate(request, "image")
        suffix = request.headers.get("x-image-suffix", "")
        if request.headers.get("x-image-app") != "direct_blog" or suffix not in {
            "png",
            "jpg",
            "jpeg",
            "gif",
        }:
            return _answer(None, 400, "不支持的图片格式")
        file_path = f"direct/{sandbox.new_id()}.{suffix}"
        policy = base64.b64encode(f'{{"key":"{file_path}"}}'.encode()).decode()
        policies[file_path] = policy
        signature = base64.b64encode(
            hmac.new(APP_SECRET.encode(), policy.encode(), hashlib.sha1).digest()
        ).decode()
        return _answer(
            {
                "host": f"{pages.root_url(request, PREFIX)}/{OSS}/",
                "filePath": file_path,
                "policy": policy,
                "accessId": "LTAI-sandbox",
                "signature": signature,
                "callbackUrl": base64.b64encode(b'{"callbackUrl":"imgservice"}').decode(),
            }
        )

    @router.post(f"/{OSS}/")
    async def oss_post(request: Request) -> Response:
        form = await request.form()
        key, file = str(form.get("key", "")), form.get("file")
        expected = base64.b64encode(
            hmac.new(APP_SECRET.encode(), policies.get(key, "").encode(), hashlib.sha1).digest()
        ).decode()
        if key not in policies or form.get("signature") != expected:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        if not isinstance(file, UploadFile) or file.content_type not in IMAGE_TYPES:
            return _answer(None, 400, "只支持 jpg、png、jpeg、gif 格式")
        sandbox.images[f"csdn:{key}"] = state.StoredImage(await file.read(), file.content_type)
        return _answer({"imageUrl": f"{pages.root_url(request, PREFIX)}/{CDN}/{key}"})

    @router.get(f"/{CDN}/{{key:path}}")
    async def cdn(key: str) -> Response:
        return pages.image_response(sandbox, f"csdn:{key}")

    def article_problem(payload: dict[str, Any]) -> str | None:
        if not 5 <= len(str(payload.get("title", ""))) <= 100:
            return "标题长度需在 5-100 字之间"
        if payload.get("status") not in STATUSES:
            return "status 参数错误"
        if not str(payload.get("markdowncontent", "")).strip():
            return "文章内容不能为空"
        return None

    @router.post(f"{BIZAPI}/blog-console-api/v3/mdeditor/saveArticle")
    async def save_article(request: Request) -> Response:
        payload = await pages.json_payload(request)
        operation = "publish" if payload.get("status") == 0 else "draft"
        account = await gate(request, operation, signed=True)
        if problem := article_problem(payload):
            return _answer(None, 400, problem)
        post = sandbox.post(NAME, str(payload.get("id", "")))
        if payload.get("id") and (post is None or post.account != account.name):
            return _answer(None, 404, "文章不存在")
        if post is None:
            post = state.SandboxPost(
                NAME, sandbox.new_id(), account.name, "", "", [], None, "draft"
            )
        post.title, post.body = str(payload["title"]), str(payload["markdowncontent"])
        post.tags = [t for t in str(payload.get("tags", "")).split(",") if t]
        post.cover = next(iter(payload.get("cover_images") or []), None)
        post.extra["description"] = str(payload.get("description", ""))
        post.status = STATUSES[payload["status"]]
        post.url = public_url(request, post) if post.status == "published" else None
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, operation)
        data = {"id": int(post.id), "url": post.url or "", "title": post.title, "qrcode": ""}
        return _answer({**data, "description": str(payload.get("description", ""))})

    @router.get(f"{BIZAPI}/blog/phoenix/console/v1/article/list")
    async def article_list(
        request: Request, status: str = "", page: int = 1, pageSize: int = 20
    ) -> Response:
        """The account's articles (``status=draft``: its drafts), newest first [I]."""
        account = await gate(request, "lookup", signed=True)
        posts = sandbox.drafts_of(NAME, account.name) if status == "draft" else []
        start = (max(page, 1) - 1) * pageSize
        listed = [
            {"articleId": p.id, "title": p.title, "postTime": str(int(p.created_at))}
            for p in posts[start : start + pageSize]
        ]
        return _answer({"list": listed, "total": len(posts), "page": page, "size": pageSize})

    @router.post(f"{BIZAPI}/blog/phoenix/console/v1/article/del")
    async def article_delete(request: Request) -> Response:
        """Deletes a draft [I]."""
        account = await gate(request, "draft", signed=True)
        article_id = str((await pages.json_payload(request)).get("articleId", ""))
        post = sandbox.post(NAME, article_id)
        if post is None or post.account != account.name or post.status != "draft":
            return _answer(None, 404, "文章不存在")
        sandbox.delete_post(NAME, post.id)
        return _answer({})

    @router.get(f"{BIZAPI}/blog-console-api/v3/editor/getArticle")
    async def get_article(request: Request, id: str = "") -> Response:
        account = await gate(request, "lookup", signed=True)
        post = sandbox.post(NAME, id)
        if post is None or post.account != account.name:
            return _answer(None, 404, "文章不存在")
        status = 0 if post.status == "published" else 2
        return _answer({"article_id": post.id, "title": post.title, "status": status})

    @router.get("/blog.csdn.net/{user}/article/details/{article_id}")
    async def public_page(user: str, article_id: str) -> Response:
        post = sandbox.post(NAME, article_id)
        return pages.post_page(
            post if post and post.account == user else None,
            markdown=True,
            summary_field="description",
        )

    return router
