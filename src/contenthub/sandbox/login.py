"""The login page of a cookie platform, one generic piece each twin plugs into (``LoginSpec``:
its hosts, paths and cookie names).

What a person meets on the real sites, reduced to what a login driver must handle:

* a QR code (a real QR PNG of a login token) that the page replaces every
  ``qr_refresh_seconds``; the page polls the token's state and, once a phone confirmed it,
  receives the session cookies and goes to the platform's home. Tests "scan" a code through
  ``POST /_admin/login/scan``;
* a username/password form (``POST …/_login/password``); a wrong password shows an error;
* switches (``POST /_admin/login/switches``): a captcha in front of the password form, a second
  factor (an SMS code) after either way in;
* session cookies that expire on a switch (``POST /_admin/sessions/expire``): the platform's
  API then answers as it does when logged out, and only a new login helps.

Each login issues a fresh session key (the cookie the twin's API looks accounts up by) and the
twin's other cookies; cookies are scoped to the twin's prefix (``Path=/zhihu``), because every
twin shares one sandbox host. The markup (``img.qr-image``, ``form.password-login``,
``.captcha``, ``.second-factor``, ``.login-error``) is what ``platforms.base.LoginPage``
expects by default; the real sites' selectors are unverified guesses [I].
"""

from __future__ import annotations

import html
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from contenthub.sandbox import pages, state


@dataclass(frozen=True)
class LoginSpec:
    """Where a twin's login lives and which cookies a login sets."""

    platform: str
    prefix: str  # the twin's prefix on the sandbox: "/zhihu"
    host: str  # the real host of the login page: "www.zhihu.com"
    path: str  # its path there: "/signin"
    home_host: str  # where a logged-in person lands
    home_path: str
    session_cookie: str  # the cookie the twin's API finds the account by: "z_c0"
    # The other cookies a login sets, given the account.
    other_cookies: Callable[[state.SandboxAccount], dict[str, str]]
    title: str = "登录"


@dataclass
class LoginSwitches:
    captcha: bool = False
    second_factor: bool = False
    qr_refresh_seconds: float = 30.0


@dataclass
class QrToken:
    token: str
    account: str | None = None  # who confirmed it on their phone
    used: bool = False


@dataclass
class LoginDesk:
    """What the login pages of every twin remember."""

    switches: dict[str, LoginSwitches] = field(default_factory=dict)
    qr: dict[str, QrToken] = field(default_factory=dict)

    def of(self, platform: str) -> LoginSwitches:
        return self.switches.setdefault(platform, LoginSwitches())


def desk(sandbox: state.SandboxState) -> LoginDesk:
    found = sandbox.extra.get("login")
    if found is None:
        found = sandbox.extra["login"] = LoginDesk()
    return found


def password_for(platform: str, name: str) -> str:
    """A sandbox account's password (deterministic, like its other credentials)."""
    return state.secret_for(platform, name, "password")[:16]


def login_description(platform: str, name: str) -> dict[str, str]:
    return {"username": name, "password": password_for(platform, name)}


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def _page(spec: LoginSpec, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>"
        f"<title>{html.escape(spec.title)} - {spec.platform}</title><style>"
        "body{font-family:sans-serif;background:#f6f6f6;margin:0}"
        "main{width:360px;margin:60px auto;background:#fff;padding:24px;border-radius:8px}"
        ".qr-login{text-align:center}.qr-image{width:180px;height:180px}"
        "label{display:block;margin:8px 0}input{width:100%;box-sizing:border-box;padding:6px}"
        ".login-error,.captcha,.second-factor{color:#b00;margin:12px 0}"
        "</style></head><body><main>"
        f"<h1>{html.escape(spec.title)}</h1>{body}</main></body></html>"
    )


def build_router(sandbox: state.SandboxState, spec: LoginSpec) -> APIRouter:
    router = APIRouter(prefix=f"{spec.prefix}/{spec.host}")
    login = desk(sandbox)

    def base(request: Request) -> str:
        return f"{pages.root_url(request, spec.prefix)}/{spec.host}"

    def home(request: Request) -> str:
        return f"{pages.root_url(request, spec.prefix)}/{spec.home_host}{spec.home_path}"

    def signed_in(answer: Response, account: state.SandboxAccount) -> Response:
        sandbox.operations.append((spec.platform, account.name, "web_login"))
        cookies = {spec.session_cookie: sandbox.issue_session(account)}
        for name, value in {**spec.other_cookies(account), **cookies}.items():
            answer.set_cookie(name, value, path=spec.prefix, httponly=name != "_xsrf")
        return answer

    def login_page(request: Request, error: str = "") -> HTMLResponse:
        error_block = f"<p class='login-error'>{html.escape(error)}</p>" if error else ""
        return _page(
            spec,
            f"""{error_block}
<section class="qr-login"><p>打开 App 扫码登录</p>
<img class="qr-image" alt="登录二维码"><p class="qr-state"></p></section>
<form class="password-login" method="post" action="{base(request)}/_login/password">
<label>账号 <input name="username" autocomplete="username"></label>
<label>密码 <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">登录</button></form>
<script>
const base = {base(request)!r}, home = {home(request)!r};
let token = null;
async function fresh() {{
  const answer = await (await fetch(base + "/_login/qrcode", {{method: "POST"}})).json();
  token = answer.token;
  document.querySelector(".qr-image").src = base + "/_login/qrcode/" + token + "/image.png";
  setTimeout(fresh, answer.refresh_in * 1000);
}}
async function poll() {{
  if (token) {{
    const answer = await (await fetch(base + "/_login/qrcode/" + token)).json();
    document.querySelector(".qr-state").textContent = answer.message || "";
    if (answer.status === "confirmed") {{ location.href = answer.next || home; return; }}
  }}
  setTimeout(poll, 300);
}}
fresh(); poll();
</script>""",
        )

    @router.get(spec.path)
    async def page(request: Request) -> Response:
        return login_page(request)

    @router.post("/_login/qrcode")
    async def qr_new() -> Response:
        token = QrToken(secrets.token_urlsafe(12))
        login.qr[token.token] = token
        refresh = login.of(spec.platform).qr_refresh_seconds
        return JSONResponse({"token": token.token, "refresh_in": refresh})

    @router.get("/_login/qrcode/{token}/image.png")
    async def qr_image(token: str, request: Request) -> Response:
        if token not in login.qr:
            return Response(status_code=404)
        return Response(qr_png(f"{base(request)}/_login/scan/{token}"), media_type="image/png")

    @router.get("/_login/qrcode/{token}")
    async def qr_state(token: str, request: Request) -> Response:
        found = login.qr.get(token)
        if found is None or found.used:
            return JSONResponse({"status": "expired", "message": "二维码已失效"})
        if found.account is None:
            return JSONResponse({"status": "waiting", "message": "请使用 App 扫码"})
        account = sandbox.find_account(spec.platform, found.account)
        if account is None:
            return JSONResponse({"status": "expired", "message": "二维码已失效"})
        found.used = True
        if login.of(spec.platform).second_factor:
            return JSONResponse({"status": "confirmed", "next": f"{base(request)}/_login/verify"})
        return signed_in(JSONResponse({"status": "confirmed", "next": home(request)}), account)

    @router.post("/_login/password")
    async def password_login(
        request: Request, username: str = Form(""), password: str = Form("")
    ) -> Response:
        switches = login.of(spec.platform)
        if switches.captcha:
            return _page(
                spec,
                "<div class='captcha'>请完成安全验证：拖动滑块完成拼图</div>"
                "<div style='width:300px;height:150px;background:#ddd'></div>",
            )
        account = sandbox.find_account(spec.platform, username)
        if account is None or not secrets.compare_digest(
            password, password_for(spec.platform, account.name)
        ):
            return login_page(request, "账号或密码错误")
        if switches.second_factor:
            return RedirectResponse(f"{base(request)}/_login/verify", 303)
        return signed_in(RedirectResponse(home(request), 303), account)

    @router.get("/_login/verify")
    async def second_factor() -> Response:
        return _page(
            spec,
            "<div class='second-factor'>为了你的帐号安全，请输入发送到手机的短信验证码</div>"
            "<label>验证码 <input name='code'></label>",
        )

    @router.get("/_login/scan/{token}", include_in_schema=False)
    async def scanned_by_a_browser(token: str) -> Response:
        return _page(spec, "<p>请使用 App 扫描此二维码</p>")

    return router


def build_home_router(sandbox: state.SandboxState, spec: LoginSpec) -> APIRouter:
    """The platform's home page, where a login lands (it names who is logged in)."""
    router = APIRouter(prefix=f"{spec.prefix}/{spec.home_host}")

    @router.get(spec.home_path)
    async def home(request: Request) -> Response:
        account = sandbox.account(spec.platform, request.cookies.get(spec.session_cookie, ""))
        who = html.escape(account.name) if account else "未登录"
        return _page(spec, f"<p class='home'>首页 — {who}</p>")

    return router


def scan(sandbox: state.SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    """A phone confirms a QR code: ``{platform, account, url}`` (or ``token``)."""
    platform, name = str(payload.get("platform", "")), str(payload.get("account", ""))
    token = str(payload.get("token") or str(payload.get("url", "")).rstrip("/").split("/")[-1])
    found = desk(sandbox).qr.get(token)
    if found is None or found.used:
        raise ValueError("no such QR code, or it was used already")
    if sandbox.find_account(platform, name) is None:
        raise ValueError(f"no {platform} account {name!r}")
    found.account = name
    return {"token": token, "account": name}


def set_switches(sandbox: state.SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    switches = desk(sandbox).of(str(payload["platform"]))
    for name in ("captcha", "second_factor"):
        if name in payload:
            setattr(switches, name, bool(payload[name]))
    if "qr_refresh_seconds" in payload:
        switches.qr_refresh_seconds = max(0.5, float(payload["qr_refresh_seconds"]))
    return {
        "captcha": switches.captcha,
        "second_factor": switches.second_factor,
        "qr_refresh_seconds": switches.qr_refresh_seconds,
    }
