"""The MetaWeblog adapter against its sandbox twin: every engine preset finds its endpoint, a
draft whose creation answer was lost is found among the recent posts (never created twice), and
a wrong endpoint says so. The real WordPress's xmlrpc.php: test_wordpress_real.py."""

from __future__ import annotations

import asyncio

import pytest

from contenthub.errors import Rejected, Transient
from contenthub.platforms.base import AccountAccess
from contenthub.platforms.metaweblog import MetaWeblogOptions, endpoint_of
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of, publish


@pytest.mark.parametrize(
    ("engine", "extra", "path"),
    [
        ("wordpress", {}, "/xmlrpc.php"),
        ("typecho", {}, "/action/xmlrpc"),
        ("zblog", {}, "/zb_system/xml-rpc/index.php"),
        ("cnblogs", {"blog_name": "my-blog"}, "/metaweblog/my-blog"),
        ("custom", {"xmlrpc_path": "/xmlrpc.php"}, "/xmlrpc.php"),
    ],
)
def test_each_engine_preset_logs_in_at_its_endpoint(
    sandbox: SandboxServer, engine: str, extra: dict, path: str
) -> None:
    account = new_account(sandbox, "metaweblog")
    options = MetaWeblogOptions(**{**account["options"], "engine": engine, **extra})
    assert endpoint_of(options.model_dump()) == f"{account['options']['base_url']}{path}"
    access = AccountAccess(account["name"], options.model_dump(), account["credentials"])
    identity = asyncio.run(publisher_for("metaweblog").check_login(access))
    assert identity.name == account["name"]


def test_the_real_cnblogs_endpoint_and_missing_settings() -> None:
    options = MetaWeblogOptions(engine="cnblogs", blog_name="someone")
    assert endpoint_of(options.model_dump()) == "https://rpc.cnblogs.com/metaweblog/someone"
    with pytest.raises(ValueError, match="blog_name"):
        MetaWeblogOptions(engine="cnblogs")
    with pytest.raises(ValueError, match="base_url"):
        MetaWeblogOptions(engine="typecho")


def test_a_lost_draft_answer_is_found_among_recent_posts(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "metaweblog")
    options = {**account["options"], "timeout_seconds": 0.5}
    task = content({**account, "options": options})
    sandbox.client.add_fault(
        "metaweblog", "crash_after_commit", account=account["name"], on="draft", times=1,
        hang_seconds=3,
    )  # fmt: skip
    first = RecordingContext()
    with pytest.raises(Transient):
        publish(task, "metaweblog", first)
    assert "draft_id" not in first.checkpoints  # the answer never came

    result = publish(task, "metaweblog", RecordingContext(first.checkpoints))

    [post] = posts_of(sandbox, "metaweblog", account)
    assert post["id"] == result.post_id and post["status"] == "published"


def test_a_site_that_does_not_speak_xml_rpc_is_named(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "metaweblog")
    options = {**account["options"], "engine": "custom", "xmlrpc_path": "/p/0"}
    access = AccountAccess(account["name"], options, account["credentials"])
    with pytest.raises(Rejected, match="not an XML-RPC endpoint"):
        asyncio.run(publisher_for("metaweblog").check_login(access))


def test_control_characters_do_not_break_the_request(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "metaweblog")
    task = content(account, title="Form\x0cfeed", body="Pasted \x1btext\x0b with controls.")

    publish(task, "metaweblog", RecordingContext())

    [post] = posts_of(sandbox, "metaweblog", account)
    assert post["title"] == "Formfeed" and "Pasted text with controls." in post["body"]
