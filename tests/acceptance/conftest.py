"""A real ``contenthub serve`` (API + workers) on a free loopback port, per backend."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from harness import SUPPORT, running_server

from contenthub.services import users
from contenthub.storage.db import Database
from tests.conftest import fresh_database_url
from tests.factories import T0


@dataclass
class ServedApi:
    base_url: str
    db: Database
    log: Path
    data_dir: Path

    def client(self, *, admin: bool = False) -> tuple[httpx.Client, int]:
        """A new user with a token, and an HTTP client that sends it."""
        name = f"u{uuid.uuid4().hex[:10]}"

        def work(s) -> tuple[int, str]:  # type: ignore[no-untyped-def]
            user_id = users.user_create(s, name, "correct horse battery", admin=admin, now=T0)
            return user_id, users.token_create(s, user_id, "tests", now=T0)[1]

        user_id, token = self.db.write(work)
        client = httpx.Client(
            base_url=self.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
        return client, user_id

    def noop_account(self, client: httpx.Client, **options: object) -> int:
        answer = client.post(
            "/api/v1/accounts",
            json={
                "platform": "noop",
                "name": f"a{uuid.uuid4().hex[:8]}",
                "options": options,
                "credentials": {"api_key": "SECRET-API-KEY-123"},
            },
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]


@contextlib.contextmanager
def serve_api(
    backend: str, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[ServedApi]:
    """``env``: settings to add or override (``CONTENTHUB_…``)."""
    url, server = fresh_database_url(backend, workdir, "api")
    log = workdir / "serve.log"
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "CONTENTHUB_PLATFORM_MODULES": "noop_platform",
        "CONTENTHUB_POLL_SECONDS": "0.1",
        # The inherited path too: the server runs the code under test, not the installed one.
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    }
    db = Database.connect(url)
    try:
        with running_server(
            ["serve", "--slots", "8"], env, log, what="the API to be ready", cwd=workdir
        ) as base:
            yield ServedApi(base, db, log, workdir)
    finally:
        db.dispose()
        if server:
            server.drop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApi]:
    with serve_api(request.param, tmp_path_factory.mktemp(f"api-{request.param}")) as served:
        yield served
