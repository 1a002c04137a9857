"""The web dashboard: server-rendered pages (Jinja2 + htmx) on the API's own app, signed in
with a password and a revocable server-side session. Every asset is in ``static/``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from contenthub.web import (
    account_pages,
    admin_pages,
    article_pages,
    auth_pages,
    job_pages,
    login_pages,
    pool_pages,
    stats_pages,
    task_pages,
)
from contenthub.web.core import (
    HERE,
    CsrfRefused,
    SignInRequired,
    error_page,
    is_page_path,
    sign_in_redirect,
    wants_html,
)
from contenthub.web.csp import ContentSecurityPolicy

__all__ = ["error_page", "install", "wants_html"]


def install(app: FastAPI) -> None:
    for module in (
        auth_pages,
        task_pages,
        article_pages,
        account_pages,
        login_pages,
        job_pages,
        pool_pages,
        stats_pages,
        admin_pages,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(ContentSecurityPolicy, is_page=is_page_path)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, error: SignInRequired) -> Response:
        return sign_in_redirect(request, error.next_url)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        return error_page(request, 403, key="csrf.refused")
