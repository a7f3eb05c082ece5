""".NET tick arithmetic must be exact: both sides of a shared cache compare these numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farm.cache.ticks import (
    UNIX_EPOCH_TICKS,
    datetime_to_ticks,
    ticks_to_datetime,
    ticks_to_timedelta,
    timedelta_to_ticks,
)


def test_known_instants() -> None:
    assert datetime_to_ticks(datetime(1970, 1, 1, tzinfo=UTC)) == UNIX_EPOCH_TICKS
    assert datetime_to_ticks(datetime(1, 1, 1, tzinfo=UTC)) == 0
    # DateTimeOffset(2024, 2, 29, 13, 45, 30.1234567, TimeSpan.Zero).UtcTicks, truncated to microseconds
    assert datetime_to_ticks(datetime(2024, 2, 29, 13, 45, 30, 123456, tzinfo=UTC)) == 638448111301234560


def test_round_trips_keep_every_microsecond() -> None:
    moment = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert ticks_to_datetime(datetime_to_ticks(moment)) == moment
    assert ticks_to_datetime(datetime_to_ticks(moment) + 9) == moment  # sub-microsecond ticks truncate


def test_durations() -> None:
    assert timedelta_to_ticks(timedelta(minutes=20)) == 12_000_000_000
    assert timedelta_to_ticks(timedelta(microseconds=1)) == 10
    assert ticks_to_timedelta(12_000_000_000) == timedelta(minutes=20)
