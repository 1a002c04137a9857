"""The benchmark's no-op platform: a publish that does nothing, so the queue is measured."""

from __future__ import annotations

from contenthub.platforms.base import PublishContext, Publisher, PublishResult, TaskContent
from contenthub.platforms.registry import register


@register
class BenchNoop(Publisher):
    platform = "bench-noop"

    async def publish(self, ctx: PublishContext, task: TaskContent) -> PublishResult:
        return PublishResult(url=None, post_id=task.public_id)
