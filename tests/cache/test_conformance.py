"""The behaviour every backend shares, run against each on a real server (see conftest.py)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from farm.cache import EntryOptions, KeyTooLongError
from tests.cache.conftest import Backend

S = timedelta(seconds=1)


# -- values ---------------------------------------------------------------------------------------
def test_missing_key_reads_none(backend: Backend) -> None:
    assert backend.cache.get("never-set") is None
    assert backend.cache.get_string("never-set") is None


@pytest.mark.parametrize(
    "value",
    [b"", bytes(range(256)) * 4, os.urandom(1024 * 1024), b"\x00" * 10, "ünïcødé €".encode()],
    ids=["empty", "every-byte", "1MiB", "nul-bytes", "utf8"],
)
def test_bytes_round_trip(backend: Backend, value: bytes) -> None:
    backend.cache.set("k", value)
    assert backend.cache.get("k") == value


async def test_async_bytes_round_trip(backend: Backend) -> None:
    value = os.urandom(1024 * 1024)
    await backend.cache.aset("k", value)
    assert await backend.cache.aget("k") == value
    assert await backend.cache.aget("missing") is None


async def test_string_helpers_encode_utf8(backend: Backend) -> None:
    backend.cache.set_string("s", "Grüße, 世界 🌍")
    assert backend.cache.get("s") == "Grüße, 世界 🌍".encode()
    await backend.cache.aset_string("a", "ça va")
    assert await backend.cache.aget_string("a") == "ça va"
    assert backend.cache.get_string("a") == "ça va"


def test_overwrite_replaces_value_and_expiry(backend: Backend) -> None:
    backend.cache.set("k", b"first", EntryOptions(absolute_expiration_relative_to_now=S))
    backend.cache.set("k", b"second", EntryOptions(absolute_expiration_relative_to_now=3 * S))
    assert backend.cache.get("k") == b"second"
    backend.advance(1.5)
    assert backend.cache.get("k") == b"second"


async def test_remove(backend: Backend) -> None:
    backend.cache.set("a", b"1")
    backend.cache.set("b", b"2")
    backend.cache.remove("a")
    await backend.cache.aremove("b")
    assert backend.cache.get("a") is None
    assert await backend.cache.aget("b") is None
    backend.cache.remove("never-set")
    await backend.cache.aremove("never-set")


# -- add: set only if absent ----------------------------------------------------------------------
async def test_add_stores_only_when_the_key_holds_no_entry(backend: Backend) -> None:
    assert backend.cache.add("k", b"first", EntryOptions(sliding_expiration=S)) is True
    assert backend.cache.add("k", b"second") is False
    assert await backend.cache.aadd("k", b"third") is False
    assert backend.cache.get("k") == b"first"
    backend.cache.remove("k")
    assert await backend.cache.aadd("k", b"after remove") is True
    assert await backend.cache.aget("k") == b"after remove"


def test_add_over_an_expired_entry_succeeds_with_its_own_expiry(backend: Backend) -> None:
    backend.cache.set("k", b"old", EntryOptions(absolute_expiration_relative_to_now=S))
    backend.advance(1.3)
    assert backend.cache.add("k", b"new", EntryOptions(sliding_expiration=S)) is True
    assert backend.cache.get("k") == b"new"
    backend.advance(0.6)
    assert backend.cache.get("k") == b"new", "the new entry's sliding window, not the old absolute one"


def test_of_many_concurrent_adds_of_one_key_exactly_one_wins(backend: Backend) -> None:
    # Separate clients of one store (several processes); memory caches are not shared, so one client there.
    clients = (
        [backend.cache] if backend.name == "memory" else [backend.cache, *(backend.open_another() for _ in range(3))]
    )
    start = threading.Barrier(8)
    wins: list[bytes] = []

    def contender(index: int) -> None:
        cache = clients[index % len(clients)]
        start.wait()
        if cache.add("contended", f"contender {index}".encode()):
            wins.append(f"contender {index}".encode())

    for round_ in range(4):
        if round_ % 2:  # an expired entry is there: each contender must first see that it counts as none
            backend.cache.set("contended", b"old", EntryOptions(absolute_expiration_relative_to_now=S))
            backend.advance(1.3)
        else:
            backend.cache.remove("contended")
        wins.clear()
        threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1, f"round {round_}: {len(wins)} adds won"
        assert backend.cache.get("contended") == wins[0]


# -- expiry ---------------------------------------------------------------------------------------
def test_absolute_expiration(backend: Backend) -> None:
    backend.cache.set("k", b"v", EntryOptions(absolute_expiration=datetime.now(UTC) + S))
    backend.advance(0.4)
    assert backend.cache.get("k") == b"v"
    backend.advance(0.9)
    assert backend.cache.get("k") is None


def test_relative_expiration(backend: Backend) -> None:
    backend.cache.set("k", b"v", EntryOptions(absolute_expiration_relative_to_now=S))
    backend.advance(0.4)
    assert backend.cache.get("k") == b"v"
    backend.advance(0.9)
    assert backend.cache.get("k") is None


def test_relative_wins_over_absolute(backend: Backend) -> None:
    far = datetime.now(UTC) + timedelta(hours=1)
    backend.cache.set("k", b"v", EntryOptions(absolute_expiration=far, absolute_expiration_relative_to_now=S))
    backend.advance(1.3)
    assert backend.cache.get("k") is None


def test_sliding_expiration_is_extended_by_reads(backend: Backend) -> None:
    backend.cache.set("k", b"v", EntryOptions(sliding_expiration=S))
    for _ in range(3):  # 1.8 s in all: alive only because each read slides the window
        backend.advance(0.6)
        assert backend.cache.get("k") == b"v"
    backend.advance(1.3)
    assert backend.cache.get("k") is None


async def test_async_reads_slide_too(backend: Backend) -> None:
    await backend.cache.aset("k", b"v", EntryOptions(sliding_expiration=S))
    for _ in range(3):
        await backend.pass_time(0.6)
        assert await backend.cache.aget("k") == b"v"
    await backend.pass_time(1.3)
    assert await backend.cache.aget("k") is None


def test_sliding_never_outlives_absolute(backend: Backend) -> None:
    backend.cache.set(
        "k", b"v", EntryOptions(sliding_expiration=S, absolute_expiration_relative_to_now=timedelta(seconds=1.5))
    )
    backend.advance(0.6)
    assert backend.cache.get("k") == b"v"
    backend.advance(0.6)
    assert backend.cache.get("k") == b"v"
    backend.advance(0.5)  # 1.7 s: last read was 0.5 s ago, but the absolute limit has passed
    assert backend.cache.get("k") is None


def test_refresh_slides_without_reading(backend: Backend) -> None:
    backend.cache.set("k", b"v", EntryOptions(sliding_expiration=S))
    backend.advance(0.6)
    backend.cache.refresh("k")
    backend.advance(0.6)
    assert backend.cache.get("k") == b"v"
    backend.advance(1.3)
    assert backend.cache.get("k") is None


async def test_async_refresh(backend: Backend) -> None:
    await backend.cache.aset("k", b"v", EntryOptions(sliding_expiration=S))
    await backend.pass_time(0.6)
    await backend.cache.arefresh("k")
    await backend.pass_time(0.6)
    assert await backend.cache.aget("k") == b"v"


def test_refresh_never_moves_past_absolute(backend: Backend) -> None:
    backend.cache.set(
        "k", b"v", EntryOptions(sliding_expiration=S, absolute_expiration_relative_to_now=timedelta(seconds=1.5))
    )
    backend.advance(0.6)
    backend.cache.refresh("k")
    backend.advance(0.6)
    backend.cache.refresh("k")
    backend.advance(0.5)
    assert backend.cache.get("k") is None


def test_refresh_of_entry_without_sliding_window_does_nothing(backend: Backend) -> None:
    backend.cache.set("k", b"v", EntryOptions(absolute_expiration_relative_to_now=S))
    backend.advance(0.6)
    backend.cache.refresh("k")
    backend.advance(0.6)
    assert backend.cache.get("k") is None


async def test_refresh_of_missing_key_raises_nothing_and_creates_no_entry(backend: Backend) -> None:
    # Callers refresh without looking first: a missing key must stay missing, not become an empty entry.
    # Typed as returning object: mypy refuses to look at what a function declared to return None returns.
    refresh: Callable[[str], object] = backend.cache.refresh
    arefresh: Callable[[str], Awaitable[object]] = backend.cache.arefresh
    assert refresh("never-set") is None
    assert await arefresh("never-set-async") is None
    for key in ("never-set", "never-set-async"):
        assert backend.cache.get(key) is None
        assert await backend.cache.aget(key) is None
        assert not backend.stored(key)
    backend.cache.set("present", b"v")
    assert backend.stored("present")  # the probe does see entries


# -- validation -----------------------------------------------------------------------------------
async def test_absolute_expiration_in_the_past_is_rejected(backend: Backend) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(ValueError, match="absolute expiration value must be in the future"):
        backend.cache.set("k", b"v", EntryOptions(absolute_expiration=past))
    with pytest.raises(ValueError, match="absolute expiration value must be in the future"):
        await backend.cache.aset("k", b"v", EntryOptions(absolute_expiration=past))
    assert backend.cache.get("k") is None


async def test_bad_keys_and_values_are_rejected_before_any_io(backend: Backend) -> None:
    cache = backend.cache
    for call in (cache.get, cache.remove, cache.refresh, lambda k: cache.set(k, b"v")):
        with pytest.raises(ValueError, match="must not be empty"):
            call("")
        with pytest.raises(TypeError, match="must be a str, not int"):
            call(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        await cache.aget("")
    with pytest.raises(TypeError, match="must be bytes, not str"):
        cache.set("k", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be bytes, not NoneType"):
        await cache.aset("k", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="options must be EntryOptions"):
        cache.set("k", b"v", {"sliding_expiration": S})  # type: ignore[arg-type]


def test_keys_are_case_sensitive_and_unicode(backend: Backend) -> None:
    backend.cache.set("Key", b"upper")
    backend.cache.set("key", b"lower")
    backend.cache.set("ключ-🔑", b"unicode")
    assert backend.cache.get("Key") == b"upper"
    assert backend.cache.get("key") == b"lower"
    assert backend.cache.get("ключ-🔑") == b"unicode"


def test_key_length_limit(backend: Backend) -> None:
    longest = "k" * 449
    backend.cache.set(longest, b"v")
    assert backend.cache.get(longest) == b"v"
    if backend.is_sql:
        # .NET truncates such keys, so two of them would share one row: refused here instead.
        with pytest.raises(KeyTooLongError, match="450 characters"):
            backend.cache.set(longest + "x", b"v")
        with pytest.raises(KeyTooLongError):
            backend.cache.get("🔑" * 225)  # 450 UTF-16 code units, as SQL Server's nvarchar counts them
    else:
        backend.cache.set("k" * 10_000, b"long")
        assert backend.cache.get("k" * 10_000) == b"long"


def test_long_keys_are_kept_whole(backend: Backend) -> None:
    """Up to the limit, whatever the characters: two keys that differ only in their last one are two entries (the
    MariaDB driver once dropped the last character of a key beyond 255, and failed on astral ones)."""
    for key in ("k" * 299 + "a", "🔑" * 130, "é" * 200 + "🔑" * 124 + "k"):  # the last: 449 UTF-16 code units
        backend.cache.set(key, b"whole")
        assert backend.cache.get(key) == b"whole"
        assert backend.cache.get(key[:-1] + "b") is None
        backend.cache.set(key[:-1] + "b", b"another")
        assert backend.cache.get(key) == b"whole"


# -- concurrency ----------------------------------------------------------------------------------
def _value(writer: int, round_: int) -> bytes:
    return f"{writer}:{round_}:".encode() * 200


async def test_many_tasks_on_the_same_keys(backend: Backend) -> None:
    keys = [f"hot-{i}" for i in range(4)]
    seen: list[bytes | None] = []

    async def worker(writer: int) -> None:
        for round_ in range(10):
            key = keys[(writer + round_) % len(keys)]
            await backend.cache.aset(key, _value(writer, round_), EntryOptions(sliding_expiration=60 * S))
            seen.append(await backend.cache.aget(keys[round_ % len(keys)]))
            if round_ % 4 == 3:
                await backend.cache.aremove(key)

    await asyncio.gather(*(worker(w) for w in range(20)))
    written = {_value(w, r) for w in range(20) for r in range(10)}
    assert len(seen) == 200
    assert all(v is None or v in written for v in seen), "a read returned a value nobody wrote whole"
    assert sum(v is not None for v in seen) > 100


def test_many_threads_on_the_same_keys(backend: Backend) -> None:
    errors: list[BaseException] = []
    seen: list[bytes | None] = []

    def worker(writer: int) -> None:
        try:
            for round_ in range(15):
                backend.cache.set("shared", _value(writer, round_))
                seen.append(backend.cache.get("shared"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    written = {_value(w, r) for w in range(8) for r in range(15)}
    assert len(seen) == 120
    assert all(v in written for v in seen)


async def test_sync_and_async_see_the_same_entries(backend: Backend) -> None:
    # The sync calls block, as they may: in a thread, as an application on an event loop would make them.
    sync = backend.cache
    await asyncio.to_thread(sync.set, "from-sync", b"1", EntryOptions(sliding_expiration=S))
    await backend.cache.aset("from-async", b"2", EntryOptions(sliding_expiration=S))
    assert await backend.cache.aget("from-sync") == b"1"
    assert await asyncio.to_thread(sync.get, "from-async") == b"2"
    await backend.pass_time(0.6)
    await asyncio.to_thread(sync.refresh, "from-async")
    await backend.cache.arefresh("from-sync")
    await backend.pass_time(0.6)
    assert await asyncio.to_thread(sync.get, "from-sync") == b"1"
    assert await backend.cache.aget("from-async") == b"2"


# -- sharing --------------------------------------------------------------------------------------
async def test_a_second_client_shares_the_entries(shared_backend: Backend) -> None:
    other = shared_backend.open_another()
    shared_backend.cache.set("shared", b"written by one")
    assert other.get("shared") == b"written by one"
    await other.aset("shared", b"overwritten by the other")
    assert shared_backend.cache.get("shared") == b"overwritten by the other"
    other.remove("shared")
    assert await shared_backend.cache.aget("shared") is None


async def test_context_managers_close(backend: Backend) -> None:
    other = backend.open_another()
    with other:
        other.set("k", b"v")
    another = backend.open_another()
    async with another:
        await another.aset("k", b"w")
    assert backend.cache.get("k") == (None if backend.name == "memory" else b"w")
