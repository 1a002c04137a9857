"""Each platform as a person binds it: ``contenthub account add`` (flags, or prompts answered on
stdin), ``contenthub publish --wait`` through a real worker, the post on the sandbox's public
page. One sandbox, one worker and one embedded database serve the whole module."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import CONTENTHUB, SUPPORT, wait_until

from contenthub.platforms import outbound
from contenthub.sandbox.server import SandboxServer


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
        public_id = said.split()[1]  # "queued <id>"
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
