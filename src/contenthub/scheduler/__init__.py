"""Recurring jobs (publishing, account check, cleanup) and the duty that runs them."""

from contenthub.scheduler.duty import Scheduler
from contenthub.scheduler.schedule import Schedule

__all__ = ["Schedule", "Scheduler"]
