"""Toutiao (头条号) as platforms.md §6 describes it, each real host under ``/toutiao/{host}``.

Protocol notes (what the twin checks, what the adapter must do):

- **Session:** cookies ``sessionid``, ``sid_tt`` (the twin's credentials are a Playwright storage
  state for ``127.0.0.1``, so a browser context carries them as it would on mp.toutiao.com).
- **Editor page:** ``GET mp.toutiao.com/profile_v4/graphic/publish``: without a session, a
  redirect to ``sso.toutiao.com/login/`` (the login twin's page, ``LOGIN``: QR code or password,
  setting ``sessionid`` and ``sid_tt``); otherwise the editor (title in
  ``.editor-title textarea``, body in ``.ProseMirror``, ``.publish-btn-last``) and its signing
  script ``acrawler.js``.
- **Signing:** the page's script wraps ``fetch``: every request to ``/mp/agw/`` and
  ``/spice/`` gets ``msToken`` (issued with this page load) and ``a_bogus`` (a hash over the
  page's seed, the method and the path with its query). The twin refuses a request without a
  valid pair (HTTP 403, ``err_no 10001``), so only the page itself can talk to the API — what
  Toutiao's own ``a_bogus`` achieves, in a form a test can reason about [I: the real algorithm
  is obfuscated; only its effect is simulated].
- **Login check:** ``GET /mp/agw/media/get_media_info`` → ``{err_no 0, data.user.{id,
  screen_name}}``; ``err_no 4002`` when the session is gone.
- **Images:** ``HEAD|POST /ttwid/check/`` with ``x-secsdk-csrf-request: 1`` answers the header
  ``x-ware-csrf-token: 0,{token},…``; ``POST /spice/image?upload_source=20020002&aid=1231&
  device_platform=web`` (multipart ``image``, header ``x-secsdk-csrf-token: {token}``) →
  ``{code 0, data.{image_uri, image_url, image_width, image_height}}``.
- **Save/publish:** ``POST /mp/agw/article/publish?source=mp&type=article&aid=1231``,
  form-encoded ``pgc_id`` (0: new), ``title``, ``content`` (HTML), ``save`` (0 draft, 1 publish)
  → ``{err_no 0, data.pgc_id}``; saving with an existing ``pgc_id`` updates that article (so a
  retry never posts twice). Refusals: ``err_no 7050`` with the reason; ``7003`` when too fast.
- **Public page:** ``www.toutiao.com/article/{pgc_id}/``.

Page fault switches (``/_admin/faults`` with platform ``toutiao``): ``page_hang`` (the editor
never finishes loading), ``modal`` (a guide dialog over the editor that has no close button),
``selector_changed`` (the editor's title field is rendered differently).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from contenthub.sandbox import login, pages, state

NAME = "toutiao"
PREFIX = "/toutiao"
MP = f"{PREFIX}/mp.toutiao.com"
COOKIE_DOMAIN = ".toutiao.com"  # as on the real site; for_site moves them for a browser
SIGNED = ("/mp/agw/", "/spice/")
NOT_LOGGED_IN = {"err_no": 4002, "message": "用户未登录 / not logged in", "data": None}
UNSIGNED = {"err_no": 10001, "message": "签名校验失败 / request signature (a_bogus) invalid"}


def credentials_for(name: str) -> dict[str, Any]:
    cookies = [
        {
            "name": cookie,
            "value": state.secret_for(NAME, name, cookie),
            "domain": COOKIE_DOMAIN,
            "path": "/",
            "expires": -1,
            "httpOnly": True,
            "secure": False,
            "sameSite": "Lax",
        }
        for cookie in ("sessionid", "sid_tt")
    ]
    return {"storage_state": {"cookies": cookies, "origins": []}}


LOGIN = login.LoginSpec(
    platform=NAME,
    prefix=PREFIX,
    host="sso.toutiao.com",
    path="/login/",
    home_host="mp.toutiao.com",
    home_path="/profile_v4/index",
    session_cookie="sessionid",
    other_cookies=lambda account: {"sid_tt": state.secret_for(NAME, account.name, "sid_tt")},
    title="登录头条号",
)


def login_key(credentials: dict[str, Any]) -> str:
    cookies = (credentials.get("storage_state") or {}).get("cookies") or []
    return next((str(c["value"]) for c in cookies if c.get("name") == "sessionid"), "")


ACRAWLER_JS = """
(() => {
  const seed = document.currentScript.dataset.seed;
  const msToken = document.currentScript.dataset.mstoken;
  %FNV1A%
  const original = window.fetch.bind(window);
  window.fetch = (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (%SIGNED%.some((part) => url.pathname.includes(part))) {
      url.searchParams.set("msToken", msToken);
      const method = (init.method || "GET").toUpperCase();
      url.searchParams.set("a_bogus", fnv1a(`${seed}|${method}|${url.pathname}${url.search}`));
      input = url.toString();
    }
    return original(input, init);
  };
  window.__acrawler_ready = true;
})();
""".replace("%SIGNED%", str(list(SIGNED))).replace("%FNV1A%", pages.FNV1A_JS)

EDITOR_CSS = """
body{font-family:sans-serif;margin:0;background:#f4f5f6}
header{background:#fff;padding:12px 24px;border-bottom:1px solid #e8e8e8;font-weight:bold}
main{max-width:820px;margin:24px auto;background:#fff;padding:24px 32px}
.editor-title textarea,.article-title-v2 input{width:100%;font-size:24px;border:0;
 border-bottom:1px solid #eee;padding:8px 0;resize:none}
.ProseMirror{min-height:240px;padding:12px 0;outline:none}
.publish-btn-last{background:#f04142;color:#fff;border:0;padding:8px 24px;border-radius:4px}
.byte-modal-mask{position:fixed;inset:0;background:rgba(0,0,0,.45);z-index:10}
.byte-modal{position:fixed;top:30%;left:50%;transform:translateX(-50%);background:#fff;
 padding:24px;width:420px;z-index:11;border-radius:6px}
"""


def _editor_page(account: state.SandboxAccount, seed: str, ms_token: str, fault: str | None) -> str:
    title_field = (
        '<div class="article-title-v2"><input placeholder="请输入标题"></div>'
        if fault == "selector_changed"
        else '<div class="editor-title"><textarea placeholder="请输入文章标题（2～30个字）">'
        "</textarea></div>"
    )
    modal = (
        '<div class="byte-modal-mask"></div><div class="byte-modal" role="dialog">'
        "<h3>创作助手上线啦</h3><p>头条号新功能：AI 创作助手，一键润色。"
        "请先完成新手引导。</p></div>"
        if fault == "modal"
        else ""
    )
    slow = f'<img src="{MP}/_never_loads.png" width="1" height="1">' if fault == "page_hang" else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>发布文章 - 头条号</title>"
        f"<style>{EDITOR_CSS}</style></head><body>"
        f"<header>头条号 · {html.escape(account.name)}</header><main>{title_field}"
        '<div class="ProseMirror" contenteditable="true"></div>'
        '<button class="publish-btn-last">预览并发布</button></main>'
        f"{modal}{slow}"
        f'<script src="{MP}/mp/fe_static/acrawler.js" data-seed="{seed}" '
        f'data-mstoken="{ms_token}"></script></body></html>'
    )


def fault_answer(fault: state.Fault) -> Response:
    if fault.kind == "login_expired":
        return JSONResponse(NOT_LOGGED_IN)
    if fault.kind == "rate_limited":
        body = {"err_no": 7003, "message": "操作过于频繁，请稍后再试", "data": None}
        return JSONResponse(body, headers={"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind == "server_error":
        return pages.json_error(fault.status, {"err_no": -1, "message": "系统繁忙"})
    return JSONResponse({"err_no": 7050, "message": fault.message, "data": None})


def build_router(sandbox: state.SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    # msToken → (account name, seed): issued with each editor page load.
    tokens: dict[str, tuple[str, str]] = sandbox.extra.setdefault("toutiao_tokens", {})
    csrf: dict[str, str] = sandbox.extra.setdefault("toutiao_csrf", {})  # sessionid → token

    def who(request: Request) -> state.SandboxAccount | None:
        return sandbox.account(NAME, request.cookies.get("sessionid", ""))

    def signed(request: Request, account: state.SandboxAccount) -> bool:
        issued = tokens.get(request.query_params.get("msToken", ""))
        if issued is None or issued[0] != account.name:
            return False
        query = [(k, v) for k, v in parse_qsl(request.url.query) if k != "a_bogus"]
        text = f"{issued[1]}|{request.method}|{request.url.path}?{urlencode(query)}"
        return pages.fnv1a(text) == request.query_params.get("a_bogus")

    async def gate(request: Request, operation: str) -> state.SandboxAccount:
        account = who(request)
        fault = await sandbox.before(NAME, account.name if account else None, operation)
        if fault is not None:
            raise pages.Refusal(fault_answer(fault))
        if account is None:
            raise pages.Refusal(JSONResponse(NOT_LOGGED_IN))
        if not signed(request, account):
            raise pages.Refusal(pages.json_error(403, UNSIGNED))
        return account

    def article_url(request: Request, pgc_id: str) -> str:
        return f"{pages.root_url(request, PREFIX)}/www.toutiao.com/article/{pgc_id}/"

    @router.get("/mp.toutiao.com/profile_v4/graphic/publish")
    async def editor(request: Request) -> Response:
        account = who(request)
        if account is None:
            return RedirectResponse(f"{PREFIX}/sso.toutiao.com/login/?service=mp", 302)
        fault = sandbox.take_page_fault(NAME, account.name)
        seed, ms_token = secrets.token_hex(8), secrets.token_urlsafe(24)
        tokens[ms_token] = (account.name, seed)
        page = HTMLResponse(_editor_page(account, seed, ms_token, fault.kind if fault else None))
        # As the real site does on every visit: a fresh ``ttwid`` (a browser on this stand-in
        # holds it for the stand-in's host and path), for a client to keep.
        page.set_cookie("ttwid", secrets.token_hex(12), max_age=365 * 86_400, path=PREFIX)
        return page

    @router.get("/mp.toutiao.com/mp/fe_static/acrawler.js")
    async def acrawler() -> Response:
        return Response(ACRAWLER_JS, media_type="application/javascript")

    @router.get("/mp.toutiao.com/_never_loads.png")
    async def never_loads(request: Request) -> Response:
        # Holds the page's load event back until the browser gives up and disconnects.
        for _ in range(600):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.5)
        return Response(status_code=204)

    @router.get("/mp.toutiao.com/mp/agw/media/get_media_info")
    async def media_info(request: Request) -> Response:
        account = await gate(request, "login")
        user = {"id": account.user_id, "screen_name": account.name}
        return JSONResponse({"err_no": 0, "message": "success", "data": {"user": user}})

    @router.api_route("/mp.toutiao.com/ttwid/check/", methods=["HEAD", "POST"])
    async def ttwid_check(request: Request) -> Response:
        session = request.cookies.get("sessionid", "")
        if who(request) is None or request.headers.get("x-secsdk-csrf-request") != "1":
            return Response(status_code=403)
        token = csrf.setdefault(session, secrets.token_hex(16))
        return Response(headers={"x-ware-csrf-token": f"0,{token},86370000,success,{session[:8]}"})

    @router.post("/mp.toutiao.com/spice/image")
    async def upload_image(request: Request) -> Response:
        await gate(request, "image")
        session = request.cookies.get("sessionid", "")
        if request.headers.get("x-secsdk-csrf-token") != csrf.get(session):
            return pages.json_error(403, {"code": 403, "message": "csrf token invalid"})
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            return JSONResponse({"code": 1, "message": "missing image"})
        data = await upload.read()
        uri = f"tos-cn-i-0022/{hashlib.md5(data).hexdigest()}"
        sandbox.images[uri] = state.StoredImage(data, upload.content_type or "image/png")
        url = f"{pages.root_url(request, PREFIX)}/p3-sign.toutiaoimg.com/{uri}"
        return JSONResponse(
            {
                "code": 0,
                "data": {"image_uri": uri, "image_url": url, "image_width": 1, "image_height": 1},
            }
        )

    @router.get("/p3-sign.toutiaoimg.com/{uri:path}")
    async def cdn(uri: str) -> Response:
        return pages.image_response(sandbox, uri)

    @router.post("/mp.toutiao.com/mp/agw/article/publish")
    async def publish(request: Request) -> Response:
        form = await request.form()
        save = str(form.get("save", "0"))
        account = await gate(request, "publish" if save == "1" else "draft")
        title, content = str(form.get("title", "")), str(form.get("content", ""))
        if not title.strip():
            return JSONResponse({"err_no": 7050, "message": "标题不能为空", "data": None})
        pgc_id = str(form.get("pgc_id", "0") or "0")
        post = sandbox.post(NAME, pgc_id) if pgc_id != "0" else None
        if post is not None and post.account != account.name:
            return JSONResponse({"err_no": 7050, "message": "文章不存在", "data": None})
        if post is None:
            post = sandbox.save_post(
                state.SandboxPost(
                    NAME, sandbox.new_id(), account.name, title, content, [], None, "draft"
                )
            )
        post.title, post.body = title, content
        try:
            covers = json.loads(str(form.get("pgc_feed_covers") or "[]"))
        except ValueError:
            return JSONResponse({"err_no": 7050, "message": "封面格式错误", "data": None})
        post.cover = covers[0].get("url") if covers and isinstance(covers[0], dict) else None
        if save == "1":
            post.status = "published"
            post.url = article_url(request, post.id)
        await sandbox.after_commit(NAME, account.name, "publish" if save == "1" else "draft")
        return JSONResponse({"err_no": 0, "message": "success", "data": {"pgc_id": post.id}})

    @router.get("/www.toutiao.com/article/{pgc_id}/")
    async def public_page(pgc_id: str) -> Response:
        return pages.post_page(sandbox.post(NAME, pgc_id))

    return router
