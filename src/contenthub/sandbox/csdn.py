"""CSDN as its editor speaks it today (see ``platforms/csdn.py`` for the references), each real
host under ``/csdn/{host}``.

Checked: the ``UserToken`` login cookie, Origin ``https://editor.csdn.net`` on bizapi calls,
the API-gateway signature (``x-ca-key``, ``x-ca-nonce``, ``x-ca-signature-headers``,
``x-ca-signature``, and ``x-ca-timestamp`` in whole seconds for the upload library's key pair;
a bad one is HTTP 400 with ``X-Ca-Error-Message`` as Aliyun's gateway answers [I]), the
editor's save fields (``pubStatus`` agreeing with ``status``, ``is_new`` with the id), titles of
5–100 characters, the upload ticket's body and the OBS form's fields (jpg, png, gif). The risk
check answers code ``"1239"`` while a ``risk_check`` fault is on for the account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from contenthub.sandbox import login, pages, state

NAME = "csdn"
PREFIX = "/csdn"
# The gateway's key pairs: (secret, the headers a signature must cover).
KEY_PAIRS = {
    "203803574": ("9znpamsyl2c7cdrr9sas0le9vbc3r6ba", "x-ca-key,x-ca-nonce"),
    "260196572": ("t5PaqxVQpWoHgLGt7XPIvd5ipJcwJTU7", "x-ca-key,x-ca-nonce,x-ca-timestamp"),
}
EDITOR_KEY, IMAGE_KEY = "203803574", "260196572"
BIZAPI, OBS, CDN = (
    "/bizapi.csdn.net",
    "csdn-img-blog.obs.cn-north-4.myhuaweicloud.com",
    "i-blog.csdnimg.cn",
)
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}
IMAGE_SUFFIXES = {"png", "jpg", "jpeg", "gif"}
OBS_FIELDS = ("policy", "signature", "callbackBody", "callbackBodyType", "callbackUrl")
EXPIRED = {"code": 401, "msg": "登录状态已过期，请重新登录", "data": None}
STATUSES = {0: "published", 2: "draft"}
PUB_STATUS = {0: "publish", 2: "draft"}
TIMESTAMP_SKEW_MS = 15 * 60 * 1000


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
    return JSONResponse({"code": code, "msg": message, "data": data})


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return JSONResponse(EXPIRED)
    if fault.kind == "rate_limited":
        # CSDN's throttle format was not found: a 429 with Retry-After [I].
        body = {"code": 429, "msg": "操作过于频繁，请稍后再试", "data": None}
        return pages.json_error(429, body, {"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return pages.json_error(fault.status, {"code": 500, "msg": "服务器错误", "data": None})
    return _answer(None, 400, fault.message)


def _sorted_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" if v else k for k, v in pairs)


def _signature_ok(request: Request, key: str) -> bool:
    headers = request.headers
    secret, names = KEY_PAIRS[key]
    if headers.get("x-ca-key") != key or headers.get("x-ca-signature-headers") != names:
        return False
    if "x-ca-timestamp" in names:
        stamp = headers.get("x-ca-timestamp", "")
        now_ms = time.time() * 1000
        if not stamp.isdigit() or not stamp.endswith("000"):
            return False
        if abs(int(stamp) - now_ms) > TIMESTAMP_SKEW_MS:
            return False
    content_type = headers.get("content-type", "") if request.method == "POST" else ""
    path = request.url.path.removeprefix(f"{PREFIX}{BIZAPI}")
    if request.url.query:
        path = f"{path}?{_sorted_query(request.url.query)}"
    signed = "".join(f"{name}:{headers.get(name, '')}\n" for name in names.split(","))
    to_sign = f"{request.method}\n{headers.get('accept', '')}\n\n{content_type}\n\n{signed}{path}"
    expected = base64.b64encode(
        hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(headers.get("x-ca-signature", ""), expected)


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    tickets: dict[str, dict[str, str]] = sandbox.extra.setdefault("csdn_tickets", {})

    async def gate(
        request: Request, operation: str, *, key: str | None = None
    ) -> state.SandboxAccount:
        """The caller's account; or a Refusal with CSDN's answer. ``key``: the call goes through
        the gateway, signed with that key pair."""
        account = sandbox.account(NAME, request.cookies.get("UserToken", ""))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(JSONResponse(EXPIRED))
        if key and request.headers.get("origin") != "https://editor.csdn.net":
            raise pages.Refusal(Response("<html>403 Forbidden</html>", 403))  # the WAF
        if key and not _signature_ok(request, key):
            answer = JSONResponse({"message": "Invalid Signature"}, 400)
            answer.headers["X-Ca-Error-Message"] = "Invalid Signature"
            raise pages.Refusal(answer)
        return account

    def public_url(request: Request, post: state.SandboxPost) -> str:
        root = pages.root_url(request, PREFIX)
        return f"{root}/blog.csdn.net/{post.account}/article/details/{post.id}"

    @router.get(f"{BIZAPI}/blog-console-api/v3/editor/getBaseInfo")
    async def base_info(request: Request) -> Response:
        account = await gate(request, "login", key=EDITOR_KEY)
        answer = _answer({"name": account.name, "nickname": account.name, "avatar": ""})
        return pages.refresh_login(answer, request, "UserToken", "csdn.net")

    @router.post("/passport.csdn.net/v1/api/user/risk/check")
    async def risk_check(request: Request) -> Response:
        account = await gate(request, "risk")
        payload = await pages.json_payload(request)
        if payload.get("username") != account.name or payload.get("biz") != "blog":
            return JSONResponse({"code": "400", "message": "参数错误", "status": False})
        if sandbox.switched_on("risk_check", NAME, account.name):
            return JSONResponse(
                {
                    "code": "1239",
                    "code_error": int(time.time() * 1000),
                    "message": "为了您的账号安全，请使用微信扫码验证",
                    "status": False,
                }
            )
        return JSONResponse({"code": "200", "message": "success", "status": True})

    @router.post(f"{BIZAPI}/resource-api/v1/image/direct/upload/signature")
    async def image_ticket(request: Request) -> Response:
        account = await gate(request, "image", key=IMAGE_KEY)
        payload = await pages.json_payload(request)
        suffix = str(payload.get("imageSuffix", ""))
        wanted = payload.get("appName") == "direct_blog_markdown" and "imageTemplate" in payload
        if not wanted or suffix not in IMAGE_SUFFIXES:
            return _answer(None, 400, "不支持的图片格式")
        file_path = f"direct/{sandbox.new_id()}.{suffix}"
        policy = base64.b64encode(f'{{"key":"{file_path}"}}'.encode()).decode()
        custom = {
            "rtype": "markdown",
            "filePath": file_path,
            "isAudit": "0",
            "x-image-app": "direct_blog",
            "type": "blog",
            "x-image-suffix": suffix,
            "username": account.name,
        }
        ticket = {
            "host": f"{pages.root_url(request, PREFIX)}/{OBS}/",
            "filePath": file_path,
            "policy": policy,
            "accessId": "HPUA-sandbox",
            "signature": _obs_signature(policy),
            "callbackUrl": "https://imgservice.csdn.net/direct/v1.0/image/obs/callback",
            "callbackBody": '{"filePath":"$(key)","x-image-app":"$(x:x-image-app)"}',
            "callbackBodyType": "application/json",
            "customParam": custom,
        }
        tickets[file_path] = {**{k: str(v) for k, v in ticket.items() if k != "customParam"}}
        tickets[file_path] |= {f"x:{k}": v for k, v in custom.items()}
        return _answer(ticket)

    @router.post(f"/{OBS}/")
    async def obs_post(request: Request) -> Response:
        form = await request.form()
        key, file = str(form.get("key", "")), form.get("file")
        ticket = tickets.get(key)
        if ticket is None or form.get("signature") != ticket["signature"]:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        wanted = {name: ticket[name] for name in OBS_FIELDS}
        wanted["AccessKeyId"] = ticket["accessId"]
        wanted |= {name: value for name, value in ticket.items() if name.startswith("x:")}
        missing = sorted(name for name, value in wanted.items() if form.get(name) != value)
        if missing:
            return _answer(None, 400, f"缺少或错误的表单字段: {', '.join(missing)}")
        if not isinstance(file, UploadFile) or file.content_type not in IMAGE_TYPES:
            return _answer(None, 400, "只支持 jpg、png、jpeg、gif 格式")
        sandbox.images[f"csdn:{key}"] = state.StoredImage(await file.read(), file.content_type)
        url = f"{pages.root_url(request, PREFIX)}/{CDN}/{key}"
        return _answer({"hostname": CDN, "imageUrl": url, "targetObjectKey": key})

    @router.get(f"/{CDN}/{{key:path}}")
    async def cdn(key: str) -> Response:
        return pages.image_response(sandbox, f"csdn:{key}")

    def article_problem(payload: dict[str, Any]) -> str | None:
        if not 5 <= len(str(payload.get("title", ""))) <= 100:
            return "标题长度需在 5-100 字之间"
        if payload.get("status") not in STATUSES:
            return "status 参数错误"
        if payload.get("pubStatus") != PUB_STATUS[payload["status"]]:
            return "pubStatus 参数错误"
        if payload.get("is_new") != (0 if payload.get("id") else 1):
            return "is_new 参数错误"
        if not str(payload.get("markdowncontent", "")).strip():
            return "文章内容不能为空"
        return None

    @router.post(f"{BIZAPI}/blog-console-api/v3/mdeditor/saveArticle")
    async def save_article(request: Request) -> Response:
        payload = await pages.json_payload(request)
        operation = "publish" if payload.get("status") == 0 else "draft"
        account = await gate(request, operation, key=EDITOR_KEY)
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
        return _answer({**data, "description": str(payload.get("Description", ""))})

    @router.get(f"{BIZAPI}/blog/phoenix/console/v1/article/list")
    async def article_list(
        request: Request, status: str = "", page: int = 1, pageSize: int = 20
    ) -> Response:
        """The account's articles, newest first: ``draft`` its drafts, ``all_v2`` the
        published ones (PenBridge's ``fetchUserArticles``)."""
        account = await gate(request, "lookup", key=EDITOR_KEY)
        if status == "draft":
            posts = sandbox.drafts_of(NAME, account.name)
        elif status == "all_v2":
            posts = [
                p
                for p in sandbox.posts_of(NAME)
                if p.account == account.name and p.status == "published"
            ]
        else:
            posts = []
        start = (max(page, 1) - 1) * pageSize
        listed = [
            {
                "articleId": p.id,
                "title": p.title,
                "status": "1" if p.status == "published" else "2",
                "postTime": str(int(p.created_at)),
            }
            for p in posts[start : start + pageSize]
        ]
        return _answer({"list": listed, "total": len(posts), "page": page, "size": pageSize})

    @router.post(f"{BIZAPI}/blog/phoenix/console/v1/article/del")
    async def article_delete(request: Request) -> Response:
        """Deletes a draft [I]."""
        account = await gate(request, "draft", key=EDITOR_KEY)
        article_id = str((await pages.json_payload(request)).get("articleId", ""))
        post = sandbox.post(NAME, article_id)
        if post is None or post.account != account.name or post.status != "draft":
            return _answer(None, 404, "文章不存在")
        sandbox.delete_post(NAME, post.id)
        return _answer({})

    @router.get("/blog.csdn.net/{user}/article/details/{article_id}")
    async def public_page(user: str, article_id: str) -> Response:
        post = sandbox.post(NAME, article_id)
        return pages.post_page(
            post if post and post.account == user else None,
            markdown=True,
            summary_field="description",
        )

    return router


def _obs_signature(policy: str) -> str:
    """What OBS checks the form's policy against (the sandbox's own secret)."""
    secret = state.secret_for(NAME, "obs", "secret").encode()
    return base64.b64encode(hmac.new(secret, policy.encode(), hashlib.sha1).digest()).decode()
