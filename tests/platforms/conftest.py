"""Fixtures for adapter-vs-sandbox tests: one sandbox server per session, a fresh set of faults
per test, and an in-memory PublishContext that records what a worker would."""

from __future__ import annotations

import asyncio
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from contenthub.errors import PublishCancelled
from contenthub.platforms import outbound
from contenthub.platforms.base import PublishResult
from contenthub.platforms.content import TaskContent
from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import SandboxServer


def png(width: int = 2, height: int = 2, shade: int = 0) -> bytes:
    """A small valid PNG; ``shade`` makes images with different bytes."""
    raw = b"".join(b"\x00" + bytes([shade, 100, 200]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class RecordingContext:
    """What a worker gives a publish: checkpoints, progress, and a cancel that strikes when
    the publish reports the stage named in ``cancel_at``."""

    def __init__(self, checkpoints: Mapping[str, Any] | None = None, cancel_at: str | None = None):
        self._checkpoints: dict[str, Any] = dict(checkpoints or {})
        self.stages: list[str] = []
        self.cancel_at = cancel_at
        self.cancel_flag = False

    @property
    def checkpoints(self) -> Mapping[str, Any]:
        return self._checkpoints

    @property
    def cancelled(self) -> bool:
        return self.cancel_flag

    async def progress(self, percent: int, stage: str) -> None:
        self.stages.append(stage)
        if stage == self.cancel_at:
            self.cancel_flag = True
        if self.cancel_flag:
            raise PublishCancelled()

    async def checkpoint(self, key: str, value: Any) -> None:
        self._checkpoints[key] = value


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The sandbox on loopback, allowed as an administrator would allow it: in this process
    (adapters called directly) and, through ``harness.worker_env``, in the workers it starts."""
    with SandboxServer() as server, outbound.allowing(server.url.removeprefix("http://")):
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    sandbox_server.client.clear_faults()
    yield sandbox_server
    sandbox_server.client.clear_faults()


def new_account(sandbox: SandboxServer, platform: str) -> dict[str, Any]:
    """An account of its own for one test, so posts and faults do not mix between tests."""
    return sandbox.account(platform, f"acct-{uuid.uuid4().hex[:8]}")


def content(account: dict[str, Any], **overrides: Any) -> TaskContent:
    fields: dict[str, Any] = {
        "public_id": str(uuid.uuid4()),
        "title": "沙盒测试 Sandbox test",
        "body": "# Hello 你好 🚀\n\nSome **bold** text with enough words to make a summary of "
        "more than fifty characters for the platforms that insist on one.\n\n- one\n- two\n",
        "tags": ["Python", "测试"],
        "cover": None,
        "account_name": account["name"],
        "options": account["options"],
        "credentials": account["credentials"],
    }
    fields.update(overrides)
    return TaskContent(**fields)


def publish(task: TaskContent, platform: str, ctx: RecordingContext) -> PublishResult:
    return asyncio.run(publisher_for(platform).publish(ctx, task))


def posts_of(sandbox: SandboxServer, platform: str, account: dict[str, Any]) -> list[dict]:
    return [p for p in sandbox.client.posts(platform) if p["account"] == account["name"]]
