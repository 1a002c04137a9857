"""A publish's steps on a page, each with a deadline and an error a person understands:

- a page that never finishes loading → ``transient`` (retried);
- a dialog in the way of what we must click or read → ``transient``;
- an element that is not there although the page loaded (the platform changed its page)
  → ``internal``: no retry helps until the adapter is updated;
- the platform's login page instead of its editor → ``auth_expired``.

Whatever fails leaves a screenshot as the task's artifact first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contenthub.browser.artifacts import task_folder
from contenthub.errors import AuthExpired, PublishError, Transient

if TYPE_CHECKING:
    from playwright.async_api import Page

# What a platform puts over its page: announcement and guide dialogs.
DIALOGS = "[role=dialog]:visible, [aria-modal=true]:visible, .modal:visible"

_FETCH = """
async ({url, method, headers, form, json, file, content, credentials}) => {
  const init = {method, headers: {...(headers || {})}, credentials};
  if (content) {
    init.body = Uint8Array.from(atob(content), (c) => c.charCodeAt(0));
  } else if (form) {
    init.body = new URLSearchParams(form);
  } else if (json !== null && json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["content-type"] = "application/json";
  } else if (file) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
    const body = new FormData();
    body.append(file.field, new Blob([bytes], {type: file.type}), file.name);
    init.body = body;
  }
  const response = await fetch(url, init);
  const answer = {status: response.status, headers: {}, text: await response.text(),
                  url: response.url};
  response.headers.forEach((value, name) => { answer.headers[name] = value; });
  return answer;
}
"""


@dataclass(frozen=True)
class PageAnswer:
    status: int
    headers: dict[str, str]
    text: str
    url: str


class PageSteps:
    """The steps of one publish on ``page`` for ``platform`` (its name as people know it)."""

    def __init__(
        self,
        page: Page,
        *,
        platform: str,
        task_id: str,
        artifacts: Path | None,
        timeout_seconds: float,
    ) -> None:
        self.page = page
        self.platform = platform
        self.task_id = task_id
        self.artifacts = artifacts
        self.timeout = timeout_seconds
        self.screenshots: list[Path] = []

    # -- steps ------------------------------------------------------------------------------

    async def open(
        self,
        url: str,
        *,
        what: str,
        ready: str,
        ready_what: str,
        login_url: re.Pattern[str],
    ) -> None:
        """Load ``url`` (``what``: the page, as a person calls it) until its load event, then
        wait for ``ready`` (``ready_what``: the element that says the page is usable); the
        platform's login page instead means the login expired."""
        try:
            await self.page.goto(url, wait_until="load", timeout=self.timeout * 1000)
        except Exception as error:
            network = re.search(r"net::ERR_[A-Z_]+", str(error))
            if network:  # the platform is unreachable, not a page that changed
                raise Transient(
                    f"{self.platform}'s {what} could not be loaded ({network.group(0)}); "
                    "the publish will be retried"
                ) from None
            if _is_timeout(error):
                await self._fail(
                    Transient(
                        f"{self.platform}'s {what} did not finish loading within "
                        f"{self.timeout:g} s; the publish will be retried"
                    ),
                    "load",
                )
            raise
        if login_url.search(self.page.url):
            await self._fail(
                AuthExpired(
                    f"{self.platform} login expired: the {what} sent us to the login page; "
                    "log in again (contenthub account login)"
                ),
                "login",
            )
        await self.wait_for(ready, what=f"{ready_what} of the {what}")

    async def wait_for(self, selector: str, *, what: str) -> None:
        try:
            await self.page.wait_for_selector(
                selector, state="visible", timeout=self.timeout * 1000
            )
        except Exception as error:
            if not _is_timeout(error):
                raise
            await self._missing(selector, what)

    async def wait_for_script(self, expression: str, *, what: str) -> None:
        """Wait until ``expression`` (JavaScript) is true on the page."""
        try:
            await self.page.wait_for_function(expression, timeout=self.timeout * 1000)
        except Exception as error:
            if not _is_timeout(error):
                raise
            await self._missing(expression, what)

    async def click(self, selector: str, *, what: str) -> None:
        try:
            await self.page.click(selector, timeout=self.timeout * 1000)
        except Exception as error:
            if not _is_timeout(error):
                raise
            await self._missing(selector, what)

    async def wait_for_url(self, pattern: re.Pattern[str], *, what: str) -> re.Match[str]:
        """Wait until the page's address matches ``pattern`` (the platform's own answer that a
        step succeeded, e.g. the article's page)."""
        try:
            await self.page.wait_for_url(pattern, timeout=self.timeout * 1000)
        except Exception as error:
            if not _is_timeout(error):
                raise
            await self._dialog_in_the_way(what)
            await self._fail(
                Transient(
                    f"{self.platform} did not reach {what} within {self.timeout:g} s "
                    f"(the page stayed at {self.page.url}); the publish will be retried"
                ),
                "wait",
            )
        match = pattern.search(self.page.url)
        assert match is not None
        return match

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        json: Any = None,
        file: tuple[str, str, str, bytes] | None = None,  # field, file name, type, bytes
        content: bytes | None = None,
        credentials: str = "include",  # "omit": a request to another service, no cookies
    ) -> PageAnswer:
        """A request made by the page itself (its cookies, and whatever its own scripts add:
        a platform that signs its requests in JavaScript signs this one too)."""
        upload = None
        if file is not None:
            field, name, kind, data = file
            upload = {
                "field": field,
                "name": name,
                "type": kind,
                "data": base64.b64encode(data).decode(),
            }
        arguments = {
            "url": url,
            "method": method,
            "headers": headers,
            "form": form,
            "json": json,
            "file": upload,
            "content": base64.b64encode(content).decode() if content is not None else None,
            "credentials": credentials,
        }
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.page.evaluate(_FETCH, arguments)
        except TimeoutError:
            raise Transient(
                f"{self.platform} did not answer within {self.timeout:g} s; will retry"
            ) from None
        except Exception as error:
            if "Failed to fetch" in str(error):
                raise Transient(f"{self.platform} could not be reached from the page") from None
            raise
        return PageAnswer(**answer)

    # -- failures ---------------------------------------------------------------------------

    async def _missing(self, selector: str, what: str) -> None:
        await self._dialog_in_the_way(what)
        await self._fail(
            PublishError(
                f"{self.platform}'s page has changed: {what} ({selector}) is not on it; "
                f"contenthub's {self.platform} adapter needs an update"
            ),
            "missing",
        )

    async def _dialog_in_the_way(self, what: str) -> None:
        """Raise Transient (with a screenshot) if a dialog covers the page."""
        text = None
        with contextlib.suppress(Exception):
            dialogs = self.page.locator(DIALOGS)
            if await dialogs.count():
                text = " ".join((await dialogs.first.inner_text(timeout=1000)).split())[:120]
        if text is not None:
            await self._fail(
                Transient(
                    f"a dialog on {self.platform}'s page is in the way of {what} "
                    f"(“{text}”); the publish will be retried"
                ),
                "dialog",
            )

    async def _fail(self, error: PublishError, step: str) -> None:
        """Keep a screenshot of the page as it is, then raise ``error``."""
        await self.screenshot(step)
        raise error

    async def screenshot(self, step: str) -> Path | None:
        if self.artifacts is None:
            return None
        try:
            folder = task_folder(self.artifacts, self.task_id)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{len(list(folder.glob('*.png'))) + 1:02d}-{step}.png"
            await self.page.screenshot(path=str(path), timeout=5000)
        except Exception:
            return None
        self.screenshots.append(path)
        return path


def _is_timeout(error: BaseException) -> bool:
    return type(error).__name__ == "TimeoutError" or isinstance(error, TimeoutError)
