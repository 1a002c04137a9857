"""The hostile user's suite: a real ``contenthub serve`` per module, on SQLite and PostgreSQL.

Each test signs in as a user without admin rights and attacks through the real HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.acceptance.conftest import ServedApi, serve_api

V1 = "/api/v1"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApi]:
    with serve_api(request.param, tmp_path_factory.mktemp(f"sec-{request.param}")) as served:
        yield served


def assert_error(answer: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    """The API's one error shape, with this status and code (and field, when given)."""
    assert answer.status_code == status, (
        f"{answer.request.method} {answer.request.url}: {answer.text}"
    )
    error = answer.json()["error"]
    assert error["code"] == code and error["message"], error
    if field is not None:
        assert error["field"] == field, error
