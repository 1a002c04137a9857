"""One publish, start to end: hand the adapter the task, and turn however the publish ended
into an ``Outcome`` for the completer (or into nothing, when the lease was lost: the task
belongs to another attempt now, and this worker must not write to it)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from contenthub import storage
from contenthub.errors import ErrorClass, LeaseLost, PublishCancelled, PublishError, RateLimited
from contenthub.platforms.base import PublishResult
from contenthub.platforms.registry import publisher_for
from contenthub.secrets_box import SecretBox
from contenthub.services.login import Write, publish_or_log_in_once
from contenthub.worker.context import TaskContext

log = logging.getLogger("contenthub.worker")


class Ending(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RELEASED = "released"  # handed back to the queue: the worker is stopping


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
    write: Write[Any],
) -> Outcome | None:
    """Publish ``claimed`` through its platform's adapter; ``None`` when the lease was lost.
    An expired login is logged in again once when the account has a stored password."""
    lease = claimed.lease
    try:
        publisher = publisher_for(claimed.platform)
        credentials = secrets.open(claimed.account_credentials) if secrets else {}
        content = replace(claimed.content, credentials=credentials)
        async with asyncio.timeout(timeout_seconds):
            result = await publish_or_log_in_once(
                publisher, ctx, content, account_id=claimed.account_id, write=write, box=secrets
            )
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
        # Cancelled from outside: by a heartbeat that found the lease gone, or at shutdown.
        if ctx.lost:
            return None
        return Outcome(lease, Ending.RELEASED, message="worker stopping: handed back to the queue")
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
