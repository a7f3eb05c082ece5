"""Entry options with the .NET rules, and their conversion into one expiry, done once for every backend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LATEST_EXPIRY = datetime(9999, 12, 30, tzinfo=UTC)
"""The latest moment an entry may expire: a day short of what a datetime holds, so that it fits in any UTC offset
(and in every backend's column: MariaDB's DATETIME and SQL Server's datetimeoffset end with the year 9999)."""


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}={value.isoformat()} is a naive datetime: use an aware datetime")


def _require_positive(name: str, value: timedelta | None, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a datetime.timedelta, not {type(value).__name__}: {value!r}")
    if value <= timedelta(0):
        raise ValueError(f"{name}={value!r}: the {what} expiration value must be positive")


@dataclass(frozen=True)
class EntryOptions:
    """How long an entry lives, as ``DistributedCacheEntryOptions`` in .NET.

    ``absolute_expiration_relative_to_now`` wins over ``absolute_expiration``; with a sliding window and an
    absolute limit the entry expires at the earlier of the two.
    """

    absolute_expiration: datetime | None = None
    absolute_expiration_relative_to_now: timedelta | None = None
    sliding_expiration: timedelta | None = None

    def __post_init__(self) -> None:
        if self.absolute_expiration is not None:
            if not isinstance(self.absolute_expiration, datetime):
                raise TypeError(
                    "absolute_expiration must be an aware datetime.datetime, "
                    f"not {type(self.absolute_expiration).__name__}: {self.absolute_expiration!r}"
                )
            _require_aware("absolute_expiration", self.absolute_expiration)
        _require_positive("absolute_expiration_relative_to_now", self.absolute_expiration_relative_to_now, "relative")
        _require_positive("sliding_expiration", self.sliding_expiration, "sliding")

    @property
    def is_empty(self) -> bool:
        """No expiry at all: the backend's default applies (none, or SQL's 20-minute sliding window)."""
        return (
            self.absolute_expiration is None
            and self.absolute_expiration_relative_to_now is None
            and self.sliding_expiration is None
        )


@dataclass(frozen=True)
class Expiry:
    """An entry's expiry resolved at write time: an absolute limit and/or a sliding window."""

    absolute: datetime | None
    sliding: timedelta | None

    def expires_at(self, last_access: datetime) -> datetime | None:
        """When the entry expires if it was last touched at ``last_access``; None for never."""
        if self.sliding is None:
            return self.absolute
        slid = last_access + self.sliding
        return slid if self.absolute is None else min(slid, self.absolute)


NEVER = Expiry(absolute=None, sliding=None)


def resolve_expiry(options: EntryOptions | None, now: datetime) -> Expiry:
    if options is None:
        return NEVER
    if not isinstance(options, EntryOptions):
        raise TypeError(f"options must be EntryOptions, not {type(options).__name__}")
    absolute = options.absolute_expiration
    if options.absolute_expiration_relative_to_now is not None:
        absolute = now + _within_reach(
            "absolute_expiration_relative_to_now", options.absolute_expiration_relative_to_now, now
        )
    elif absolute is not None and absolute <= now:
        raise ValueError(
            f"absolute_expiration={absolute.isoformat()}: the absolute expiration value must be in the future "
            f"(now is {now.isoformat()})"
        )
    elif absolute is not None and absolute > LATEST_EXPIRY:
        raise ValueError(
            f"absolute_expiration={absolute.isoformat()} is later than {LATEST_EXPIRY.isoformat()}, the latest "
            "expiry a cache holds: leave it out for an entry that never expires"
        )
    if options.sliding_expiration is not None:
        _within_reach("sliding_expiration", options.sliding_expiration, now)
    return Expiry(absolute=absolute, sliding=options.sliding_expiration)


def _within_reach(name: str, duration: timedelta, now: datetime) -> timedelta:
    """A duration from now that ends before LATEST_EXPIRY (beyond it, the arithmetic on datetimes overflows)."""
    if duration > LATEST_EXPIRY - now:
        raise ValueError(
            f"{name}={duration!r} ends after {LATEST_EXPIRY.isoformat()}, the latest expiry a cache holds: leave it "
            "out for an entry that never expires"
        )
    return duration
