"""Property-based fuzzing of the published OpenAPI spec: no 5xx, no answer off its schema."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.acceptance.conftest import ServedApi, serve_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """PostgreSQL only: the strictest of the three about what text it stores."""
    with serve_api("postgresql", tmp_path_factory.mktemp("fuzz")) as served:
        yield served


@pytest.fixture
def fuzz_headers(api: ServedApi) -> dict[str, str]:
    """A user with an article, an account and a task, so ids in the spec can hit real rows."""
    client, _ = api.client()
    account = api.noop_account(client)
    article = client.post("/api/v1/articles", json={"title": "Fuzz", "body": "text"}).json()
    client.post("/api/v1/publish", json={"article_id": article["id"], "account_ids": [account]})
    return {"Authorization": client.headers["Authorization"]}


@pytest.fixture
def api_schema(api: ServedApi):  # type: ignore[no-untyped-def]
    document = httpx.get(f"{api.base_url}/api/v1/openapi.json").json()
    # The event stream never ends by design; it has its own tests. It is taken out of the
    # document itself: a filter on the loaded schema once let a run fuzz it (and hang).
    del document["paths"]["/api/v1/events"]
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=api.base_url)
    # The coverage phase's exhaustive edge cases take minutes; generated fuzzing stays.
    schema.config.phases.coverage.enabled = False
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")
NOT_CHECKED = [
    # Schema-valid input may still break a rule no schema can say (an id that is not yours,
    # a platform that is not installed): such requests get a 4xx with the field named.
    schemathesis.checks.positive_data_acceptance,
    # Starlette answers 405 for one route of a path, not for the whole path.
    schemathesis.checks.allow_header_conformance,
    # Unknown query parameters are ignored, as HTTP APIs do; times may be Unix seconds.
    schemathesis.checks.negative_data_rejection,
]


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case, fuzz_headers: dict[str, str]
) -> None:
    case.call_and_validate(headers=fuzz_headers, excluded_checks=NOT_CHECKED)
