"""The benchmark's no-op platform: a publish that does nothing, so the queue is measured."""

from __future__ import annotations

from contenthub.platforms.base import (
    AccountAccess,
    Identity,
    PublishContext,
    Publisher,
    PublishResult,
    TaskContent,
    Verification,
)
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
