"""Bilibili 专栏 as the creator centre's web API answers (see ``platforms/bilibili.py`` for the
references), each real host under ``/bilibili/{host}``.

Checked: the ``SESSDATA`` login cookie (``code -101`` without it), the ``csrf`` form field equal
to the account's ``bili_jct`` cookie on every write (``-111`` otherwise), Origin
``https://member.bilibili.com``, titles of at most 40 characters, a draft before a submit, image
uploads as the multipart ``binary`` field (png, jpeg, gif). The sandbox publishes a submitted
article at once unless a review hold is on (``/_admin/review``): then it waits, listed with
``state`` 2 (in review) or -2 and a ``reject_reason`` (refused). The draft's ``aid`` is the
article's cv number.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from contenthub.sandbox import login, pages, state

NAME = "bilibili"
PREFIX = "/bilibili"
API, MEMBER, WEB, CDN = (
    "/api.bilibili.com",
    "/member.bilibili.com",
    "/www.bilibili.com",
    "i0.hdslb.com",
)
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif"}
ORIGIN = "https://member.bilibili.com"


def csrf_of(name: str) -> str:
    """The account's ``bili_jct``: Bilibili ties it to the login server-side, so a cookie
    changed in the browser (or left from an older login) does not pass [I: per account here]."""
    return state.secret_for(NAME, name, "bili_jct")


def credentials_for(name: str) -> dict[str, Any]:
    return {
        "cookies": {
            "SESSDATA": state.secret_for(NAME, name, "sessdata"),
            "bili_jct": csrf_of(name),
            "DedeUserID": str(int(state.secret_for(NAME, name, "mid")[:7], 16)),
        }
    }


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="passport.bilibili.com",
    path="/login",
    home_host="www.bilibili.com",
    home_path="/",
    session_cookie="SESSDATA",
    other_cookies=lambda account: {
        "bili_jct": csrf_of(account.name),
        "DedeUserID": str(int(state.secret_for(NAME, account.name, "mid")[:7], 16)),
    },
)


def login_key(credentials: dict[str, Any]) -> str:
    return str(credentials.get("cookies", {}).get("SESSDATA", ""))


def envelope(data: Any = None, code: int = 0, message: str = "0") -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "ttl": 1, "data": data})


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return envelope(None, -101, "账号未登录")
    if fault.kind == "rate_limited":
        return envelope(None, -799, "请求过于频繁，请稍后再试")  # no Retry-After, as Bilibili
    if fault.kind == "server_error":
        return pages.json_error(fault.status, {"code": -500, "message": "服务器错误"})
    return envelope(None, 34001, fault.message)  # a refusal's code is a guess [I]


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        account = sandbox.account(NAME, request.cookies.get("SESSDATA", ""))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(envelope(None, -101, "账号未登录"))
        if request.headers.get("origin") != ORIGIN:
            raise pages.Refusal(pages.json_error(403, {"code": -403, "message": "访问权限不足"}))
        return account

    async def writer(request: Request, operation: str) -> tuple[state.SandboxAccount, Any]:
        """The caller and the form of a write whose ``csrf`` matches the ``bili_jct`` cookie."""
        account = await gate(request, operation)
        form = await request.form()
        csrf = request.cookies.get("bili_jct", "")
        if csrf != csrf_of(account.name) or form.get("csrf") != csrf:
            raise pages.Refusal(envelope(None, -111, "csrf 校验失败"))
        return account, form

    def mid(account: state.SandboxAccount) -> int:
        return int(state.secret_for(NAME, account.name, "mid")[:7], 16)

    def own(account: state.SandboxAccount, aid: str) -> state.SandboxPost:
        post = sandbox.post(NAME, aid)
        if post is None or post.account != account.name:
            raise pages.Refusal(envelope(None, -404, "文章不存在"))
        return post

    def apply(post: state.SandboxPost, form: Any) -> str | None:
        title = str(form.get("title", "")).strip()
        if not title or len(title) > 40:
            return "标题长度需在 1-40 字之间"
        post.title, post.body = title, str(form.get("content", ""))
        post.tags = [t for t in str(form.get("tags", "")).split(",") if t]
        post.cover = str(form.get("banner_url") or "") or None
        post.extra["category"] = str(form.get("category", "0"))
        return None

    @router.get(f"{API}/x/web-interface/nav")
    async def nav(request: Request) -> Response:
        account = sandbox.account(NAME, request.cookies.get("SESSDATA", ""))
        fault = await sandbox.before(NAME, account.name if account else None, "login")
        if fault is not None:
            return fault_answer(fault)
        if account is None:
            return envelope({"isLogin": False}, -101, "账号未登录")
        answer = envelope({"isLogin": True, "mid": mid(account), "uname": account.name})
        return pages.refresh_login(answer, request, "SESSDATA", "bilibili.com")

    @router.post(f"{API}/x/article/creative/article/upcover")
    async def upcover(request: Request) -> Response:
        _, form = await writer(request, "image")
        file = form.get("binary")
        if not isinstance(file, UploadFile) or file.content_type not in IMAGE_TYPES:
            return envelope(None, -400, "图片格式错误")
        data = await file.read()
        suffix = "png" if file.content_type == "image/png" else "jpg"
        key = f"{secrets.token_hex(20)}.{suffix}"
        sandbox.images[f"bilibili:{key}"] = state.StoredImage(data, str(file.content_type))
        url = f"{pages.root_url(request, PREFIX)}/{CDN}/bfs/article/{key}"
        return envelope({"url": url, "size": len(data)})

    @router.get(f"/{CDN}/bfs/article/{{key}}")
    async def image_file(key: str) -> Response:
        return pages.image_response(sandbox, f"bilibili:{key}")

    @router.post(f"{API}/x/article/creative/draft/addupdate")
    async def draft_save(request: Request) -> Response:
        account, form = await writer(request, "draft")
        if form.get("aid"):
            post = own(account, str(form["aid"]))
        else:
            post = state.SandboxPost(
                NAME, sandbox.new_id(), account.name, "", "", [], None, "draft"
            )
        if problem := apply(post, form):
            return envelope(None, 34002, problem)
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, "draft")
        return envelope({"aid": int(post.id)})

    @router.get(f"{API}/x/article/creative/draft/list")
    async def draft_list(request: Request) -> Response:
        """The account's drafts, newest first [I]."""
        account = await gate(request, "lookup")
        drafts = [
            {"id": int(p.id), "title": p.title, "ctime": int(p.created_at)}
            for p in sandbox.drafts_of(NAME, account.name)
        ]
        return envelope({"drafts": drafts, "page": {"pn": 1, "ps": 20, "total": len(drafts)}})

    @router.post(f"{MEMBER}/x/web/draft/delete")
    async def draft_delete(request: Request) -> Response:
        account, form = await writer(request, "draft")
        post = own(account, str(form.get("aid", "")))
        if post.status != "draft":
            return envelope(None, -400, "文章已提交")
        sandbox.delete_post(NAME, post.id)
        return envelope()

    @router.post(f"{API}/x/article/creative/article/submit")
    async def submit(request: Request) -> Response:
        account, form = await writer(request, "publish")
        post = own(account, str(form.get("aid", "")))
        if problem := apply(post, form):
            return envelope(None, 34002, problem)
        if not post.body.strip():
            return envelope(None, 34003, "正文不能为空")
        post.status = "published"
        sandbox.hold_for_review(post)
        post.url = f"{pages.root_url(request, PREFIX)}{WEB}/read/cv{post.id}"
        await sandbox.after_commit(NAME, account.name, "publish")
        return envelope({"aid": int(post.id)})

    @router.get(f"{API}/x/article/creative/article/list")
    async def article_list(request: Request) -> Response:
        """The account's submitted articles, newest first [I]."""
        account = await gate(request, "lookup")
        mine = [p for p in sandbox.posts_of(NAME) if p.account == account.name]
        articles = [
            {
                "id": int(p.id),
                "title": p.title,
                # 0: open to the public; 2: in review; -2: refused, with the reason [I]
                "state": {"pending": 2, "refused": -2}.get(p.review, 0),
                "reject_reason": p.review_reason,
            }
            for p in sorted(mine, key=lambda p: p.created_at, reverse=True)
            if p.status == "published"
        ]
        return envelope({"artlist": {"articles": articles}, "page": {"total": len(articles)}})

    @router.get(f"{WEB}/read/cv{{aid}}")
    async def public_page(aid: str) -> Response:
        return pages.post_page(sandbox.post(NAME, aid))

    return router
