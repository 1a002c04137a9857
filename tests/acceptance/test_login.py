"""``contenthub account login`` through the platforms' login pages in a real headless Chromium,
against the sandbox on loopback, with a real worker publishing afterwards: by QR code (what the
terminal draws must scan), by password, a captcha surfaced instead of looped on, and the stored
password that logs a publish in again once before the account is held."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import CONTENTHUB, start_worker, wait_until, worker_env
from playwright.sync_api import Browser, sync_playwright

from contenthub import storage
from contenthub.browser.launch import CHROMIUM_ARGS, chromium_executable
from contenthub.login import qr
from contenthub.platforms import outbound
from contenthub.sandbox.server import SandboxServer
from contenthub.storage.db import Database
from tests.conftest import fresh_database_url

ARTICLE = "# 扫码登录之后 After a login\n\nPublished with the session the browser login stored.\n"
ANSI = re.compile(r"\x1b\[([0-9;]*)m")


@dataclass
class Site:
    """A contenthub install (CLI, database, one worker) next to the sandbox."""

    workdir: Path
    env: dict[str, str]
    db: Database
    sandbox: SandboxServer

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 90) -> Any:
        return subprocess.run(
            [CONTENTHUB, *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def bind(self, platform: str) -> tuple[str, dict[str, Any]]:
        """A sandbox account of its own and a contenthub account pointing at it, not logged in."""
        remote = self.sandbox.account(platform, f"p{uuid.uuid4().hex[:8]}")
        name = f"{platform}-{remote['name']}"
        added = self.cli(
            "account", "add", platform, name, "-o", f"base_url={remote['options']['base_url']}"
        )
        assert added.returncode == 0, added.stderr
        return name, remote

    def account(self, name: str) -> storage.AccountRow:
        return self.db.read(lambda s: storage.account_find(s, name, user_id=None))

    def publish(self, account: str, *options: str) -> str:
        done = self.cli("publish", "post.md", "-a", account, "--json", *options)
        assert done.returncode == 0, done.stderr
        [task_id] = json.loads(done.stdout)["tasks"]
        return task_id

    def task(self, task_id: str) -> dict[str, Any]:
        return self.db.read(lambda s: storage.task_get(s, task_id, user_id=None))

    def wait_for_task(self, task_id: str, status: str, *, timeout: float = 60) -> dict[str, Any]:
        return wait_until(
            lambda: (t := self.task(task_id))["status"] == status and t,
            timeout=timeout,
            what=f"task {task_id} to be {status}",
            every=0.2,
        )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server, outbound.allowing(server.url.removeprefix("http://")):
        yield server


@pytest.fixture(scope="module")
def site(
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    backend = getattr(request, "param", "sqlite")
    workdir = tmp_path_factory.mktemp(f"login-{backend}")
    url, server = fresh_database_url(backend, workdir, "login")
    (workdir / "post.md").write_text(ARTICLE, encoding="utf-8")
    env = worker_env(url, workdir / "data", CONTENTHUB_POLL_SECONDS="0.2", COLUMNS="200")
    db = Database.connect(url)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        start_worker(workers, env, slots=2, log=workdir / "worker.log")
        yield Site(workdir, env, db, sandbox)
    finally:
        for proc in workers:
            proc.kill()
            proc.wait(timeout=10)
        db.dispose()
        if server:
            server.drop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """A browser of the test's own, to look at what the CLI drew as a terminal shows it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=list(CHROMIUM_ARGS)
        )
        yield browser
        browser.close()


class Output:
    """A running command's standard output, line by line as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def drawings(self) -> list[list[str]]:
        """Each QR code drawn so far: its lines, black on white."""
        found: list[list[str]] = []
        current: list[str] = []
        for line in list(self.lines):
            if line.startswith(qr.INK_ON_PAPER):
                current.append(line)
            elif current:
                found.append(current)
                current = []
        return found


def rendered(browser: Browser, drawing: list[str], background: str, shot: Path) -> bytes:
    """The drawing as a terminal with this background shows it: a monospace font, one cell
    per character, the ANSI colours applied; a screenshot of it."""

    def span(line: str) -> str:
        text = html.escape(ANSI.sub("", line))
        return f"<span style='color:#000;background:#fff'>{text}</span>"

    page = browser.new_page(device_scale_factor=1)
    try:
        page.set_content(
            "<html><body style='margin:0;padding:24px;background:" + background + "'>"
            "<pre style='font:16px/1 \"DejaVu Sans Mono\",monospace;margin:0'>"
            + "\n".join(span(line) for line in drawing)
            + "</pre></body></html>"
        )
        png = page.screenshot()
    finally:
        page.close()
    shot.write_bytes(png)
    return png


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_qr_login_draws_a_scannable_code_then_publishes(
    site: Site, chromium: Browser, tmp_path: Path
) -> None:
    name, remote = site.bind("zhihu")
    site.sandbox.client.login_switches("zhihu", qr_refresh_seconds=3)
    proc = subprocess.Popen(
        [CONTENTHUB, "account", "login", name, "--timeout", "60"],
        cwd=site.workdir,
        env={**site.env, "FORCE_COLOR": "1"},  # colours as a terminal gets them
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output = Output(proc)
        # The page replaces its code every 3 s, and the terminal shows each new one.
        wait_until(lambda: len(output.drawings()) >= 2, timeout=45, what="a second QR code")
        # Then the codes last, and a phone scans the one shown (one the page replaced before
        # the phone confirmed it is scanned again, as a person would).
        site.sandbox.client.login_switches("zhihu", qr_refresh_seconds=120)
        saved = Path(re.search(r"saved as (\S+);$", "\n".join(output.lines), re.M).group(1))
        scanned: list[str] = []

        def logged_in() -> bool:
            code = qr.decode(saved.read_bytes())
            if code and code not in scanned:
                site.sandbox.client.scan_qr("zhihu", remote["name"], code)
                scanned.append(code)
            return proc.poll() is not None

        wait_until(logged_in, timeout=60, what="the login to finish", every=0.5)
        assert proc.returncode == 0, proc.stderr.read()
    finally:
        site.sandbox.client.login_switches("zhihu", qr_refresh_seconds=30)  # the default
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "account active" in "\n".join(output.lines)
    # What the terminal showed last is the code that logged in, on dark and light backgrounds.
    drawings = output.drawings()
    seen = {
        background: qr.decode(
            rendered(chromium, drawings[-1], background, tmp_path / f"terminal-{background}.png")
        )
        for background in ("#1e1e1e", "#ffffff")
    }
    assert "/_login/scan/" in scanned[-1]
    assert seen == {"#1e1e1e": scanned[-1], "#ffffff": scanned[-1]}
    first = qr.decode(rendered(chromium, drawings[0], "#fff", tmp_path / "first.png"))
    assert first and first != scanned[-1]  # each new code was drawn
    account = site.account(name)
    assert account.status == "active"

    task = site.wait_for_task(site.publish(name), "succeeded")
    [post] = [p for p in site.sandbox.client.posts("zhihu") if p["account"] == remote["name"]]
    assert task["result_url"] == post["url"] and post["status"] == "published"


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
# Zhihu's: remembered_login. Of the cookie platforms of §31, Bilibili (whose API checks a
# cookie the login sets); the others' pages are matched to their adapters without a browser.
@pytest.mark.parametrize("platform", ["juejin", "csdn", "toutiao", "bilibili"])
def test_password_login_activates_the_account_then_publishes(site: Site, platform: str) -> None:
    name, remote = site.bind(platform)
    done = site.cli(
        "account", "login", name, "--password-stdin", "--username", remote["name"],
        stdin=remote["login"]["password"] + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"logged in as {remote['name']}" in done.stdout
    checked = site.cli("account", "check", name)
    assert checked.returncode == 0 and "active" in checked.stdout, checked.stderr
    # A real worker publishes with the stored session (Toutiao's through its browser pool).
    task = site.wait_for_task(site.publish(name, "--tag", "Python"), "succeeded")
    [post] = [p for p in site.sandbox.client.posts(platform) if p["account"] == remote["name"]]
    assert task["result_url"] == post["url"] and post["status"] == "published"


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_a_captcha_or_second_factor_ends_the_login_as_needs_login(site: Site) -> None:
    name, remote = site.bind("zhihu")
    site.sandbox.client.login_switches("zhihu", captcha=True)
    started = time.monotonic()
    try:
        done = site.cli(
            "account", "login", name, "--password-stdin", "--username", remote["name"],
            stdin=remote["login"]["password"] + "\n",
        )  # fmt: skip
    finally:
        site.sandbox.client.login_switches("zhihu", captcha=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - started < 45  # it stopped at the captcha, it did not wait it out
    assert "needs_login" in done.stderr and "captcha" in done.stderr
    screenshot = Path(re.search(r"screenshot: (\S+?\.png)", done.stderr).group(1))
    assert screenshot.stat().st_size > 1000
    account = site.account(name)
    assert account.status == "needs_login"
    assert "captcha" in account.status_message and str(screenshot) in account.status_message

    site.sandbox.client.login_switches("zhihu", second_factor=True)
    try:
        done = site.cli(
            "account", "login", name, "--password-stdin", "--username", remote["name"],
            stdin=remote["login"]["password"] + "\n",
        )  # fmt: skip
    finally:
        site.sandbox.client.login_switches("zhihu", second_factor=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "second factor" in done.stderr and "短信验证码" in done.stderr  # the page's words
    assert "second factor" in site.account(name).status_message


def remembered_login(site: Site, platform: str) -> tuple[str, dict[str, Any]]:
    name, remote = site.bind(platform)
    done = site.cli(
        "account", "login", name, "--password-stdin", "--username", remote["name"],
        "--remember-password", stdin=remote["login"]["password"] + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return name, remote


@pytest.mark.parametrize("site", ["sqlite", "postgresql", "mysql"], indirect=True)
def test_an_expired_session_logs_in_again_with_the_stored_password(site: Site) -> None:
    name, remote = remembered_login(site, "zhihu")
    logins = site.sandbox.client.operations("zhihu").count(["zhihu", remote["name"], "web_login"])
    # The stored cookies stop working (``account check`` would hold the account: not here).
    assert site.sandbox.client.expire_sessions("zhihu", remote["name"]) >= 1

    task = site.wait_for_task(site.publish(name), "succeeded")
    assert task["attempt"] == 1  # logged in again inside the same attempt: no hold, no retry
    relogins = site.sandbox.client.operations("zhihu").count(["zhihu", remote["name"], "web_login"])
    assert relogins == logins + 1
    assert site.account(name).status == "active"
    assert site.cli("account", "check", name).returncode == 0  # the new session was stored


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_a_login_nobody_completes_ends_at_its_timeout(site: Site) -> None:
    name, _ = site.bind("csdn")
    done = site.cli("account", "login", name, "--timeout", "3")
    assert done.returncode == 1
    assert "nobody logged in within 3 s" in done.stderr
    assert "Scan this QR code" in done.stdout
    assert site.account(name).status == "active"  # nothing changed


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_a_wrong_stored_password_holds_the_account_until_a_login(site: Site) -> None:
    name, remote = remembered_login(site, "zhihu")
    changed = site.cli("account", "update", name, "-c", "password=not-the-password")
    assert changed.returncode == 0, changed.stderr
    site.sandbox.client.expire_sessions("zhihu", remote["name"])

    task_id = site.publish(name)
    account = wait_until(
        lambda: (a := site.account(name)).status == "needs_login" and a,
        timeout=60,
        what="the account to be held",
    )
    assert "stored password failed" in account.status_message
    assert "账号或密码错误" in account.status_message  # the page's own words
    task = site.wait_for_task(task_id, "queued")
    assert task["stage"] == "waiting"  # held for a login, not failed
    assert not [p for p in site.sandbox.client.posts("zhihu") if p["account"] == remote["name"]]
    assert os.path.exists(re.search(r"screenshot: (\S+?\.png)", account.status_message).group(1))

    # The person logs in again: the held publish resumes and goes out.
    done = site.cli(
        "account", "login", name, "--password-stdin", stdin=remote["login"]["password"] + "\n"
    )
    assert done.returncode == 0, done.stderr
    site.wait_for_task(task_id, "succeeded")
