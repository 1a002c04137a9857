"""Schedule arithmetic and percentiles: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contenthub.errors import InputError
from contenthub.scheduler import Schedule
from contenthub.services.stats import _percentile

T0 = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def test_interval_ticks_stay_on_their_grid() -> None:
    every_minute = Schedule("interval", 60)
    assert every_minute.next_after(T0) == T0 + timedelta(minutes=1)
    late = T0 + timedelta(minutes=3, seconds=59)
    assert every_minute.next_after(late, anchor=T0) == T0 + timedelta(minutes=4)
    on_tick = T0 + timedelta(minutes=2)
    assert every_minute.next_after(on_tick, anchor=T0) == T0 + timedelta(minutes=3)


def test_cron_follows_the_zone_across_a_dst_change() -> None:
    # Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29.
    daily = Schedule("cron", cron="30 2 * * *", timezone="Europe/Berlin")
    winter = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    assert daily.next_after(winter) == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
    summer = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert daily.next_after(summer) == datetime(2026, 3, 31, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule("interval", 0), "interval_seconds"),
        (Schedule("interval", None), "interval_seconds"),
        (Schedule("cron", cron="* * * *"), "cron"),
        (Schedule("cron", cron="* * * * * *"), "cron"),
        (Schedule("cron", cron="* * * * *", timezone="Nowhere/Else"), "timezone"),
    ],
)
def test_bad_schedules_name_the_field(schedule: Schedule, field: str) -> None:
    with pytest.raises(InputError) as error:
        schedule.validate()
    assert error.value.field == field


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 21)]
    assert _percentile(values, 0.5) == 10.0
    assert _percentile(values, 0.95) == 19.0
    assert _percentile([3.0], 0.95) == 3.0
    assert _percentile([], 0.5) is None
