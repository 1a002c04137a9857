"""One login through a platform's web login page, in a fresh browser context.

The page is watched until one of these is true, whichever comes first:

* the platform's session cookie is set: logged in, the context's storage state is the new
  session (what Playwright's ``context.storage_state()`` returns);
* the page asks for a captcha or a second factor: a person must act on the platform itself,
  so the login stops (never a loop), with the page's own words and a screenshot;
* the page says the username or password is wrong;
* the time is up.

Meanwhile, in QR mode, each QR code the page shows (it replaces them every so often) is read
from the page and handed to ``on_qr`` once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from contenthub.browser.launch import BrowserUnavailable, open_browser
from contenthub.login import qr
from contenthub.platforms.base import LoginPage
from contenthub.platforms.transport import host_url

Outcome = Literal["logged_in", "blocked", "refused", "timeout", "unreachable"]
QrShown = Callable[[bytes, str], Awaitable[None]]
WATCH_SECONDS = 0.2  # how often the page is looked at


@dataclass(frozen=True)
class LoginResult:
    outcome: Outcome
    storage_state: dict[str, Any] | None = field(default=None, repr=False)
    reason: str = ""
    screenshot: Path | None = None

    @property
    def explained(self) -> str:
        """The reason, and where the screenshot is."""
        if self.screenshot is None:
            return self.reason
        return f"{self.reason} (screenshot: {self.screenshot})"


def login_url(page: LoginPage, options: Mapping[str, Any]) -> str:
    return host_url(options, page.host, page.path)


async def browser_login(
    page: LoginPage,
    options: Mapping[str, Any],
    *,
    screenshot: Path,
    timeout_seconds: float,
    username: str | None = None,
    password: str | None = None,
    on_qr: QrShown | None = None,
) -> LoginResult:
    """Log in by password when one is given, else by QR code (``on_qr`` shows each code)."""
    url = login_url(page, options)
    try:
        async with open_browser() as browser:
            # Twice the pixels: the QR code a person is shown is crisp, not a thumbnail.
            context = await browser.new_context(locale="zh-CN", device_scale_factor=2)
            tab = await context.new_page()
            await tab.goto(url, wait_until="domcontentloaded")
            if password is not None:
                await tab.fill(page.username, username or "")
                await tab.fill(page.password, password)
                await tab.click(page.submit)
            return await _watch(
                page,
                context,
                tab,
                screenshot=screenshot,
                deadline=time.monotonic() + timeout_seconds,
                timeout_seconds=timeout_seconds,
                on_qr=None if password is not None else on_qr,
                by_password=password is not None,
            )
    except BrowserUnavailable as error:
        return LoginResult("unreachable", reason=str(error))
    except PlaywrightError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return LoginResult("unreachable", reason=f"the login page {url} failed: {first}")


async def _watch(
    page: LoginPage,
    context: BrowserContext,
    tab: Page,
    *,
    screenshot: Path,
    deadline: float,
    timeout_seconds: float,
    on_qr: QrShown | None,
    by_password: bool,
) -> LoginResult:
    shown: str | None = None
    stops = [
        (page.captcha, "blocked", "the platform asks for a captcha"),
        (page.second_factor, "blocked", "the platform asks for a second factor"),
    ]
    if by_password:
        stops.append((page.error, "refused", "the platform refused the login"))
    while time.monotonic() < deadline:
        if await _has_cookie(context, page.session_cookie):
            await tab.wait_for_load_state()
            return LoginResult("logged_in", storage_state=dict(await context.storage_state()))
        for selector, outcome, reason in stops:
            said = await _visible_text(tab, selector)
            if said is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                await tab.screenshot(path=str(screenshot), full_page=True)
                words = f": {said}" if said else ""
                return LoginResult(outcome, reason=f"{reason}{words}", screenshot=screenshot)
        if on_qr is not None:
            shown = await _show_new_qr(tab, page.qr_image, shown, on_qr)
        await asyncio.sleep(WATCH_SECONDS)
    return LoginResult("timeout", reason=f"nobody logged in within {timeout_seconds:g} s")


async def _has_cookie(context: BrowserContext, name: str) -> bool:
    return any(cookie.get("name") == name for cookie in await context.cookies())


async def _visible_text(tab: Page, selector: str) -> str | None:
    """The element's text when it is on screen, else None."""
    found = tab.locator(selector).first
    try:
        if await found.count() and await found.is_visible():
            return " ".join((await found.inner_text()).split())
    except PlaywrightError:  # the page navigated meanwhile: look again next time
        return None
    return None


async def _show_new_qr(tab: Page, selector: str, shown: str | None, on_qr: QrShown) -> str | None:
    """Hand a QR code the page shows to ``on_qr`` once; returns the image now shown."""
    image = tab.locator(selector).first
    try:
        if not await image.count() or not await image.is_visible():
            return shown
        source = await image.get_attribute("src")
        if not source or source == shown:
            return shown
        png = await image.screenshot()
    except PlaywrightError:
        return shown
    text = qr.decode(png)
    if text is None:  # still loading: look again
        return shown
    await on_qr(png, text)
    return source
