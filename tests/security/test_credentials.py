"""Each platform declares its options and credentials: the API checks accounts against them and
documents one schema per platform; a secret sent as an option is refused, saying where it
belongs; credentials are write-only (answers, CLI output, logs and the database file never show
them), and the CLI takes them per field, asking for secrets without echo."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import CONTENTHUB

from contenthub.platforms.registry import built_in_platforms
from contenthub.sandbox.server import SandboxServer
from tests.acceptance import test_cli
from tests.acceptance.conftest import ServedApi, serve_api

V1 = "/api/v1"
SECRET = "S3CRET-app-pw-" + uuid.uuid4().hex[:8]
run = test_cli.run
workdir = test_cli.workdir
server = test_cli.server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApi]:
    with serve_api(request.param, tmp_path_factory.mktemp(f"creds-{request.param}")) as served:
        yield served


def create(client: httpx.Client, platform: str, **body: Any) -> httpx.Response:
    return client.post(
        f"{V1}/accounts", json={"platform": platform, "name": f"a{uuid.uuid4().hex[:6]}", **body}
    )


def refused(answer: httpx.Response, field: str) -> str:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid" and error["field"] == field, error
    return error["message"]


WP_OPTIONS = {"base_url": "https://blog.example"}


def test_each_platform_checks_its_own_fields(api: ServedApi) -> None:
    client, _ = api.client()
    # A field the platform needs is missing.
    message = refused(
        create(client, "wordpress", options=WP_OPTIONS, credentials={"username": "ann"}),
        "credentials.app_password",
    )
    assert "required" in message
    refused(create(client, "wordpress", credentials={"username": "a"}), "options")
    refused(create(client, "wordpress", options={}), "options.base_url")
    refused(create(client, "wechat", credentials={"appid": "wx1"}), "credentials.secret")
    # A field the platform does not know.
    message = refused(
        create(client, "devto", credentials={"api_key": "k", "apikey2": "x"}),
        "credentials.apikey2",
    )
    assert "api_key" in message  # says what it takes
    assert "colour" in refused(create(client, "devto", options={"colour": "red"}), "options.colour")
    refused(create(client, "local", credentials={"password": "x"}), "credentials.password")
    # A bad value names the option.
    refused(
        create(client, "wechat", options={"publish_wait_seconds": -1}),
        "options.publish_wait_seconds",
    )
    refused(create(client, "zhihu", options={"base_url": "ftp://x.example"}), "options.base_url")
    # An unknown platform names the platform.
    refused(create(client, "myspace"), "platform")
    assert client.get(f"{V1}/accounts").json() == []
    client.close()


@pytest.mark.parametrize(
    ("platform", "key", "extra"),
    [
        ("wordpress", "app_password", {"options": WP_OPTIONS}),
        ("devto", "api_key", {}),
        ("wechat", "secret", {}),
        ("wechat", "appid", {}),  # a credential of the platform, though not secret-looking
        ("local", "token", {}),
        ("noop", "password", {}),  # a plugin's options too
    ],
)
def test_a_secret_sent_as_an_option_is_refused_saying_where_it_belongs(
    api: ServedApi, platform: str, key: str, extra: dict[str, Any]
) -> None:
    client, _ = api.client()
    options = {**extra.get("options", {}), key: SECRET}
    message = refused(create(client, platform, options=options), f"options.{key}")
    assert message == f"options.{key} looks like a credential; send it in credentials.{key}"
    assert SECRET not in message
    assert client.get(f"{V1}/accounts").json() == []
    client.close()


def test_credentials_are_write_only_and_their_fields_shown_as_set(api: ServedApi) -> None:
    client, _ = api.client()
    answer = create(
        client,
        "wordpress",
        options=WP_OPTIONS,
        credentials={"username": "ann", "app_password": SECRET},
    )
    assert answer.status_code == 201, answer.text
    account = answer.json()
    assert account["has_credentials"] is True
    assert account["credential_fields"] == {"username": True, "app_password": True}
    assert account["options"] == WP_OPTIONS
    # A key rotated alone keeps the others; a secret in options is refused on change too.
    rotated = "R0TATED-" + SECRET
    answers = [
        answer,
        client.get(f"{V1}/accounts"),
        client.get(f"{V1}/accounts/{account['id']}"),
        client.patch(
            f"{V1}/accounts/{account['id']}", json={"credentials": {"app_password": rotated}}
        ),
        client.patch(
            f"{V1}/accounts/{account['id']}", json={"options": {**WP_OPTIONS, "api_key": SECRET}}
        ),
    ]
    assert answers[3].json()["credential_fields"] == {"username": True, "app_password": True}
    refused(answers[4], "options.api_key")
    for one in answers:
        assert SECRET not in one.text and "ann" not in one.text, one.text
        shown = one.json()
        for item in shown if isinstance(shown, list) else [shown]:
            assert "credentials" not in item
    # A cookie login: a storage state; an older {name: value} map becomes one.
    state = {"cookies": [{"name": "z_c0", "value": SECRET, "domain": ".zhihu.com", "path": "/"}]}
    for credentials in ({"storage_state": state}, {"cookies": {"z_c0": SECRET}}):
        cookie = create(client, "zhihu", credentials=credentials)
        assert cookie.status_code == 201, cookie.text
        assert cookie.json()["credential_fields"] == {
            "storage_state": True,
            "username": False,  # for a login through the platform's page
            "password": False,
        }
        assert SECRET not in cookie.text
    client.close()
    assert SECRET not in api.log.read_text(errors="replace")


def test_the_openapi_document_has_one_schema_per_platform(api: ServedApi) -> None:
    document = httpx.get(f"{api.base_url}{V1}/openapi.json").json()
    body = document["paths"][f"{V1}/accounts"]["post"]["requestBody"]["content"]
    choices = body["application/json"]["schema"]["oneOf"]
    schemas = document["components"]["schemas"]

    def resolve(ref: dict[str, Any]) -> dict[str, Any]:
        return schemas[ref["$ref"].rsplit("/", 1)[-1]]

    by_platform = {}
    for choice in choices:
        schema = resolve(choice)
        by_platform[schema["properties"]["platform"].get("const", "*plugin*")] = schema
    assert set(by_platform) == {*built_in_platforms(), "*plugin*"}  # every adapter, by its schema

    def fields(platform: str, part: str) -> dict[str, Any]:
        prop = by_platform[platform]["properties"][part]
        ref = (
            prop["$ref"]
            if "$ref" in prop
            else next(o["$ref"] for o in prop["anyOf"] if "$ref" in o)
        )
        return resolve({"$ref": ref})

    wordpress = fields("wordpress", "credentials")
    assert set(wordpress["required"]) == {"username", "app_password"}
    assert wordpress["properties"]["app_password"]["writeOnly"] is True
    assert "base_url" in fields("wordpress", "options")["required"]
    assert set(fields("wechat", "credentials")["required"]) == {"appid", "secret"}
    assert fields("devto", "credentials")["required"] == ["api_key"]
    assert fields("local", "credentials")["properties"] == {}
    assert "root" in fields("local", "options")["properties"]
    assert fields("zhihu", "credentials")["required"] == ["storage_state"]
    # Answers carry which fields are set, never the credentials themselves.
    assert "credentials" not in schemas["AccountOut"]["properties"]
    assert "credential_fields" in schemas["AccountOut"]["properties"]


# -- the CLI ----------------------------------------------------------------------------------


def typed(workdir: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A command run with ``stdin`` typed in, without a terminal of its own (so a hidden prompt
    reads what was typed)."""
    return subprocess.run(
        [CONTENTHUB, *args],
        cwd=workdir,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
        start_new_session=True,
    )


def listed(workdir: Path) -> dict[str, dict[str, Any]]:
    result = run(workdir, "account", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    return {a["name"]: a for a in json.loads(result.stdout)}


def test_the_cli_asks_for_secrets_and_never_keeps_them_as_options(workdir: Path) -> None:
    bad = run(
        workdir,
        "account",
        "add",
        "wordpress",
        "blog",
        "-o",
        "base_url=https://blog.example",
        "-o",
        f"app_password={SECRET}",
    )
    assert bad.returncode == 2 and bad.stdout == ""
    [line] = bad.stderr.strip().splitlines()
    assert line.startswith("error: options.app_password: looks like a credential")
    assert "--credential app_password" in line and SECRET not in line
    assert "blog" not in listed(workdir)

    added = typed(
        workdir, f"{SECRET}\n",
        "account", "add", "wordpress", "blog",
        "--option", "base_url=https://blog.example", "--credential", "username=ann",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "app_password" in added.stderr + added.stdout  # it was asked for
    assert SECRET not in added.stdout + added.stderr  # and not echoed
    assert "username set, app_password set" in added.stdout
    blog = listed(workdir)["blog"]
    assert blog["options"] == {"base_url": "https://blog.example"}
    assert blog["credential_fields"] == {"username": True, "app_password": True}
    assert SECRET.encode() not in (workdir / "data" / "contenthub.db").read_bytes()

    # Rotating one secret asks for it alone; nothing typed is an error naming the field.
    rotated = typed(
        workdir, "N3W-" + SECRET + "\n", "account", "update", "blog", "-c", "app_password"
    )
    assert rotated.returncode == 0 and SECRET not in rotated.stdout + rotated.stderr, rotated.stderr
    assert "username set, app_password set" in rotated.stdout
    nothing = typed(workdir, "", "account", "add", "devto", "dev")
    assert nothing.returncode == 2 and "credentials.api_key" in nothing.stderr, nothing.stderr
    assert "dev" not in listed(workdir)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """The platform sandbox, on loopback: allowed as an administrator would allow it (the CLI
    and the server the test starts after it read the setting)."""
    with SandboxServer() as running:
        monkeypatch.setenv("CONTENTHUB_OUTBOUND_ALLOW", running.url.removeprefix("http://"))
        yield running


def test_a_real_publish_with_credentials_given_the_cli_way(
    workdir: Path, sandbox: SandboxServer, server: Any
) -> None:
    described = sandbox.account("devto", f"cli-{uuid.uuid4().hex[:6]}")
    api_key = described["credentials"]["api_key"]
    added = typed(
        workdir, f"{api_key}\n",
        "account", "add", "devto", "dev", "-o", f"base_url={described['options']['base_url']}",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert api_key not in added.stdout + added.stderr
    result = run(workdir, "publish", "hello.md", "-a", "dev", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout
    [post] = [p for p in sandbox.client.posts("devto") if p["account"] == described["name"]]
    assert post["title"] == "Hello 世界"
    assert api_key not in (workdir / "serve.log").read_text(errors="replace")
