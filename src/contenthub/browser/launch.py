"""Starting Chromium, the one way every part of contenthub does it (the worker's pool, the
CLI's interactive login), and making sure none of it outlives its process.

Debian's ``/usr/bin/chromium`` driven by Playwright's own driver (``playwright install`` is never
needed). Each driver gets a runtime folder ``{root}/{pid}-{start time}-{n}`` under which it
keeps Chromium's temporary profiles (its ``TMPDIR``), so whatever a process started can be
told apart from everyone else's:

- a clean stop closes the browser and the driver, and removes the folder;
- when the process is killed (SIGKILL), the driver sees its pipe close and kills Chromium and
  removes the profile itself; if the driver dies too, Chromium exits when its debugging pipe
  closes (``--remote-debugging-pipe``, Playwright's default);
- whatever is left anyway (a profile, a hung Chromium) is reaped by the next process that
  starts a browser: :func:`reap_leftovers` kills the processes that still use a dead owner's
  folder and removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import tempfile
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
INSTALL_HINT = "install Chromium on the worker's machine (apt-get install chromium)"


class BrowserUnavailable(RuntimeError):
    """No Chromium (or no Playwright) on this machine: browser publishes cannot run here."""


def chromium_executable() -> str:
    """The Chromium to drive: ``CONTENTHUB_CHROMIUM`` or Debian's; BrowserUnavailable if absent."""
    path = os.environ.get("CONTENTHUB_CHROMIUM") or DEFAULT_EXECUTABLE
    resolved = shutil.which(path)
    if resolved is None:
        raise BrowserUnavailable(f"no Chromium at {path}: {INSTALL_HINT}")
    return resolved


# Chromium keeps a Unix socket under its TMPDIR (our runtime folder), and a socket's path has
# at most 107 bytes: the root must stay short.
MAX_ROOT_CHARS = 40


def default_runtime_root() -> Path:
    """``CONTENTHUB_BROWSER_RUNTIME_DIR``, else ``$TMPDIR/contenthub-chromium-{uid}`` (``/tmp``
    when TMPDIR is too long a path for Chromium's socket)."""
    configured = os.environ.get("CONTENTHUB_BROWSER_RUNTIME_DIR")
    if configured:
        return Path(configured)
    root = Path(tempfile.gettempdir()) / f"contenthub-chromium-{os.getuid()}"
    if len(str(root)) > MAX_ROOT_CHARS:
        root = Path("/tmp") / f"contenthub-chromium-{os.getuid()}"
    return root


# -- who owns a runtime folder ----------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


_drivers = itertools.count(1)


def _owner_folder_name(pid: int) -> str:
    """``{pid}-{start time}-{n}``: the n-th driver of this process (a worker's pool and a login
    in the same process each have their own, so stopping one never touches the other's)."""
    return f"{pid}-{_start_time(pid)}-{next(_drivers)}"


def _owner_alive(folder_name: str) -> bool:
    pid, started, *_ = [*folder_name.split("-"), "", ""]
    return pid.isdigit() and _start_time(int(pid)) == started


def _processes_using(folder: Path) -> Iterator[int]:
    """Processes whose command line names ``folder`` (Chromium's --user-data-dir under it)."""
    needle = f"{folder}/".encode()  # …/123-456-1/ must not match …/123-456-10/
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                yield int(entry.name)


def chromium_processes(root: Path | None = None) -> list[int]:
    """Every live process started from a runtime folder under ``root`` (tests count these)."""
    return list(_processes_using(root or default_runtime_root()))


def kill_processes_using(folder: Path) -> int:
    """SIGKILL every process still using ``folder``; how many there were."""
    killed = 0
    for pid in _processes_using(folder):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def reap_leftovers(root: Path | None = None) -> int:
    """Kill the Chromium processes and remove the profiles of processes that died without
    cleaning up; returns how many folders were reaped. Safe to call from any process."""
    root = root or default_runtime_root()
    if not root.is_dir():
        return 0
    reaped = 0
    for folder in root.iterdir():
        if not folder.is_dir() or _owner_alive(folder.name):
            continue
        kill_processes_using(folder)
        shutil.rmtree(folder, ignore_errors=True)
        reaped += 1
    return reaped


# -- starting ---------------------------------------------------------------------------------


@dataclass
class Driver:
    """Playwright's driver for this process, with the folder its browsers live in."""

    playwright: Playwright
    folder: Path

    async def launch(
        self, *, executable: str | None = None, extra_args: tuple[str, ...] = ()
    ) -> Browser:
        """A new headless Chromium. Raises BrowserUnavailable when there is none."""
        path = executable or chromium_executable()
        return await self.playwright.chromium.launch(
            executable_path=path, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )

    def kill_browsers(self) -> int:
        """SIGKILL every Chromium this driver started (a hung browser that will not close)."""
        return kill_processes_using(self.folder)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.playwright.stop(), 10)
        self.kill_browsers()
        shutil.rmtree(self.folder, ignore_errors=True)


async def start_driver(root: Path | None = None) -> Driver:
    """Start Playwright's driver with its temporary folder under this process's runtime folder,
    reaping what dead processes left behind first. Raises BrowserUnavailable."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - the dependency is declared
        raise BrowserUnavailable(f"Playwright is not installed: {INSTALL_HINT}") from None
    root = root or default_runtime_root()
    if len(str(root)) > MAX_ROOT_CHARS:
        raise BrowserUnavailable(
            f"the browser's runtime folder {root} is too long a path for Chromium's socket: "
            f"set CONTENTHUB_BROWSER_RUNTIME_DIR to a folder of at most {MAX_ROOT_CHARS} characters"
        )
    reap_leftovers(root)
    folder = root / _owner_folder_name(os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    # The driver takes its environment when it starts and creates Chromium's profiles in its
    # TMPDIR: point that at our folder for exactly the start (tempfile has cached its own),
    # one start at a time.
    tempfile.gettempdir()
    async with _start_lock():
        previous = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(folder)
        try:
            playwright = await async_playwright().start()
        finally:
            if previous is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = previous
    return Driver(playwright, folder)


_start_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _start_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _start_locks:
        _start_locks[loop] = asyncio.Lock()
    return _start_locks[loop]


@contextlib.asynccontextmanager
async def open_browser(root: Path | None = None) -> AsyncIterator[Browser]:
    """One Chromium for a short job (the CLI's login): closed, and its folder removed, however
    the block ends."""
    chromium_executable()
    driver = await start_driver(root)
    try:
        browser = await driver.launch()
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 10)
    finally:
        await driver.stop()
