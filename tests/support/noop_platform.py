"""A test platform: publishes nowhere, with switches to misbehave.

Account options: ``sleep_ms`` (time spent "publishing"), ``fail`` (an error class to raise:
auth_expired, rate_limited, transient, rejected, crash), ``retry_after`` (for rate_limited),
``journal`` (a file that gets one line per completed publish, to count posts).
"""

from __future__ import annotations

import asyncio
import os

from contenthub.errors import AuthExpired, RateLimited, Rejected, Transient
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
class NoopPublisher(Publisher):
    platform = "noop"

    async def publish(self, ctx: PublishContext, task: TaskContent) -> PublishResult:
        options = task.options
        sleep_ms = float(options.get("sleep_ms", 0))
        await ctx.progress(50, "publish")
        if sleep_ms:
            await asyncio.sleep(sleep_ms / 1000)
        failure = options.get("fail")
        if failure == "auth_expired":
            raise AuthExpired("login expired")
        if failure == "rate_limited":
            raise RateLimited("too many requests", float(options.get("retry_after", 30)))
        if failure == "transient":
            raise Transient("platform answered 502")
        if failure == "rejected":
            raise Rejected("content violates the rules")
        if failure == "crash":
            raise RuntimeError("adapter bug")
        await ctx.progress(90, "verify")
        if options.get("journal"):
            with open(options["journal"], "a") as journal:
                journal.write(f"{task.public_id} {os.getpid()}\n")
        return PublishResult(url=f"noop://{task.public_id}", post_id=task.public_id)

    async def check_login(self, account: AccountAccess) -> Identity:
        if account.options.get("fail") == "auth_expired":
            raise AuthExpired("login expired")
        return Identity(user_id=f"noop-{account.name}", name=account.name)

    async def verify(self, account: AccountAccess, result: PublishResult) -> Verification:
        return Verification(public=True, url=result.url)
