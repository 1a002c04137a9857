"""Juejin (掘金) as platforms.md §3 describes it, each real host under ``/juejin/{host}``.

Checked: the ``sessionid`` login cookie, Origin ``https://juejin.cn``, the CSRF token from
``HEAD sys/token`` on every write, the brief's 50–100 characters, ``tag_ids`` as strings,
a category and at least one tag before publishing, and the AWS4 signature of ImageX calls.
Draft ids and article ids differ, as on Juejin; a post's ``extra["post_id"]`` is its article id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contenthub.sandbox import login, pages, state

NAME = "juejin"
PREFIX = "/juejin"
API, IMAGEX, UPLOAD_HOST, CDN = (
    "/api.juejin.cn",
    "/imagex.bytedanceapi.com",
    "tos-d-x-hl.snssdk.com",
    "p3-juejin.byteimg.com",
)
CATEGORIES = [("6809637769959178254", "后端"), ("6809637767543259144", "前端")]
MUST_LOGIN = {"err_no": 403, "err_msg": "must login", "data": None}


def credentials_for(name: str) -> dict[str, Any]:
    session = state.secret_for(NAME, name, "sessionid")
    csrf = state.secret_for(NAME, name, "passport")
    return {"cookies": {"sessionid": session, "sid_tt": session, "passport_csrf_token": csrf}}


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="juejin.cn",
    path="/login",
    home_host="juejin.cn",
    home_path="/",
    session_cookie="sessionid",
    other_cookies=lambda account: {
        "sid_tt": state.secret_for(NAME, account.name, "sid_tt"),
        "passport_csrf_token": secrets.token_hex(16),
    },
)


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("cookies", {}).get("sessionid", ""))


def _envelope(data: Any, err_no: int = 0, err_msg: str = "success") -> JSONResponse:
    return JSONResponse({"err_no": err_no, "err_msg": err_msg, "data": data})


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return JSONResponse(MUST_LOGIN)
    if fault.kind == "rate_limited":
        # Juejin's throttle format was not found: a 429 with Retry-After [I].
        body = {"err_no": 429, "err_msg": "请求过于频繁", "data": None}
        return pages.json_error(429, body, {"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return pages.json_error(fault.status, {"err_no": 500, "err_msg": "系统错误", "data": None})
    return _envelope(None, 1, fault.message)  # a refusal's err_no is a guess [I]


def _aws4_ok(request: Request, secret: str) -> bool:
    """Recompute the AWS4 signature over the query and the two signed x-amz headers."""
    amz_date = request.headers.get("x-amz-date", "")
    token = request.headers.get("x-amz-security-token", "")
    query = urlencode(sorted(request.query_params.items()), quote_via=quote)
    empty_hash = hashlib.sha256(b"").hexdigest()
    canonical = (
        f"{request.method}\n/\n{query}\nx-amz-date:{amz_date}\nx-amz-security-token:{token}\n\n"
        f"x-amz-date;x-amz-security-token\n{empty_hash}"
    )
    scope = f"{amz_date[:8]}/cn-north-1/imagex/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}"
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], "cn-north-1", "imagex", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return request.headers.get("authorization", "").endswith(f"Signature={expected}")


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    tags: dict[str, str] = sandbox.extra.setdefault("juejin_tags", {})
    sts_secrets: dict[str, str] = sandbox.extra.setdefault("juejin_sts", {})
    uploads: dict[str, dict[str, Any]] = sandbox.extra.setdefault("juejin_uploads", {})

    def who(request: Request) -> state.SandboxAccount | None:
        return sandbox.account(NAME, request.cookies.get("sessionid", ""))

    def csrf_token(account: state.SandboxAccount) -> str:
        return state.secret_for(NAME, account.name, "csrf")

    async def gate(request: Request, operation: str, *, write: bool = True) -> state.SandboxAccount:
        """The caller's account; or a Refusal with Juejin's answer."""
        account = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(JSONResponse(MUST_LOGIN))
        if request.headers.get("origin") != "https://juejin.cn":
            raise pages.Refusal(
                pages.json_error(403, {"err_no": 403, "err_msg": "forbidden origin"})
            )
        if write and request.headers.get("x-secsdk-csrf-token") != csrf_token(account):
            raise pages.Refusal(
                pages.json_error(403, {"err_no": 4001, "err_msg": "csrf token invalid"})
            )
        return account

    def own_draft(account: state.SandboxAccount, draft_id: str) -> state.SandboxPost | None:
        post = sandbox.post(NAME, draft_id)
        return post if post is not None and post.account == account.name else None

    def article_url(request: Request, post: state.SandboxPost) -> str:
        return f"{pages.root_url(request, PREFIX)}/juejin.cn/post/{post.extra['post_id']}"

    @router.get(f"{API}/user_api/v1/user/get")
    async def me(request: Request) -> Response:
        account = await gate(request, "login", write=False)
        answer = _envelope({"user_id": account.user_id, "user_name": account.name})
        return pages.refresh_login(answer, request, "sessionid", "juejin.cn")

    @router.head(f"{API}/user_api/v1/sys/token")
    async def sys_token(request: Request) -> Response:
        try:
            account = await gate(request, "login", write=False)
        except pages.Refusal:
            account = None
        if account is None or request.headers.get("x-secsdk-csrf-request") != "1":
            return Response(status_code=200)  # no token header: the client cannot write
        value = f"0,{csrf_token(account)},86370000,success,{account.user_id}"
        return Response(status_code=200, headers={"x-ware-csrf-token": value})

    @router.get(f"{API}/tag_api/v1/query_category_briefs")
    async def categories(request: Request) -> Response:
        await gate(request, "draft", write=False)
        return _envelope([{"category_id": i, "category_name": n} for i, n in CATEGORIES])

    @router.post(f"{API}/tag_api/v1/query_tag_list")
    async def tag_search(request: Request) -> Response:
        await gate(request, "draft")
        word = str((await pages.json_payload(request)).get("key_word", "")).strip()
        if not word:
            return _envelope([])
        tag_id = str(int(state.secret_for(NAME, word.lower(), "tag")[:12], 16))
        tags.setdefault(tag_id, word)
        return _envelope([{"tag_id": tag_id, "tag": {"tag_id": tag_id, "tag_name": tags[tag_id]}}])

    def draft_problem(payload: dict[str, Any]) -> str | None:
        brief = str(payload.get("brief_content", ""))
        if not 50 <= len(brief) <= 100:
            return "brief_content 长度需在 50-100 之间"
        tag_ids = payload.get("tag_ids") or []
        if not isinstance(tag_ids, list) or any(not isinstance(t, str) for t in tag_ids):
            return "tag_ids 参数错误"
        if any(t not in tags for t in tag_ids):
            return "标签不存在"
        return None

    def apply(post: state.SandboxPost, payload: dict[str, Any]) -> None:
        post.title = str(payload.get("title", post.title))
        post.body = str(payload.get("mark_content", post.body))
        post.tags = [tags[t] for t in payload.get("tag_ids") or []]
        post.cover = payload.get("cover_image") or None
        post.extra.update(
            category_id=str(payload.get("category_id", "")),
            brief=str(payload.get("brief_content", "")),
        )

    @router.post(f"{API}/content_api/v1/article_draft/create")
    async def draft_create(request: Request) -> Response:
        account = await gate(request, "draft")
        payload = await pages.json_payload(request)
        if problem := draft_problem(payload):
            return _envelope(None, 2, problem)
        post = state.SandboxPost(NAME, sandbox.new_id(), account.name, "", "", [], None, "draft")
        apply(post, payload)
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, "draft")
        return _envelope({"id": post.id, "article_id": "0"})

    @router.post(f"{API}/content_api/v1/article_draft/update")
    async def draft_update(request: Request) -> Response:
        account = await gate(request, "draft")
        payload = await pages.json_payload(request)
        post = own_draft(account, str(payload.get("id", "")))
        if post is None:
            return _envelope(None, 404, "草稿不存在")
        if problem := draft_problem(payload):
            return _envelope(None, 2, problem)
        apply(post, payload)
        return _envelope({"id": post.id})

    async def draft_named(
        request: Request, step: str
    ) -> tuple[state.SandboxAccount, state.SandboxPost]:
        """The caller's draft named by the body's ``draft_id``; or a Refusal."""
        account = await gate(request, step)
        post = own_draft(account, str((await pages.json_payload(request)).get("draft_id", "")))
        if post is None:
            raise pages.Refusal(_envelope(None, 404, "草稿不存在"))
        return account, post

    @router.post(f"{API}/content_api/v1/article_draft/query_list")
    async def draft_list(request: Request) -> Response:
        """The account's drafts, newest first: ``{cursor, keyword, limit}`` [I]."""
        account = await gate(request, "lookup")
        payload = await pages.json_payload(request)
        keyword = str(payload.get("keyword") or "")
        drafts = [p for p in sandbox.drafts_of(NAME, account.name) if keyword in p.title]
        start, limit = int(payload.get("cursor") or 0), int(payload.get("limit") or 10)
        page = [
            {"id": p.id, "title": p.title, "ctime": str(int(p.created_at)), "article_id": "0"}
            for p in drafts[start : start + limit]
        ]
        more = start + len(page) < len(drafts)
        return JSONResponse(
            {
                "err_no": 0,
                "err_msg": "success",
                "data": page,
                "cursor": str(start + len(page)),
                "count": len(drafts),
                "has_more": more,
            }
        )

    @router.post(f"{API}/content_api/v1/article_draft/delete")
    async def draft_delete(request: Request) -> Response:
        _, post = await draft_named(request, "draft")
        if post.status != "draft":
            return _envelope(None, 2, "已发布的草稿不能删除")
        sandbox.delete_post(NAME, post.id)
        return _envelope({})

    @router.post(f"{API}/content_api/v1/article_draft/detail")
    async def draft_detail(request: Request) -> Response:
        _, post = await draft_named(request, "lookup")
        draft = {"id": post.id, "title": post.title, "article_id": post.extra.get("post_id", "0")}
        return _envelope({"article_draft": draft})

    @router.post(f"{API}/content_api/v1/article/publish")
    async def publish(request: Request) -> Response:
        account, post = await draft_named(request, "publish")
        if not post.extra.get("category_id") or not post.tags:
            return _envelope(None, 1, "请选择分类和至少一个标签")  # the code is a guess [I]
        post.extra.setdefault("post_id", str(int(sandbox.new_id()) * 7))
        post.status = "published"
        post.url = article_url(request, post)
        sandbox.hold_for_review(post)
        await sandbox.after_commit(NAME, account.name, "publish")
        return _envelope({"article_id": post.extra["post_id"], "draft_id": post.id})

    @router.post(f"{API}/content_api/v1/article/detail")
    async def article_detail(request: Request) -> Response:
        """An own article with its review state: audit_status 1 in review, 2 passed, 3 refused
        (the values PenBridge's docs/juejin-api.md gives for list_by_user's filter)."""
        account = await gate(request, "lookup")
        article_id = str((await pages.json_payload(request)).get("article_id", ""))
        post = next(
            (p for p in sandbox.posts_of(NAME) if p.extra.get("post_id") == article_id), None
        )
        if post is None or post.account != account.name:
            return _envelope(None, 404, "文章不存在")
        audit = {"pending": 1, "refused": 3}.get(post.review, 2)
        info = {
            "article_id": article_id,
            "title": post.title,
            "status": 2,
            "audit_status": audit,
            "audit_reason": post.review_reason,  # the field's name is a guess [I]
        }
        return _envelope({"article_info": info})

    @router.get("/juejin.cn/post/{article_id}")
    async def public_page(article_id: str) -> Response:
        posts = sandbox.posts_of(NAME)
        return pages.post_page(
            next((p for p in posts if p.extra.get("post_id") == article_id), None),
            markdown=True,
            summary_field="brief",
        )

    # -- images: ImageX ---------------------------------------------------------------------

    @router.get(f"{API}/imagex/v2/gen_token")
    async def gen_token(request: Request) -> Response:
        await gate(request, "image", write=False)
        key_id = f"AKTP{sandbox.new_id()}"
        sts_secrets[key_id] = state.secret_for(NAME, key_id, "sts-secret")
        token = {
            "AccessKeyId": key_id,
            "SecretAccessKey": sts_secrets[key_id],
            "SessionToken": state.secret_for(NAME, key_id, "sts-token"),
            "ExpiredTime": "2099-01-01T00:00:00+08:00",
        }
        return _envelope({"token": token})

    def imagex_error(code: str) -> Response:
        return pages.json_error(403, {"ResponseMetadata": {"Error": {"Code": code}}})

    @router.api_route(f"{IMAGEX}/", methods=["GET", "POST"])
    async def imagex(request: Request) -> Response:
        credential = request.headers.get("authorization", "").partition("Credential=")[2]
        key_id = credential.split("/")[0]
        if key_id not in sts_secrets or not _aws4_ok(request, sts_secrets[key_id]):
            return imagex_error("SignatureDoesNotMatch")
        action = request.query_params.get("Action")
        if action == "ApplyImageUpload" and request.method == "GET":
            session_key = state.secret_for(NAME, key_id, "session")
            store_uri = f"tos-cn-i-k3u1fbpfcp/{session_key[:16]}"
            uploads[session_key] = {
                "uri": store_uri,
                "auth": state.secret_for(NAME, store_uri, "auth"),
            }
            address = {
                "StoreInfos": [{"StoreUri": store_uri, "Auth": uploads[session_key]["auth"]}],
                "UploadHosts": [UPLOAD_HOST],
                "SessionKey": session_key,
            }
            return JSONResponse({"ResponseMetadata": {}, "Result": {"UploadAddress": address}})
        if action == "CommitImageUpload" and request.method == "POST":
            upload = uploads.get(request.query_params.get("SessionKey", ""))
            if upload is None or upload["uri"] not in sandbox.images:
                return imagex_error("InvalidSessionKey")
            results = [{"Uri": upload["uri"], "UriStatus": 2000}]
            return JSONResponse({"ResponseMetadata": {}, "Result": {"Results": results}})
        return imagex_error("InvalidAction")

    @router.put(f"/{UPLOAD_HOST}/{{store_uri:path}}")
    async def upload_put(store_uri: str, request: Request) -> Response:
        upload = next((u for u in uploads.values() if u["uri"] == store_uri), None)
        if upload is None or request.headers.get("authorization") != upload["auth"]:
            return pages.json_error(403, {"success": 1, "error": {"code": 4003, "message": "auth"}})
        data = await request.body()
        if request.headers.get("content-crc32") != f"{zlib.crc32(data) & 0xFFFFFFFF:08x}":
            return pages.json_error(
                400, {"success": 1, "error": {"code": 4001, "message": "crc32"}}
            )
        kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        sandbox.images[store_uri] = state.StoredImage(data, kind)
        return JSONResponse({"success": 0, "payload": {"hash": f"{zlib.crc32(data):08x}"}})

    @router.get(f"{API}/imagex/v2/get_img_url")
    async def image_url(request: Request, uri: str = "", img_type: str = "") -> Response:
        await gate(request, "image", write=False)
        if img_type != "private":  # the editor asks for the private (watermarked) URL
            return _envelope(None, 1, "img_type 参数错误")
        if uri not in sandbox.images:
            return _envelope(None, 404, "image not found")
        main = f"{pages.root_url(request, PREFIX)}/{CDN}/{uri}~tplv-k3u1fbpfcp-watermark.image"
        return _envelope({"main_url": main, "backup_url": main})

    @router.get(f"/{CDN}/{{key:path}}")
    async def cdn(key: str) -> Response:
        return pages.image_response(sandbox, key.split("~")[0])

    return router
