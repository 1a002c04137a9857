"""Recurring jobs (publishing, account check, cleanup) and the duty that runs them."""

from typing import TYPE_CHECKING, Any

from contenthub.scheduler.schedule import Schedule

if TYPE_CHECKING:
    from contenthub.scheduler.duty import Scheduler

__all__ = ["Schedule", "Scheduler"]


def __getattr__(name: str) -> Any:
    """``Scheduler`` on first use: the duty brings every job's executor (publishing, account
    checks …), which a command that only lists or edits jobs never needs."""
    if name == "Scheduler":
        from contenthub.scheduler.duty import Scheduler

        return Scheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
