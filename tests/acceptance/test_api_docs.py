"""The API's and the sandbox's docs pages render in a real browser with no internet: every
request the page makes that leaves 127.0.0.1 is refused, and the operations still show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, sync_playwright

from contenthub.sandbox.server import SandboxServer
from tests.acceptance.conftest import serve_api

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def artifact_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CONTENTHUB_TEST_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def render_docs(browser: Browser, url: str, screenshot: Path, shows: str) -> list[str]:
    """Open ``url`` with every non-loopback request refused; the operations' paths shown once
    the operation ``shows`` is (Swagger UI draws a long document in steps)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    refused: list[str] = []

    def offline(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(request.url)
            route.abort()

    try:
        page.route("**/*", offline)
        page.goto(url)
        path = page.locator(".opblock-summary-path", has_text=shows)
        path.first.wait_for(timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        page.screenshot(path=str(screenshot), full_page=False)
    finally:
        page.close()
    assert refused == [], f"the docs page reached outside: {refused}"
    return paths


def test_api_docs_render_offline(browser: Browser, tmp_path: Path) -> None:
    with serve_api("sqlite", tmp_path) as api:
        paths = render_docs(
            browser,
            f"{api.base_url}/api/v1/docs",
            artifact_dir(tmp_path) / "api-docs.png",
            shows="/api/v1/publish",
        )
    assert "/api/v1/publish" in paths and "/api/v1/events" in paths


def test_sandbox_docs_render_offline(browser: Browser, tmp_path: Path) -> None:
    with SandboxServer() as sandbox:
        paths = render_docs(
            browser,
            f"{sandbox.url}/_admin/docs",
            artifact_dir(tmp_path) / "sandbox-docs.png",
            shows="/_admin/faults",
        )
    assert "/_admin/faults" in paths
