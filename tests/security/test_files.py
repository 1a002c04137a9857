"""A user may write only under the folders an administrator allowed: the ``local`` platform's
``root`` outside them (directly, through ``..`` or through a symbolic link) is refused through
the API and the CLI, and a link swapped in after the account was made stops the publish."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import wait_until

from contenthub import storage
from tests.acceptance import test_cli
from tests.acceptance.conftest import ServedApi, serve_api

V1 = "/api/v1"
run = test_cli.run
workdir = test_cli.workdir


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApi]:
    with serve_api(request.param, tmp_path_factory.mktemp(f"files-{request.param}")) as served:
        yield served


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder the server may not write to, holding a page someone cares about."""
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "index.html").write_text("do not overwrite", encoding="utf-8")
    return folder


def user_name(api: ServedApi, user_id: int) -> str:
    return api.db.read(lambda s: storage.user_by_id(s, user_id).name)


def local_account(client: httpx.Client, **options: Any) -> httpx.Response:
    return client.post(
        f"{V1}/accounts",
        json={"platform": "local", "name": f"site-{uuid.uuid4().hex[:6]}", "options": options},
    )


def refused_root(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "options.root" and error["code"] == "invalid"
    return error["message"]


def untouched(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["index.html"]
    assert (folder / "index.html").read_text(encoding="utf-8") == "do not overwrite"


def publish_and_wait(client: httpx.Client, account_id: int) -> dict[str, Any]:
    article = client.post(f"{V1}/articles", json={"title": "Hello", "body": "Body"}).json()
    answer = client.post(
        f"{V1}/publish", json={"article_id": article["id"], "account_ids": [account_id]}
    )
    assert answer.status_code in (200, 201), answer.text
    [task] = answer.json()["tasks"]

    def final() -> dict[str, Any] | None:
        shown = client.get(f"{V1}/tasks/{task['id']}").json()
        return shown if shown["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_until(final, timeout=60, what="the publish to finish")


def test_a_root_outside_the_allowed_folders_is_refused(api: ServedApi, outside: Path) -> None:
    client, user_id = api.client()
    mine = api.data_dir / "sites" / user_name(api, user_id)
    mine.mkdir(parents=True, exist_ok=True)
    other, _ = api.client()
    theirs = api.data_dir / "sites" / "someone-else"
    (mine / "escape").symlink_to(outside, target_is_directory=True)
    for root in (
        str(outside),  # anywhere on the server
        f"{mine}/../../../{outside.relative_to(api.data_dir.parent)}",  # climbing out with ..
        str(mine / "escape"),  # a link of the user's own folder that leads out
        str(mine / "escape" / "deeper"),
        str(theirs / "site"),  # another user's folder
        str(api.data_dir / "site"),  # the old default site is not anyone's to choose
        "relative/folder",
    ):
        message = refused_root(local_account(client, root=root))
        assert str(outside) not in message or "outside" in message
    untouched(outside)
    assert not theirs.exists()
    # The same on a change of options.
    account = local_account(client).json()
    refused_root(client.patch(f"{V1}/accounts/{account['id']}", json={"options": {"root": "/"}}))
    assert client.get(f"{V1}/accounts/{account['id']}").json()["options"] == account["options"]
    other.close()
    client.close()


def test_the_default_folder_is_the_users_own_and_a_publish_lands_there(api: ServedApi) -> None:
    client, user_id = api.client()
    account = local_account(client).json()
    root = Path(account["options"]["root"])
    assert root == (api.data_dir / "sites" / user_name(api, user_id) / account["name"]).resolve()
    task = publish_and_wait(client, account["id"])
    assert task["status"] == "succeeded", task
    assert (root / "posts" / f"{task['id']}.html").is_file()
    client.close()


def test_a_link_swapped_in_after_creation_stops_the_publish(api: ServedApi, outside: Path) -> None:
    client, _ = api.client()
    account = local_account(client).json()
    root = Path(account["options"]["root"])
    root.parent.mkdir(parents=True, exist_ok=True)
    root.symlink_to(outside, target_is_directory=True)  # planted after the check

    task = publish_and_wait(client, account["id"])
    assert task["status"] == "failed" and task["error_class"] == "rejected", task
    assert "symbolic link" in task["error_message"]
    untouched(outside)

    # A link planted inside the site (its posts/ folder) is refused too.
    root.unlink()
    (root / "drafts").mkdir(parents=True)
    (root / "posts").symlink_to(outside, target_is_directory=True)
    task = publish_and_wait(client, account["id"])
    assert task["status"] == "failed" and task["error_class"] == "rejected", task
    untouched(outside)
    client.close()


def test_the_cli_refuses_the_same_folders(workdir: Path, outside: Path) -> None:
    mine = workdir / "data" / "sites" / "local"
    assert run(workdir, "account", "list").returncode == 0  # the default user and its site
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "escape").symlink_to(outside, target_is_directory=True)
    for root in (str(outside), f"{mine}/../../../precious", str(mine / "escape")):
        result = run(workdir, "account", "add", "local", "x", "-o", f"root={root}")
        assert result.returncode == 2 and result.stdout == "", result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: options.root: ") and "outside the folders" in line
    assert run(workdir, "account", "add", "local", "x").returncode == 0
    result = run(workdir, "account", "update", "x", "-o", f"root={outside}")
    assert result.returncode == 2 and "options.root" in result.stderr
    untouched(outside)
