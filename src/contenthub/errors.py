"""Error classes. Adapters raise only these; the retry policy decides what each one means."""

from __future__ import annotations

import re
from enum import StrEnum

# C0 and C1 control characters and DEL: no name, id or title of ours carries one, and NUL
# cannot be stored at all (PostgreSQL refuses it).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ErrorClass(StrEnum):
    AUTH_EXPIRED = "auth_expired"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    REJECTED = "rejected"
    INTERNAL = "internal"
    WORKER_LOST = "worker_lost"


class PublishError(Exception):
    """Raised by a platform adapter; ``message`` is shown to the user, so no secrets in it."""

    error_class: ErrorClass = ErrorClass.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthExpired(PublishError):
    error_class = ErrorClass.AUTH_EXPIRED


class RateLimited(PublishError):
    error_class = ErrorClass.RATE_LIMITED

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Transient(PublishError):
    error_class = ErrorClass.TRANSIENT


class Rejected(PublishError):
    error_class = ErrorClass.REJECTED


class PublishCancelled(Exception):
    """The user asked to cancel; raised inside a publish at its next step."""


class LeaseLost(Exception):
    """This worker no longer owns the task (its lease expired and it was rescued)."""


class InputError(ValueError):
    """Bad input from a user: names the field, and nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what
        self.ident = ident


class Forbidden(PermissionError):
    """Authenticated, but this needs an admin."""


class SubmissionLimit(Exception):
    """Too many new publish tasks in the sliding window; nothing was created."""

    def __init__(self, limit: int, window_seconds: int, retry_after_seconds: int) -> None:
        super().__init__(
            f"at most {limit} new publish tasks per {window_seconds} s; "
            f"try again in {retry_after_seconds} s"
        )
        self.retry_after_seconds = retry_after_seconds
