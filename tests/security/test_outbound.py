"""A hostile user tries to make the server reach its own network (SSRF), through a real
``contenthub serve`` (API + worker) and the real adapters: an account's ``base_url`` and the
images of an article. Every attempt is refused with the URL named, and loopback listeners the
test starts ("traps") prove no connection ever reached them.

The administrator allowed exactly two loopback hosts, as ``CONTENTHUB_OUTBOUND_ALLOW`` does:
the platform sandbox and an image host that serves one good image and redirects elsewhere.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from harness import wait_until
from wordpress_site import png_bytes

from contenthub.platforms.outbound import ALLOW_SETTING
from contenthub.sandbox.server import SandboxServer
from tests.acceptance.conftest import ServedApi, serve_api

V1 = "/api/v1"
PNG = png_bytes()
REFUSED = f"an administrator can allow it with {ALLOW_SETTING}"


class Trap:
    """A listener that records every connection made to it."""

    def __init__(self, host: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, 0), family=family)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@dataclass
class ImageHost:
    """``/ok.png`` is an image; ``/to/<quoted url>`` redirects to that URL."""

    url: str
    hits: list[str] = field(default_factory=list)


@contextlib.contextmanager
def image_host() -> Iterator[ImageHost]:
    host = ImageHost(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host.hits.append(self.path)
            if self.path.startswith("/to/"):
                self.send_response(302)
                self.send_header("Location", unquote(self.path[4:]))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/ok.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)
            else:
                self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class World:
    api: ServedApi
    sandbox: SandboxServer
    images: ImageHost
    trap: Trap  # 127.0.0.1, not allowed
    trap6: Trap  # [::1], not allowed


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(SandboxServer())
        images = stack.enter_context(image_host())
        trap, trap6 = Trap("127.0.0.1"), Trap("::1")
        stack.callback(trap.close)
        stack.callback(trap6.close)
        env = stack.enter_context(pytest.MonkeyPatch.context())
        allowed = [sandbox.url, images.url]
        env.setenv(ALLOW_SETTING, ",".join(u.removeprefix("http://") for u in allowed))
        workdir = tmp_path_factory.mktemp(f"outbound-{request.param}")
        api = stack.enter_context(serve_api(request.param, workdir))
        yield World(api, sandbox, images, trap, trap6)


@pytest.fixture
def user(world: World) -> httpx.Client:
    client, _ = world.api.client()
    return client


def create_account(client: httpx.Client, platform: str, options: dict[str, Any]) -> httpx.Response:
    return client.post(
        f"{V1}/accounts",
        json={
            "platform": platform,
            "name": f"a{uuid.uuid4().hex[:8]}",
            "options": options,
            "credentials": CREDENTIALS[platform],
        },
    )


# A valid credential of each platform's own shape (the account must pass its platform's check
# for the base_url rule to be what refuses it).
CREDENTIALS: dict[str, dict[str, Any]] = {
    "zhihu": {"cookies": {"z_c0": "x"}},
    "juejin": {"cookies": {"sessionid": "x"}},
    "csdn": {"cookies": {"UserToken": "x"}},
    "wechat": {"appid": "wx0", "secret": "s"},
    "wordpress": {"username": "u", "app_password": "p"},
    "devto": {"api_key": "k"},
}


def sandbox_account(world: World, client: httpx.Client, platform: str) -> int:
    described = world.sandbox.account(platform, f"acct-{uuid.uuid4().hex[:8]}")
    answer = client.post(
        f"{V1}/accounts",
        json={
            "platform": platform,
            "name": described["name"],
            "options": described["options"],
            "credentials": described["credentials"],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def publish(client: httpx.Client, account_id: int, body: str) -> dict[str, Any]:
    """Publish an article and wait for its task to end."""
    title = f"Look {uuid.uuid4().hex[:8]}"
    article = client.post(f"{V1}/articles", json={"title": title, "body": body, "tags": []})
    assert article.status_code == 201, article.text
    answer = client.post(
        f"{V1}/publish", json={"article_id": article.json()["id"], "account_ids": [account_id]}
    )
    assert answer.status_code == 201, answer.text
    task_id = answer.json()["tasks"][0]["id"]

    def ended() -> dict[str, Any] | None:
        task = client.get(f"{V1}/tasks/{task_id}").json()
        return task if task["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_until(ended, timeout=60, what=f"task {task_id} to end")


def assert_refused(task: dict[str, Any], url: str, why: str) -> None:
    assert task["status"] == "failed", task
    assert task["error_class"] == "rejected" and task["attempt"] == 1, task  # never retried
    assert f"{url} {why}" in task["error_message"], task["error_message"]
    assert REFUSED in task["error_message"]


def test_base_url_overrides_are_refused_when_the_account_is_saved(
    world: World, user: httpx.Client
) -> None:
    cases = [
        # Platforms with a fixed address take an override only for a host the admin allowed.
        ("zhihu", "http://127.0.0.1:5432", "zhihu has a fixed address"),
        ("devto", "http://10.0.0.1", "devto has a fixed address"),
        ("wechat", "http://169.254.169.254", "wechat has a fixed address"),
        ("juejin", f"http://localhost:{world.trap.port}", "juejin has a fixed address"),
        # A self-hosted site may be anywhere public, never on the server's own network.
        ("wordpress", "http://127.0.0.1:3306", "is 127.0.0.1, a loopback address"),
        ("wordpress", "http://169.254.169.254/", "is 169.254.169.254, a link-local address"),
        ("wordpress", "http://10.0.0.1", "is 10.0.0.1, a private address"),
        ("wordpress", f"http://[::1]:{world.trap6.port}", "is ::1, a loopback address"),
        ("wordpress", "http://[::ffff:127.0.0.1]", "is 127.0.0.1, a loopback address"),
        ("wordpress", "file:///etc/passwd", "must be an http:// or https:// address"),
    ]
    for platform, base_url, why in cases:
        answer = create_account(user, platform, {"base_url": base_url})
        assert answer.status_code == 422, (platform, base_url, answer.text)
        error = answer.json()["error"]
        assert error["field"] == "options.base_url", error
        assert why in error["message"], (platform, base_url, error)

    # The same check on a change, and the allowed sandbox is accepted.
    account_id = sandbox_account(world, user, "zhihu")
    changed = user.patch(
        f"{V1}/accounts/{account_id}", json={"options": {"base_url": "http://10.0.0.1"}}
    )
    assert changed.status_code == 422 and changed.json()["error"]["field"] == "options.base_url"
    assert world.trap.connections == world.trap6.connections == 0


def test_a_site_name_that_resolves_to_loopback_is_refused_when_used(
    world: World, user: httpx.Client
) -> None:
    base = f"http://localhost:{world.trap.port}"
    answer = create_account(user, "wordpress", {"base_url": base})
    assert answer.status_code == 201, answer.text  # a name: judged by what it resolves to
    account_id = answer.json()["id"]

    task = publish(user, account_id, "Hello")
    assert_refused(task, f"{base}/wp-json/wp/v2/users/me", "resolves to 127.0.0.1")

    check = user.post(f"{V1}/accounts/{account_id}/check").json()
    assert check["status"] == "unknown" and "resolves to 127.0.0.1" in check["message"]
    assert world.trap.connections == 0


def test_article_images_on_the_servers_network_are_refused(
    world: World, user: httpx.Client
) -> None:
    zhihu = sandbox_account(world, user, "zhihu")
    trap_image = f"http://127.0.0.1:{world.trap.port}/x.png"
    cases = [
        ("http://127.0.0.1:5432/x.png", "is 127.0.0.1, a loopback address"),
        ("http://127.0.0.1:3306/x.png", "is 127.0.0.1, a loopback address"),
        ("http://10.0.0.1/x.png", "is 10.0.0.1, a private address"),
        ("http://169.254.169.254/latest/meta-data/x.png", "is 169.254.169.254, a link-local"),
        (f"http://[::1]:{world.trap6.port}/x.png", "is ::1, a loopback address"),
        (f"http://localhost:{world.trap.port}/x.png", "resolves to 127.0.0.1, a loopback"),
        (trap_image, "is 127.0.0.1, a loopback address"),
    ]
    titles = []
    for url, why in cases:
        task = publish(user, zhihu, f"An image: ![x]({url})")
        assert_refused(task, url, why)
        titles.append(task["title"])

    # An allowed host that redirects to a refused one: the hop is checked too.
    redirect = f"{world.images.url}/to/{trap_image}"
    task = publish(user, zhihu, f"<img src='{redirect}'>")
    assert_refused(task, trap_image, "is 127.0.0.1, a loopback address")
    assert f"/to/{trap_image}" in world.images.hits
    titles.append(task["title"])

    # WordPress keeps an image's original URL when its upload fails, but not this refusal.
    wordpress = sandbox_account(world, user, "wordpress")
    task = publish(user, wordpress, f"![x]({trap_image})")
    assert_refused(task, trap_image, "is 127.0.0.1, a loopback address")
    titles.append(task["title"])

    assert world.trap.connections == world.trap6.connections == 0
    posted = {p.get("title") for p in world.sandbox.client.posts()}
    assert posted.isdisjoint(titles)  # nothing went out half-done either


def test_an_image_on_an_allowed_host_is_published(world: World, user: httpx.Client) -> None:
    """The policy refuses what it must and nothing more: the allowed host's image, reached
    through its own redirect, is uploaded."""
    zhihu = sandbox_account(world, user, "zhihu")
    task = publish(user, zhihu, f"![ok]({world.images.url}/to/{world.images.url}/ok.png)")
    assert task["status"] == "succeeded", task
    assert "/ok.png" in world.images.hits


def test_the_server_refuses_a_bad_allow_setting(tmp_path: Path) -> None:
    """A typo in the administrator's list stops the start with a line that names it."""
    import os
    import subprocess

    from harness import CONTENTHUB

    env = {
        **os.environ,
        "CONTENTHUB_DATA_DIR": str(tmp_path),
        ALLOW_SETTING: "127.0.0.1:8900,10.0.0.0/33",
    }
    done = subprocess.run(
        [CONTENTHUB, "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert f"{ALLOW_SETTING}: '10.0.0.0/33' is not a CIDR network" in done.stderr
