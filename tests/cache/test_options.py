"""EntryOptions and expiry resolution: the .NET rules, with no backend involved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from farm.cache.options import NEVER, EntryOptions, Expiry, resolve_expiry

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("field", ["absolute_expiration_relative_to_now", "sliding_expiration"])
@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-5)])
def test_non_positive_durations_are_rejected_naming_field_and_value(field: str, value: timedelta) -> None:
    with pytest.raises(ValueError, match=rf"{field}=.*must be positive") as caught:
        EntryOptions(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(caught.value)


def test_durations_must_be_timedeltas() -> None:
    with pytest.raises(TypeError, match=r"sliding_expiration must be a datetime\.timedelta, not int"):
        EntryOptions(sliding_expiration=20)  # type: ignore[arg-type]


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="use an aware datetime"):
        EntryOptions(absolute_expiration=datetime(2030, 1, 1))


def test_absolute_in_the_past_is_rejected_at_resolution() -> None:
    with pytest.raises(ValueError, match="absolute expiration value must be in the future"):
        resolve_expiry(EntryOptions(absolute_expiration=NOW - timedelta(seconds=1)), NOW)
    with pytest.raises(ValueError, match="must be in the future"):
        resolve_expiry(EntryOptions(absolute_expiration=NOW), NOW)


def test_relative_wins_even_over_a_past_absolute() -> None:
    options = EntryOptions(
        absolute_expiration=NOW - timedelta(days=1), absolute_expiration_relative_to_now=timedelta(1)
    )
    assert resolve_expiry(options, NOW) == Expiry(absolute=NOW + timedelta(days=1), sliding=None)


def test_absolute_in_another_zone_is_the_same_instant() -> None:
    moment = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    expiry = resolve_expiry(EntryOptions(absolute_expiration=moment), NOW - timedelta(hours=1))
    assert expiry.expires_at(NOW) == NOW


def test_sliding_expires_at_the_earlier_of_window_and_absolute() -> None:
    expiry = Expiry(absolute=NOW + timedelta(seconds=30), sliding=timedelta(seconds=20))
    assert expiry.expires_at(NOW) == NOW + timedelta(seconds=20)
    assert expiry.expires_at(NOW + timedelta(seconds=15)) == NOW + timedelta(seconds=30)
    assert Expiry(absolute=None, sliding=timedelta(seconds=20)).expires_at(NOW) == NOW + timedelta(seconds=20)


def test_no_options_never_expire() -> None:
    assert resolve_expiry(None, NOW) is NEVER
    assert NEVER.expires_at(NOW) is None
    assert EntryOptions().is_empty
    assert not EntryOptions(sliding_expiration=timedelta(1)).is_empty
