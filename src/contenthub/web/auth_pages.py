"""Sign in and out, the language switch, and the settings page (API tokens, sessions)."""

from __future__ import annotations

import contextlib
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from contenthub.api.deps import ResourceId
from contenthub.clock import utcnow
from contenthub.errors import InputError, NotFound
from contenthub.services import sessions
from contenthub.services import users as user_service
from contenthub.web import i18n
from contenthub.web.core import (
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    Web,
    client_address,
    limiter,
    page,
    public_page,
    safe_next,
    secure_cookies,
)

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
Public = Annotated[Web, Depends(public_page)]
MAX_NAME = 64
MAX_PASSWORD = 1024


def _login_form(web: Web, *, status: int = 200, error: str | None = None) -> HTMLResponse:
    token = web.request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    answer = web.render(
        "login.html",
        status=status,
        pre_csrf=token,
        error=error,
        name=web.value("name")[:MAX_NAME],
        next_url=safe_next(web.request.query_params.get("next") or web.value("next")),
        expired=web.request.query_params.get("next") is not None,
    )
    answer.set_cookie(
        PRE_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(web.request),
        path="/login",
    )
    return answer


@router.get("/login")
def login_page(web: Public) -> Response:
    if web.me is not None:
        return RedirectResponse(safe_next(web.request.query_params.get("next")), status_code=303)
    return _login_form(web)


@router.post("/login")
async def login(web: Public) -> Response:
    name, password = web.value("name").strip(), web.value("password")
    address = client_address(web.request)
    attempts = limiter(web.request)
    wait = attempts.retry_after(name, address)
    if wait > 0:
        message = web.t("login.limited", seconds=math.ceil(wait))
        return _login_form(web, status=429, error=message)
    signed = None
    if 0 < len(name) <= MAX_NAME and 0 < len(password) <= MAX_PASSWORD:
        signed = await run_in_threadpool(
            sessions.sign_in, web.db, name, password, address=address, now=utcnow()
        )
    if signed is None:
        attempts.failed(name, address)
        return _login_form(web, status=401, error=web.t("login.failed"))
    attempts.succeeded(name)
    _, token = signed
    answer = RedirectResponse(safe_next(web.value("next")), status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(web.request),
    )
    answer.delete_cookie(PRE_CSRF_COOKIE, path="/login")
    return answer


@router.post("/logout")
def logout(web: Page) -> Response:
    assert web.me is not None
    sessions.sign_out(web.db, web.me, now=utcnow())
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    if web.is_htmx:
        answer = Response(headers={"HX-Redirect": "/login"})
        answer.delete_cookie(SESSION_COOKIE)
    return answer


@router.get("/lang/{code}")
def switch_language(code: str, web: Public) -> Response:
    """Remember the chosen language for a year; back to the page it was chosen on."""
    answer = RedirectResponse(safe_next(web.request.query_params.get("next")), status_code=303)
    if code in i18n.LANGUAGES:
        answer.set_cookie(
            i18n.COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=secure_cookies(web.request),
        )
    return answer


def _settings(web: Web, *, status: int = 200, **context: object) -> HTMLResponse:
    me = web.principal
    tokens = web.db.read(lambda s: user_service.token_list(s, me.user_id))
    live = sessions.sessions_list(web.db, me, now=utcnow())
    return web.render("settings.html", status=status, tokens=tokens, sessions=live, **context)


@router.get("/settings")
def settings_page(web: Page) -> HTMLResponse:
    return _settings(web)


@router.post("/settings/tokens")
def token_create(web: Page) -> HTMLResponse:
    name = web.value("name")
    me = web.principal
    try:
        _, plaintext = web.db.write(
            lambda s: user_service.token_create(s, me.user_id, name, now=utcnow())
        )
    except InputError as error:
        return _settings(web, status=422, errors={"name": error.message}, name=name[:200])
    return _settings(web, new_token=plaintext)


@router.post("/settings/tokens/{token_id}/revoke")
def token_revoke(token_id: ResourceId, web: Page) -> Response:
    me = web.principal
    # Revoked already, or not this user's: nothing to do; the list shows what is true.
    with contextlib.suppress(NotFound):
        web.db.write(lambda s: user_service.token_revoke(s, me.user_id, token_id, now=utcnow()))
    web.request.app.state.tokens.forget_user(me.user_id)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/sessions/revoke")
def sessions_revoke_all(web: Page) -> Response:
    sessions.sessions_revoke(web.db, web.principal, now=utcnow())
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    return answer
