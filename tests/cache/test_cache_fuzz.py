"""The cache API over generated keys, values and options, on every backend of the conformance fixture: a value read
back is the value written, a bad argument raises the documented exception (TypeError, ValueError and its
KeyTooLongError), and nothing else escapes.

Keys: any Unicode (lone surrogates and NUL included), around the SQL key column's 449 UTF-16 units, empty, not a
str. Values: empty to 10 MB (large ones rare: they cost), bytearray and memoryview, not bytes. Options: any
duration (zero, negative, beyond the year 9999), naive and aware datetimes in any offset, past and future.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from farm.cache import DistributedCache, EntryOptions, KeyTooLongError
from farm.cache.keys import key_length
from farm.cache.options import LATEST_EXPIRY
from tests.cache.conftest import Backend
from tests.fuzzing import examples

pytestmark = pytest.mark.fuzz

MiB = 1024 * 1024
LONG_ENOUGH = timedelta(minutes=5)
"""Entries whose expiry is at least this far off are certainly alive when read back (Redis's clock runs)."""


@st.composite
def boundary_keys(draw: st.DrawFn) -> str:
    """Keys of about 449 UTF-16 code units (SQL Server's nvarchar), astral characters counting two."""
    target = draw(st.sampled_from([448, 449, 450]))
    pieces = draw(st.lists(st.sampled_from(["k", "é", "中", "🔑", "𝄞"]), min_size=target, max_size=target))
    key = ""
    for piece in pieces:
        if key_length(key) >= target:
            break
        key += piece
    return key


keys = st.one_of(
    st.text(min_size=1, max_size=30),
    st.text(st.characters(codec=None, categories=None), min_size=1, max_size=10),  # surrogates, NUL, controls
    boundary_keys(),
    st.just(""),
    st.integers() | st.binary(max_size=8) | st.none() | st.floats() | st.lists(st.text(max_size=2), max_size=2),
)


@st.composite
def values(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["bytes"] * 8 + ["bytearray", "memoryview", "large", "other"]))
    if kind == "large":  # rare on purpose: up to 10 MB of random bytes
        size = draw(st.integers(min_value=MiB, max_value=10 * MiB))
        return random.Random(draw(st.integers(0, 2**32))).randbytes(size)
    if kind == "other":
        return draw(st.text(max_size=8) | st.integers() | st.none() | st.lists(st.integers(0, 255), max_size=4))
    data = draw(st.binary(max_size=4096))
    return bytearray(data) if kind == "bytearray" else memoryview(data) if kind == "memoryview" else data


durations = st.one_of(
    st.none(),
    st.timedeltas(min_value=timedelta(seconds=-5), max_value=timedelta(seconds=5)),
    st.timedeltas(min_value=timedelta(minutes=5), max_value=timedelta(days=3650)),
    st.timedeltas(),  # up to 999,999,999 days: far beyond the year 9999
    st.integers(min_value=1, max_value=60),  # not a timedelta
)
offsets = st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)))


@dataclass(frozen=True)
class FromNow:
    """An absolute expiry this far from the cache's clock (a test's own, or the system's), resolved when the example
    runs: a moment drawn from the system's clock would drift away from a test clock over a long run."""

    offset: timedelta


moments = st.one_of(
    st.none(),
    st.datetimes(timezones=st.just(UTC) | offsets | st.none()),  # year 1 to 9999, naive ones too
    # Near now, but never within 2 s of it, where the test and the cache (a moment later) could disagree.
    st.builds(lambda s: FromNow(timedelta(seconds=s)), st.integers(-3600, -2) | st.integers(2, 86400 * 365)),
    st.dates(),  # not a datetime
)


@dataclass(frozen=True)
class Options:
    """Arguments for EntryOptions, or something else that a caller might pass as options."""

    absolute: Any = None
    relative: Any = None
    sliding: Any = None
    not_options: Any = None

    def at(self, now: datetime) -> Options:
        return replace(self, absolute=now + self.absolute.offset) if isinstance(self.absolute, FromNow) else self

    def build(self) -> Any:
        if self.not_options is not None:
            return self.not_options
        return EntryOptions(
            absolute_expiration=self.absolute,
            absolute_expiration_relative_to_now=self.relative,
            sliding_expiration=self.sliding,
        )


options = st.one_of(
    st.just(None),
    st.builds(Options, absolute=moments, relative=durations, sliding=durations),
    st.builds(Options, not_options=st.dictionaries(st.text(max_size=4), st.integers(), min_size=1) | st.integers(1)),
)


def expected_error(
    backend: Backend, key: Any, value: Any, opts: Options | None, now: datetime
) -> type[Exception] | None:
    """What the documentation says a set of these arguments raises; None for a set that must succeed. The options
    are built first (EntryOptions checks its own fields), then the cache checks the key, the value, the options'
    type and the expiry they give."""
    cache = backend.cache
    if opts is not None and opts.not_options is None:
        if opts.absolute is not None:
            if not isinstance(opts.absolute, datetime):
                return TypeError
            if opts.absolute.utcoffset() is None:
                return ValueError
        for duration in (opts.relative, opts.sliding):
            if duration is not None and not isinstance(duration, timedelta):
                return TypeError
            if duration is not None and duration <= timedelta(0):
                return ValueError
    if not isinstance(key, str):
        return TypeError
    if not key or not _is_text(key) or ("\x00" in key and not cache.nul_in_keys):
        return ValueError
    if cache.max_key_length is not None and key_length(key) > cache.max_key_length:
        return KeyTooLongError
    if not isinstance(value, bytes | bytearray | memoryview):
        return TypeError
    if opts is None:
        return None
    if opts.not_options is not None:
        return TypeError
    if opts.relative is None and opts.absolute is not None and opts.absolute <= now + timedelta(seconds=1):
        return ValueError  # in the past (or so close to now that it is past by the time the cache looks)
    if opts.relative is None and opts.absolute is not None and opts.absolute > LATEST_EXPIRY:
        return ValueError
    if any(d is not None and d > LATEST_EXPIRY - now - timedelta(seconds=1) for d in (opts.relative, opts.sliding)):
        return ValueError
    if backend.is_sql and opts.sliding is not None and opts.sliding < timedelta(seconds=1):
        return ValueError  # SlidingExpirationInSeconds holds whole seconds
    return None


def _is_text(key: str) -> bool:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def surely_alive(opts: Options | None, now: datetime) -> bool:
    """Whether an entry written with these options is still there a moment later, whichever clock runs."""
    if opts is None:
        return True
    limits = [d for d in (opts.relative, opts.sliding) if d is not None]
    if opts.relative is None and opts.absolute is not None:
        limits.append(opts.absolute - now)
    return all(limit >= LONG_ENOUGH for limit in limits)


def _set(cache: DistributedCache, key: Any, value: Any, opts: Options | None) -> None:
    cache.set(key, value, None if opts is None else opts.build())


@examples(8)
@given(key=keys, value=values(), opts=options)
@example(key="k" * 449, value=random.Random(0).randbytes(10 * MiB), opts=None)  # the largest value, every backend
def test_a_value_read_back_is_the_value_written_and_bad_arguments_raise_what_is_documented(
    backend: Backend, key: Any, value: Any, opts: Options | None
) -> None:
    cache = backend.cache
    now = cache._clock()
    opts = None if opts is None else opts.at(now)
    error = expected_error(backend, key, value, opts, now)
    if error is not None:
        with pytest.raises(error):
            _set(cache, key, value, opts)
        key_error = expected_error(backend, key, b"", None, now)
        if key_error is not None:  # a bad key is refused by every method, reads too
            with pytest.raises(key_error):
                cache.get(key)
        return
    cache.remove(key)
    assert cache.add(key, value, None if opts is None else opts.build()) is True
    if surely_alive(opts, now):
        assert cache.get(key) == bytes(value)
        assert cache.add(key, b"second", None) is False
        assert cache.get(key) == bytes(value)
    _set(cache, key, b"overwritten", opts if surely_alive(opts, now) else None)  # a near expiry may have passed now
    assert cache.get(key) == b"overwritten"
    cache.refresh(key)
    cache.remove(key)
    assert cache.get(key) is None


small_values = st.binary(max_size=2048) | st.builds(bytearray, st.binary(max_size=64))


@examples(5)
@given(key=keys, value=small_values | st.text(max_size=4) | st.none(), opts=options)
async def test_the_async_methods_agree(backend: Backend, key: Any, value: Any, opts: Options | None) -> None:
    cache = backend.cache
    now = cache._clock()
    opts = None if opts is None else opts.at(now)
    error = expected_error(backend, key, value, opts, now)
    if error is not None:
        with pytest.raises(error):
            await cache.aset(key, value, None if opts is None else opts.build())
        return
    await cache.aremove(key)
    assert await cache.aadd(key, value, None if opts is None else opts.build()) is True
    if surely_alive(opts, now):
        assert await cache.aget(key) == bytes(value)
        assert cache.get(key) == bytes(value), "the sync and async clients see the same entry"
    await cache.arefresh(key)
    await cache.aremove(key)
    assert await cache.aget(key) is None


# -- what the fuzzing found, kept as plain examples ------------------------------------------------
async def test_a_key_no_server_can_take_is_a_value_error_on_every_backend(backend: Backend) -> None:
    """A lone surrogate (half of a UTF-16 pair) escaped as UnicodeEncodeError from the drivers; a NUL made two keys
    one row on PostgreSQL and SQLite, whose drivers cut the key there."""
    with pytest.raises(ValueError, match="not valid Unicode text: it holds a lone surrogate"):
        backend.cache.set("half \ud800 pair", b"v")
    with pytest.raises(ValueError, match="lone surrogate"):
        await backend.cache.aget("\udfff")
    if backend.is_sql:
        with pytest.raises(ValueError, match="holds a NUL character, which this cache cannot store"):
            backend.cache.set("a\x00b", b"v")
    else:
        backend.cache.set("a\x00b", b"b")
        backend.cache.set("a\x00c", b"c")
        assert (backend.cache.get("a\x00b"), backend.cache.get("a\x00c")) == (b"b", b"c")


@pytest.mark.parametrize(
    "options",
    [
        {"absolute_expiration_relative_to_now": timedelta.max},
        {"sliding_expiration": timedelta(days=3_000_000)},
        {"absolute_expiration": datetime(9999, 12, 31, 20, tzinfo=timezone(timedelta(hours=-20)))},
    ],
    ids=["relative", "sliding", "absolute-beyond-9999-in-utc"],
)
def test_an_expiry_beyond_the_year_9999_is_a_value_error(backend: Backend, options: dict[str, Any]) -> None:
    """It escaped as OverflowError from the datetime arithmetic."""
    with pytest.raises(ValueError, match="the latest expiry a cache holds"):
        backend.cache.set("k", b"v", EntryOptions(**options))
