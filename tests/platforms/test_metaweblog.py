"""The MetaWeblog adapter against its sandbox twin: every engine preset finds its endpoint, a
draft whose creation answer was lost is found among the recent posts (never created twice), and
a wrong endpoint says so. The real WordPress's xmlrpc.php: test_wordpress_real.py."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
import xmlrpc.client
from collections.abc import Iterator

import pytest

from contenthub.errors import AuthExpired, Rejected, Transient
from contenthub.platforms.content import AccountAccess
from contenthub.platforms.metaweblog import MetaWeblogOptions, endpoint_of
from contenthub.platforms.outbound import allowing
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


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><methodResponse><params><param><value>'
    b"<string>&c;</string></value></param></params></methodResponse>"
)


@contextlib.contextmanager
def blog_answering(answer: bytes) -> Iterator[dict]:
    """A tiny XML-RPC server giving ``answer`` to every call, and an account for it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with allowing(f"127.0.0.1:{port}"):
            yield {
                "options": {"base_url": f"http://127.0.0.1:{port}", "engine": "wordpress"},
                "credentials": {"username": "ann", "password": "pw-S3cret-9"},
            }
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _check_login(account: dict) -> None:
    access = AccountAccess("blog", account["options"], account["credentials"])
    asyncio.run(publisher_for("metaweblog").check_login(access))


def test_an_answer_declaring_entities_is_refused_unparsed() -> None:
    with blog_answering(LAUGHS) as account, pytest.raises(Rejected, match="DOCTYPE or entity"):
        _check_login(account)


def test_a_fault_echoing_the_password_does_not_show_it() -> None:
    fault = xmlrpc.client.dumps(
        xmlrpc.client.Fault(403, "Incorrect password pw-S3cret-9 for ann"), methodresponse=True
    ).encode()
    with blog_answering(fault) as account, pytest.raises(AuthExpired) as raised:
        _check_login(account)
    assert "pw-S3cret-9" not in str(raised.value) and "[password]" in str(raised.value)
