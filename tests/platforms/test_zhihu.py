"""Zhihu's own rules, as zhihu_obsidian's publish service speaks them: tags become topics only
through the topic lookup (the topic object is posted, not a name), and a publish succeeded only
when its answer says ``message: "success"``."""

from __future__ import annotations

import asyncio

import pytest

from contenthub.errors import Rejected
from contenthub.platforms.zhihu import ZhihuPublisher
from contenthub.sandbox.server import SandboxServer
from tests.platforms.conftest import RecordingContext, content, new_account, posts_of


def test_tags_become_topics_through_the_lookup(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "zhihu")
    asyncio.run(ZhihuPublisher().publish(RecordingContext(), content(account, tags=["Python"])))
    [post] = posts_of(sandbox, "zhihu", account)
    assert post["status"] == "published" and post["tags"] == ["Python"]


def test_a_publish_answer_without_success_is_a_refusal(sandbox: SandboxServer) -> None:
    account = new_account(sandbox, "zhihu")
    sandbox.client.add_fault("zhihu", "reject", account=account["name"], message="标题违规")
    with pytest.raises(Rejected, match="标题违规"):
        asyncio.run(ZhihuPublisher().publish(RecordingContext(), content(account)))
    assert [p["status"] for p in posts_of(sandbox, "zhihu", account)] == ["draft"]
