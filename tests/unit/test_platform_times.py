"""The one reader of the times platforms send (draft lists): every shape they use, naive
times as UTC, and nothing unreadable ever raising (a draft list must not fail on a date)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contenthub.platforms.base import unix_time

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "value",
    [
        NOON,
        int(NOON),
        str(int(NOON)),
        "2024-05-01T12:00:00",  # WordPress date_gmt, naive: UTC
        "2024-05-01 12:00:00",  # SegmentFault
        "2024-05-01T12:00:00.000Z",  # Ghost
        "2024-05-01T20:00:00+08:00",
        datetime(2024, 5, 1, 12, 0),  # an XML-RPC dateTime, naive: UTC
        datetime(2024, 5, 1, 20, 0, tzinfo=timezone(timedelta(hours=8))),
    ],
)
def test_every_shape_of_the_same_moment_reads_the_same(value: object) -> None:
    assert unix_time(value) == NOON


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-13-45", True, ["x"]])
def test_nothing_or_unreadable_is_none(value: object) -> None:
    assert unix_time(value) is None
