"""The task listing's filters are validated in one call (``deps.query_model``) instead of
FastAPI's field-by-field ``Annotated[TaskQuery, Query()]``: a caller and the API's docs must
not tell the difference. Each is compared with FastAPI's own handling of the same model."""

# No ``from __future__ import annotations``: the endpoints' annotations name a local.
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from contenthub.api.app import create_app
from contenthub.api.deps import _in_place, query_model
from contenthub.api.routers.tasks import TaskQuery
from contenthub.config import Settings


def answering(dependency: Any) -> TestClient:
    app = FastAPI()

    @app.get("/tasks")
    async def listing(query: Annotated[TaskQuery, dependency]) -> dict[str, Any]:
        return query.model_dump(mode="json")

    return TestClient(app)


FASTAPI = answering(Query())
OURS = answering(query_model(TaskQuery))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=7&platform=zhihu",
        "status=queued&status=running&status=failed",
        "limit=3&limit=9",  # the last one counts
        "account_id=12&article_id=3&batch_id=b-1&before=abc",
        "created_after=2026-01-02T03:04:05Z&created_before=2026-02-01",
        "unknown=1&limit=2",
        "limit=0",
        "limit=201",
        "limit=ten",
        "status=bogus",
        "status=queued&status=bogus",
        "account_id=2147483648",
        "created_after=yesterday",
        "platform=" + "x" * 33,
        "limit=abc&account_id=-1",
    ],
)
def test_the_listing_reads_its_filters_as_fastapi_would(query: str) -> None:
    expected, answer = FASTAPI.get(f"/tasks?{query}"), OURS.get(f"/tasks?{query}")
    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())


def test_the_comparison_sees_values_and_errors() -> None:
    """The cases above compare answers that say something (were either endpoint's filter
    not read at all, every answer would be the same 422)."""
    read = OURS.get("/tasks?limit=7&status=queued&status=failed").json()
    assert (read["limit"], read["status"], read["platform"]) == (7, ["queued", "failed"], None)
    refused = OURS.get("/tasks?limit=201")
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["detail"]] == [["query", "limit"]]


def test_the_listing_documents_its_filters_as_fastapi_would(tmp_path, monkeypatch) -> None:
    """The same parameters, FastAPI's references to its listed schemas written in place."""
    monkeypatch.setenv("CONTENTHUB_DATA_DIR", str(tmp_path))
    ours = create_app(Settings.from_env()).openapi()["paths"]["/api/v1/tasks"]["get"]
    reference = FASTAPI.app.openapi()  # type: ignore[attr-defined]
    listed = reference["components"]["schemas"]
    expected = _in_place(reference["paths"]["/tasks"]["get"]["parameters"], listed)
    assert ours["parameters"] == expected
    assert ours["parameters"][0]["schema"]["items"]["enum"][:2] == ["scheduled", "queued"]
