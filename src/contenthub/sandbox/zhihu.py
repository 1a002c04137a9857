"""Zhihu (知乎 专栏) as platforms.md §2 describes it, each real host under ``/zhihu/{host}``.

Checked: the ``z_c0`` login cookie (extended 30 days by each login check), ``x-requested-with:
fetch`` on API calls, ``x-xsrftoken`` equal to the ``_xsrf`` cookie on writes, and the Aliyun
OSS V1 signature of image uploads.

Browser mode: ``zhuanlan.zhihu.com/write`` and ``/p/{id}/edit`` are the editor pages (title in
``textarea.WriteIndex-titleInput``, body in ``.public-DraftEditor-content``, the
``.PublishPanel-triggerButton`` publishes the draft the page edits, then the page goes to
``/p/{id}``); a page without the ``z_c0`` cookie redirects to ``www.zhihu.com/signin``. Their
script signs every API request the page makes with ``x-zse-93``/``x-zse-96`` (a hash over the
path and the ``d_c0`` cookie [I: Zhihu's real algorithm is obfuscated]). The ``anti_bot``
switch makes the API refuse requests without that signature (HTTP 403, code 10003): what the
HTTP adapter meets when Zhihu stops trusting a client. The page faults (``page_hang``,
``modal``, ``selector_changed``) strike the editor pages as on Toutiao.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

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


def _zse_ok(request: Request) -> bool:
    query = f"?{request.url.query}" if request.url.query else ""
    text = f"101_3_3.0+{request.url.path}{query}+{request.cookies.get('d_c0', '')}"
    return request.headers.get("x-zse-96") == f"2.0_{pages.fnv1a(text)}"


ZSE_JS = """
(() => {
  %FNV1A%
  const cookie = (name) => (document.cookie.split("; ").find((c) => c.startsWith(name + "="))
                           || "").slice(name.length + 1);
  const original = window.fetch.bind(window);
  window.fetch = (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (url.pathname.includes("/api")) {
      init = {...init, headers: {...(init.headers || {}), "x-zse-93": "101_3_3.0",
        "x-zse-96": "2.0_" + fnv1a(`101_3_3.0+${url.pathname}${url.search}+${cookie("d_c0")}`),
        "x-requested-with": "fetch", "x-xsrftoken": cookie("_xsrf")}};
    }
    return original(input, init);
  };
  window.__zse_ready = true;
  const button = document.querySelector(".PublishPanel-triggerButton");
  if (button && button.dataset.draft) {
    button.addEventListener("click", async () => {
      const draft = button.dataset.draft;
      const title = (document.querySelector("textarea.WriteIndex-titleInput") || {}).value;
      const body = {action: "article", data: {draft: {id: draft}, title: {title},
        hybrid: {html: document.querySelector(".public-DraftEditor-content").innerHTML}}};
      const answer = await (await fetch(button.dataset.publish, {method: "POST",
        headers: {"content-type": "application/json"}, body: JSON.stringify(body)})).json();
      if (answer.code !== 0) {
        document.querySelector(".PublishPanel-error").textContent = answer.message;
        return;
      }
      const id = JSON.parse(answer.data.result).publish.id;
      location.href = button.dataset.root + "/p/" + id;
    });
  }
})();
""".replace("%FNV1A%", pages.FNV1A_JS)


def _editor_page(root: str, post: state.SandboxPost | None, fault: str | None) -> str:
    title = html.escape(post.title) if post else ""
    body = post.body if post else ""
    title_field = (
        '<input class="WriteIndex-titleInput-v2" placeholder="请输入标题">'
        if fault == "selector_changed"
        else '<textarea class="WriteIndex-titleInput" placeholder="请输入标题（最多 100 个字）">'
        f"{title}</textarea>"
    )
    modal = (
        '<div class="Modal-backdrop" style="position:fixed;inset:0;background:#0008"></div>'
        '<div class="Modal" role="dialog" style="position:fixed;top:30%;left:30%;'
        'background:#fff;padding:24px">知乎创作中心升级公告：请阅读并同意新版创作规范</div>'
        if fault == "modal"
        else ""
    )
    slow = f'<img src="{root}/_never_loads.png">' if fault == "page_hang" else ""
    button = (
        f'<button class="PublishPanel-triggerButton" data-draft="{post.id}" '
        f'data-root="{root}" data-publish="{root.rsplit("/", 1)[0]}'
        '/www.zhihu.com/api/v4/content/publish">发布</button>'
        if post
        else ""
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>写文章 - 知乎</title>"
        "</head><body><main style='max-width:760px;margin:24px auto'>"
        f"{title_field}<div class='public-DraftEditor-content' contenteditable='true'>{body}"
        f"</div>{button}<p class='PublishPanel-error'></p></main>{modal}{slow}"
        f"<script>{ZSE_JS}</script></body></html>"
    )


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    uploads: dict[str, dict[str, str]] = sandbox.extra.setdefault("zhihu_uploads", {})
    topics: dict[str, dict[str, str]] = sandbox.extra.setdefault("zhihu_topics", {})

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
        if sandbox.anti_bot(NAME, account.name if account else None) and not _zse_ok(request):
            raise pages.Refusal(pages.json_error(403, ANTI_BOT))
        if account is None:
            raise pages.Refusal(pages.json_error(401, NO_AUTH))
        if write and request.headers.get("x-xsrftoken") != request.cookies.get("_xsrf"):
            raise pages.Refusal(pages.json_error(403, ANTI_BOT))
        return account

    def article_json(request: Request, post: state.SandboxPost) -> dict[str, Any]:
        url = f"{pages.root_url(request, PREFIX)}/zhuanlan.zhihu.com/p/{post.id}"
        # A post held for review reads "reviewing", a refused one "review_rejected" with its
        # reason [I: the field values are a guess; the real article JSON was not found].
        shown = {"pending": "reviewing", "refused": "review_rejected"}.get(post.review)
        return {
            "id": int(post.id),
            "title": post.title,
            "content": post.body,
            "url": url,
            "state": shown or post.status,
            "review_reason": post.review_reason,
            "created": int(post.created_at),
            "updated": int(post.created_at),
        }

    @router.get("/www.zhihu.com/api/v4/me")
    async def me(request: Request) -> Response:
        account = await gate(request, "login", write=False)
        answer = JSONResponse(
            {"id": account.user_id, "uid": account.user_id, "name": account.name, "avatar_url": ""}
        )
        return pages.refresh_login(answer, request, "z_c0", "zhihu.com")

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

    @router.get("/zhuanlan.zhihu.com/api/articles/drafts")
    async def draft_list(request: Request, limit: int = 10, offset: int = 0) -> Response:
        """The account's drafts, newest first, paged [I]."""
        account = await gate(request, "lookup", write=False)
        drafts = sandbox.drafts_of(NAME, account.name)
        page = [article_json(request, p) for p in drafts[offset : offset + limit]]
        paging = {"is_end": offset + limit >= len(drafts), "totals": len(drafts)}
        return JSONResponse({"data": page, "paging": paging})

    @router.delete("/zhuanlan.zhihu.com/api/articles/{article_id}/draft")
    async def draft_delete(article_id: str, request: Request) -> Response:
        """Deletes a draft that was never published [I]."""
        post = await writable_post(request, article_id)
        if post.status != "draft":
            return pages.json_error(400, {"error": {"code": 400, "message": "不是草稿"}})
        sandbox.delete_post(NAME, post.id)
        return Response(status_code=204)

    @router.patch("/zhuanlan.zhihu.com/api/articles/{article_id}/draft")
    async def draft_update(article_id: str, request: Request) -> Response:
        post = await writable_post(request, article_id)
        payload = await pages.json_payload(request)
        post.title = str(payload.get("title", post.title))
        post.body = str(payload.get("content", post.body))
        post.cover = payload.get("titleImage") or post.cover
        return Response(status_code=204)

    @router.get("/zhuanlan.zhihu.com/api/autocomplete/topics")
    async def topic_lookup(
        request: Request, token: str = "", max_matches: int = 5, topic_filter: int = 0
    ) -> Response:
        """Topics matching ``token``, as zhihu_obsidian's ``autoCompleteTopic`` reads them: a
        list of topic objects (the sandbox knows one per word)."""
        await gate(request, "draft", write=False)
        word = token.strip()
        if not word or max_matches < 1 or topic_filter != 1:
            return JSONResponse([])
        topic_id = str(int(state.secret_for(NAME, word.lower(), "topic")[:10], 16))
        topic = {
            "id": topic_id,
            "type": "topic",
            "name": word,
            "url": f"https://www.zhihu.com/topic/{topic_id}",
            "avatar_url": "",
            "introduction": "",
        }
        topics[topic_id] = topic
        return JSONResponse([topic])

    @router.post("/zhuanlan.zhihu.com/api/articles/{article_id}/topics")
    async def topic_add(article_id: str, request: Request) -> Response:
        """Takes a topic object the lookup handed out; a bare name is not a topic."""
        post = await writable_post(request, article_id)
        given = await pages.json_payload(request)
        known = topics.get(str(given.get("id", "")))
        if known is None or given.get("name") != known["name"] or given.get("type") != "topic":
            return pages.json_error(400, {"error": {"code": 400, "message": "话题不存在"}})
        if known["name"] not in post.tags:
            post.tags.append(known["name"])
        return JSONResponse(known)

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
        sandbox.hold_for_review(post)
        await sandbox.after_commit(NAME, account.name, "publish")
        result = json.dumps({"publish": {"id": post.id}})
        return JSONResponse({"code": 0, "message": "success", "data": {"result": result}})

    def editor(request: Request, post_id: str | None) -> Response:
        account = who(request)
        if account is None:
            return RedirectResponse(f"{PREFIX}/www.zhihu.com/signin?next=/write", 302)
        post = own_post(account, post_id) if post_id else None
        if post_id and post is None:
            return HTMLResponse("<!doctype html><h1>404</h1>", 404)
        fault = sandbox.take_page_fault(NAME, account.name)
        root = f"{pages.root_url(request, PREFIX)}/zhuanlan.zhihu.com"
        return HTMLResponse(_editor_page(root, post, fault.kind if fault else None))

    @router.get("/zhuanlan.zhihu.com/write")
    async def write_page(request: Request) -> Response:
        return editor(request, None)

    @router.get("/zhuanlan.zhihu.com/p/{article_id}/edit")
    async def edit_page(article_id: str, request: Request) -> Response:
        return editor(request, article_id)

    @router.get("/zhuanlan.zhihu.com/_never_loads.png")
    async def never_loads(request: Request) -> Response:
        for _ in range(600):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.5)
        return Response(status_code=204)

    @router.get("/zhuanlan.zhihu.com/p/{article_id}")
    async def public_page(article_id: str) -> Response:
        return pages.post_page(sandbox.post(NAME, article_id))

    return router
