"""One publish, start to end: hand the adapter the task, and turn however the publish ended
into an ``Outcome`` for the completer (or into nothing, when the lease was lost: the task
belongs to another attempt now, and this worker must not write to it)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from contenthub import storage
from contenthub.errors import ErrorClass, LeaseLost, PublishCancelled, PublishError, RateLimited
from contenthub.platforms.base import PublishResult
from contenthub.platforms.registry import publisher_for
from contenthub.secrets_box import SecretBox
from contenthub.worker.context import TaskContext

log = logging.getLogger("contenthub.worker")


class Ending(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RELEASED = "released"  # handed back to the queue: the worker is stopping or lost its lock


@dataclass
class Outcome:
    lease: storage.Lease
    ending: Ending
    result: PublishResult | None = None
    error_class: ErrorClass | None = None
    message: str = ""
    retry_after: float | None = None


def log_fields(claimed: storage.ClaimedTask) -> dict[str, object]:
    return {
        "task_id": claimed.public_id,
        "user_id": claimed.user_id,
        "platform": claimed.platform,
        "attempt": claimed.attempt,
    }


def _failed(lease: storage.Lease, error_class: ErrorClass, message: str) -> Outcome:
    return Outcome(lease, Ending.FAILED, error_class=error_class, message=message)


async def run_publish(
    claimed: storage.ClaimedTask,
    ctx: TaskContext,
    *,
    secrets: SecretBox | None,
    timeout_seconds: float,
) -> Outcome | None:
    """Publish ``claimed`` through its platform's adapter; ``None`` when the lease was lost."""
    lease = claimed.lease
    try:
        publisher = publisher_for(claimed.platform)
        credentials = secrets.open(claimed.account_credentials) if secrets else {}
        content = replace(claimed.content, credentials=credentials)
        async with asyncio.timeout(timeout_seconds):
            result = await publisher.publish(ctx, content)
        return Outcome(lease, Ending.SUCCEEDED, result=result)
    except PublishCancelled:
        return Outcome(lease, Ending.CANCELLED)
    except LeaseLost:
        log.warning(
            "lease lost; another attempt owns the task now",
            extra={**log_fields(claimed), "stage": ctx.stage},
        )
        return None
    except asyncio.CancelledError:
        # Cancelled from outside: by a heartbeat that found the lease gone, at shutdown, or
        # when the worker's liveness lock stayed lost.
        if ctx.lost:
            return None
        reason = ctx.release_reason or "worker stopping: handed back to the queue"
        return Outcome(lease, Ending.RELEASED, message=reason)
    except TimeoutError:
        return _failed(
            lease, ErrorClass.TRANSIENT, f"publish took longer than {timeout_seconds:.0f} s"
        )
    except RateLimited as error:
        return Outcome(
            lease,
            Ending.FAILED,
            error_class=error.error_class,
            message=error.message,
            retry_after=error.retry_after_seconds,
        )
    except PublishError as error:
        return _failed(lease, error.error_class, error.message)
    except Exception as error:
        error_id = uuid.uuid4().hex[:12]
        log.exception(
            "publish crashed",
            extra={**log_fields(claimed), "stage": ctx.stage, "error_id": error_id},
        )
        return _failed(
            lease, ErrorClass.INTERNAL, f"internal error {error_id}: {type(error).__name__}"
        )
