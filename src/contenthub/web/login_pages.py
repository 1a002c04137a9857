"""Logging an account in from the accounts page: ``services.login.log_in`` (the CLI's
``account login``) runs in the API process as a background task, one at a time per account.
The page polls one small fragment that shows the QR code the platform's page shows now (its
PNG served to the account's owner only), and then how the login ended.

The runs live in the memory of the API process that started them: a page served by another
API process (or after a restart) finds none and offers to start one again."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from contenthub.api.deps import ResourceId
from contenthub.errors import NotFound
from contenthub.services import accounts as account_service
from contenthub.services import login
from contenthub.storage import AccountRow
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
# Long enough to find the phone and scan; the platform's page replaces its code meanwhile.
WEB_LOGIN_TIMEOUT_SECONDS = 180.0


@dataclass
class LoginRun:
    """One browser login of an account, as the page shows it."""

    account_id: int
    by_password: bool
    qr_png: bytes | None = None
    qr_version: int = 0
    report: login.LoginReport | None = None
    failed: str | None = None  # the login itself broke (not the platform's answer)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.report is None and self.failed is None


def runs_of(app: FastAPI) -> dict[int, LoginRun]:
    if not hasattr(app.state, "login_runs"):
        app.state.login_runs = {}
    return app.state.login_runs


async def stop_all(app: FastAPI) -> None:
    """At shutdown: a login still waiting for a scan ends with the process (its browser too)."""
    for run in list(runs_of(app).values()):
        if run.task is not None and not run.task.done():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run.task


def _account(web: Web, account_id: int) -> AccountRow:
    """The signed-in user's own account (anyone else's: 404, as everywhere)."""
    me = web.principal
    return web.db.read(lambda s: account_service.account_get(s, account_id, scope=me.user_id))


async def _own_run(web: Web, account_id: int) -> tuple[AccountRow, LoginRun | None]:
    account = await run_in_threadpool(_account, web, account_id)
    return account, runs_of(web.request.app).get(account.id)


def start(web: Web, account: AccountRow) -> LoginRun:
    """Start a login of ``account`` unless one is running (then that one is returned)."""
    runs = runs_of(web.request.app)
    running = runs.get(account.id)
    if running is not None and running.running:
        return running
    password = web.value("password") or None
    username = web.value("username").strip()[:200] or None
    remember = web.value("remember") == "on"
    write, box = login.database_writer(web.db), web.request.app.state.box
    run = LoginRun(account.id, by_password=password is not None)

    async def show(png: bytes, _text: str) -> None:
        run.qr_png = png
        run.qr_version += 1

    async def work() -> None:
        try:
            run.report = await login.log_in(
                write,
                account,
                box,
                timeout_seconds=WEB_LOGIN_TIMEOUT_SECONDS,
                username=username,
                password=password,
                remember_password=remember,
                on_qr=show,
            )
        except Exception as error:  # shown to the person: never a silent stop
            run.failed = f"{type(error).__name__}: {error}"[:300]

    runs[account.id] = run
    run.task = asyncio.get_running_loop().create_task(work(), name=f"web-login-{account.id}")
    return run


def fragment(web: Web, account: AccountRow, run: LoginRun | None) -> HTMLResponse:
    response = web.render("_browser_login.html", a=account, run=run)
    if run is not None and not run.running and web.request.query_params.get("live") == "1":
        # The login just ended: the whole page again, for the account's new status.
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/accounts/{account_id}/browser-login")
async def login_start(account_id: ResourceId, web: Page) -> Response:
    account = await run_in_threadpool(_account, web, account_id)
    if login.login_page_of(account.platform) is None:
        raise NotFound("login page of account", account_id)
    if web.value("password") and not web.value("username").strip():
        held = web.request.app.state.box.open(account.credentials) if account.credentials else {}
        if not held.get("username"):
            return web.render(
                "_browser_login.html", status=422, a=account, run=None, need_username=True
            )
    run = start(web, account)
    return fragment(web, account, run)


@router.get("/accounts/{account_id}/browser-login")
async def login_state(account_id: ResourceId, web: Page) -> Response:
    account, run = await _own_run(web, account_id)
    return fragment(web, account, run)


@router.get("/accounts/{account_id}/browser-login/qr.png")
async def login_qr(account_id: ResourceId, web: Page) -> Response:
    _, run = await _own_run(web, account_id)
    if run is None or run.qr_png is None or not run.running:
        return Response(status_code=404)
    return Response(run.qr_png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/accounts/{account_id}/browser-login/screenshot.png")
async def login_screenshot(account_id: ResourceId, web: Page) -> Response:
    _, run = await _own_run(web, account_id)
    shot = run.report.screenshot if run and run.report else None
    if shot is None or not shot.is_file():
        return Response(status_code=404)
    data = await run_in_threadpool(shot.read_bytes)
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})
