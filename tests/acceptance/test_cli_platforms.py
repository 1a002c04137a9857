"""Each platform as a person binds it: ``contenthub account add`` (flags, or prompts answered on
stdin), ``contenthub publish --wait`` through a real worker, the post on the sandbox's public
page. One sandbox, one worker and one embedded database serve the whole module."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import CONTENTHUB, SUPPORT, wait_until

from contenthub import storage
from contenthub.platforms import outbound
from contenthub.sandbox.server import SandboxServer
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from tests.platforms.conftest import png


@dataclass
class Site:
    """The sandbox, a worker, and the command line they share."""

    sandbox: SandboxServer
    workdir: Path
    env: dict[str, str]

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CONTENTHUB, *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
            env=self.env,
        )

    def ok(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        done = self.run(*args, stdin=stdin, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def base_url(self, platform: str) -> str:
        return f"{self.sandbox.url}/{platform}"

    def article(self, title: str) -> Path:
        path = self.workdir / f"{uuid.uuid4().hex[:8]}.md"
        path.write_text(
            f"# {title}\n\nA post with **bold** words, long enough for every platform's summary "
            "of more than fifty characters.\n\n- one\n- two\n",
            encoding="utf-8",
        )
        return path

    def publish(self, path: Path, account: str, *extra: str) -> dict[str, Any]:
        """``publish --wait`` to the end; the task as ``task show --json`` gives it."""
        said = self.ok(
            "publish", str(path), "-a", account, "--tag", "Python", "--wait", *extra, timeout=60
        )
        # "queued <id>", after any note on what the platform leaves out (WeChat: the tags)
        public_id = next(line for line in said.splitlines() if line.startswith("queued "))
        public_id = public_id.split()[1]
        task: dict[str, Any] = json.loads(self.ok("task", "show", public_id, "--json"))
        return task

    def public_page(self, url: str) -> str:
        answer = httpx.get(url, timeout=10, follow_redirects=True)
        assert answer.status_code == 200, (url, answer.status_code)
        return answer.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("platforms")
    with SandboxServer() as sandbox, outbound.allowing(sandbox.url.removeprefix("http://")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTENTHUB_")}
        env |= {
            "CONTENTHUB_DATA_DIR": str(workdir / "data"),
            "CONTENTHUB_POLL_SECONDS": "0.1",
            outbound.ALLOW_SETTING: sandbox.url.removeprefix("http://"),
            "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
            "COLUMNS": "200",
        }
        log = workdir / "worker.log"
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                [CONTENTHUB, "worker", "--slots", "4"], cwd=workdir, env=env, stdout=out, stderr=out
            )
        try:
            wait_until(lambda: b"worker started" in log.read_bytes(), timeout=60, what="the worker")
            yield Site(sandbox, workdir, env)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait()


def netscape_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A cookies.txt as browser extensions export it (HttpOnly cookies marked so)."""
    lines = ["# Netscape HTTP Cookie File"]
    for domain, name, value in rows:
        subdomains = "TRUE" if domain.startswith(".") else "FALSE"
        lines.append(f"#HttpOnly_{domain}\t{subdomains}\t/\tTRUE\t2147483647\t{name}\t{value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_whole_browser_cookie_export_logs_in_to_juejin(site: Site) -> None:
    """A person exports every cookie of their browser: Juejin's, and another site's that use
    the same common names (Django's ``sessionid``). Only Juejin's may reach Juejin."""
    account = f"jj-{uuid.uuid4().hex[:6]}"
    cookies = site.sandbox.account("juejin", account)["credentials"]["cookies"]
    rows = [(".juejin.cn", name, value) for name, value in cookies.items()]
    rows += [(".djangoproject.com", "sessionid", "SOMEONE-ELSES"), ("www.example.org", "a", "b")]
    export = netscape_file(site.workdir / f"{account}.txt", rows)

    site.ok("account", "add", "juejin", account, "-o", f"base_url={site.base_url('juejin')}")
    site.ok("account", "login", account, "--cookies", str(export))
    task = site.publish(site.article("掘金 cookies"), account)

    assert task["status"] == "succeeded", task
    assert "掘金 cookies" in site.public_page(task["result_url"])


def stored_login(site: Site, account: str) -> dict[str, Any]:
    """The account's credentials as stored, opened with the site's own key."""
    data = site.workdir / "data"
    db = Database.connect(f"sqlite:///{data / 'contenthub.db'}")
    try:
        row = db.read(lambda s: storage.account_find(s, account, user_id=None))
    finally:
        db.dispose()
    return SecretBox((data / "secret.key").read_bytes().strip()).open(row.credentials)


def storage_state_file(path: Path, cookies: dict[str, str], domain: str, expires: float) -> Path:
    """A Playwright storage state, as ``context.storage_state(path=…)`` writes it."""
    state = {
        "cookies": [
            {
                "name": name,
                "value": value,
                "domain": domain,
                "path": "/",
                "expires": expires,
                "httpOnly": True,
                "secure": True,
                "sameSite": "Lax",
            }
            for name, value in cookies.items()
        ],
        "origins": [],
    }
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def test_zhihu_from_a_storage_state_and_the_refreshed_login_is_kept(site: Site) -> None:
    account = f"zh-{uuid.uuid4().hex[:6]}"
    cookies = site.sandbox.account("zhihu", account)["credentials"]["cookies"]
    soon = time.time() + 3600  # the exported login would lapse within the hour
    state = storage_state_file(site.workdir / f"{account}.json", cookies, ".zhihu.com", soon)

    said = site.ok(
        "account", "add", "zhihu", account, "-o", f"base_url={site.base_url('zhihu')}",
        "--cookies", str(state),
    )  # fmt: skip
    assert "3 cookies stored (encrypted)" in said and cookies["z_c0"] not in said
    task = site.publish(site.article("知乎 storage state"), account)

    assert task["status"] == "succeeded", task
    assert "知乎 storage state" in site.public_page(task["result_url"])
    # Zhihu extended its login cookie while publishing; the account keeps the extension.
    [z_c0] = [
        c for c in stored_login(site, account)["storage_state"]["cookies"] if c["name"] == "z_c0"
    ]
    assert z_c0["value"] == cookies["z_c0"] and z_c0["expires"] > soon + 20 * 86_400


def test_csdn_from_a_browser_extension_export_given_when_asked(site: Site) -> None:
    account = f"cs-{uuid.uuid4().hex[:6]}"
    cookies = site.sandbox.account("csdn", account)["credentials"]["cookies"]
    export = site.workdir / f"{account}.json"
    export.write_text(
        json.dumps(
            [  # Cookie-Editor's shape: its own names for expiry and sameSite
                {"domain": ".csdn.net", "hostOnly": False, "name": name, "value": value,
                 "path": "/", "secure": True, "session": False, "sameSite": "no_restriction",
                 "expirationDate": time.time() + 86_400, "storeId": "0"}
                for name, value in cookies.items()
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    said = site.ok(
        "account", "add", "csdn", account, "-o", f"base_url={site.base_url('csdn')}",
        stdin=f"{export}\n",
    )  # fmt: skip
    assert "csdn cookies file" in said and "3 cookies stored" in said
    task = site.publish(site.article("CSDN cookie editor export"), account)
    assert task["status"] == "succeeded", task
    assert "CSDN cookie editor export" in site.public_page(task["result_url"])


def test_wechat_appid_and_secret_asked_for(site: Site) -> None:
    account = f"wx-{uuid.uuid4().hex[:6]}"
    given = site.sandbox.account("wechat", account)["credentials"]
    said = site.ok(
        "account", "add", "wechat", account, "-o", f"base_url={site.base_url('wechat')}",
        "-o", "publish_poll_seconds=0.05", stdin=f"{given['appid']}\n{given['secret']}\n",
    )  # fmt: skip
    assert "AppSecret" in said and given["secret"] not in said
    assert "appid set, secret set" in said
    # WeChat needs a cover: an image file on this machine, given as it is.
    cover = site.workdir / "cover.png"
    cover.write_bytes(png(8, 8, shade=7))
    task = site.publish(site.article("微信 appid"), account, "--cover", str(cover))
    assert task["status"] == "succeeded", task
    assert "微信 appid" in site.public_page(task["result_url"])


def test_wordpress_site_user_and_application_password_asked_for(site: Site) -> None:
    account = f"wp-{uuid.uuid4().hex[:6]}"
    given = site.sandbox.account("wordpress", account)["credentials"]
    answers = f"{site.base_url('wordpress')}\n{given['username']}\n{given['app_password']}\n"
    said = site.ok("account", "add", "wordpress", account, stdin=answers)
    assert "Application Passwords" in said and given["app_password"] not in said
    task = site.publish(site.article("WordPress prompts"), account)
    assert task["status"] == "succeeded", task
    assert "WordPress prompts" in site.public_page(task["result_url"])


def test_devto_api_key_given_as_a_flag(site: Site) -> None:
    account = f"dev-{uuid.uuid4().hex[:6]}"
    given = site.sandbox.account("devto", account)["credentials"]
    site.ok(
        "account", "add", "devto", account, "-o", f"base_url={site.base_url('devto')}",
        "-c", f"api_key={given['api_key']}",
    )  # fmt: skip
    task = site.publish(site.article("dev.to flag"), account)
    assert task["status"] == "succeeded", task
    assert "dev.to flag" in site.public_page(task["result_url"])


def test_local_site(site: Site) -> None:
    task = site.publish(site.article("Local site"), "local-site")
    assert task["status"] == "succeeded", task
    page = Path(task["result_url"].removeprefix("file://")).read_text(encoding="utf-8")
    assert "Local site" in page


def test_a_publish_held_on_a_login_says_why_and_how_to_fix_it(site: Site) -> None:
    account = f"held-{uuid.uuid4().hex[:6]}"
    cookies = site.sandbox.account("juejin", account)["credentials"]["cookies"]
    export = netscape_file(
        site.workdir / f"{account}.txt", [(".juejin.cn", k, v) for k, v in cookies.items()]
    )
    site.ok(
        "account", "add", "juejin", account, "-o", f"base_url={site.base_url('juejin')}",
        "--cookies", str(export),
    )  # fmt: skip
    fault = site.sandbox.client.add_fault("juejin", "login_expired", account=account)
    waited = site.run(
        "publish", str(site.article("Held")), "-a", account, "--tag", "Python", "--wait"
    )
    assert waited.returncode == 3, waited.stdout + waited.stderr
    fix = f"contenthub account login {account}"
    assert f"account {account} needs a login" in waited.stdout and fix in waited.stdout
    assert "Juejin login expired" in waited.stdout  # the reason stored when it was marked
    public_id = next(w.split()[1] for w in waited.stdout.splitlines() if w.startswith("queued "))
    shown = json.loads(site.ok("task", "show", public_id, "--json"))
    assert shown["held"] == {
        "account": account,
        "status": "needs_login",
        "reason": "Juejin login expired: log in to Juejin again",
        "fix": fix,
    }
    assert any(fix in (e["message"] or "") for e in shown["events"])
    assert fix in site.ok("task", "show", public_id)

    # Logged in again (the fault off, the cookies imported anew): the publish resumes.
    site.sandbox.client.clear_faults()
    del fault
    site.ok("account", "login", account, "--cookies", str(export))
    done = wait_until(
        lambda: (
            (t := json.loads(site.ok("task", "show", public_id, "--json")))["status"] == "succeeded"
            and t
        ),
        timeout=30,
        what="the held publish to resume",
    )
    assert done["held"] is None


def test_what_the_platform_cannot_take_is_named_on_the_task(site: Site) -> None:
    account = f"wp-{uuid.uuid4().hex[:6]}"
    given = site.sandbox.account("wordpress", account)["credentials"]
    site.ok(
        "account", "add", "wordpress", account, "-o", f"base_url={site.base_url('wordpress')}",
        "-c", f"username={given['username']}", "-c", f"app_password={given['app_password']}",
    )  # fmt: skip
    path = site.workdir / f"{uuid.uuid4().hex[:8]}.md"
    path.write_text(
        "# Embeds\n\nA widget follows.\n\n<iframe src='https://example.com/w'></iframe>\n",
        encoding="utf-8",
    )
    task = site.publish(path, account)
    assert task["status"] == "succeeded", task
    [warning] = task["warnings"]
    assert warning.startswith("<iframe> (embedded content) is left out on wordpress")
    shown = site.ok("task", "show", task["public_id"])
    assert "warnings" in shown and "<iframe> (embedded content)" in shown
