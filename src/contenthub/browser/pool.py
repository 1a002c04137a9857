"""The worker's browsers: one headless Chromium per process, shared by its publish slots, with
an isolated context per account built from the account's storage state.

- Launched on the first browser publish (a worker that never publishes to a browser platform
  never starts one); relaunched on the next publish after a crash.
- A context per account, kept warm while its pages are open and closed once it has been idle
  for ``idle_seconds`` (a "recycle"). When a publish hands back the session its context now
  holds, the context is filed under that session (``holds_state``) and stays warm.
- A page that ends its publish cleanly is parked on ``about:blank`` and kept in its context for
  the account's next publish: the renderer process it runs in is reused, not started again.
  Pages open at any time (busy or parked) are at most ``max_pages``; at that bound the least
  recently used parked page is closed. A page whose publish failed is closed.
- At most ``max_pages`` busy pages; a publish beyond that waits for a page, it does not fail.
- At most ``renderer_processes`` renderer processes (Chromium's ``--renderer-process-limit``):
  beyond it, pages of the same account share one, instead of each starting its own.
- A health check every ``health_interval_seconds``, answered within ``health_timeout_seconds``
  or the browser is killed and replaced; the publishes that were using it fail as
  ``transient`` (they retry), never as a hang.
- Every page is closed however its publish ends, cancellation included.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contenthub.browser.launch import (
    INSTALL_HINT,
    BrowserUnavailable,
    Driver,
    chromium_executable,
    start_driver,
)
from contenthub.errors import PublishError, Rejected, Transient

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

log = logging.getLogger("contenthub.browser")


@dataclass(frozen=True)
class PoolSettings:
    max_pages: int = 8
    idle_seconds: float = 300.0
    health_interval_seconds: float = 30.0
    health_timeout_seconds: float = 10.0
    # How long one page step (a load, a selector, a request made from the page) may take.
    step_timeout_seconds: float = 30.0
    # Chromium's --renderer-process-limit (a soft cap: two accounts' pages never share one).
    renderer_processes: int = 4
    runtime_root: Path | None = None  # Chromium's profiles; None: launch.default_runtime_root
    artifacts_dir: Path | None = None  # screenshots of failed steps; None: none kept
    figures_dir: Path | None = None  # where /metrics reads each worker's pool figures

    def __post_init__(self) -> None:
        if self.max_pages < 1 or self.renderer_processes < 1:
            raise ValueError("max_pages and renderer_processes must be at least 1")
        if self.idle_seconds <= 0 or self.health_timeout_seconds <= 0:
            raise ValueError("idle_seconds and health_timeout_seconds must be positive")


@dataclass
class PoolFigures:
    browsers: int = 0
    contexts: int = 0
    pages: int = 0
    waiting: int = 0  # publishes queued for a page
    launches: int = 0
    crashes: int = 0  # browsers that died or stopped answering the health check
    recycles: int = 0  # contexts closed after their idle timeout


@dataclass
class _Context:
    context: BrowserContext
    generation: int
    pages: int = 0  # busy
    parked: list[Page] = field(default_factory=list)  # ready for the account's next publish
    last_used: float = field(default_factory=time.monotonic)


def context_key(platform: str, account: str, storage_state: Mapping[str, Any] | None) -> str:
    """One context per account and login: two users' accounts of the same name, or an account
    whose login was replaced, never share cookies."""
    return f"{platform}:{account}:{_digest(storage_state)}"


def _digest(storage_state: Mapping[str, Any] | None) -> str:
    text = json.dumps(storage_state or {}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class BrowserPool:
    def __init__(
        self, settings: PoolSettings | None = None, *, driver: Driver | None = None
    ) -> None:
        self.settings = settings or PoolSettings()
        self.figures = PoolFigures()
        # A driver given here is someone else's (a benchmark's): closing the pool leaves it.
        self._driver: Driver | None = driver
        self._owns_driver = driver is None
        self._browser: Browser | None = None
        self._generation = 0  # bumped on every launch: a context from an older one is dead
        self._contexts: dict[str, _Context] = {}
        self._pages = asyncio.Semaphore(self.settings.max_pages)
        self._lock = asyncio.Lock()
        self._upkeep: asyncio.Task[None] | None = None
        self._closed = False

    # -- pages ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def page(
        self, platform: str, account: str, storage_state: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        """A page in the account's context (a parked one, or a new one); parked again after a
        clean publish, closed after a failed or cancelled one. Raises Rejected when this
        machine has no Chromium, Transient when the browser died under the publish."""
        key = context_key(platform, account, storage_state)
        self.figures.waiting += 1
        try:
            await self._pages.acquire()
        finally:
            self.figures.waiting -= 1
        try:
            entry = await self._context(key, storage_state)
            entry.pages += 1
            self.figures.pages += 1
            page: Page | None = None
            clean = False
            try:
                page = await self._take_page(entry)
                yield page
                clean = True
            except Exception as error:
                if not await self._survived(entry, error):
                    raise Transient(
                        "the browser crashed during the publish; it has been replaced and the "
                        "publish will be retried"
                    ) from error
                raise
            finally:
                entry.pages -= 1
                entry.last_used = time.monotonic()
                self.figures.pages -= 1
                if page is not None and not (clean and await self._park(entry, page)):
                    await _close_quietly(page)
                self._publish_figures()
        finally:
            self._pages.release()

    async def _take_page(self, entry: _Context) -> Page:
        while entry.parked:
            page = entry.parked.pop()
            if not page.is_closed():
                return page
        await self._make_room()
        page = await _new_page(entry.context)
        page.set_default_timeout(self.settings.step_timeout_seconds * 1000)
        page.on("dialog", _answer_dialog)
        return page

    async def _make_room(self) -> None:
        """Close the least recently used parked pages while the open pages (busy, parked and
        the one about to open) would exceed ``max_pages``."""
        entries = sorted(self._contexts.values(), key=lambda e: e.last_used)
        open_pages = sum(e.pages + len(e.parked) for e in entries)
        for entry in entries:
            while entry.parked and open_pages > self.settings.max_pages:
                await _close_quietly(entry.parked.pop(0))
                open_pages -= 1

    async def _park(self, entry: _Context, page: Page) -> bool:
        """Keep ``page`` for the account's next publish, on ``about:blank`` with its tab's
        ``sessionStorage`` cleared (the platform's scripts stopped, its memory given back, the
        renderer kept). False: close it instead."""
        if page.is_closed() or not self._alive(entry) or not self._current(entry):
            return False
        resetting = asyncio.ensure_future(_reset(page))
        try:
            await asyncio.shield(resetting)
        except Exception:
            return False
        except asyncio.CancelledError:
            await _close_quietly(page)
            raise
        if not self._current(entry):  # recycled or forgotten meanwhile
            return False
        entry.parked.append(page)
        return True

    def _current(self, entry: _Context) -> bool:
        return any(found is entry for found in self._contexts.values())

    def holds_state(self, context: BrowserContext, storage_state: Mapping[str, Any]) -> None:
        """``context`` now holds ``storage_state`` (a publish handed its session back, and the
        account's credentials became it): file the context under it, so the account's next
        publish, which asks for that state, finds this context warm instead of opening one."""
        for key, entry in list(self._contexts.items()):
            if entry.context is context:
                renamed = f"{key.rsplit(':', 1)[0]}:{_digest(storage_state)}"
                if renamed not in self._contexts:
                    self._contexts[renamed] = self._contexts.pop(key)
                return

    async def _survived(self, entry: _Context, error: Exception) -> bool:
        """Is the browser behind ``entry`` still there after ``error``? A page call may fail a
        moment before the browser's disconnect is reported: give that moment to arrive."""
        if isinstance(error, PublishError) and self._alive(entry):
            return True  # the adapter's own verdict on a page that is still there
        if "closed" in str(error).lower() or "crash" in str(error).lower():
            deadline = time.monotonic() + 2
            while self._alive(entry) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        return self._alive(entry)

    def _alive(self, entry: _Context) -> bool:
        return (
            entry.generation == self._generation
            and self._browser is not None
            and self._browser.is_connected()
        )

    async def _context(self, key: str, storage_state: Mapping[str, Any] | None) -> _Context:
        async with self._lock:
            entry = self._contexts.get(key)
            if entry is not None and self._alive(entry):
                entry.last_used = time.monotonic()
                return entry
            browser = await self._ensure_browser()
            state = dict(storage_state) if storage_state else None
            context = await browser.new_context(storage_state=state)  # type: ignore[arg-type]
            entry = _Context(context, self._generation)
            self._contexts[key] = entry
            self.figures.contexts = len(self._contexts)
            return entry

    # -- the browser ------------------------------------------------------------------------

    async def _ensure_browser(self) -> Browser:
        if self._closed:
            raise Transient("the worker is stopping; the publish will be retried")
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        if self._browser is not None:
            await self._forget_browser("it disconnected")
        try:
            chromium_executable()
            if self._driver is None:
                self._driver = await start_driver(self.settings.runtime_root)
            browser = await self._driver.launch(extra_args=self._chromium_args())
        except BrowserUnavailable as error:
            raise Rejected(
                f"this publish needs a browser and the worker has none: {error}"
            ) from None
        except Exception as error:  # Chromium would not start: maybe memory, maybe a fluke
            raise Transient(
                f"Chromium did not start ({type(error).__name__}); will retry"
            ) from error
        self._generation += 1
        self._browser = browser
        generation = self._generation
        browser.on("disconnected", lambda _: self._on_disconnect(generation))
        self.figures.launches += 1
        self.figures.browsers = 1
        if self._upkeep is None:
            self._upkeep = asyncio.create_task(self._upkeep_loop(), name="browser-pool-upkeep")
        self._log("browser launched")
        return browser

    def _chromium_args(self) -> tuple[str, ...]:
        # Not --disable-features (say, of the spare renderer Chromium keeps started): the last
        # such switch wins, and it would undo the list Playwright's launch passes.
        return (f"--renderer-process-limit={self.settings.renderer_processes}",)

    def _on_disconnect(self, generation: int) -> None:
        if generation == self._generation and not self._closed:
            self.figures.crashes += 1
            self.figures.browsers = 0
            self._log("browser lost: it disconnected", level=logging.WARNING)

    async def _forget_browser(self, why: str) -> None:
        """Drop the current browser and every context on it (their publishes fail transient)."""
        browser, self._browser = self._browser, None
        self._generation += 1
        self._contexts.clear()
        self.figures.browsers = 0
        self.figures.contexts = 0
        if browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 5)
        self._log(f"browser dropped: {why}")

    async def check_health(self) -> bool:
        """Does the browser answer within the timeout? If not, kill and forget it: the next
        publish launches a new one. True when healthy (or when there is none)."""
        browser = self._browser
        if browser is None:
            return True
        try:
            async with asyncio.timeout(self.settings.health_timeout_seconds):
                session = await browser.new_browser_cdp_session()
                await session.send("Browser.getVersion")
                await session.detach()
            return True
        except Exception as error:
            if browser is not self._browser:
                return True  # replaced meanwhile
            if browser.is_connected():  # alive but hung: it will not close politely
                self.figures.crashes += 1
            if self._driver is not None:
                self._driver.kill_browsers()
            async with self._lock:
                if browser is self._browser:
                    await self._forget_browser(f"health check failed ({type(error).__name__})")
            return False

    async def recycle_idle(self) -> int:
        """Close the contexts nobody used for ``idle_seconds``; how many were closed."""
        cutoff = time.monotonic() - self.settings.idle_seconds
        async with self._lock:
            idle = [
                key
                for key, entry in self._contexts.items()
                if entry.pages == 0 and entry.last_used <= cutoff
            ]
            for key in idle:
                entry = self._contexts.pop(key)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(entry.context.close(), 5)
            self.figures.recycles += len(idle)
            self.figures.contexts = len(self._contexts)
        if idle:
            self._log(f"recycled {len(idle)} idle context(s)")
        return len(idle)

    async def _upkeep_loop(self) -> None:
        settings = self.settings
        tick = max(0.1, min(settings.health_interval_seconds, settings.idle_seconds / 4, 5.0))
        last_check = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            with contextlib.suppress(Exception):
                if time.monotonic() - last_check >= settings.health_interval_seconds:
                    last_check = time.monotonic()
                    await self.check_health()
                await self.recycle_idle()
                self._publish_figures()

    async def close(self) -> None:
        """Close every context and the browser, stop the driver, remove the profiles."""
        self._closed = True
        if self._upkeep is not None:
            self._upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._upkeep
        for entry in self._contexts.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(entry.context.close(), 5)
        self._contexts.clear()
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._browser.close(), 10)
            self._browser = None
        if self._driver is not None and self._owns_driver:
            await self._driver.stop()
        self._driver = None
        self.figures.browsers = self.figures.contexts = 0
        if self.figures.launches:
            self._log("browser pool closed")
        self._remove_figures()

    # -- figures ----------------------------------------------------------------------------

    def _log(self, message: str, *, level: int = logging.INFO) -> None:
        log.log(level, message, extra={"browser_pool": asdict(self.figures)})
        self._publish_figures()

    def _figures_file(self) -> Path | None:
        folder = self.settings.figures_dir
        return folder / f"pool-{os.getpid()}.json" if folder else None

    def _publish_figures(self) -> None:
        """Write the figures where ``/metrics`` (maybe another process) reads them."""
        path = self._figures_file()
        if path is None:
            return
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps({"pid": os.getpid(), **asdict(self.figures)}))
            partial.replace(path)

    def _remove_figures(self) -> None:
        path = self._figures_file()
        if path is not None:
            path.unlink(missing_ok=True)


async def _reset(page: Page) -> None:
    """The tab's ``sessionStorage`` cleared (a new tab would have none), then ``about:blank``."""
    await page.evaluate("() => { try { sessionStorage.clear() } catch (error) {} }")
    await page.goto("about:blank", timeout=5000)


async def _answer_dialog(dialog: Any) -> None:
    """A page that asks before it is left (``beforeunload``) is left, so the next publish's
    navigation is never held; any other dialog is dismissed, as Playwright does by default."""
    with contextlib.suppress(Exception):
        if dialog.type == "beforeunload":
            await dialog.accept()
        else:
            await dialog.dismiss()


async def _new_page(context: BrowserContext) -> Page:
    """A new page in ``context``. One still opening when the publish is cancelled is closed
    once it has opened: the pool never saw it, and it would stay open in the account's
    context until the context is recycled."""
    opening = asyncio.ensure_future(context.new_page())
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await _close_quietly(await asyncio.wait_for(asyncio.shield(opening), 5))
        raise


async def _close_quietly(page: Page) -> None:
    """Close a page even while the publish is being cancelled, without waiting forever."""
    closing = asyncio.ensure_future(page.close())
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(closing), 5)


def figures_folder(data_dir: Path) -> Path:
    return data_dir / "run" / "browser-pools"


def read_figures(folder: Path) -> list[dict[str, Any]]:
    """Every live worker's pool figures (files of dead processes are skipped and removed)."""
    found = []
    if not folder.is_dir():
        return found
    for path in folder.glob("pool-*.json"):
        try:
            figures = json.loads(path.read_text())
            pid = int(figures.pop("pid"))
        except (OSError, ValueError, KeyError):
            continue
        if not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)
            continue
        found.append({"pid": pid, **figures})
    return found


# -- the process's pool -----------------------------------------------------------------------

_shared: BrowserPool | None = None
# A pool given to the publishes of one asyncio task and its children (``use_pool``): what a
# benchmark's browser-per-task baseline uses; unset everywhere else.
_pool_override: contextvars.ContextVar[BrowserPool | None] = contextvars.ContextVar(
    "browser_pool", default=None
)
_shared_loop: asyncio.AbstractEventLoop | None = None
_shared_settings = PoolSettings()


def configure(settings: PoolSettings) -> None:
    """Set this process's pool settings (the worker does, at start)."""
    global _shared_settings
    _shared_settings = settings


def shared_pool() -> BrowserPool:
    """This process's pool, created on first use (the browser itself only on first publish)."""
    global _shared, _shared_loop
    override = _pool_override.get()
    if override is not None:
        return override
    loop = asyncio.get_running_loop()
    if _shared is None or _shared._closed or _shared_loop is not loop:
        # A pool belongs to one event loop (a worker has one; a CLI command's asyncio.run
        # another): a pool left on a finished loop went with it, its driver too.
        _shared, _shared_loop = BrowserPool(_shared_settings), loop
    return _shared


@contextlib.contextmanager
def use_pool(pool: BrowserPool) -> Iterator[BrowserPool]:
    """Publishes in this block (this task, and tasks it starts) use ``pool``."""
    token = _pool_override.set(pool)
    try:
        yield pool
    finally:
        _pool_override.reset(token)


async def close_shared() -> None:
    global _shared
    pool, _shared = _shared, None
    if pool is not None:
        await pool.close()


__all__ = [
    "INSTALL_HINT",
    "BrowserPool",
    "PoolFigures",
    "PoolSettings",
    "close_shared",
    "configure",
    "context_key",
    "figures_folder",
    "read_figures",
    "shared_pool",
    "use_pool",
]
