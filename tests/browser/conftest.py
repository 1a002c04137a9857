"""One real stack for the dashboard's browser tests: ``contenthub serve`` (API + worker) on
SQLite, the platform sandbox on loopback, and headless Debian Chromium driven by Playwright.
Screenshots of every page go to a directory under pytest's tmp (printed at the end)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness import running_server, worker_env
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from contenthub.platforms import outbound
from contenthub.sandbox.server import SandboxServer
from contenthub.services import users
from contenthub.storage.db import Database
from tests.conftest import fresh_database_url
from tests.factories import T0

PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.id || el.name)"""


@dataclass
class Stack:
    base_url: str
    db: Database
    sandbox: SandboxServer
    browser: Browser
    shots: Path
    log: Path
    contexts: list[BrowserContext] = field(default_factory=list)
    csp_errors: list[str] = field(default_factory=list)  # what the pages' policy refused

    def user(self, *, admin: bool = False) -> str:
        name = f"u{uuid.uuid4().hex[:8]}"
        self.db.write(lambda s: users.user_create(s, name, PASSWORD, admin=admin, now=T0))
        return name

    def page(self, **options: Any) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport=DESKTOP,
            locale=options.pop("locale", "en-US"),
            **options,
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._note_csp_error)
        return page

    def _note_csp_error(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def sign_in(self, page: Page, name: str, password: str = PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/tasks*")

    def shoot(self, page: Page, name: str) -> None:
        """The page at desktop and at phone width, kept as test artifacts; on the way, every
        field it shows must have a label (accessibility's first rule), and no page so far may
        have had anything refused by its Content-Security-Policy."""
        refused, self.csp_errors[:] = list(self.csp_errors), []
        assert not refused, f"{name} (or a page before it): the CSP refused: {refused}"
        unlabelled = page.evaluate(UNLABELLED)
        assert not unlabelled, f"{name}: fields without a label: {unlabelled}"
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(self.shots / f"{name}-{label}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)


@contextlib.contextmanager
def _serve(workdir: Path, sandbox: SandboxServer) -> Iterator[tuple[str, Database, Path]]:
    url, server = fresh_database_url("sqlite", workdir, "dashboard")
    log = workdir / "serve.log"
    # A changed page fails its browser step after 10 s, not the default 30 (the screenshot test).
    env = worker_env(
        url,
        workdir,
        CONTENTHUB_POLL_SECONDS="0.1",
        CONTENTHUB_BROWSER_STEP_TIMEOUT_SECONDS="10",
        CONTENTHUB_COMPAT_API="1",  # the old endpoints, which a default account serves
    )
    db = Database.connect(url)
    try:
        with running_server(
            ["serve", "--slots", "4"], env, log, what="the dashboard's server", cwd=workdir
        ) as base:
            yield base, db, log
    finally:
        db.dispose()
        if server:
            server.drop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("dashboard")
    shots = tmp_path_factory.mktemp("artifacts") / "dashboard-screenshots"
    shots.mkdir()
    with (
        SandboxServer() as sandbox,
        outbound.allowing(sandbox.url.removeprefix("http://")),
        _serve(workdir, sandbox) as (base, db, log),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        built = Stack(base, db, sandbox, browser, shots, log)
        try:
            yield built
        finally:
            for context in built.contexts:
                context.close()
            browser.close()
            print(f"\ndashboard screenshots: {shots}")
