"""The benchmarks' platforms: a publish that does nothing, so the queue is measured, and one
that takes its time, to kill a worker under (benchmarks/rescue.py)."""

from __future__ import annotations

import asyncio

from contenthub.platforms.base import (
    Identity,
    PublishContext,
    Publisher,
    PublishResult,
    Verification,
)
from contenthub.platforms.content import AccountAccess, TaskContent
from contenthub.platforms.registry import register


@register
class BenchNoop(Publisher):
    platform = "bench-noop"

    async def publish(self, ctx: PublishContext, task: TaskContent) -> PublishResult:
        return PublishResult(url=None, post_id=task.public_id)

    async def check_login(self, account: AccountAccess) -> Identity:
        return Identity(user_id=account.name, name=account.name)

    async def verify(self, account: AccountAccess, result: PublishResult) -> Verification:
        return Verification(public=True, url=result.url)


@register
class BenchSlow(Publisher):
    """A publish that takes ``sleep_seconds`` (account option): a task to kill a worker under."""

    platform = "bench-slow"

    async def publish(self, ctx: PublishContext, task: TaskContent) -> PublishResult:
        await ctx.progress(50, "publish")
        await asyncio.sleep(float(task.options.get("sleep_seconds", 3600)))
        return PublishResult(url=None, post_id=task.public_id)

    async def check_login(self, account: AccountAccess) -> Identity:
        return Identity(user_id=account.name, name=account.name)

    async def verify(self, account: AccountAccess, result: PublishResult) -> Verification:
        return Verification(public=True, url=result.url)
