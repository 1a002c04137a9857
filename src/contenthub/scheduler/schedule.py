"""When a job runs next: pure functions of the schedule, the last tick and the clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from contenthub.errors import InputError

SCHEDULE_TYPES = ("interval", "cron")
MAX_INTERVAL_SECONDS = 366 * 24 * 3600


@dataclass(frozen=True)
class Schedule:
    kind: str
    interval_seconds: int | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def validate(self) -> None:
        if self.kind not in SCHEDULE_TYPES:
            raise InputError("schedule_type", f"must be one of {', '.join(SCHEDULE_TYPES)}")
        zone_of(self.timezone)
        if self.kind == "interval":
            seconds = self.interval_seconds
            if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, int):
                raise InputError("interval_seconds", "a whole number of seconds is required")
            if not 0 < seconds <= MAX_INTERVAL_SECONDS:
                raise InputError(
                    "interval_seconds", f"must be from 1 to {MAX_INTERVAL_SECONDS}, got {seconds}"
                )
            return
        if not self.cron or not self.cron.strip():
            raise InputError("cron", "a cron expression is required, e.g. '*/5 * * * *'")
        if len(self.cron.split()) != 5 or not croniter.is_valid(self.cron):
            raise InputError(
                "cron",
                f"{self.cron!r} is not a five-field cron expression (min hour day month dow)",
            )
        # A valid line may still name no date that exists ('0 0 30 2 *'): it would never run.
        self.next_after(datetime.now(UTC))

    def next_after(self, now: datetime, *, anchor: datetime | None = None) -> datetime:
        """The first tick strictly after ``now``.

        Interval ticks stay on the grid ``anchor + k * interval``, so a late run does not drift
        the schedule; every tick missed before ``now`` collapses into the run being made."""
        if self.kind == "interval":
            assert self.interval_seconds is not None
            step = timedelta(seconds=self.interval_seconds)
            if anchor is None or anchor > now:
                return now + step if anchor is None else anchor
            passed = math.floor((now - anchor) / step) + 1
            return anchor + passed * step
        assert self.cron is not None
        local = now.astimezone(zone_of(self.timezone))
        try:
            following = croniter(self.cron, local).get_next(datetime)
        except CroniterError:  # validated before, kept for old rows
            raise InputError("cron", f"{self.cron!r} never fires: no such date") from None
        return following.astimezone(UTC)

    def upcoming(self, now: datetime, count: int = 5) -> list[datetime]:
        """The next ``count`` ticks after ``now`` (a schedule's preview); validated first."""
        self.validate()
        ticks: list[datetime] = []
        for _ in range(count):
            ticks.append(self.next_after(ticks[-1] if ticks else now))
        return ticks


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise InputError("timezone", f"unknown time zone {name!r}") from None
