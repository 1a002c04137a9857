"""The WeChat Official Account API (platforms.md §5a) under ``/wechat``: ``stable_token`` with
the AppID and AppSecret, the ``access_token`` checked on every call (40001 unknown, 42001
expired), body images, permanent material, drafts, and ``freepublish`` with its background job.

Errors are ``{errcode, errmsg}`` with HTTP 200, as on WeChat. Fault switches:
``login_expired`` makes the caller's token expire (42001), or refuses the AppSecret (40001) on
the token call; ``rate_limited`` is 45011; ``server_error`` is -1 "system error";
``reject`` on ``publish`` refuses the submit (53503); ``reject`` on ``review`` lets the submit
through and ends the job with ``publish_status`` = the fault's ``status`` when that is 2–6,
else 4 (review rejected). A job reports ``publish_status`` 1 (publishing) on its first poll.
The article is public from the submit on, and its draft leaves the draft box [I].
A post's id is its draft's ``media_id``; ``extra["post_id"]`` is its ``article_id``.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from contenthub.sandbox import pages, state

NAME = "wechat"
PREFIX = "/wechat"
TOKEN_SECONDS = 7200
CDN = "mmbiz.qpic.cn"
# The sandbox publishes at once, so its accounts poll freepublish/get briskly.
ACCOUNT_OPTIONS = {"publish_poll_seconds": 0.05}
BODY_IMAGE_TYPES = {"image/png", "image/jpeg"}
FINAL_STATUSES = range(2, 7)
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc="([^"]*)"[^>]*>""", re.I)


def credentials_for(name: str) -> dict[str, Any]:
    return {
        "appid": f"wx{state.secret_for(NAME, name, 'appid')[:16]}",
        "secret": state.secret_for(NAME, name, "s"),
    }


def login_key(credentials: dict[str, Any]) -> str:
    return f"{credentials.get('appid', '')}:{credentials.get('secret', '')}"


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": f"{message} rid: sandbox"})


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return _error(42001, "access_token expired")
    if fault.kind == "rate_limited":
        return _error(45011, "api minute-quota reach limit mustslower retry next minute")
    if fault.kind == "server_error":
        return _error(-1, "system error")
    return _error(53503, f"该草稿未通过发布检查: {fault.message}")


@dataclass
class _Job:
    post_id: str
    final_status: int
    polls: int = 0


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    tokens: dict[str, tuple[state.SandboxAccount, float]] = sandbox.extra.setdefault(
        "wechat_tokens", {}
    )
    current: dict[str, str] = sandbox.extra.setdefault("wechat_current_token", {})
    materials: dict[str, str] = sandbox.extra.setdefault("wechat_materials", {})
    jobs: dict[str, _Job] = sandbox.extra.setdefault("wechat_jobs", {})

    def issue_token(account: state.SandboxAccount) -> str:
        token = state.secret_for(NAME, account.name, f"token-{sandbox.new_id()}") * 2
        tokens[token] = (account, time.monotonic() + TOKEN_SECONDS)
        current[account.name] = token
        return token

    def valid_token(account: state.SandboxAccount) -> str | None:
        token = current.get(account.name)
        return token if token and tokens[token][1] > time.monotonic() else None

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        """The account whose access_token the call carries; or a Refusal with WeChat's answer."""
        token = request.query_params.get("access_token", "")
        account, expires_at = tokens.get(token, (None, 0.0))
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            if fault.kind == "login_expired" and account is not None:
                tokens[token] = (account, 0.0)  # this token is spent: the client must refresh
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(
                _error(40001, "invalid credential, access_token is invalid or not latest")
            )
        if expires_at <= time.monotonic():
            raise pages.Refusal(_error(42001, "access_token expired"))
        return account

    @router.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> Response:
        payload = await pages.json_payload(request)
        account = sandbox.account(NAME, login_key(payload))
        fault = await sandbox.before(NAME, account.name if account else None, "login")
        if fault is not None and fault.kind == "login_expired":
            return _error(40001, "invalid appsecret, view more at http://t.cn/RAEkdVq")
        if fault is not None:
            return fault_answer(fault)
        if payload.get("grant_type") != "client_credential" or account is None:
            return _error(40125, "invalid appsecret")
        token = valid_token(account)
        if token is None or payload.get("force_refresh"):
            token = issue_token(account)
        remaining = int(tokens[token][1] - time.monotonic())
        return JSONResponse({"access_token": token, "expires_in": remaining})

    async def upload(request: Request) -> tuple[bytes, str] | None:
        form = await request.form()
        media = form.get("media")
        if not isinstance(media, UploadFile):
            return None
        return await media.read(), media.content_type or ""

    def cdn_url(request: Request, data: bytes, content_type: str) -> str:
        key = hashlib.md5(data).hexdigest()
        sandbox.images[f"wx:{key}"] = state.StoredImage(data, content_type)
        fmt = content_type.rsplit("/", 1)[-1]
        return f"{pages.root_url(request, PREFIX)}/{CDN}/mmbiz_{fmt}/{key}/0?wx_fmt={fmt}"

    @router.post("/cgi-bin/media/uploadimg")
    async def uploadimg(request: Request) -> Response:
        await gate(request, "image")
        uploaded = await upload(request)
        if uploaded is None:
            return _error(41005, "media data missing")
        data, content_type = uploaded
        if content_type not in BODY_IMAGE_TYPES:
            return _error(40005, "invalid file type")
        if len(data) >= 1024 * 1024:
            return _error(40009, "invalid image size")
        return JSONResponse({"url": cdn_url(request, data, content_type)})

    @router.post("/cgi-bin/material/add_material")
    async def add_material(request: Request, type: str = "") -> Response:
        await gate(request, "image")
        uploaded = await upload(request)
        if type != "image" or uploaded is None:
            return _error(40004, "invalid media type")
        media_id = f"mat-{state.secret_for(NAME, sandbox.new_id(), 'material')}"
        materials[media_id] = cdn_url(request, *uploaded)
        return JSONResponse({"media_id": media_id, "url": materials[media_id], "item": []})

    @router.get(f"/{CDN}/{{fmt}}/{{key}}/0")
    async def cdn(fmt: str, key: str) -> Response:
        return pages.image_response(sandbox, f"wx:{key}")

    def draft_problem(article: dict[str, Any]) -> Response | None:
        if not 0 < len(str(article.get("title", ""))) <= 32:
            return _error(45003, "title size out of limit")
        if len(str(article.get("content", ""))) >= 20_000:
            return _error(45002, "content size out of limit")
        if article.get("thumb_media_id") not in materials:
            return _error(40007, "invalid media_id")
        return None

    def without_foreign_images(content: str, request: Request) -> str:
        """WeChat filters out images that are not on its CDN."""
        ours = f"{pages.root_url(request, PREFIX)}/{CDN}/"
        return _IMG_SRC.sub(lambda m: m.group(0) if m.group(1).startswith(ours) else "", content)

    def news_item(post: state.SandboxPost) -> dict[str, Any]:
        return {
            "title": post.title,
            "digest": post.extra.get("digest", ""),
            "thumb_media_id": post.extra["thumb_media_id"],
            "url": post.url or "",
            "content": post.body,
        }

    def own_post(account: state.SandboxAccount, media_id: str) -> state.SandboxPost | None:
        post = sandbox.post(NAME, media_id)
        return post if post is not None and post.account == account.name else None

    @router.post("/cgi-bin/draft/add")
    async def draft_add(request: Request) -> Response:
        account = await gate(request, "draft")
        articles = (await pages.json_payload(request)).get("articles") or [{}]
        if problem := draft_problem(articles[0]):
            return problem
        article = articles[0]
        media_id = f"draft-{state.secret_for(NAME, sandbox.new_id(), 'draft')}"
        post = state.SandboxPost(
            NAME,
            media_id,
            account.name,
            str(article["title"]),
            without_foreign_images(str(article.get("content", "")), request),
            [],
            materials[article["thumb_media_id"]],
            "draft",
            extra={
                "thumb_media_id": article["thumb_media_id"],
                "digest": article.get("digest", ""),
            },
        )
        sandbox.save_post(post)
        await sandbox.after_commit(NAME, account.name, "draft")
        return JSONResponse({"media_id": media_id})

    async def draft_named(
        request: Request, step: str
    ) -> tuple[state.SandboxAccount, state.SandboxPost]:
        """The caller's draft named by the body's ``media_id``; or a Refusal."""
        account = await gate(request, step)
        post = own_post(account, str((await pages.json_payload(request)).get("media_id", "")))
        if post is None or post.status != "draft":
            raise pages.Refusal(_error(40007, "invalid media_id"))
        return account, post

    @router.post("/cgi-bin/draft/get")
    async def draft_get(request: Request) -> Response:
        _, post = await draft_named(request, "lookup")
        return JSONResponse({"news_item": [news_item(post)]})

    @router.post("/cgi-bin/draft/batchget")
    async def draft_list(request: Request) -> Response:
        """The draft box, newest first: ``{offset, count, no_content}``."""
        account = await gate(request, "lookup")
        payload = await pages.json_payload(request)
        drafts = sandbox.drafts_of(NAME, account.name)
        offset, count = int(payload.get("offset", 0)), int(payload.get("count", 20))
        items = []
        for post in drafts[offset : offset + count]:
            item = news_item(post)
            if payload.get("no_content"):
                item.pop("content")
            items.append(
                {
                    "media_id": post.id,
                    "content": {"news_item": [item]},
                    "update_time": int(post.created_at),
                }
            )
        return JSONResponse({"total_count": len(drafts), "item_count": len(items), "item": items})

    @router.post("/cgi-bin/draft/delete")
    async def draft_delete(request: Request) -> Response:
        _, post = await draft_named(request, "draft")
        sandbox.delete_post(NAME, post.id)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @router.post("/cgi-bin/freepublish/submit")
    async def submit(request: Request) -> Response:
        account, post = await draft_named(request, "publish")
        review = await sandbox.before(NAME, account.name, "review")
        final = 0
        if review is not None and review.kind == "reject":
            final = review.status if review.status in FINAL_STATUSES else 4
        publish_id = sandbox.new_id()
        jobs[publish_id] = _Job(post.id, final)
        if final == 0:
            post.extra["post_id"] = sandbox.new_id()
            post.status = "published"
            post.url = (
                f"{pages.root_url(request, PREFIX)}/mp.weixin.qq.com/s/{post.extra['post_id']}"
            )
        else:
            post.status = "failed"
        await sandbox.after_commit(NAME, account.name, "publish")
        return JSONResponse(
            {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": publish_id}
        )

    @router.post("/cgi-bin/freepublish/get")
    async def job_status(request: Request) -> Response:
        account = await gate(request, "publish_status")
        publish_id = str((await pages.json_payload(request)).get("publish_id", ""))
        job = jobs.get(publish_id)
        if job is None or not own_post(account, job.post_id):
            return _error(48006, "invalid publish_id")
        job.polls += 1
        if job.polls == 1:
            return JSONResponse({"publish_id": publish_id, "publish_status": 1})
        if job.final_status != 0:
            return JSONResponse(
                {"publish_id": publish_id, "publish_status": job.final_status, "fail_idx": [1]}
            )
        post = sandbox.post(NAME, job.post_id)
        assert post is not None
        detail = {"count": 1, "item": [{"idx": 1, "article_url": post.url}]}
        return JSONResponse(
            {
                "publish_id": publish_id,
                "publish_status": 0,
                "article_id": post.extra["post_id"],
                "article_detail": detail,
                "fail_idx": [],
            }
        )

    @router.post("/cgi-bin/freepublish/batchget")
    async def published_list(request: Request) -> Response:
        account = await gate(request, "lookup")
        payload = await pages.json_payload(request)
        published = [
            p
            for p in sandbox.posts_of(NAME)
            if p.account == account.name and p.status == "published"
        ]
        newest = list(reversed(published))
        page = newest[int(payload.get("offset", 0)) :][: int(payload.get("count", 20))]
        items = []
        for post in page:
            item = news_item(post)
            if payload.get("no_content"):
                item.pop("content")
            items.append({"article_id": post.extra["post_id"], "content": {"news_item": [item]}})
        return JSONResponse({"total_count": len(newest), "item_count": len(items), "item": items})

    @router.post("/cgi-bin/freepublish/delete")
    async def published_delete(request: Request) -> Response:
        """Deletes a published article (``{article_id, index}``; index 0: all of it) [I]."""
        account = await gate(request, "delete")
        article_id = str((await pages.json_payload(request)).get("article_id", ""))
        post = next(
            (
                p
                for p in sandbox.posts_of(NAME)
                if p.account == account.name
                and p.status == "published"
                and p.extra.get("post_id") == article_id
            ),
            None,
        )
        if post is None:
            return _error(53600, "Article ID 无效")
        sandbox.delete_post(NAME, post.id)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @router.get("/mp.weixin.qq.com/s/{article_id}")
    async def public_page(article_id: str) -> Response:
        posts = sandbox.posts_of(NAME)
        return pages.post_page(
            next((p for p in posts if p.extra.get("post_id") == article_id), None),
            summary_field="digest",
        )

    return router
