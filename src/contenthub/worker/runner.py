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
from contenthub.clock import utcnow
from contenthub.errors import ErrorClass, LeaseLost, PublishCancelled, PublishError, RateLimited
from contenthub.platforms.base import Publisher, PublishResult
from contenthub.platforms.content import WARNINGS, TaskContent, may_have_published
from contenthub.platforms.images import attachment_names, image_urls
from contenthub.platforms.registry import publisher_for
from contenthub.platforms.render import content_warnings
from contenthub.retry import is_final
from contenthub.secrets_box import SecretBox
from contenthub.services.login import Write, publish_or_log_in_once
from contenthub.states import FINAL_CHECK_MARK
from contenthub.worker.context import TaskContext

log = logging.getLogger("contenthub.worker")
FINAL_CHECK_SECONDS = 60.0  # how long asking the platform may take before a task ends failed


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
    write: Write[Any],
) -> Outcome | None:
    """Publish ``claimed`` through its platform's adapter; ``None`` when the lease was lost.

    An attempt that would end the task failed after a publish may have been submitted asks
    the platform first (``final_check``); a task the rescuer marked runs only that check.
    An expired login is logged in again once when the account has a stored password."""
    lease = claimed.lease
    try:
        publisher = publisher_for(claimed.platform)
        credentials = secrets.open(claimed.account_credentials) if secrets else {}
        saver = ctx.session_saver(claimed.account_id, secrets) if secrets else None
        content = replace(claimed.content, credentials=credentials, save_session=saver)
        content = await _with_attachments(content, claimed.article_id, write)
    except PublishError as error:
        return _failed(lease, error.error_class, error.message)
    except Exception as error:
        return _crashed(claimed, ctx, error)
    if claimed.checkpoint.get(FINAL_CHECK_MARK):
        lost = _failed(lease, ErrorClass.WORKER_LOST, "worker lost on its last attempt")
        return await final_check(publisher, ctx, content, lost, claimed=claimed)
    outcome = await _attempt(
        publisher, content, claimed, ctx, timeout_seconds, write=write, secrets=secrets
    )
    if outcome is not None and _ends_task(outcome, claimed) and may_have_published(ctx.checkpoints):
        return await final_check(publisher, ctx, content, outcome, claimed=claimed)
    return outcome


async def _note_warnings(ctx: TaskContext, content: TaskContent, platform: str) -> None:
    """Record on the task what of its body the platform cannot take: never dropped unsaid."""
    warnings = content_warnings(content.body, platform)
    if warnings and ctx.checkpoints.get(WARNINGS) != warnings:
        await ctx.checkpoint(WARNINGS, warnings)


async def _with_attachments(
    content: TaskContent, article_id: int | None, write: Write[Any]
) -> TaskContent:
    """The images stored with the article that the task's body or cover refers to by a file
    path, read now (they are megabytes: never carried by the claim)."""
    names = attachment_names(image_urls(content.body), content.cover)
    if not names or article_id is None:
        return content
    found = await write(lambda s: storage.attachment_data(s, article_id, names))
    return replace(content, attachments=found)


def _ends_task(outcome: Outcome, claimed: storage.ClaimedTask) -> bool:
    """A failed attempt after which no retry follows (the retry policy says)."""
    if outcome.ending is not Ending.FAILED or outcome.error_class is None:
        return False
    return is_final(outcome.error_class, attempt=claimed.attempt, max_attempts=claimed.max_attempts)


async def _attempt(
    publisher: Publisher,
    content: TaskContent,
    claimed: storage.ClaimedTask,
    ctx: TaskContext,
    timeout_seconds: float,
    *,
    write: Write[Any],
    secrets: SecretBox | None,
) -> Outcome | None:
    lease = claimed.lease
    try:
        await _note_warnings(ctx, content, claimed.platform)
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
        return _stopped(lease, ctx)
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
        return _crashed(claimed, ctx, error)


async def final_check(
    publisher: Publisher,
    ctx: TaskContext,
    content: TaskContent,
    failed: Outcome,
    *,
    claimed: storage.ClaimedTask,
) -> Outcome | None:
    """Ask the platform whether the post is live before ``failed`` ends the task: found, the
    task succeeded; otherwise ``failed`` says what was checked, so nobody trusts it blindly."""
    at = utcnow().strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        async with asyncio.timeout(FINAL_CHECK_SECONDS):
            found = await publisher.find_published(ctx, content)
    except asyncio.CancelledError:
        return _stopped(failed.lease, ctx)
    except NotImplementedError:
        note = "this platform cannot be asked"
    except TimeoutError:
        note = f"could not check at {at}: no answer in {FINAL_CHECK_SECONDS:.0f} s"
    except PublishError as error:
        note = f"could not check at {at}: {error.message}"
    except Exception as error:
        note = f"could not check at {at}: {_crashed(claimed, ctx, error).message}"
    else:
        if found is not None:
            log.info("final check found the post live", extra=log_fields(claimed))
            note = f"found by the final check at {at}"
            found = replace(found, updated=content.update_of is not None)  # what was asked
            return Outcome(failed.lease, Ending.SUCCEEDED, result=found, message=note)
        note = f"checked at {at}, not found"
    message = f"{failed.message} — the platform may have published it; {note}"
    return replace(failed, message=message)


def _stopped(lease: storage.Lease, ctx: TaskContext) -> Outcome | None:
    """Cancelled from outside: by a heartbeat that found the lease gone, at shutdown, or when
    the worker's liveness lock stayed lost."""
    if ctx.lost:
        return None
    reason = ctx.release_reason or "worker stopping: handed back to the queue"
    return Outcome(lease, Ending.RELEASED, message=reason)


def _crashed(claimed: storage.ClaimedTask, ctx: TaskContext, error: Exception) -> Outcome:
    error_id = uuid.uuid4().hex[:12]
    log.exception(
        "publish crashed",
        extra={**log_fields(claimed), "stage": ctx.stage, "error_id": error_id},
        exc_info=error,
    )
    return _failed(
        claimed.lease, ErrorClass.INTERNAL, f"internal error {error_id}: {type(error).__name__}"
    )
