"""What every dashboard page shares: who is signed in, the CSRF check, the language, and
rendering a template."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from contenthub.clock import utcnow
from contenthub.services.sessions import COOKIE_NAME, AttemptLimiter, SignedIn, session_of
from contenthub.services.users import Principal
from contenthub.storage import Database
from contenthub.web import i18n

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# A published URL comes from a platform: shown as a link only if it is a web address.
templates.env.tests["web_link"] = lambda url: (
    isinstance(url, str) and url.startswith(("https://", "http://"))
)
SESSION_COOKIE = COOKIE_NAME
# Before sign-in there is no session to hold a CSRF token: the sign-in form's token is
# matched against this cookie instead (double submit).
PRE_CSRF_COOKIE = "chub_pre"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No live session: the browser is sent to sign in, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class CsrfRefused(Exception):
    pass


@dataclass
class Web:
    """One page request: the signed-in user, the language, the submitted form."""

    request: Request
    me: SignedIn | None
    lang: str
    form: FormData = field(default_factory=FormData)

    @property
    def db(self) -> Database:
        return self.request.app.state.db

    @property
    def principal(self) -> Principal:
        assert self.me is not None
        return self.me.principal

    def t(self, key: str, **values: object) -> str:
        return i18n.translator(self.lang)(key, **values)

    def value(self, name: str, default: str = "") -> str:
        """A text field of the submitted form (an upload or a missing field: ``default``)."""
        raw = self.form.get(name)
        return raw if isinstance(raw, str) else default

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            self.request,
            template,
            {
                "web": self,
                "t": self.t,
                "lang": self.lang,
                "me": self.me.principal if self.me else None,
                "csrf": self.me.csrf if self.me else "",
                **context,
            },
            status_code=status,
        )


def secure_cookies(request: Request) -> bool:
    """Cookies are marked Secure when the browser reached us over HTTPS (directly, or through
    a proxy that says so and that uvicorn trusts: ``--forwarded-allow-ips``)."""
    return request.url.scheme == "https"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter(request: Request) -> AttemptLimiter:
    app = request.app
    if not hasattr(app.state, "sign_in_limiter"):
        app.state.sign_in_limiter = AttemptLimiter()
    return app.state.sign_in_limiter


async def _form(request: Request) -> FormData:
    if request.method in SAFE_METHODS:
        return FormData()
    try:
        return await request.form(max_files=4, max_fields=200)
    except Exception:  # a body that is no form: treated as an empty one, refused below
        return FormData()


def _language(request: Request) -> str:
    return i18n.language_of(
        request.cookies.get(i18n.COOKIE), request.headers.get("Accept-Language")
    )


async def current_session(request: Request) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    db: Database = request.app.state.db
    return await run_in_threadpool(session_of, db, token, now=utcnow())


async def page(request: Request) -> Web:
    """A signed-in page; a change (POST) must carry the session's CSRF token."""
    me = await current_session(request)
    if me is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in SAFE_METHODS:
            target = request.headers.get("HX-Current-URL") or "/"
        raise SignInRequired(target)
    form = await _form(request)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or form.get("csrf")
        if not isinstance(sent, str) or not secrets.compare_digest(sent, me.csrf):
            raise CsrfRefused()
    request.state.principal = me.principal
    return Web(request, me, _language(request), form)


async def public_page(request: Request) -> Web:
    """A page for anyone (sign-in): a POST must match the pre-session CSRF cookie."""
    form = await _form(request)
    if request.method not in SAFE_METHODS:
        cookie = request.cookies.get(PRE_CSRF_COOKIE) or ""
        sent = form.get("csrf")
        if not cookie or not isinstance(sent, str) or not secrets.compare_digest(sent, cookie):
            raise CsrfRefused()
    return Web(request, await current_session(request), _language(request), form)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/tasks"
    return target


def sign_in_redirect(request: Request, next_url: str) -> Response:
    location = "/login?next=" + quote(safe_next(next_url), safe="/")
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def is_page_path(path: str) -> bool:
    """A dashboard path: not the API, not the probes."""
    return not path.startswith(("/api/", "/healthz", "/readyz", "/metrics"))


def wants_html(request: Request) -> bool:
    """On a dashboard path errors are pages, not JSON."""
    return is_page_path(request.url.path)


def error_page(
    request: Request, status: int, message: str | None = None, *, key: str | None = None
) -> HTMLResponse:
    """An error as a page in the user's language (``key``: a message of ours to show)."""
    web = Web(request, None, _language(request))
    title = web.t("not_found") if status == 404 else f"{status}"
    text = web.t(key) if key else message
    return web.render("error.html", status=status, title=title, message=text)
