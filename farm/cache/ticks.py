""".NET ticks (100 ns units), computed with integers so that no precision is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TICKS_PER_SECOND = 10_000_000
TICKS_PER_MICROSECOND = 10
UNIX_EPOCH_TICKS = 621_355_968_000_000_000
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def datetime_to_ticks(moment: datetime) -> int:
    """UTC date ticks counted from 0001-01-01, as .NET's ``DateTimeOffset.UtcTicks``."""
    return UNIX_EPOCH_TICKS + (moment - _UNIX_EPOCH) // _MICROSECOND * TICKS_PER_MICROSECOND


def ticks_to_datetime(ticks: int) -> datetime:
    """The aware UTC datetime of date ticks; sub-microsecond ticks are truncated."""
    return _UNIX_EPOCH + timedelta(microseconds=(ticks - UNIX_EPOCH_TICKS) // TICKS_PER_MICROSECOND)


def timedelta_to_ticks(duration: timedelta) -> int:
    return duration // _MICROSECOND * TICKS_PER_MICROSECOND


def ticks_to_timedelta(ticks: int) -> timedelta:
    return timedelta(microseconds=ticks // TICKS_PER_MICROSECOND)


def epoch_micros(moment: datetime) -> int:
    """Whole microseconds since 1970-01-01 UTC: how the SQL backend compares times cheaply."""
    return (moment - _UNIX_EPOCH) // _MICROSECOND


def epoch_micros_span(duration: timedelta) -> int:
    """Whole microseconds of a duration."""
    return duration // _MICROSECOND


def from_epoch_micros(micros: int) -> datetime:
    return _UNIX_EPOCH + timedelta(microseconds=micros)
