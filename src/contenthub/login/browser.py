"""The browser a login runs in: Debian's Chromium driven by Playwright (``playwright install``
is never needed). One browser per login: logins are rare, and each gets a fresh context."""

from __future__ import annotations

import os
import shutil

from playwright.async_api import Browser, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """``CONTENTHUB_CHROMIUM`` or Debian's ``/usr/bin/chromium``."""
    configured = os.environ.get("CONTENTHUB_CHROMIUM") or "/usr/bin/chromium"
    found = shutil.which(configured)
    if found is None:
        raise FileNotFoundError(
            f"no Chromium at {configured}: install it (apt-get install chromium) "
            "or set CONTENTHUB_CHROMIUM"
        )
    return found


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )
