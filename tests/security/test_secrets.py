"""Secrets never come out: accounts with recognisable credentials (cookies, API keys, an
application password, an app secret) publish through the real adapters to the sandbox, a login
fails, a check runs, a forged bearer token is tried; then every API answer, the event stream,
``task show --json``, ``account list --json`` and the server's whole log are searched for every
secret value (and the forms an adapter sends them in) → absent."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from harness import CONTENTHUB, SUPPORT, wait_until

from contenthub.sandbox.server import SandboxServer
from contenthub.services import users
from tests.acceptance.conftest import ServedApi, serve_api
from tests.factories import T0
from tests.platforms.conftest import png
from tests.security.conftest import V1

PASSWORD = f"pw-{uuid.uuid4().hex}"  # the user's own sign-in password
PLATFORMS = ("devto", "wordpress", "zhihu", "wechat")
IDENTIFIERS = {"username", "appid"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer
) -> Iterator[ServedApi]:
    with pytest.MonkeyPatch.context() as patch:
        # The sandbox is on loopback: the administrator allows exactly it (the outbound policy).
        patch.setenv("CONTENTHUB_OUTBOUND_ALLOW", sandbox.url.removeprefix("http://"))
        workdir = tmp_path_factory.mktemp(f"secrets-{request.param}")
        with serve_api(request.param, workdir) as api:
            yield api


def leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield str(value)


def forms(credentials: dict[str, Any]) -> set[str]:
    """Each secret value, and the forms an adapter sends it in (basic auth, no spaces).

    Identifiers that travel with a secret (a WordPress user name, a WeChat appid) name the
    identity a login check shows: they are not secrets."""
    secret = {k: v for k, v in credentials.items() if k not in IDENTIFIERS}
    found = {v for v in leaves(secret) if len(v) >= 8}
    found |= {v.replace(" ", "") for v in found}
    if "username" in credentials and "app_password" in credentials:
        pair = f"{credentials['username']}:{credentials['app_password']}"
        found.add(base64.b64encode(pair.encode()).decode())
    return found


class Recorder:
    """Every answer the API gives this client, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.texts.append(f"{response.request.method} {response.request.url}\n{response.text}")


class EventStream:
    """The raw text of the SSE stream, read on a thread."""

    def __init__(self, base_url: str, token: str) -> None:
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._open = threading.Event()
        self._client = httpx.Client(base_url=base_url, headers={"Authorization": token})
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._open.wait(10), "the event stream did not open"

    def _run(self) -> None:
        try:
            with self._client.stream("GET", f"{V1}/events", timeout=60) as stream:
                self._open.set()
                for line in stream.iter_lines():
                    self.lines.append(line)
        except httpx.HTTPError:
            if not self._stop.is_set():  # closed by the test: the expected end
                raise

    def close(self) -> None:
        self._stop.set()
        self._client.close()  # ends the read the thread may be blocked in


def cli(api: ServedApi, user: str, *args: str) -> str:
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": api.db.engine.url.render_as_string(hide_password=False),
        "CONTENTHUB_DATA_DIR": str(api.data_dir),
        "CONTENTHUB_PLATFORM_MODULES": "noop_platform",
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [CONTENTHUB, *args, "--user", user],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=api.data_dir,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_no_secret_comes_out_of_answers_events_the_cli_or_logs(
    served: ServedApi, sandbox: SandboxServer
) -> None:
    name = f"sec{uuid.uuid4().hex[:8]}"
    user_id, token = served.db.write(
        lambda s: (
            uid := users.user_create(s, name, PASSWORD, admin=False, now=T0),
            users.token_create(s, uid, "tests", now=T0)[1],
        )
    )
    del user_id
    recorder = Recorder()
    client = httpx.Client(
        base_url=served.base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [recorder]},
    )
    stream = EventStream(served.base_url, f"Bearer {token}")
    secrets = {PASSWORD, token}

    def bind(platform: str, account_name: str, options: dict, credentials: dict) -> int:
        secrets.update(forms(credentials))
        answer = client.post(
            f"{V1}/accounts",
            json={
                "platform": platform,
                "name": account_name,
                "options": options,
                "credentials": credentials,
            },
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    try:
        good = []
        for platform in PLATFORMS:
            real = sandbox.account(platform, f"{platform}-{uuid.uuid4().hex[:6]}")
            good.append(bind(platform, real["name"], real["options"], real["credentials"]))
        # A login that fails: a key the platform does not know, and a login that expires.
        devto = sandbox.account("devto", f"devto-{uuid.uuid4().hex[:6]}")
        wrong_key = {"api_key": f"WRONG-KEY-{uuid.uuid4().hex}"}
        refused = bind("devto", "wrong-key", devto["options"], wrong_key)
        zhihu = sandbox.account("zhihu", f"zhihu-{uuid.uuid4().hex[:6]}")
        expired = bind("zhihu", "expired", zhihu["options"], zhihu["credentials"])
        sandbox.client.add_fault("zhihu", "login_expired", account=zhihu["name"])
        noop = bind(
            "noop",
            "noop",
            {},
            {"api_key": f"ak-{uuid.uuid4().hex}", "token": f"tk-{uuid.uuid4().hex}"},
        )

        cover = sandbox.client.put_web_file(f"{uuid.uuid4().hex}.png", png(), "image/png")
        article = client.post(
            f"{V1}/articles",
            json={"title": "Secrets stay in", "body": "Hello **there**.", "cover": cover},
        ).json()["id"]
        tasks = client.post(
            f"{V1}/publish",
            json={"article_id": article, "account_ids": [*good, refused, expired, noop]},
        ).json()["tasks"]

        def outcomes() -> dict[int, dict[str, Any]] | None:
            now = {t["account_id"]: client.get(f"{V1}/tasks/{t['id']}").json() for t in tasks}
            ended = all(
                t["status"] in ("succeeded", "failed") or t["error_class"] == "auth_expired"
                for t in now.values()
            )
            return now if ended else None

        outcome = wait_until(outcomes, timeout=60, what="every publish to end or wait for a login")
        for account in good:
            assert outcome[account]["status"] == "succeeded", outcome[account]["error_message"]
        for account in (refused, expired):
            assert outcome[account]["error_class"] == "auth_expired", outcome[account]
        for account in (*good, refused, expired, noop):
            assert client.post(f"{V1}/accounts/{account}/check").status_code == 200
        # A forged bearer token made of a secret, and a sign-in attempt with the password.
        forged = httpx.get(
            f"{served.base_url}{V1}/accounts", headers={"Authorization": f"Bearer {PASSWORD}"}
        )
        assert forged.status_code == 401 and PASSWORD not in forged.text
        client.get(f"{V1}/accounts")
        client.get(f"{V1}/tasks", params={"limit": 200})
        client.get(f"{V1}/stats")
        wait_until(
            lambda: sum("auth_expired" in line for line in stream.lines) >= 2,
            timeout=30,
            what="the failed logins on the event stream",
        )
    finally:
        stream.close()
        client.close()

    outputs = {"answers": "\n".join(recorder.texts), "event stream": "\n".join(stream.lines)}
    # The CLI starts slowly: the tasks of a failed login, an expired one, and a good cookie one.
    shown = [t["id"] for t in tasks if t["account_id"] in (refused, expired, good[2])]
    outputs["task show --json"] = "\n".join(
        cli(served, name, "task", "show", task_id, "--json") for task_id in shown
    )
    outputs["account list --json"] = cli(served, name, "account", "list", "--json")
    outputs["server log"] = served.log.read_text(errors="replace")
    # The searches are not vacuous: each output holds what the test did.
    assert all(t["id"] in outputs["answers"] for t in tasks)
    assert "succeeded" in outputs["event stream"] and shown[0] in outputs["task show --json"]
    assert "wrong-key" in outputs["account list --json"]
    assert len(secrets) >= 12, secrets
    for where, text in outputs.items():
        leaked = [s for s in secrets if s in text]
        if leaked:  # named by their first characters only: the test's output is a log too
            pytest.fail(f"secret values in the {where}: {', '.join(s[:4] + '…' for s in leaked)}")
